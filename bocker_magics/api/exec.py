"""`/containers/{id}/exec` and `/exec/{id}/...`: one more process in a running container,
through the engine's exec (the same verb `bocker exec` calls), hijacked or detached."""

from __future__ import annotations

import contextlib
import secrets
import threading
from dataclasses import dataclass, field
from typing import Any

from ..errors import BockerError, ExitCodeError
from .ids import docker_id
from .routing import ApiError, not_found, route
from .streams import PtySize, SocketOutput


@dataclass
class ExecInstance:
    id: str
    container: str                     # bocker's container id
    argv: list[str]
    env: list[str] = field(default_factory=list)
    workdir: str | None = None
    user: str | None = None
    tty: bool = False
    stdin: bool = False
    stdout: bool = True
    stderr: bool = True
    running: bool = False
    started: bool = False
    exit_code: int | None = None
    terminal: PtySize | None = None

    def json(self) -> dict[str, Any]:
        return {"ID": self.id, "Running": self.running, "ExitCode": self.exit_code, "ProcessConfig": {
                    "tty": self.tty, "entrypoint": self.argv[0] if self.argv else "", "arguments": self.argv[1:],
                    "privileged": False, "user": self.user or ""},
                "OpenStdin": self.stdin, "OpenStderr": self.stderr, "OpenStdout": self.stdout,
                "CanRemove": False, "ContainerID": docker_id(self.container), "DetachKeys": "", "Pid": 0}


class ExecApi:
    engine: Any
    ids: Any
    execs: dict[str, ExecInstance]
    lock: threading.Lock

    @route("POST", "/containers/(?P<ref>[^/]+)/exec")
    def exec_create(self, r, ref: str) -> None:
        c = self.ids.container(ref)
        body = r.json_body({}) or {}
        cmd = body.get("Cmd")
        if isinstance(cmd, str):
            import shlex
            cmd = shlex.split(cmd)
        if not cmd:
            raise ApiError(400, "No exec command specified")
        if c.status != "running":
            if c.status == "paused":
                raise ApiError(409, f"Container {docker_id(c.id)} is paused, unpause the container before exec")
            raise ApiError(409, f"Container {docker_id(c.id)} is not running")
        e = ExecInstance(secrets.token_hex(32), c.id, [str(a) for a in cmd], list(body.get("Env") or []),
                         body.get("WorkingDir") or None, body.get("User") or None, bool(body.get("Tty")),
                         bool(body.get("AttachStdin")), body.get("AttachStdout", True) is not False,
                         body.get("AttachStderr", True) is not False)
        with self.lock:
            self.execs[e.id] = e
        r.reply(201, {"Id": e.id})

    def _exec(self, ref: str) -> ExecInstance:
        e = self.execs.get(ref)
        if e is None:
            matches = [x for k, x in self.execs.items() if k.startswith(ref)]
            if len(matches) != 1:
                raise not_found("exec", ref)
            e = matches[0]
        return e

    @route("GET", "/exec/(?P<ref>[^/]+)/json")
    def exec_inspect(self, r, ref: str) -> None:
        r.reply(200, self._exec(ref).json())

    @route("POST", "/exec/(?P<ref>[^/]+)/resize")
    def exec_resize(self, r, ref: str) -> None:
        e = self._exec(ref)
        if e.terminal is not None:
            e.terminal.set(r.integer("h", 24) or 24, r.integer("w", 80) or 80)
        r.reply(201, b"", "text/plain")

    @route("POST", "/exec/(?P<ref>[^/]+)/start")
    def exec_start(self, r, ref: str) -> None:
        from .server import Hijacked
        e = self._exec(ref)
        body = r.json_body({}) or {}
        if e.started:
            raise ApiError(409, f"Error: Exec command {e.id} has already run")
        e.started = True
        tty = bool(body.get("Tty", e.tty)) or e.tty
        kwargs = dict(env=e.env, workdir=e.workdir, user=e.user, tty=tty)
        if body.get("Detach"):
            e.running = True
            try:
                self.engine.exec(e.container, e.argv, detach=True, **kwargs)
            except ExitCodeError as err:
                e.exit_code, e.running = err.exit_code, False
                raise ApiError(400 if err.exit_code == 127 else 500, str(err)) from None
            finally:
                if e.exit_code is None:
                    e.exit_code = 0
                e.running = False
            r.reply(200, b"", "text/plain")
            return
        sock = r.hijack()
        out = SocketOutput(sock, tty, tuple(s for s, on in (("stdout", e.stdout), ("stderr", e.stderr)) if on))
        e.terminal = PtySize() if tty else None
        e.running = True
        try:
            result = self.engine.exec(e.container, e.argv, on_output=out, capture=False,
                                      stdin=sock.fileno() if e.stdin else None, terminal=e.terminal, **kwargs)
            e.exit_code = result.exit_code
        except ExitCodeError as err:
            e.exit_code = err.exit_code
            out(f"OCI runtime exec failed: {err}\r\n".encode(), "stderr")
        except BockerError as err:
            e.exit_code = 126
            out(f"Error: {err}\r\n".encode(), "stderr")
        finally:
            e.running = False
            if e.exit_code is None:
                e.exit_code = 137
            if e.terminal is not None:
                e.terminal.close()
            with contextlib.suppress(Exception):
                out.finish()
        raise Hijacked
