"""One more process in a running container (`bocker exec`, `bocker-runc exec`): the child of a
fork whose parent joined the container's pid namespace joins its cgroup, then its other
namespaces (mount last), takes the console or stdio, and execs the process with the same last
steps as pid 1 (init.py). runc calls this path setns_init. Stdlib + ctypes only."""

from __future__ import annotations

import os

from ..._record import Record
from ...errors import ProcessError
from ..kernel import linux, userns
from ..kernel.process import Seccomp, exec_process
from .console import open_pty, take_terminal
from .init import _close_fds_from, resolve_program
from .protocol import SYNC_ERROR, Sync

# mnt last: entering the mount namespace moves our root and cwd to the container's root.
EXEC_NAMESPACES = ("ipc", "uts", "net", "cgroup", "mnt")


class ExecConfig(Record):
    """What exec_init needs besides the process; fds are this process's."""

    __slots__ = ("sync", "namespaces", "cgroup_dirs", "stdio", "console", "seccomp", "preserve_fds")

    def __init__(
        self,
        sync: int,
        namespaces: dict[str, int],
        cgroup_dirs: list[str],
        stdio: tuple[int, int, int] | None = None,
        console: int | None = None,
        seccomp: Seccomp | None = None,
        preserve_fds: int = 0,
    ) -> None:
        self.sync = sync  # SOCK_SEQPACKET to the parent (an error, or EOF on exec)
        self.namespaces = namespaces  # kind (EXEC_NAMESPACES) -> an fd of the container's
        self.cgroup_dirs = cgroup_dirs  # the container's cgroup directories
        self.stdio = stdio  # fds to become 0, 1, 2 (None: keep ours)
        self.console = console  # with process.terminal: the pty master goes there
        self.seccomp = seccomp
        self.preserve_fds = preserve_fds  # 3..3+N-1 stay open


def exec_init(process, cfg: ExecConfig) -> None:
    """The child of a fork whose parent joined the container's pid namespace: join its
    cgroup and namespaces, take the console or stdio, exec the process. Never returns; an
    error goes to the parent over the sync socket as one line."""
    sync = Sync(cfg.sync)
    try:
        for directory in dict.fromkeys(cfg.cgroup_dirs):
            # v1: a single-threaded process moving itself by `tasks` skips the global
            # threadgroup lock (it waits for an RCU grace period); v2 has cgroup.procs only
            tasks = os.path.join(directory, "tasks")
            with open(tasks if os.path.exists(tasks) else os.path.join(directory, "cgroup.procs"), "w") as f:
                f.write("0")
        for kind in EXEC_NAMESPACES:
            if kind in cfg.namespaces:
                linux.setns(cfg.namespaces[kind], 0)
        linux.pause_point("exec")
        if "user" in cfg.namespaces:
            # a remapped container: what we create (the working directory, a pty) is its root's
            # (its /proc is ours now, and its pid 1 there holds the maps)
            mapped = userns.mapped_root_of("1")
            if mapped is not None:
                userns.take_ids(*mapped)
        if process.terminal:
            if cfg.console is None:
                raise ProcessError("process.terminal is set but no console socket was given (--console-socket)")
            master, slave, _ = open_pty(process.console_size)
            take_terminal(master, slave, cfg.console)
        elif cfg.stdio is not None:
            for i, fd in enumerate(cfg.stdio):
                os.dup2(fd, i)
        resolve_program(process)
        exec_process(process, seccomp=cfg.seccomp, userns_fd=cfg.namespaces.get("user"),
                     ready=lambda: _close_fds_from(3 + cfg.preserve_fds, keep={cfg.sync}))
    except Exception as e:
        code = getattr(e, "code", 125)
        message = getattr(e, "message", None) or (f"Could not enter the container: {e.strerror}"
                                                  if isinstance(e, OSError) else f"Bug: {e!r}")
        sync.send(type=SYNC_ERROR, message=message, code=code if isinstance(code, int) else 125,
                  lookup=getattr(e, "lookup", None))
    os._exit(125)
