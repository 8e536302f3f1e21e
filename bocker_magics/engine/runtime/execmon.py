"""One more process in a running container: the exec monitor (forked by the shim, as a
container's monitor is) joins the namespaces and the cgroup of the container's pid 1
instead of making them, execs the process there, relays its stdio and reports its exit
status. A healthcheck's runner enters the container the same way (check_entry).
Stdlib only."""

from __future__ import annotations

import json
import os
import socket

from ..kernel import capabilities, linux
from ..spec import Process, Spec, object_json, read_object
from .eventloop import Loop
from .init import EXEC_NAMESPACES, ExecConfig, exec_init, receive_fd
from .pid1 import exit_code, seccomp_of
from .protocol import EVENT_EXITED, EVENT_FAILED, EVENT_STARTED, SYNC_ERROR, Channel, ExecLaunch, Sync, control
from .stdio import Stdio


def open_namespaces(target: int, pid_start: int | None) -> dict[str, int]:
    """fds of the namespaces of `target` (the container's pid 1) that are not already ours;
    ProcessLookupError when it is gone or is another process by now."""
    ns_fds = {}
    for kind in EXEC_NAMESPACES + ("pid", "user"):
        try:
            ns_fds[kind] = os.open(f"/proc/{target}/ns/{kind}", os.O_RDONLY | os.O_CLOEXEC)
        except FileNotFoundError:
            continue
    # checked after opening: the fds now name that process's namespaces for good
    if pid_start is not None and linux.process_start_time(target) != pid_start:
        for fd in ns_fds.values():
            os.close(fd)
        raise ProcessLookupError
    same = {k for k, fd in ns_fds.items() if os.fstat(fd).st_ino == os.stat(f"/proc/self/ns/{k}").st_ino}
    for k in same:  # joining our own namespace again is a no-op, and cgroup's is refused
        os.close(ns_fds.pop(k))
    return ns_fds


def check_entry(pid: int, pid_start: int, spec: Spec, cgroup_dirs: list[str], seccomp_path: str | None,
                argv: list[str]):
    """health.run_check's `enter`: the check runs as `exec` runs a process, in every namespace
    and the cgroup of pid 1, with the container's environment, user and working directory,
    and its seccomp filter."""

    def enter():
        ns_fds = open_namespaces(pid, pid_start)
        if "pid" in ns_fds:
            linux.setns(ns_fds["pid"], linux.CLONE_NEWPID)
        process = read_object(Process, json.dumps({**object_json(spec.process), "args": argv,
                                                   "terminal": False}).encode(), "healthcheck")
        seccomp = seccomp_of(seccomp_path, spec)

        def exec_check(argv_: list[str], out: int, sync: int) -> None:
            null = os.open("/dev/null", os.O_RDONLY)
            exec_init(process, ExecConfig(sync=sync, namespaces=ns_fds, cgroup_dirs=cgroup_dirs,
                                          stdio=(null, out, out), seccomp=seccomp))

        return exec_check

    return enter


def exec_monitor(launch: ExecLaunch, fds: dict[str, int]) -> int:
    """Fork a process into every namespace and the cgroup of the container's pid 1, exec
    the process there, relay its stdio, report its exit status."""
    ctl = Channel(fds["ctl"])
    try:
        ns_fds = open_namespaces(launch.pid, launch.pid_start)
    except (OSError, ProcessLookupError):
        ctl.send(event=EVENT_FAILED, message=f"Container '{launch.id}' exists but is not running", code=1)
        return 0
    spec = Spec.load(os.path.join(launch.bundle, "config.json"))
    try:
        with open(launch.process_file, "rb") as f:
            process = read_object(Process, f.read(), "exec process")
    finally:
        try:
            os.unlink(launch.process_file)
        except OSError:
            pass
    # Not dumpable (inherited by the child until it execs the program): a container process
    # can't open /proc/PID/exe, mem or fd of a process that is still the host's interpreter.
    capabilities.set_dumpable(False)
    if "pid" in ns_fds:
        linux.setns(ns_fds["pid"], linux.CLONE_NEWPID)  # our child is born in the container's pid ns
    started = _fork_exec(launch, process, ns_fds, seccomp_of(launch.seccomp, spec), ctl)
    if started is None:
        return 0
    pid, sources, stdin_w, master = started
    ctl.send(event=EVENT_STARTED, pid=pid)
    loop = Loop()
    stdio = Stdio(loop, None, process.terminal)
    if "attach" in fds:
        stdio.add_client(socket.socket(fileno=fds["attach"]), owner=True)
    stdio.start(sources, stdin_w, master)
    while stdio.output_open:
        loop.run_once()
    _, status = os.waitpid(pid, 0)
    code = exit_code(status)
    stdio.end_run()
    stdio.finish(control(event=EVENT_EXITED, code=code, oom_killed=False))
    ctl.send(event=EVENT_EXITED, code=code, oom_killed=False)
    return 0


def _fork_exec(launch: ExecLaunch, process: Process, ns_fds: dict[str, int], seccomp, ctl: Channel):
    """The process, forked into the container (exec_init) and exec'ed: (pid, its output
    sources, its stdin, its pty master), or None when it failed to start (ctl was told)."""
    sync_ours, sync_theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    tty = process.terminal
    sources: dict[int, str] = {}
    stdin_w = None
    if tty:
        console_ours, console_theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    else:
        console_ours = console_theirs = None
        out_r, out_w = os.pipe2(os.O_CLOEXEC)
        err_r, err_w = os.pipe2(os.O_CLOEXEC)
        if launch.stdin:
            in_r, stdin_w = os.pipe2(os.O_CLOEXEC)
        else:
            in_r = os.open("/dev/null", os.O_RDONLY | os.O_CLOEXEC)
        sources = {out_r: "stdout", err_r: "stderr"}
    pid = os.fork()
    if pid == 0:
        sync_ours.close()
        exec_init(process, ExecConfig(sync=sync_theirs.fileno(), namespaces=ns_fds,
                                      cgroup_dirs=list(launch.cgroup.values()),
                                      stdio=None if tty else (in_r, out_w, err_w),
                                      console=console_theirs.fileno() if tty else None, seccomp=seccomp))
        os._exit(125)
    sync_theirs.close()
    for fd in ns_fds.values():
        os.close(fd)
    master = None
    if tty:
        console_theirs.close()
    else:
        for fd in (in_r, out_w, err_w):
            os.close(fd)
    report = Sync(sync_ours).receive()  # EOF: exec'ed
    if report.get("type") == SYNC_ERROR:
        os.waitpid(pid, 0)
        ctl.send(event=EVENT_FAILED, message=report["message"], code=report.get("code", 125))
        return None
    if tty:
        master = receive_fd(console_ours)
        console_ours.close()
        sources, stdin_w = {master: "stdout"}, master
    return pid, sources, stdin_w, master
