"""The build cache: a step's result, found again by what made it.

    key = step_key(parent.key, instruction.cache_key(), content)   # hex
    entry = cache.get(key)           # CacheEntry or None (a miss, or its layer is gone)
    cache.put(key, CacheEntry(...))

A step is reused when its parent image (its layers and config: ImageState.key), its
instruction after substitution and, for COPY and ADD, the content digest of the files it
copies (for RUN, the command and the build args it sees) are the same: those are hashed
into the key. An entry holds what the step made: its layer (or none), the config after it
and its history entry; a layer that is no longer stored (its last image was removed) makes
the entry a miss, so a removed image never breaks a build, it only costs a rebuild.

Entries live in BOCKER_ROOT/build/cache/<key>.json, written atomically. They are kept after
a failed build too, so the steps before the failure come from the cache next time.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

CACHE_VERSION = 1


def step_key(parent: str, instruction: str, content: str | None = None, extra: Any = None) -> str:
    h = hashlib.sha256()
    h.update(json.dumps([CACHE_VERSION, parent, instruction, content, extra], sort_keys=True,
                        separators=(",", ":")).encode())
    return h.hexdigest()


@dataclass
class CacheEntry:
    layer: str | None                   # the step's layer digest, None for a metadata-only step
    config: dict[str, Any]              # the image config after the step
    history: dict[str, Any]             # the step's history entry
    size: int = 0                       # bytes of the layer's files
    seconds: float = 0.0                # how long the step took when it ran
    extra: dict[str, Any] = field(default_factory=dict)   # author (MAINTAINER), ...

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> CacheEntry:
        return cls(**{k: data[k] for k in cls.__dataclass_fields__ if k in data})


class BuildCache:
    def __init__(self, directory: Path, layer_dir) -> None:
        self.dir = Path(directory)
        self.layer_dir = layer_dir          # digest -> its directory in the layer store

    def get(self, key: str) -> CacheEntry | None:
        try:
            with open(self.dir / f"{key}.json", "rb") as f:
                entry = CacheEntry.from_json(json.load(f))
        except (FileNotFoundError, ValueError, TypeError):
            return None
        if entry.layer is not None and not os.path.isdir(self.layer_dir(entry.layer)):
            return None
        return entry

    def put(self, key: str, entry: CacheEntry) -> None:
        from ..store import write_json
        self.dir.mkdir(parents=True, exist_ok=True)
        write_json(self.dir / f"{key}.json", asdict(entry), fsync=False)

    def layers(self) -> set[str]:
        """The layers the cache's entries hold."""
        out = set()
        for path in self.dir.glob("*.json") if self.dir.is_dir() else ():
            try:
                layer = json.loads(path.read_bytes()).get("layer")
            except (OSError, ValueError):
                continue
            if layer:
                out.add(layer)
        return out

    def clear(self) -> int:
        """Remove every entry; returns how many there were."""
        n = 0
        for path in self.dir.glob("*.json") if self.dir.is_dir() else ():
            path.unlink(missing_ok=True)
            n += 1
        return n
