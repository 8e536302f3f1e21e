"""One build step, run: its cache key's inputs, then RUN in a container of the engine (its
upper dir made the step's layer), COPY and ADD and WORKDIR written as a layer, every other
instruction a change of the config (builder.py says the whole picture)."""

from __future__ import annotations

import os
import shutil
import stat
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bocker_magics.errors import BockerError, BuildError, BuildStepFailed, DockerfileError, ExitCodeError

from ..images import Image, history_entry
from ..layerview import LayerView
from .cache import CacheEntry
from .dockerfile import Dockerfile
from .instructions import (
    Arg,
    Cmd,
    Copy,
    Entrypoint,
    Env,
    Expose,
    From,
    Healthcheck,
    Instruction,
    Label,
    Maintainer,
    Onbuild,
    Run,
    Shell,
    StopSignal,
    User,
    Volume,
    Workdir,
)
from .result import ImageState
from .stages import BuildPlan, PlannedStage
from .variables import PROXY_ARGS, Scope

if TYPE_CHECKING:
    from .builder import Builder


Output = Callable[[bytes, str], None]
DEFAULT_SHELL = ["/bin/sh", "-c"]
COMMENT = "bocker build"
# What the runtime mounts over in every container: the mount points it makes in the upper dir
# when the image lacks them are not the step's changes.
MOUNT_POINTS = ("proc", "sys", "dev", "etc/hosts", "etc/hostname", "etc/resolv.conf")


@dataclass
class _Stage:
    planned: PlannedStage
    state: ImageState
    scope: Scope
    cmd_set: bool = False


