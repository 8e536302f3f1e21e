"""ARG and ENV: what variable substitution sees at each point of a build.

    globals = global_values(df, build_args)           # ARGs before the first FROM (+ platform ARGs)
    scope = Scope.for_stage(build_args, globals, base_env=image_config_env, escape=df.escape)
    for instruction in stage.instructions:
        step = scope.expand(instruction)               # substituted with the values before it
        scope.apply(step)                              # an ARG or ENV takes effect after it

Docker's rules, kept here once:
- an ARG before the first FROM is global: FROM lines use it; a stage sees it only after
  declaring it again (`ARG NAME`, no default: it takes the global value);
- an ARG's value is the --build-arg one if given, else its default (substituted then), else
  none; it is in the environment of later RUNs but not in the image;
- ENV (the base image's included) always wins over an ARG of the same name;
- HTTP_PROXY and friends need no ARG: given as --build-arg they reach RUN's environment only
  (not the image, not the cache key); TARGETPLATFORM, BUILDARCH... are set automatically in
  the global scope;
- a stage built on another stage starts from that stage's scope (`scope.child()`).
"""

from __future__ import annotations

import platform as _platform
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace

from .instructions import Arg, Env, Expander, Instruction
from .lexer import LexError

PROXY_ARGS = ("HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "FTP_PROXY", "ftp_proxy",
              "NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy")
PLATFORM_ARGS = ("TARGETPLATFORM", "TARGETOS", "TARGETARCH", "TARGETVARIANT",
                 "BUILDPLATFORM", "BUILDOS", "BUILDARCH", "BUILDVARIANT")
# BuildKit's own switches: accepted as build args (never "unused"), meaningless to this builder
BUILDKIT_ARGS = ("BUILDKIT_BUILD_NAME", "BUILDKIT_CACHE_MOUNT_NS", "BUILDKIT_CONTEXT_KEEP_GIT_DIR",
                 "BUILDKIT_INLINE_CACHE", "BUILDKIT_MULTI_PLATFORM", "BUILDKIT_SANDBOX_HOSTNAME",
                 "BUILDKIT_SYNTAX", "SOURCE_DATE_EPOCH")

# BuildKit sets PATH in every stage's image whose base has none (scratch, say)
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

_MACHINE_ARCH = {"x86_64": ("amd64", ""), "amd64": ("amd64", ""), "aarch64": ("arm64", ""),
                 "arm64": ("arm64", ""), "armv7l": ("arm", "v7"), "armv6l": ("arm", "v6"),
                 "i386": ("386", ""), "i686": ("386", ""), "ppc64le": ("ppc64le", ""),
                 "s390x": ("s390x", ""), "riscv64": ("riscv64", "")}


@dataclass(frozen=True)
class Platform:
    os: str
    architecture: str
    variant: str = ""

    def __str__(self) -> str:
        return "/".join(p for p in (self.os, self.architecture, self.variant) if p)

    @classmethod
    def parse(cls, text: str) -> Platform:
        """linux/amd64, linux/arm/v7, or a bare architecture (amd64: linux/amd64)."""
        parts = text.strip().lower().split("/")
        if len(parts) == 1 and parts[0]:
            return cls("linux", parts[0])
        if 2 <= len(parts) <= 3 and all(parts):
            return cls(*parts)
        raise ValueError(f"invalid platform {text!r}: use OS/ARCH[/VARIANT], like linux/amd64")


def host_platform() -> Platform:
    machine = _platform.machine().lower()
    arch, variant = _MACHINE_ARCH.get(machine, (machine, ""))
    return Platform("linux", arch, variant)


def automatic_args(target: Platform | None = None, build: Platform | None = None) -> dict[str, str]:
    """TARGETPLATFORM, TARGETOS, ... BUILDVARIANT for these platforms (the host's by default)."""
    target = target or host_platform()
    build = build or host_platform()
    out = {}
    for prefix, p in (("TARGET", target), ("BUILD", build)):
        out |= {f"{prefix}PLATFORM": str(p), f"{prefix}OS": p.os, f"{prefix}ARCH": p.architecture,
                f"{prefix}VARIANT": p.variant}
    return out


