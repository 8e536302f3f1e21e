"""The process: what pid 1 (or an exec) runs, as whom, with which capabilities and rlimits."""

from __future__ import annotations

from .model import (
    _CAPABILITY,
    OOM_SCORE_ADJ,
    RLIMIT_TYPES,
    U32,
    U64,
    _at,
    _f,
    _Invalid,
    _Model,
    _model,
    _show,
    _unknown,
)

# Field order is the spec's Go types' (so the JSON reads like runc's); keyword-only, so code
# that builds a spec names what it sets.

@_model
class Box(_Model):
    height: int = _f(0, range=U64, required=True)
    width: int = _f(0, range=U64, required=True)
    unknown: dict[str, object] = _unknown()


@_model
class User(_Model):
    uid: int = _f(0, range=U32, always=True)
    gid: int = _f(0, range=U32, always=True)
    umask: int | None = _f(range=U32)
    additional_gids: list[int] = _f(factory=list, range=U32)
    unknown: dict[str, object] = _unknown()


@_model
class Capabilities(_Model):
    bounding: list[str] = _f(factory=list, pattern=_CAPABILITY)
    effective: list[str] = _f(factory=list, pattern=_CAPABILITY)
    inheritable: list[str] = _f(factory=list, pattern=_CAPABILITY)
    permitted: list[str] = _f(factory=list, pattern=_CAPABILITY)
    ambient: list[str] = _f(factory=list, pattern=_CAPABILITY)
    unknown: dict[str, object] = _unknown()


@_model
class Rlimit(_Model):
    type: str = _f("", required=True, enum=RLIMIT_TYPES, noun="an rlimit type")
    hard: int = _f(0, range=U64, required=True)
    soft: int = _f(0, range=U64, required=True)
    unknown: dict[str, object] = _unknown()

    def _check(self, path: str, raw: dict) -> None:
        if self.soft > self.hard:  # setrlimit(2) refuses it: it can never work
            raise _Invalid(_at(path, "soft"), f"{self.soft} is above the hard limit {self.hard}")


@_model
class Process(_Model):
    terminal: bool = _f(False)
    console_size: Box | None = _f()
    user: User = _f(factory=User, always=True)
    args: list[str] = _f(factory=list)
    env: list[str] = _f(factory=list)
    cwd: str = _f("", required=True)
    capabilities: Capabilities | None = _f()
    rlimits: list[Rlimit] = _f(factory=list)
    no_new_privileges: bool = _f(False)
    apparmor_profile: str = _f("")
    oom_score_adj: int | None = _f(range=OOM_SCORE_ADJ)
    selinux_label: str = _f("")
    unknown: dict[str, object] = _unknown()

    def _check(self, path: str, raw: dict) -> None:
        if not self.cwd.startswith("/"):
            raise _Invalid(_at(path, "cwd"), f"{_show(self.cwd)} is not an absolute path")
        seen: set[str] = set()
        for i, rlimit in enumerate(self.rlimits):
            if rlimit.type in seen:  # the spec: a runtime MUST refuse duplicates
                raise _Invalid(f"{_at(path, 'rlimits')}[{i}].type", f"{rlimit.type} is given twice")
            seen.add(rlimit.type)