class _StepRun:
    """One step's work: what it reads (for its cache key), then making its result."""

    def __init__(self, builder: Builder, df: Dockerfile, plan: BuildPlan, stage: _Stage, step: Instruction,
                 done: dict[int, _Stage]) -> None:
        self.b, self.df, self.plan, self.stage, self.step, self.done = builder, df, plan, stage, step, done
        self.state = stage.state
        self.config = dict(stage.state.config)
        self.scratch: list[Path] = []
        self.copy_plan = None
        self.from_layers: list[str] | None = None
        self.output = b""

    @property
    def where(self) -> str:
        return f"{self.df.file}:{self.step.line}"

    def located(self, e: BockerError) -> BockerError:
        """The same mistake, its line saying where in the Dockerfile it is."""
        if isinstance(e, DockerfileError) or str(e).startswith(f"{self.df.file}:"):
            return e
        try:
            return type(e)(f"{self.where}: {e}")
        except TypeError:
            return BuildError(f"{self.where}: {e}")

    def close(self) -> None:
        for d in self.scratch:
            shutil.rmtree(d, ignore_errors=True)

    def copy_record(self) -> dict[str, Any] | None:
        """What a cached rebuild needs to check this COPY again without the Dockerfile."""
        if self.copy_plan is None:
            return None
        from .digests import CopySpec
        return {"spec": CopySpec.of(self.step).to_json(), "digest": self.copy_plan.digest,
                "from_layers": self.from_layers}

    def view(self, layers: list[str] | None = None) -> LayerView:
        layers = self.state.layers if layers is None else layers
        return LayerView([self.b.store.layer_dir(d) for d in reversed(layers)])

    def mkdtemp(self, prefix: str) -> Path:
        d = self.b.store.mkdtemp(prefix)
        self.scratch.append(d)
        return d

    def shell(self) -> list[str]:
        return list(self.config.get("Shell") or DEFAULT_SHELL)

    # -- the cache key's inputs ----------------------------------------------------------------
    def inputs(self) -> tuple[str | None, Any]:
        step = self.step
        if isinstance(step, Copy):
            from .copy import CopyPlan
            try:
                if step.from_ is not None:
                    view = self.source_view(step.from_)
                    self.copy_plan = CopyPlan.from_view(step, view, self.mkdtemp("build-from-") / "src")
                else:
                    self.copy_plan = CopyPlan.from_context(step, self.b.context)
            except BockerError as e:
                raise self.located(e) from None
            return self.copy_plan.digest, None
        if isinstance(step, Run):
            self.check_run(step)
            process = step.process(self.shell())
            env = {k: v for k, v in self.stage.scope.run_environment().items() if k not in PROXY_ARGS}
            return None, {"argv": list(process.argv), "files": [(f.path, f.content) for f in process.files],
                          "env": env}
        return None, None

    def source_view(self, ref: str) -> LayerView:
        base = self.plan.source(ref)
        if base.kind == "stage":
            if base.stage not in self.done:
                raise BuildError(f"COPY --from={ref}: stage {ref} was not built")
            self.from_layers = list(self.done[base.stage].state.layers)
            return self.view(self.from_layers)
        img = self.b.base_image(ref)
        self.from_layers = list(img.layers)
        return self.view(img.layers)

    def check_run(self, step: Run) -> None:
        if step.mounts:
            raise BuildError(f"{self.where}: RUN --mount isn't supported by this builder: COPY what the step "
                             f"needs first")
        if step.network == "host":
            raise BuildError(f"{self.where}: RUN --network=host is refused: a build step gets the build's "
                             f"network (bocker build --network)")
        if step.security == "insecure":
            raise BuildError(f"{self.where}: RUN --security=insecure is refused: build steps are not privileged")

    # -- making the result -----------------------------------------------------------------------
    def entry(self, layer: str | None = None, size: int = 0, **extra: Any) -> CacheEntry:
        created_by = self.step.original if not isinstance(self.step, Run) else \
            "RUN " + " ".join(self.step.process(self.shell()).argv)
        return CacheEntry(layer, self.config, history_entry(time.time(), created_by, empty_layer=layer is None,
                                                            comment=COMMENT), size, extra=extra)

    def make(self) -> CacheEntry:
        step, config = self.step, self.config
        if isinstance(step, Run):
            return self.run(step)
        if isinstance(step, Copy):
            return self.copy(step)
        if isinstance(step, Workdir):
            return self.workdir(step)
        if isinstance(step, Env):
            config["Env"] = self.stage.scope.image_env()
        elif isinstance(step, Label):
            config["Labels"] = {**(config.get("Labels") or {}), **dict(step.pairs)}
        elif isinstance(step, User):
            config["User"] = step.user
        elif isinstance(step, Cmd):
            config["Cmd"] = step.command.argv(self.shell())
        elif isinstance(step, Entrypoint):
            config["Entrypoint"] = step.command.argv(self.shell())
            if not self.stage.cmd_set:
                config.pop("Cmd", None)     # a base image's CMD does not outlive a new ENTRYPOINT
        elif isinstance(step, Expose):
            config["ExposedPorts"] = {**(config.get("ExposedPorts") or {}), **{p: {} for p in step.ports}}
        elif isinstance(step, Volume):
            config["Volumes"] = {**(config.get("Volumes") or {}), **{p: {} for p in step.paths}}
        elif isinstance(step, StopSignal):
            config["StopSignal"] = step.signal
        elif isinstance(step, Shell):
            config["Shell"] = list(step.shell)
        elif isinstance(step, Healthcheck):
            config["Healthcheck"] = _healthcheck(step)
        elif isinstance(step, Onbuild):
            config["OnBuild"] = [*(config.get("OnBuild") or []), step.expression]
        elif isinstance(step, Maintainer):
            return self.entry(author=step.name)
        elif isinstance(step, Arg):
            pass                            # its value is in the scope: RUN's environment, later words
        elif isinstance(step, From):
            raise BuildError(f"{self.where}: FROM inside a stage")
        return self.entry()

    # -- RUN -------------------------------------------------------------------------------------
    def run(self, step: Run) -> CacheEntry:
        from ..limits import Limits
        from ..options import RunOptions
        b = self.b
        process = step.process(self.shell())
        argv, stdin = list(process.argv), None
        if process.files:
            # a here-document script with a #! line: its interpreter reads it from stdin
            script = process.files[0].content
            argv, stdin = _shebang(script), script.encode("utf-8", "surrogateescape")
        env = self.stage.scope.run_environment()
        network = "none" if step.network == "none" else b.options.network
        options = RunOptions(env=[f"{k}={v}" for k, v in env.items()], workdir=self.config.get("WorkingDir") or None,
                             user=self.config.get("User") or None, network=network, limits=Limits())
        image = Image(id=f"img_{self.state.key[:16]}", layers=list(self.state.layers), source="build step",
                      config={**self.config, "Env": [f"{k}={v}" for k, v in self.stage.scope.env.items()]})
        started: list[str] = []
        chunks: list[bytes] = []

        def on_start(cid: str) -> None:
            started.append(cid)
            b.emit(f" ---> Running in {cid}")

        def out(chunk: bytes, stream: str) -> None:
            chunks.append(chunk)
            if b.on_output is not None:
                b.on_output(chunk, stream)

        try:
            try:
                result = b.engine.run(image, argv, options, on_output=out, capture=False,
                                      on_start=on_start, stdin=stdin)
            except ExitCodeError as e:
                raise BuildStepFailed(f"{self.where}: {step.original}: {e}", e.exit_code) from None
            except BockerError as e:
                raise BuildError(f"{self.where}: {step.original}: {e}") from None
            self.output = b"".join(chunks)
            started.append(result.id)
            if result.exit_code != 0:
                raise BuildStepFailed(f"{self.where}: {step.original}: the command returned exit status "
                                      f"{result.exit_code}", result.exit_code)
            layer, size = self.layer_from_upper(b.store.container_dir(result.id) / "upper")
        finally:
            for cid in dict.fromkeys(started):
                try:
                    b.engine.containers.rm(cid, force=True)
                except BockerError:
                    pass   # gone already
        return self.entry(layer, size)

    def layer_from_upper(self, upper: Path) -> tuple[str | None, int]:
        """The container's upper dir as the step's layer (moved, not copied: the container is
        done with it), less the mount points the runtime made."""
        if not upper.is_dir():
            return None, 0
        _scrub_mount_points(upper, self.view())
        if not os.listdir(upper):
            return None, 0
        tmp = self.mkdtemp("build-run-")
        layer = tmp / "layer"
        os.rename(upper, layer)
        size = _tree_size(layer)
        return self.b.images.layers.add_from_dir(layer), size

    # -- COPY, ADD -------------------------------------------------------------------------------
    def copy(self, step: Copy) -> CacheEntry:
        from ..users import resolve_owner
        from .layerwriter import LayerWriter
        view = self.view()
        try:
            owner = resolve_owner(step.chown, view.read_file("/etc/passwd"), view.read_file("/etc/group")) \
                if step.chown else None
            writer = LayerWriter(self.mkdtemp("build-copy-") / "layer", view)
            self.copy_plan.write(writer, self.config.get("WorkingDir") or "/", owner)
        except BockerError as e:
            raise self.located(e) from None
        return self.entry(*self.store_layer(writer))

    def store_layer(self, writer) -> tuple[str | None, int]:
        if writer.empty:
            return None, 0
        return self.b.images.layers.add_from_dir(writer.root), writer.size

    # -- WORKDIR ---------------------------------------------------------------------------------
    def workdir(self, step: Workdir) -> CacheEntry:
        from .layerwriter import LayerWriter
        from .patterns import clean
        path = step.path if step.path.startswith("/") else f"{self.config.get('WorkingDir') or '/'}/{step.path}"
        path = clean(path)
        self.config["WorkingDir"] = path
        view = self.view()
        resolved = view.resolve(path)
        node = view.node(resolved)
        if node is not None:
            if not node.is_dir:
                raise BuildError(f"{self.where}: WORKDIR {path}: it is a file in the image")
            return self.entry()
        uid, gid = 0, 0
        if self.config.get("User"):
            from ..users import resolve
            try:
                ids = resolve(self.config["User"], view.read_file("/etc/passwd"), view.read_file("/etc/group"))
            except BockerError as e:
                raise BuildError(f"{self.where}: {e}") from None
            uid, gid = ids.uid, ids.gid
        writer = LayerWriter(self.mkdtemp("build-workdir-") / "layer", view)
        writer.ensure_dir(resolved, uid, gid)
        return self.entry(*self.store_layer(writer))


