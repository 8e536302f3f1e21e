"""Which stages a build runs, and what each one starts from.

    plan = plan_build(df, build_args={"VERSION": "1.2"}, target="app")
    for ps in plan.stages:                  # the stages the target needs, in Dockerfile order
        ps.base.kind                        # "image" (ps.base.image), "scratch" or "stage" (ps.base.stage)
        scope = plan.scope(ps, base_env=image_env)   # or plan.scope(ps, parent=scope_of_base_stage)
        ...
        plan.source(copy.from_)             # what a COPY --from names: a stage or an image

A FROM line is substituted with the global ARGs only; it builds on an earlier stage when its
image is that stage's name. `--target` (a stage's name or index; the last stage by default)
needs its base stage and every stage it copies or mounts from, and theirs: only those run.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from .dockerfile import Dockerfile, Stage
from .instructions import Arg, Copy, Expander, From, Run
from .variables import BUILDKIT_ARGS, PLATFORM_ARGS, PROXY_ARGS, Platform, Scope, global_values

SCRATCH = "scratch"


@dataclass(frozen=True)
class Base:
    """What a stage (or a COPY --from) starts from: an image reference or an earlier stage."""
    image: str | None = None
    stage: int | None = None

    @property
    def kind(self) -> str:
        if self.stage is not None:
            return "stage"
        return "scratch" if self.image == SCRATCH else "image"


@dataclass(frozen=True)
class PlannedStage:
    stage: Stage
    from_: From                     # the FROM substituted with the global ARGs
    base: Base
    needs: tuple[int, ...]          # the stages it builds on, copies or mounts from

    @property
    def index(self) -> int:
        return self.stage.index

    @property
    def name(self) -> str | None:
        return self.stage.name

    @property
    def platform(self) -> str | None:
        return self.from_.platform


@dataclass(frozen=True)
class BuildPlan:
    dockerfile: Dockerfile
    build_args: dict[str, str]
    globals: dict[str, str]                  # the global scope's values
    stages: tuple[PlannedStage, ...]         # the stages to build, in order
    target: int                              # the index of the stage the build's image is
    all_stages: tuple[PlannedStage, ...] = field(default=(), repr=False)

    def stage(self, index: int) -> PlannedStage:
        return self.all_stages[index]

    def scope(self, planned: PlannedStage, *, base_env: Mapping[str, str] | Iterable[str] = (),
              parent: Scope | None = None) -> Scope:
        """The variables at the start of `planned`: for a stage built on another, pass that
        stage's scope as parent (its ARGs and ENVs carry over); otherwise the base image's Env."""
        if planned.base.kind == "stage":
            if parent is None:
                raise ValueError(f"stage {planned.stage.label} is built on stage {planned.base.stage}: "
                                 f"pass that stage's scope as parent")
            return parent.child()
        return Scope.for_stage(self.build_args, self.globals, base_env=base_env, escape=self.dockerfile.escape)

    def source(self, ref: str) -> Base:
        """What COPY --from=REF / RUN --mount from=REF names: an earlier stage (by name or index,
        checked by the parser), or else an image."""
        index = self.dockerfile.stage_index(ref)
        return Base(stage=index) if index is not None else Base(image=ref)

    def unused_build_args(self) -> list[str]:
        """The --build-arg names that no ARG of the built stages declares (Docker warns)."""
        known = set(PROXY_ARGS) | set(BUILDKIT_ARGS) | set(PLATFORM_ARGS)
        for arg in self.dockerfile.global_args:
            known |= {name for name, _ in arg.args}
        for planned in self.stages:
            for instruction in planned.stage.instructions:
                if isinstance(instruction, Arg):
                    known |= {name for name, _ in instruction.args}
        return sorted(set(self.build_args) - known)


def plan_build(df: Dockerfile, build_args: Mapping[str, str] | None = None, target: str | int | None = None, *,
               target_platform: Platform | None = None, build_platform: Platform | None = None) -> BuildPlan:
    build_args = dict(build_args or {})
    globals_ = global_values(df.global_args, build_args, escape=df.escape, target=target_platform,
                             build=build_platform)
    expander = Expander(globals_, df.escape)
    planned: list[PlannedStage] = []
    for stage in df.stages:
        from_ = stage.from_.expand(expander)
        if from_.platform is not None:
            try:
                Platform.parse(from_.platform)
            except ValueError as e:
                raise from_.location.error(f"FROM --platform: {e}") from None
        earlier = next((s.index for s in df.stages[:stage.index] if s.name == from_.image.lower()), None)
        base = Base(stage=earlier) if earlier is not None else Base(image=from_.image)
        needs = {earlier} if earlier is not None else set()
        for instruction in stage.instructions:
            refs = []
            if isinstance(instruction, Copy) and instruction.from_:
                refs.append(instruction.from_)
            if isinstance(instruction, Run):
                refs += [m.from_ for m in instruction.mounts if m.from_]
            needs |= {i for i in map(df.stage_index, refs) if i is not None}
        planned.append(PlannedStage(stage, from_, base, tuple(sorted(needs))))
    chosen = df.stages[-1] if target is None else df.stage(target)
    wanted: set[int] = set()
    todo = [chosen.index]
    while todo:
        index = todo.pop()
        if index not in wanted:
            wanted.add(index)
            todo.extend(planned[index].needs)
    return BuildPlan(df, build_args, globals_, tuple(p for p in planned if p.index in wanted), chosen.index,
                     all_stages=tuple(planned))