def global_values(global_args: Iterable[Arg], build_args: Mapping[str, str], *, escape: str = "\\",
                  target: Platform | None = None, build: Platform | None = None) -> dict[str, str]:
    """The values of the global scope: the automatic platform ARGs (a --build-arg overrides
    them), then each ARG before the first FROM in order (its --build-arg, else its default
    substituted with the values so far; one with neither stays unset)."""
    values = automatic_args(target, build)
    values |= {k: build_args[k] for k in values if k in build_args}
    for instruction in global_args:
        for name, default in instruction.args:
            if name in build_args:
                values[name] = build_args[name]
            elif default is not None:
                try:
                    values[name] = Expander(values, escape).word(default)
                except LexError as e:
                    raise instruction.location.error(str(e)) from None
    return values


@dataclass
class Scope:
    """The variables at one point of one stage."""
    build_args: Mapping[str, str]             # --build-arg NAME=VALUE of this build
    globals: Mapping[str, str]                # global_values(): what a bare `ARG NAME` inherits
    escape: str = "\\"                        # the Dockerfile's escape character
    env: dict[str, str] = field(default_factory=dict)    # the image's Env: base image's, then ENV
    args: dict[str, str] = field(default_factory=dict)   # ARGs declared in the stage, with a value
    declared: set[str] = field(default_factory=set)      # every ARG name declared in the stage

    @classmethod
    def for_stage(cls, build_args: Mapping[str, str], globals: Mapping[str, str], *,
                  base_env: Mapping[str, str] | Iterable[str] = (), escape: str = "\\") -> Scope:
        """The scope at the start of a stage whose base image has `base_env` (its config's Env,
        "K=V" strings or a mapping); for a stage built on a stage, use that stage's scope.child().
        PATH is set to DEFAULT_PATH when the base image has none, as BuildKit does."""
        env = env_dict(base_env)
        env.setdefault("PATH", DEFAULT_PATH)
        return cls(dict(build_args), dict(globals), escape, env=env)

    def child(self) -> Scope:
        """The starting scope of a stage built FROM this stage: its ARGs and ENVs carry over."""
        return replace(self, env=dict(self.env), args=dict(self.args), declared=set(self.declared))

    def values(self) -> dict[str, str]:
        """What substitution sees: the ARGs, with every ENV over them."""
        return {**self.args, **self.env}

    def expander(self) -> Expander:
        return Expander(self.values(), self.escape)

    def expand(self, instruction: Instruction) -> Instruction:
        """The instruction substituted with the values before it. An ARG comes back with the
        value each name takes (None: declared without one); apply() then declares it."""
        if isinstance(instruction, Arg):
            return self._resolve(instruction)
        return instruction.expand(self.expander())

    def _resolve(self, instruction: Arg) -> Arg:
        values = self.values()
        resolved: list[tuple[str, str | None]] = []
        for name, default in instruction.args:
            if name in self.build_args:
                value: str | None = self.build_args[name]
            elif default is not None:
                try:
                    value = Expander(values, self.escape).word(default)
                except LexError as e:
                    raise instruction.location.error(str(e)) from None
            else:
                value = self.globals.get(name)
            resolved.append((name, value))
            if value is not None and name not in self.env:
                values[name] = value           # the next ARG on the line sees this one
        return replace(instruction, args=tuple(resolved))

    def apply(self, instruction: Instruction) -> None:
        """Let an expanded ARG or ENV take effect for the instructions after it."""
        if isinstance(instruction, Arg):
            for name, value in instruction.args:
                self.declared.add(name)
                if value is not None:
                    self.args[name] = value
        elif isinstance(instruction, Env):
            self.env.update(instruction.pairs)

    def image_env(self) -> list[str]:
        """The image config's Env: "K=V" in order."""
        return [f"{k}={v}" for k, v in self.env.items()]

    def run_environment(self) -> dict[str, str]:
        """The environment of a RUN here: the proxy build args, the ARGs, the ENVs over them."""
        proxies = {k: v for k, v in self.build_args.items() if k in PROXY_ARGS}
        return {**proxies, **self.values()}


def env_dict(env: Mapping[str, str] | Iterable[str]) -> dict[str, str]:
    if isinstance(env, Mapping):
        return dict(env)
    out = {}
    for item in env:
        key, _, value = item.partition("=")
        out[key] = value
    return out