# -- helpers ---------------------------------------------------------------------------------------
def _healthcheck(step: Healthcheck) -> dict[str, Any]:
    out: dict[str, Any] = {"Test": list(step.test)}
    for key, value in (("Interval", step.interval), ("Timeout", step.timeout), ("StartPeriod", step.start_period),
                       ("StartInterval", step.start_interval), ("Retries", step.retries)):
        if value:
            out[key] = value
    return out


def _shebang(script: str) -> list[str]:
    """A script's #! line as the kernel reads it (the interpreter and at most one argument),
    then /dev/stdin: the script reaches it on stdin."""
    first = script.split("\n", 1)[0][2:].strip()
    interpreter, _, arg = first.partition(" ")
    return [interpreter, *([arg.strip()] if arg.strip() else []), "/dev/stdin"]


def _scrub_mount_points(upper: Path, below: LayerView) -> None:
    """Remove from a RUN's upper dir the mount points the runtime made because the image
    lacked them (an empty /proc, an empty /etc/hosts), and the directories made only to hold
    them: they are the runtime's, not the step's."""
    for rel in MOUNT_POINTS:
        p = upper / rel
        try:
            st = os.lstat(p)
        except (FileNotFoundError, NotADirectoryError):
            continue
        if below.node("/" + rel) is not None:
            continue
        if stat.S_ISDIR(st.st_mode) and not os.listdir(p):
            os.rmdir(p)
        elif stat.S_ISREG(st.st_mode) and st.st_size == 0:
            os.unlink(p)
        else:
            continue
        parent = p.parent
        while parent != upper:
            rel_parent = "/" + str(parent.relative_to(upper))
            if os.listdir(parent) or (below.node(rel_parent) is not None and _changed_dir(parent, below, rel_parent)):
                break
            os.rmdir(parent)
            parent = parent.parent


def _changed_dir(path: Path, below: LayerView, rel: str) -> bool:
    """Whether a copied-up directory differs from the image's (its mode or owner)."""
    node = below.node(rel)
    st = os.lstat(path)
    return node is None or (st.st_mode, st.st_uid, st.st_gid) != (node.st.st_mode, node.st.st_uid, node.st.st_gid)


def _tree_size(root: Path) -> int:
    total = 0
    for dirpath, _, files in os.walk(root):
        for name in files:
            try:
                st = os.lstat(os.path.join(dirpath, name))
            except OSError:
                continue
            if stat.S_ISREG(st.st_mode):
                total += st.st_size
    return total


def _size(n: int) -> str:
    from bocker_magics.format import size
    return size(n)
