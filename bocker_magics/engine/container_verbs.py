"""The Engine's verbs of containers: run, create, start, exec, attach, ps, the signals, logs,
stats, inspect, rm, diff; each a call into the room that does it (container/, prune.py,
changes.py, ...). A mixin of Engine (engine.py), whose rooms it uses."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import MonitorDied, NotFound

if TYPE_CHECKING:
    from .changes import Change
    from .container import Container, Containers, Output, RunResult
    from .images import ImageStore
    from .kernel.cgroups import CgroupStats
    from .options import RunOptions
    from .store import Store


class ContainerVerbs:
    # what it uses of Engine
    store: Store
    images_store: ImageStore
    containers: Containers

    def run(self, image: str, command: str | list[str] | None = None, options: RunOptions | None = None, *,
            on_output: Output | None = None, capture: bool = True,
            on_start: Callable[[str], None] | None = None, stdin: bytes | int | None = None,
            terminal: Any = None, detach_keys: bytes | None = None, **kwargs: Any) -> RunResult:
        """Run a container. Foreground: stream output to `on_output` (and keep it, if
        `capture`), return when it exits. Detached: return as soon as it runs. `on_start(id)`
        is called once the container runs (a monitor samples its cgroup). A string command is
        run by /bin/sh -c (the seed's semantics); a list is the program and its arguments.
        `options` is a RunOptions; keyword arguments name its fields instead."""
        from .options import RunOptions
        t0 = time.perf_counter()
        if options is None:
            options = RunOptions.of(**kwargs)
        elif kwargs:
            raise TypeError("give either options or keyword options, not both")
        c = self._create(image, command, options)
        try:
            return self.containers.start(c, attach=not options.detach, on_output=on_output, capture=capture,
                                         on_start=on_start, stdin=stdin, t0=t0, terminal=terminal,
                                         detach_keys=detach_keys)
        except MonitorDied:
            raise  # its state stays for gc
        except BaseException as err:
            from .container.removal import undo_failed_start
            undo_failed_start(self.containers, c.id, err)
            raise

    def create(self, image: str, command: str | list[str] | None = None, options: RunOptions | None = None,
               **kwargs: Any) -> Container:
        """`bocker create`: the container, made and not started."""
        from .options import RunOptions
        return self._create(image, command, options if options is not None else RunOptions.of(**kwargs))

    def _create(self, image, command: str | list[str] | None, options: RunOptions) -> Container:
        """`image` is a name or an id, or an Image itself (a build's step, which is no stored
        image yet)."""
        if hasattr(image, "layers"):
            return self.containers.create(image, command, options)
        return self.containers.create(self.image(image), command, options, ref=image)

    def start(self, ref: str, *, attach: bool = False, **kwargs: Any):
        """Start a created (or stopped) container; attached: stream it until it exits, as run."""
        c = self.containers.get(ref)
        result = self.containers.start(c, attach=attach, **kwargs)
        return result if attach else c

    def restart(self, ref: str, timeout: float | None = None) -> str:
        """stop, then start again (detached). An --rm container is kept, as Docker's: its
        removal at the stop's exit (container/autoremove.py) waits on the container's lock,
        held here until it runs again, and then finds it running."""
        from .kernel import linux
        c = self.containers.get(ref)
        with self.store.container_lock(c.id):
            if c.status.is_alive:
                self.containers.stop(c.id, timeout)
            linux.pause_point("restart")  # tests widen the window between the exit and the start
            self.containers.start(self.containers.get(c.id), attach=False)
        return c.id

    def logs_follow(self, ref: str):
        """The log's bytes as they come, until the container stops (for %bocker logs -f)."""
        for r in self.containers.log_records(ref, follow=True):
            yield r.text()

    def exec(self, ref: str, command: str | list[str], **kwargs: Any) -> RunResult:
        return self.containers.exec(ref, command, **kwargs)

    def attach(self, ref: str, **kwargs: Any) -> RunResult:
        return self.containers.attach(ref, **kwargs)

    def container(self, ref: str) -> Container:
        return self.containers.get(ref)

    def ps(self, filters: list[str] | None = None, last: int | None = None) -> list[Container]:
        """Every container, oldest first; `filters` as `ps --filter` takes them (filters.py),
        `last`: only the N made last."""
        from .filters import list_containers
        return list_containers(self.containers.list(), self.images_store, filters, last)

    def pause(self, ref: str) -> str:
        """Freeze every process of a running container (the cgroup freezer; pause.py)."""
        from .pause import pause
        return pause(self.containers, ref)

    def unpause(self, ref: str) -> str:
        from .pause import unpause
        return unpause(self.containers, ref)

    def top(self, ref: str):
        """A running container's processes, host and container pids (processes.py)."""
        from .processes import top
        return top(self.containers, ref)

    def port(self, ref: str, private: str | None = None):
        """Its published ports, `80/tcp -> 0.0.0.0:8080` (port.py)."""
        from .port import ports
        return ports(self.containers, ref, private)

    def rename(self, ref: str, new_name: str) -> str:
        from .rename import rename
        return rename(self.containers, ref, new_name)

    def cp(self, source: str, destination: str, **kwargs: Any):
        """`cp CONTAINER:PATH HOSTPATH` or back, through the container's root (copy.py)."""
        from .copy import copy
        return copy(self.containers, source, destination, **kwargs)

    def container_prune(self, filters: list[str] | None = None):
        """Remove every container that is not running (prune.py)."""
        from .prune import prune_containers
        return prune_containers(self.containers, filters or [])

    def logs(self, ref: str) -> bytes:
        return self.containers.logs(ref)

    def log_records(self, ref: str, **kwargs: Any):
        return self.containers.log_records(ref, **kwargs)

    def kill(self, ref: str, sig: str | int = "KILL") -> str:
        return self.containers.kill(ref, sig)

    def stop(self, ref: str, timeout: float | None = None) -> str:
        return self.containers.stop(ref, timeout)

    def wait(self, ref: str, timeout: float | None = None) -> int | None:
        return self.containers.wait(ref, timeout)

    def stats(self, refs: list[str] | None = None) -> dict[str, CgroupStats]:
        return self.containers.stats(refs)

    def inspect(self, ref: str) -> dict[str, Any]:
        """A container's (or an image's) whole record, as JSON-ready data."""
        from .inspect import inspect
        return inspect(self.containers, self.images_store, ref)

    def rm(self, ref: str, force: bool = False, volumes: bool = False) -> str:
        """Remove a container (or, for an img_ id or an image name, an image)."""
        if ref.startswith("img_") or (not ref.startswith("ps_") and self.containers.find(ref) is None
                                      and self.images_store.find(ref) is not None):
            return self.rmi(ref)
        c = self.containers.find(ref)
        if c is None:
            if ref.startswith("ps_"):
                raise NotFound(f"No container named '{ref}' exists")
            raise NotFound(f"No container or image named '{ref}' exists")
        return self.containers.rm(c.id, force=force, volumes=volumes)

    # -- accounting and changes ------------------------------------------------------------
    def diff(self, ref: str) -> list[Change]:
        """`docker diff`: what a container's upper dir changes over its image, or what an
        image's top layer changes over the layers below it."""
        from .changes import changes
        upper, lowers = self.diff_dirs(ref)
        return changes(upper, lowers)

    def diff_dirs(self, ref: str) -> tuple[Path, list[Path]]:
        """The upper dir and the lower dirs (top-most first) that `diff` compares."""
        from .changes import diff_dirs
        return diff_dirs(self.store, self.containers, self.images_store, ref)
