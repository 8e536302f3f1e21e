"""`bocker build`: a Dockerfile's steps, run one by one on the engine, each making a layer.

    result = Builder(engine, BuildOptions(tags=["app:1"]), on_output=print_chunk).build("ctx/")
    result.image            # the stored Image (its layers, config and history)
    result.steps            # a StepResult per step: instruction, layer, size, time, cached or not

How a step becomes part of the image:
- RUN runs in a container of the engine (Engine.run with an Image that is not stored yet:
  the layers so far and the config so far), with the build's network and the stage's USER,
  WORKDIR and ENV (ARGs and proxy build args too); the container's upper dir becomes the
  step's layer exactly as `commit` takes it (whiteouts and opaque directories kept), after
  the mount points the runtime had to make are taken out again; the container is removed.
- COPY, ADD and WORKDIR write their layer directly (layerwriter.py), in the same form.
- Every other instruction changes only the image config: no layer, an `empty_layer`
  history entry (the OCI image spec's), as Docker does.
- Each step's result is kept in the build cache (cache.py) under a key made of its parent
  image, its instruction after substitution and what it reads (the content digest of the
  files it copies; the command and build args of a RUN). --no-cache skips the lookups.

A failing RUN stops the build with that command's exit status; whatever fails, the step's
container and scratch directories are removed and no image is made (the steps that did
finish stay in the cache, as Docker's do, so the next try starts after them).

Here: the build, its stages and the cache lookup of each step; step.py runs one step (RUN in a
container, COPY/ADD/WORKDIR as a layer, the rest in the config).
"""

from __future__ import annotations

import os
import time
from typing import TYPE_CHECKING

from bocker_magics.errors import BockerError, BuildError

from ..images import Image
from .cache import BuildCache, step_key
from .dockerfile import Dockerfile, parse, parse_trigger
from .instructions import Cmd, Instruction
from .options import BuildOptions
from .record import Recorder, read_dockerfile, record_key
from .result import BuildResult, ImageState, StepResult, base_state
from .stages import BuildPlan, PlannedStage, plan_build
from .step import Output, _Stage, _StepRun
from .variables import DEFAULT_PATH

if TYPE_CHECKING:
    from ..engine import Engine


