"""Attaching to a container (`/containers/{id}/attach`, hijacked): to a running one, or
before its start as `docker run` does, when the start request lets the attach's own thread
run the attached start; its terminal's size (`/resize`) and `/wait`, which reads the exit an
attached --rm run saw before the engine removed it."""

from __future__ import annotations

import contextlib
import json
import logging
import socket
import threading
from dataclasses import dataclass, field
from typing import Any

from ..errors import BockerError, NotFound
from .container_json import LIVE
from .routing import ApiError, route
from .streams import PtySize, SocketOutput

log = logging.getLogger("bocker.api")


@dataclass
class AttachSession:
    """A hijacked attach to a container not yet running (`docker run` attaches before it
    starts): the start request lets it go, and the attach's thread runs the attached start."""

    stdin: bool
    go: threading.Event = field(default_factory=threading.Event)
    started: threading.Event = field(default_factory=threading.Event)
    error: BaseException | None = None


class AttachApi:
    """Mixed into the Api: it holds `attaches`, `attached_runs`, `exits`, `terminals`."""

    engine: Any
    ids: Any

    # == wait ===============================================================================
    @route("POST", "/containers/(?P<ref>[^/]+)/wait")
    def container_wait(self, r, ref: str) -> None:
        from ..engine import wait_condition
        c = self.ids.container(ref)
        condition = r.arg("condition") or "not-running"
        if condition not in ("not-running", "next-exit", "removed"):
            raise ApiError(400, f"invalid condition: \"{condition}\"")
        stream = r.stream()  # the headers at once: `docker run` starts the container after them
        code = wait_condition(self.engine, c.id, condition, gone=self._exit_of_removed,
                              cancelled=r.client_gone)
        if code is None:  # the client left
            r.handler.close_connection = True
            return
        stream.write(json.dumps({"StatusCode": code or 0, "Error": None}).encode() + b"\n")
        stream.close()

    def _exit_of_removed(self, cid: str) -> int | None:
        """The exit code of a container removed before a wait saw it exit: an attached --rm
        run's, which the engine removes as soon as it returns its result."""
        finished = self.attached_runs.get(cid)
        if finished is not None:
            finished.wait(10)
        return self.exits.get(cid)

    # == attach =============================================================================
    @route("POST", "/containers/(?P<ref>[^/]+)/attach")
    def container_attach(self, r, ref: str) -> None:
        from .server import Hijacked
        c = self.ids.container(ref)
        record_stdin = bool(c.record is not None and (c.record.stdin or c.record.tty))
        want_stdin = r.flag("stdin") and record_stdin
        want = tuple(s for s in ("stdout", "stderr") if r.flag(s, False)) or ("stdout", "stderr")
        tty = bool(c.record is not None and c.record.tty)
        if not r.flag("stream", True) and r.flag("logs"):
            sock = r.hijack()
            out = SocketOutput(sock, tty, want)
            for rec in self.engine.log_records(c.id):
                out(rec.text(), rec.stream)
            out.finish()
            raise Hijacked
        if c.status in LIVE:
            sock = r.hijack()
            out = SocketOutput(sock, tty, want)
            with contextlib.suppress(BockerError):
                self.engine.attach(c.id, on_output=out, stdin=sock.fileno() if want_stdin else None,
                                   capture=False)
            out.finish()
            raise Hijacked
        session = AttachSession(stdin=want_stdin)
        with self.lock:
            self.attaches[c.id] = session
        sock = r.hijack()
        out = SocketOutput(sock, tty, want)
        try:
            while not session.go.wait(0.5):
                if self._attach_abandoned(c.id, session, sock):
                    return
            terminal = PtySize() if tty else None
            if terminal is not None:
                self.terminals[c.id] = terminal
            finished = self.attached_runs[c.id] = threading.Event()
            try:
                result = self.engine.start(c.id, attach=True, on_output=out, capture=False,
                                           on_start=lambda _cid: session.started.set(),
                                           stdin=sock.fileno() if want_stdin else None, terminal=terminal)
                self.exits[c.id] = result.exit_code
                self.emit(c, "die", exitCode=str(result.exit_code))
                if c.record is not None and c.record.auto_remove:
                    self.emit(c, "destroy")
            except BaseException as err:
                if session.started.is_set():  # after the start's answer: only the log can tell
                    log.warning("attached start of %s: %s: %s", c.id, type(err).__name__, err)
                session.error = err if isinstance(err, (BockerError, ApiError)) else ApiError(500, str(err))
            finally:
                finished.set()
                session.started.set()
                self.terminals.pop(c.id, None)
                if terminal is not None:
                    terminal.close()
        finally:
            with self.lock:
                if self.attaches.get(c.id) is session:
                    del self.attaches[c.id]
            out.finish()
        raise Hijacked

    def _attach_abandoned(self, cid: str, session: AttachSession, sock) -> bool:
        """Waiting for the start: the container went, or started without us, or the client left."""
        import select
        try:
            c = self.engine.container(cid)
        except NotFound:
            return True
        if c.status in LIVE:
            return True
        if not session.stdin:
            readable, _, _ = select.select([sock], [], [], 0)
            if readable:
                try:
                    if not sock.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT):  # the client left
                        return True
                except BlockingIOError:
                    pass
                except OSError:
                    return True
        return False

    @route("POST", "/containers/(?P<ref>[^/]+)/resize")
    def container_resize(self, r, ref: str) -> None:
        c = self.ids.container(ref)
        terminal = self.terminals.get(c.id)
        if terminal is not None:
            terminal.set(r.integer("h", 24) or 24, r.integer("w", 80) or 80)
        r.reply(200, b"", "text/plain")

