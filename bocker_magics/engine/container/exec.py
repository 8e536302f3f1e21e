"""exec: one more process in a running container (all its namespaces, its root, its
cgroup, its capabilities and seccomp filter), started by an exec monitor as runc's exec
--process does: the process goes in a file, so a long command line fits."""

from __future__ import annotations

import os
import time
from typing import TYPE_CHECKING, Any

from ...errors import Conflict, ExitCodeError, InvalidArgument
from ..options import check_arguments, parse_env
from ..runtime.protocol import EVENT_FAILED, ExecLaunch
from ..spec import object_json
from ..store import write_json
from .attach import Output, stream
from .launch import hand_off, seccomp_program
from .record import RunResult
from .status import Status

if TYPE_CHECKING:
    from ..spec import Process
    from .record import Container
    from .room import Room


def _as_user(process: Process, c: Container, user: str) -> None:
    """`exec -u`: the user as the container's own /etc/passwd and /etc/group name it."""
    from ..users import container_file, resolve
    root = f"/proc/{c.state.pid}/root"
    who = resolve(user, container_file(root, "etc/passwd"), container_file(root, "etc/group"))
    process.user.uid, process.user.gid, process.user.additional_gids = who.uid, who.gid, who.additional_gids
    caps = process.capabilities
    if caps is not None:  # Docker's rule: root holds the bounding set, another user nothing
        held = list(caps.bounding) if who.uid == 0 else []
        caps.effective, caps.permitted, caps.inheritable, caps.ambient = held, list(held), [], []


def _process(process: Process, c: Container, argv: list[str], env, workdir: str | None, user: str | None,
             tty: bool, terminal: Any) -> Process:
    """The container's own process spec, made the exec'd one's."""
    environment = parse_env(process.env)
    environment.update(parse_env(env))
    process.args = argv
    process.cwd = workdir or process.cwd
    process.terminal = tty
    process.console_size = None
    if tty and terminal is not None:
        from ..spec import Box
        rows, cols = terminal.size()
        process.console_size = Box(height=rows, width=cols)
    if tty:
        environment.setdefault("TERM", "xterm")
    process.env = [f"{k}={v}" for k, v in environment.items()]
    if user is not None:
        _as_user(process, c, user)
    check_arguments(process.args, process.env)
    return process


def exec_in(rooms: Room, ref: str, command: str | list[str], *,
            env: list[str] | dict[str, str] | None = None, workdir: str | None = None, user: str | None = None,
            tty: bool = False, detach: bool = False, on_output: Output | None = None, capture: bool = True,
            stdin: bytes | int | None = None, terminal: Any = None, detach_keys: bytes | None = None) -> RunResult:
    """Run one more process in a running container. A list is the argv; a string is run by
    /bin/sh -c."""
    t0 = time.perf_counter()
    c = rooms.get(ref)
    if not c.running:
        raise Conflict(f"Container '{ref}' exists but is not running")
    if c.status is Status.PAUSED:
        raise Conflict(f"Container '{ref}' is paused: unpause it first (bocker unpause {ref})")
    argv = ["/bin/sh", "-c", command] if isinstance(command, str) else list(command)
    if not argv or not all(isinstance(a, str) and "\0" not in a for a in argv):
        raise InvalidArgument("Give the command to run in the container, e.g. bocker exec ID ls /")
    if workdir is not None and not workdir.startswith("/"):
        raise InvalidArgument(f"Invalid working directory '{workdir}': it must be an absolute path")
    spec = rooms.spec(c.id)
    process = _process(spec.process, c, argv, env, workdir, user, tty, terminal)
    cdir = rooms.store.container_dir(c.id)
    process_file = cdir / f"exec-{os.urandom(6).hex()}.json"
    write_json(process_file, object_json(process), fsync=False)
    launch = ExecLaunch(id=c.id, bundle=str(cdir), process_file=str(process_file),
                        pid=c.state.pid, pid_start=c.state.pid_start, cgroup=c.state.cgroup,
                        seccomp=seccomp_program(rooms.store, spec), stdin=stdin is not None)
    try:
        ctl, client, event = hand_off(rooms, launch, attach=not detach)
    except BaseException:
        process_file.unlink(missing_ok=True)
        raise
    try:
        if event.get("event") == EVENT_FAILED:
            if event.get("code") in (126, 127):
                raise ExitCodeError(event["message"], event["code"])
            raise Conflict(event["message"])
        if detach:
            return RunResult(c.id, 0, b"", time.perf_counter() - t0, detached=True)
        result = stream(rooms, c.id, event["pid"], client, on_output, capture, stdin, terminal, detach_keys)
    finally:
        ctl.close()
        if client is not None:
            client.close()
    return RunResult(c.id, result.get("code", 137), result["output"], time.perf_counter() - t0,
                     False, result["stdout"], result["stderr"])