class Builder:
    def __init__(self, engine: Engine, options: BuildOptions | None = None, *,
                 on_output: Output | None = None) -> None:
        self.engine = engine
        self.options = options or BuildOptions()
        self.on_output = on_output
        self.store = engine.store
        self.images = engine.images_store
        self.cache = BuildCache(self.store.build_cache, self.store.layer_dir)
        self.steps: list[StepResult] = []
        self.number = 0
        self.total = 0
        self.recorder = Recorder()

    # -- output ------------------------------------------------------------------------------
    def emit(self, line: str) -> None:
        if self.on_output is not None:
            self.on_output((line + "\n").encode(), "stdout")

    # -- the build -----------------------------------------------------------------------------
    def build(self, context_dir: str | os.PathLike[str]) -> BuildResult:
        t0 = time.perf_counter()
        opts = self.options
        self.context, text, name = read_dockerfile(context_dir, opts)
        df = parse(text, name)
        plan = plan_build(df, opts.build_args, opts.target)
        warnings = list(df.warnings)
        unused = plan.unused_build_args()
        if unused:
            warnings.append(f"build args not used by any ARG: {', '.join(unused)}")
        for w in warnings:
            self.emit(f"warning: {w}")
        self.total = sum(1 + len(ps.stage.instructions) for ps in plan.stages)
        stages: dict[int, _Stage] = {}
        for ps in plan.stages:
            stages[ps.index] = self._stage(df, plan, ps, stages)
        final = stages[plan.target].state
        image = self._store(final)
        self.emit(f"Successfully built {image.id}")
        for tag in image.names if opts.tags else []:
            self.emit(f"Successfully tagged {tag}")
        self.recorder.save(self.store, record_key(self.context.root, text, name, opts), image, self.total,
                           self.steps, warnings)
        return BuildResult(image, self.steps, time.perf_counter() - t0, list(opts.tags), name, warnings)

    def _store(self, state: ImageState) -> Image:
        tags = self.options.tags
        same = self.images.find_same(state.layers, state.config, state.history)
        if same is not None and same.author == state.author:
            return self.images.tag(same, tags) if tags else same
        source = f"build {self.context.root}"
        return self.images.create_named(state.layers, source=source, names=tags, config=state.config,
                                        history=state.history, author=state.author)

    # -- stages ----------------------------------------------------------------------------------
    def _stage(self, df: Dockerfile, plan: BuildPlan, ps: PlannedStage, done: dict[int, _Stage]) -> _Stage:
        t0 = time.perf_counter()
        self.number += 1
        result = StepResult(self.number, ps.stage.label, ps.stage.from_.original, "FROM", ps.stage.from_.line,
                            True, None, 0, 0.0)
        self.emit(result.head(self.total))
        if ps.base.kind == "stage":
            parent = done[ps.base.stage]
            state = ImageState(list(parent.state.layers), dict(parent.state.config), list(parent.state.history),
                               parent.state.author)
            scope = plan.scope(ps, parent=parent.scope)
            result.base = f"stage {parent.planned.stage.label}"
        elif ps.base.kind == "scratch":
            state = ImageState([], {"Env": [f"PATH={DEFAULT_PATH}"]}, [])
            scope = plan.scope(ps, base_env=())
            result.base = "scratch (no layers)"
        else:
            img = self.base_image(ps.from_.image)
            state = base_state(img)
            scope = plan.scope(ps, base_env=state.config.get("Env") or ())
            result.base = img.id + (f" ({img.names[0]})" if img.names else "")
        self.emit(f" ---> {result.base}")
        result.lowers, result.seconds = list(state.layers), time.perf_counter() - t0
        self.steps.append(result)
        self.recorder.step(result)
        stage = _Stage(ps, state, scope)
        triggers = list(state.config.get("OnBuild") or [])
        if triggers:
            # the base image's ONBUILD triggers run first, then leave the config (Docker's rule)
            stage.state.config = {k: v for k, v in state.config.items() if k != "OnBuild"}
            for expression in triggers:
                self._step(df, plan, stage, parse_trigger(expression, ps.stage.from_.location), done, trigger=True)
        for instruction in ps.stage.instructions:
            self._step(df, plan, stage, instruction, done)
        return stage

    def base_image(self, ref: str) -> Image:
        """A FROM (or COPY --from) image: the one here, or pulled when it isn't (or, with
        --pull, when it came from a registry)."""
        from ..images import BUSYBOX_NAME
        img = self.images.find(ref)
        if img is None and ref in ("busybox", BUSYBOX_NAME):
            img = self.engine.busybox()
        registry_image = img is not None and img.digest is not None and "@sha256:" in (img.source or "") \
            and not (img.source or "").startswith("load ")
        if img is None or (self.options.pull and registry_image):
            self.emit(f" ---> pulling {ref}")
            try:
                img = self.engine.pull(ref)
            except BockerError as e:
                if img is None:
                    raise BuildError(f"FROM {ref}: the image isn't here and can't be pulled: {e}") from None
                raise
        self.recorder.base(ref, base_state(img).key)
        return img

    # -- steps -------------------------------------------------------------------------------------
    def _step(self, df: Dockerfile, plan: BuildPlan, stage: _Stage, instruction: Instruction,
              done: dict[int, _Stage], trigger: bool = False) -> None:
        t0 = time.perf_counter()
        if not trigger:
            self.number += 1
        text = instruction.original if not trigger else f"ONBUILD {instruction.original}"
        result = StepResult(self.number, stage.planned.stage.label, text, instruction.keyword, instruction.line,
                            False, None, 0, 0.0, list(stage.state.layers), trigger=trigger)
        self.emit(result.head(self.total))
        scope = stage.scope
        step = scope.expand(instruction)
        scope.apply(step)
        result.keyword = step.keyword
        state = stage.state
        run = _StepRun(self, df, plan, stage, step, done)
        content, extra = run.inputs()
        key = step_key(state.key, step.cache_key(), content, extra)
        entry = None if self.options.no_cache else self.cache.get(key)
        result.cached = entry is not None
        if result.cached:
            self.emit(" ---> Using cache")
            run.close()
        else:
            try:
                entry = run.make()
                result.output = run.output
            finally:
                run.close()
            entry.seconds = time.perf_counter() - t0
            self.cache.put(key, entry)
        if isinstance(step, Cmd):
            stage.cmd_set = True
        stage.state = state.then(entry)
        result.layer, result.size, result.seconds = entry.layer, entry.size, time.perf_counter() - t0
        self.emit(result.outcome())
        self.steps.append(result)
        self.recorder.step(result, key, run.copy_record())
