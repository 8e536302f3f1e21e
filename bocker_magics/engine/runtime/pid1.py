"""Pid 1 of one run of a container, as the starter makes it (init.fork_pid1: its pid
namespace, its cgroup, init.py), with its stdio: pipes, or a console socket for its pty.
And what the starter, the healthcheck and the exec monitor share: the exit code of a wait
status, the seccomp filter of a container, its cgroup."""

from __future__ import annotations

import os
import socket

# procfs and seccomp: imported here, so once by the shim; a monitor needs both at every start
# (a Seccomp loads its module when it is made, in the forked monitor: at each start)
from ..kernel import procfs as _procfs  # noqa: F401
from ..kernel import seccomp as _seccomp_loader  # noqa: F401
from ..kernel.linux import exit_code  # noqa: F401  (pid1.exit_code: the exec monitor's)
from ..kernel.process import Seccomp
from ..kernel.rootfs import RootContext
from ..spec import Spec, object_json
from .init import InitConfig, fork_pid1
from .monitorfiles import cgroup_of  # noqa: F401  (pid1.cgroup_of, as before)
from .protocol import Sync


class Child:
    """One run of the container's pid 1, and the pipes (or pty) it was given."""

    def __init__(self, pid: int, sync: Sync, sources: dict[int, str], stdin_fd: int | None,
                 console: socket.socket | None) -> None:
        self.pid, self.sync, self.sources, self.stdin_fd, self.console = pid, sync, sources, stdin_fd, console
        self.master: int | None = None  # the pty's, once pid 1 sent it


def spawn(spec: Spec, root: RootContext, *, stdin: bool, netns_fd: int | None,
          seccomp: Seccomp | None, hook_state: str = "", cgroup_files: list[str] = ()) -> Child:
    """Pid 1 (init.fork_pid1: its pid namespace, cgroup and init.py), with its stdio: pipes,
    or a console socket for its pty."""
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    tty = spec.process.terminal
    console_ours = console_theirs = None
    sources: dict[int, str] = {}
    child_fds: list[int] = []
    if tty:
        console_ours, console_theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        stdio = None
        stdin_w = None
    else:
        out_r, out_w = os.pipe2(os.O_CLOEXEC)
        err_r, err_w = os.pipe2(os.O_CLOEXEC)
        if stdin:
            in_r, stdin_w = os.pipe2(os.O_CLOEXEC)
        else:
            in_r, stdin_w = os.open("/dev/null", os.O_RDONLY | os.O_CLOEXEC), None
        stdio = (in_r, out_w, err_w)
        child_fds = [in_r, out_w, err_w]
        sources = {out_r: "stdout", err_r: "stderr"}

    def config(userns_fd: int | None) -> InitConfig:  # in the child: our ends go
        ours.close()
        if console_ours is not None:
            console_ours.close()
        for fd in sources:
            os.close(fd)
        if stdin_w is not None:
            os.close(stdin_w)
        return InitConfig(root=root, sync=theirs.detach(), stdio=stdio,
                          console=console_theirs.detach() if console_theirs is not None else None,
                          netns_fd=netns_fd, userns_fd=userns_fd, seccomp=seccomp, hook_state=hook_state)

    pid = fork_pid1(spec, config, cgroup_files)
    theirs.close()
    for fd in child_fds:
        os.close(fd)
    if console_theirs is not None:
        console_theirs.close()
    return Child(pid, Sync(ours), sources, stdin_w, console_ours)


def seccomp_of(path: str | None, spec: Spec) -> Seccomp | None:
    if not path:
        return None
    from ..kernel.seccomp import filter_flags
    with open(path, "rb") as f:
        program = f.read()
    flags = filter_flags(object_json(spec.linux.seccomp)) if spec.linux.seccomp is not None else 0
    return Seccomp(program, flags)

