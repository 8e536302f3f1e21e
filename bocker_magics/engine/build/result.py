"""What a build hands back, and the image it holds between steps (no parser imported here:
a cached rebuild, record.py, makes these too).

    result.image            # the stored Image
    result.steps            # a StepResult per step: instruction, layer, size, time, cached or not
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class ImageState:
    """An image as a build holds it between steps: not stored until the end."""
    layers: list[str]
    config: dict[str, Any]
    history: list[dict[str, Any]]
    author: str | None = None

    @property
    def key(self) -> str:
        """What the cache knows this image by: its layers and its config (not its history)."""
        data = json.dumps([self.layers, self.config, self.author], sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(data.encode()).hexdigest()

    def then(self, entry) -> ImageState:
        """The image after a step (a cache.CacheEntry)."""
        return ImageState(self.layers + ([entry.layer] if entry.layer else []), entry.config,
                          self.history + [entry.history], entry.extra.get("author", self.author))


def base_state(image) -> ImageState:
    """A FROM image as a build starts from it: its config, with PATH when it has none (as
    BuildKit), its history one entry per layer."""
    from ..images import DEFAULT_PATH, history_of
    config = dict(image.config)
    if not any(e.startswith("PATH=") for e in config.get("Env") or []):
        config["Env"] = [*(config.get("Env") or []), f"PATH={DEFAULT_PATH}"]
    return ImageState(list(image.layers), config, history_of(image), image.author)


@dataclass
class StepResult:
    number: int                 # 1-based over the whole build, FROM lines included
    stage: str                  # the stage's name or index
    instruction: str            # as written
    keyword: str
    line: int
    cached: bool
    layer: str | None           # the layer it made (None: config only)
    size: int                   # bytes in that layer
    seconds: float              # how long the step took now (a cached one: the lookup)
    lowers: list[str] = field(default_factory=list)   # the layers below it, bottom first
    output: bytes = b""         # a RUN's output
    trigger: bool = False       # an ONBUILD trigger of the stage's base image
    base: str = ""              # FROM: what the stage starts from ("img_… (busybox:latest)")

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data.pop("output")
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> StepResult:
        return cls(**{k: data[k] for k in cls.__dataclass_fields__ if k in data})

    def head(self, total: int) -> str:
        """The line a step starts with in the build's log."""
        if self.trigger:
            return f" ---> trigger: {self.instruction.removeprefix('ONBUILD ')}"
        return f"Step {self.number}/{total} : {self.instruction}"

    def log(self, total: int) -> list[str]:
        """The lines the build prints for this step when it comes from the cache."""
        if self.keyword == "FROM":
            return [self.head(total), f" ---> {self.base}"]
        return [self.head(total), " ---> Using cache", self.outcome()]

    def outcome(self) -> str:
        if self.layer:
            from bocker_magics.format import size
            return f" ---> layer {self.layer.split(':')[1][:12]} ({size(self.size)})"
        return " ---> config only"


@dataclass
class BuildResult:
    image: Any                  # the stored Image
    steps: list[StepResult]
    seconds: float
    tags: list[str]
    dockerfile: str
    warnings: list[str] = field(default_factory=list)

    @property
    def cached(self) -> list[StepResult]:
        return [s for s in self.steps if s.cached and s.keyword != "FROM"]

    @property
    def built(self) -> list[StepResult]:
        return [s for s in self.steps if not s.cached and s.keyword != "FROM"]
