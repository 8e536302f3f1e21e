"""The shim: the small server that forks a monitor per container.

Process model (../DESIGN.md): a Jupyter kernel is multi-threaded, so no Python may run in a
forked child of it. The engine therefore execs this module once, as a fresh single-threaded
interpreter (`python -I -S`), and sends it a request per container over a socket
(protocol.Launch, protocol.ExecLaunch). For each, the shim forks a *monitor*
(monitor.py: its own session, so it outlives the engine), which runs the container.

Stdlib only and quick to import: this runs once per engine (and once per CLI command).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import sys

from ..kernel import linux
from ..kernel.cgroups import detect

# execmon, rehearsal, starter: what monitor.py imports only when needed, loaded here before any fork
from . import execmon, rehearsal, sleeper, starter  # noqa: F401
from . import monitor as monitors
from .protocol import EVENT_PONG, OP_EXEC, OP_PING, ExecLaunch, Launch

MAX_FDS = 4


# -- the server ---------------------------------------------------------------------------
def serve(sock_fd: int) -> None:
    """Fork a monitor per request until the engine closes its end of the socket."""
    sock = socket.socket(fileno=sock_fd)
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # monitors are reaped by the kernel
    signal.signal(signal.SIGINT, signal.SIG_IGN)   # a Ctrl-C is the engine's to handle
    warm = False
    while True:
        try:
            msg, fds, _, _ = socket.recv_fds(sock, 1 << 20, MAX_FDS)
        except InterruptedError:
            continue
        if not msg:
            return
        request = json.loads(msg)
        if request.get("op") == OP_PING:
            sock.send(json.dumps({"event": EVENT_PONG}).encode())
            for fd in fds:
                os.close(fd)
            continue
        parent = request.get("cgroup_parent")
        if parent and parent not in monitors.DRIVERS:
            # which cgroup driver, and where: found once per shim (reading mountinfo), not per container
            try:
                monitors.DRIVERS[parent] = detect(parent=parent)
            except Exception:
                pass  # the monitor reports it
        pid = os.fork()
        if pid == 0:
            code = 1
            try:
                sock.close()
                os.setsid()  # outlive the engine, its terminal and its Ctrl-C
                signal.signal(signal.SIGCHLD, signal.SIG_DFL)
                null = os.open("/dev/null", os.O_RDWR)
                os.dup2(null, 0)
                os.dup2(null, 1)
                os.dup2(os.open(os.path.join(request["bundle"], "monitor.log"),
                                os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600), 2)
                named = dict(zip(request.get("fds", ["ctl", "attach"]), fds))
                if request.get("op") == OP_EXEC:
                    code = execmon.exec_monitor(ExecLaunch.from_json(request), named)
                else:
                    code = monitors.monitor(Launch.from_json(request), named)
            except BaseException:
                import traceback
                traceback.print_exc()
            finally:
                os._exit(code)
        for fd in fds:
            os.close(fd)
        if not warm:
            warm = _warm(request)


def _warm(request: dict) -> bool:
    """Once, in the shim, after its first monitor is on its way: what that monitor did for
    the first time (the spec model's field tables, Launch's, the state's encoding) is then
    done here, and every later monitor, a fork of this process, starts with it instead of
    paying for it on its own start."""
    from ..spec import Spec, State
    try:
        Launch.from_json(request)
        spec = Spec.load(os.path.join(request["bundle"], "config.json"))
        State(id="warm", bundle=request["bundle"], annotations=dict(spec.annotations)).to_json()
    except Exception:
        pass  # a bundle that is gone or broken: its monitor says so
    try:
        rehearsal.rehearse(request)  # and what every monitor runs up to its idle loop
    except Exception:
        pass
    return True


# How the engine starts the shim: `python -I -S -c BOOT PACKAGE_PARENT FD`.
BOOT = ("import sys; sys.path.insert(0, sys.argv[1]); "
        "from bocker_magics.engine.runtime.shim import boot; boot()")


def boot() -> None:
    """First pass: find (or build) the sleeper (sleeper.py), move into a mount namespace where
    the interpreter and the sleeper are read-only, and exec again from there. Second pass
    ('protected' and the sleeper's path appended): serve."""
    package_parent, fd, *rest = sys.argv[1:]
    if rest[:1] != ["protected"]:
        path = sleeper.binary()
        linux.readonly_interpreter_namespace(path)
        os.execv(sys.executable, [sys.executable, "-I", "-S", "-c", BOOT, package_parent, fd, "protected", path or "-"])
    sleeper.path = rest[1] if len(rest) > 1 and rest[1] != "-" else None
    serve(int(fd))
