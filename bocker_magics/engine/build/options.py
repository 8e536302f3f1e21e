"""What `bocker build` is asked for (the CLI's and the magic's flags, as data)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class BuildOptions:
    tags: list[str] = field(default_factory=list)          # NAME[:TAG]
    dockerfile: str | None = None                          # a path (default CONTEXT/Dockerfile), or "-"
    dockerfile_text: str | None = None                     # the Dockerfile itself (-f -, a cell)
    build_args: dict[str, str] = field(default_factory=dict)
    target: str | None = None
    no_cache: bool = False
    pull: bool = False
    network: str | None = None                             # None: the engine's default (bridge)
