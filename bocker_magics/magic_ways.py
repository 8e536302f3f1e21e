"""The verbs a notebook handles its own way (magics.OWN_WAYS names them): run and exec stream
into the cell and end in a RunReport, build shows its steps, top --monitor plots, logs -f
follows, stats redraws, compose takes its file from the cell, attach and cp's streams are
refused (a notebook has no terminal), and the magic's own verbs (ns, cleanup, dashboard).
Mixed into BockerMagics (magics.py), whose engine, calls and settings they use."""

from __future__ import annotations

from typing import Any

from IPython.core.error import UsageError

from .cell_output import CellOutput, follow_logs
from .cell_views import label as _label
from .commands import VERBS
from .errors import BockerError, NotFound
from .magic_tables import MADE, NO_TERMINAL, PROG, ContainerInterrupted, _command_line


class OwnWays:
    """BockerMagics' ways with the verbs of OWN_WAYS (each may still end in self._verb: the
    verb's own call and view)."""

    def _no_terminal(self, verb: str, a: Any, cell: str | None) -> None:
        raise UsageError(NO_TERMINAL)  # attach: a notebook has no terminal

    def _cp(self, verb: str, a: Any, cell: str | None) -> Any:
        if "-" in (a.source, a.destination):
            raise UsageError("%bocker cp: a notebook has no stdin or stdout stream for a tar ('-'): "
                             "copy to or from a file path")
        return self._verb(verb, a)

    def _top_or_monitor(self, verb: str, a: Any, cell: str | None) -> Any:
        if a.monitor or a.interval is not None or a.duration is not None:
            return self._top(a)
        return self._verb(verb, a)

    def _logs(self, verb: str, a: Any, cell: str | None) -> Any:
        return self._follow(a.container) if a.follow else self._verb(verb, a)

    def _ns_verb(self, verb: str, a: Any, cell: str | None) -> Any:
        return self._ns(a.refs)

    def _cleanup_verb(self, verb: str, a: Any, cell: str | None) -> list[str] | None:
        removed = self._cleanup(a.dry_run, a.out)
        return removed if a.out else None  # its lines were printed: no list after them

    def _dashboard(self, verb: str, a: Any, cell: str | None) -> Any:
        from . import views
        return views.Dashboard.shown(self.engine, lambda: list(MADE.containers), a.interval, a.duration)

    def _stats(self, verb: str, a: Any, cell: str | None) -> Any:
        if a.stream and a.no_stream:
            raise UsageError(f"{PROG} stats: --stream and --no-stream contradict each other: give one")
        if a.stream or not (a.no_stream or a.out):  # docker stats: redrawn until the cell is interrupted
            from . import views
            return views.StatsTable.stream(self.engine, a.containers or None, a.interval)
        return self._verb(verb, a)

    def _compose(self, verb: str, a: Any, cell: str | None) -> Any:
        """%%bocker compose: the cell is the compose file (up by default, detached: the cell shows
        the stack); %bocker compose VERB on one line, without -f, works on the last stack this
        kernel brought up from a cell."""
        if cell is not None:
            a.compose_text = cell
        elif not a.file and self._stack is not None:
            a.compose_text = self._stack[0]
            a.project_name = a.project_name or self._stack[1]
        if "--out" in a.args[:-1]:  # after the compose verb, the magic's --out is still the magic's
            i = a.args.index("--out")
            a.out, a.args = a.args[i + 1], a.args[:i] + a.args[i + 2:]
        if a.action is None and cell is not None:
            a.action = "up"
        if a.action == "up" and not {"-d", "--detach"} & set(a.args):
            a.args = ["-d", *a.args]  # a cell does not block on the logs: %bocker compose logs -f follows
        try:
            shown = self._verb(verb, a)
        except KeyboardInterrupt:  # logs -f, followed until the stop button
            raise ContainerInterrupted(f"%bocker compose {a.action}: interrupted") from None
        if cell is not None and a.action == "up":  # the stack the one-line verbs work on
            self._stack = (cell, a.project_name)
        return shown

    # -- run and exec ---------------------------------------------------------------------------
    def _run(self, verb: str, a: Any, cell: str | None):
        from . import views

        e = self.engine
        stdin = None
        if cell is not None and getattr(a, "interactive", False) and a.command:
            stdin = cell.encode()  # %%bocker run -i IMAGE PROGRAM: the cell is its input
        elif cell is not None:
            a.command = [cell] if verb == "run" else ["/bin/sh", "-c", cell]
        if verb == "run":
            self._check_image(a.image)
            name, cid = a.name, None
        else:
            c = e.container(a.container)
            name, cid = c.name, c.id
        started: dict[str, str] = {}
        see_all = (lambda: f"%bocker logs {started.get('id') or name}") if verb == "run" and not a.rm else \
            "the result's .text (`_.text`, or --out VAR)"
        output = None if a.quiet else CellOutput(self.stream_lines, see_all)
        monitor = views.Monitor(e, self.monitor_interval) if verb == "run" else None

        def on_start(container_id: str) -> None:
            started["id"] = container_id
            MADE.add("containers", container_id)
            if monitor is not None:
                monitor.start(container_id)
                if a.monitor and not a.detach:
                    monitor.show_live(widget=self.live_widgets)

        ctx = self._context(verb, on_output=output.write if output else None, capture=True,
                            on_start=on_start if verb == "run" else None, stdin=stdin)
        try:
            result = VERBS[verb].call(e, a, ctx)
        except KeyboardInterrupt:
            raise ContainerInterrupted(self._interrupted(verb, name, started.get("id") or cid)) from None
        finally:
            if monitor is not None:
                monitor.stop()
                monitor.end_live()
            if output is not None:
                output.close()
        if verb == "exec":
            return views.RunReport(result, exec_in=name or cid, label=_label(name, cid), streamed=output is not None,
                                   command=_command_line(a.command))
        detached = a.detach
        stats = monitor.last if monitor is not None else None
        if not detached and not a.rm:
            # the stats the monitor recorded at exit, where it does (else the last sample)
            recorded = e.stats([result.id]).get(result.id)
            if recorded is not None and recorded.cpu_seconds is not None:
                stats = recorded
        return views.RunReport(result, stats, monitor if a.monitor else None, detached,
                               label=_label(name, result.id), streamed=output is not None,
                               command=_command_line(a.command))

    # -- build ----------------------------------------------------------------------------------
    def _build(self, verb: str, a: Any, cell: str | None):
        """Stream each step into the cell, then show the steps (and each layer's diff)."""
        from . import views

        e = self.engine
        output = None if a.quiet else CellOutput(self.stream_lines, "the result's .steps (--out VAR)")
        images_before = {i.id for i in e.images()}
        try:
            result = VERBS["build"].call(e, a, self._context("build", on_output=output.write if output else None))
        except KeyboardInterrupt:
            raise ContainerInterrupted("interrupted: the build stopped; its step's container was removed "
                                       "and no image was made") from None
        finally:
            if output is not None:
                output.close()
        if result.image.id not in images_before:
            MADE.add("images", result.image.id)
        return views.BuildReport(result, e.store.layer_dir)

    def _check_image(self, ref: str) -> None:
        """A missing image says how to get one (the engine's message, and the magic's verbs)."""
        try:
            self.engine.image(ref)
        except NotFound as e:
            raise NotFound(f"{str(e).split(':')[0]}: `%bocker pull {ref}` fetches it, or `%bocker init --busybox` "
                           "makes the built-in busybox") from None

    def _interrupted(self, verb: str, name: str | None, cid: str | None) -> str:
        """The one line an interrupt leaves: what stopped, and its exit status."""
        if cid is None:
            return "interrupted: the container was not started"
        if verb == "exec":
            return f"interrupted: exec in {_label(name, cid)} stopped, exit 137"
        code = 137  # the engine stops it with SIGKILL; with --rm its record is gone already
        try:
            c = self.engine.container(cid)
            code = c.exit_code if c.exit_code is not None else code
        except BockerError:
            pass
        return f"interrupted: container {_label(name, cid)} stopped, exit {code}"

    # -- top, logs -f ---------------------------------------------------------------------------
    def _top(self, a: Any):
        from . import views

        c = self.engine.container(a.container)
        if not c.running:
            raise BockerError(f"Container '{a.container}' exists but is not running")
        m = views.Monitor(self.engine, a.interval if a.interval is not None else 0.5, c.id)
        m.show_live(widget=self.live_widgets)
        try:
            m.follow(a.duration)
        except KeyboardInterrupt:
            pass  # the interrupt ends the sampling (it observes; nothing to stop): the picture stays
        finally:
            m.end_live()
        return m

    def _follow(self, ref: str) -> None:
        """`%bocker logs -f`: the log into the cell as it grows; an interrupt ends it."""
        from . import format

        self.engine.container(ref)  # a missing container is a one-line error before anything
        out = CellOutput(None)
        try:
            for chunk in follow_logs(self.engine, ref):
                out.write(chunk)
        except KeyboardInterrupt:
            out.close()
            print(f"(stopped following {ref})")
            return None
        out.close()
        c = self.engine.container(ref)
        print(f"({ref} {c.status_text}" + (f" at {format.local_time(c.finished_at)})" if c.finished_at else ")"))
        return None

    # -- cleanup --------------------------------------------------------------------------------
    def _cleanup(self, dry_run: bool, quiet: bool) -> list[str]:
        """Remove what this kernel made and still exists: containers (killed first if
        running), then images, then networks. Returns what it removed."""
        e = self.engine
        removed: list[str] = []
        existing = {c.id: c for c in e.ps()}
        for cid in list(MADE.containers):
            if cid in existing:
                if not dry_run:
                    e.rm(cid, force=True)
                removed.append(_label(existing[cid].name, cid))
            if not dry_run:
                MADE.containers.remove(cid)
        images = {i.id: i for i in e.images()}
        for iid in list(MADE.images):
            if iid in images:
                if not dry_run:
                    e.rmi(iid)
                removed.append(_label(", ".join(images[iid].names), iid))
            if not dry_run:
                MADE.images.remove(iid)
        from .completion import network_names

        networks = set(network_names(e))
        for net in list(MADE.networks):
            if net in networks:
                if not dry_run:
                    e.network_rm(net)
                removed.append(f"network {net}")
            if not dry_run:
                MADE.networks.remove(net)
        if not quiet:
            word = "Would remove" if dry_run else "Removed"
            for what in removed:
                print(f"{word}: {what}")
            if not removed:
                print("Nothing to remove: what this kernel made is gone already")
        return removed

    # -- ns -------------------------------------------------------------------------------------
    def _ns(self, refs: list[str]):
        from .views import NamespaceTable

        pids: dict[str, int] = {}
        for ref in refs:
            if ref.isdigit():
                from .views.namespaces import process_label

                pids[process_label(int(ref))] = int(ref)
                continue
            c = self.engine.container(ref)
            if not c.running or not c.pid:
                raise BockerError(f"Container '{ref}' exists but is not running: its namespaces are gone")
            pids[c.name or c.id] = c.pid
        try:
            return NamespaceTable.of(pids)
        except ProcessLookupError as e:
            raise BockerError(f"{e}: give a running process or container") from None
