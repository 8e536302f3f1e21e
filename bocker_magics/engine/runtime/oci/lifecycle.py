"""The verbs after create: start (and run), kill, delete; ps, events, pause, resume, update.

start, kill, delete and delete --force run once per container in an interpreter of their
own (containerd's shim calls them as it calls runc), so they import only os, time, select
and _cjson; the cgroup driver comes with pause, resume, update, events, and with a delete
that finds processes left in the group.
"""

from __future__ import annotations

import os
import time

from ....errors import BockerError, Conflict, InvalidArgument, NotFound
from .state import DEFAULT_CGROUP_PARENT, Container, cgroups_path, check_id, container_dir
from .words import NOT_PAUSED, NOT_RUNNING, go_strerror, parse_signal

# `update`: every resource create applies, but the devices policy (as runc's update)
UPDATABLE = tuple(f"linux.resources.{p}" for p in ("memory", "cpu", "pids", "blockIO", "hugepageLimits", "network",
                                                    "rdma", "unified"))


# -- start, run ---------------------------------------------------------------------------------
def start(rt, cid: str) -> None:
    c = rt.load(cid)
    status = c.status()
    if status == "stopped":
        raise Conflict("cannot start a container that has stopped")
    if status == "running":
        raise Conflict("cannot start an already running container")
    if status == "paused":
        raise Conflict("cannot start a container in the paused state")
    if status == "creating":
        raise Conflict(f"container {cid} is still being created: try again")
    release(c)
    hooks_after(rt, c, "poststart", "running")


def release(c: Container) -> None:
    """Open the exec fifo for reading: pid 1, blocked opening it for writing, writes one
    byte and goes on to exec the program. Then the fifo goes: the container runs."""
    import select
    fd = os.open(c.fifo, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    try:
        while True:
            select.select([fd], [], [], 0.05)
            try:
                if os.read(fd, 1):
                    break
            except BlockingIOError:
                pass  # the writer is there and has not written yet
            if not c.running():
                raise Conflict("cannot start a container that has stopped")
    finally:
        os.close(fd)
    os.unlink(c.fifo)


def hooks_after(rt, c: Container, phase: str, status: str) -> None:
    """poststart, poststop (config.json's, as created): a failing hook is a warning
    (runtime.md), the rest still run."""
    hooks = (c.config().get("hooks") or {}).get(phase)
    if not hooks:
        return
    from ..hooks import HookCall, run_hooks
    state = c.hook_state(status)
    for h in hooks:
        try:
            run_hooks([HookCall.from_json(h)], state, phase)
        except BockerError as e:
            rt.log.warning(str(e))


def run(rt, cid: str, bundle: str | None = None, *, detach: bool = False, pid_file: str | None = None,
        console_socket: str | None = None, no_pivot: bool = False, no_new_keyring: bool = False,
        preserve_fds: int = 0, keep: bool = False) -> int:
    """create + start; in the foreground, wait for pid 1 (relaying a terminal, forwarding
    signals), delete the container and return its exit status."""
    from .bundle import spec_terminal
    from .exec import ConsoleRelay, wait_foreground
    relay = None
    if not detach and not console_socket and spec_terminal(bundle):
        relay = ConsoleRelay()
        console_socket = relay.path
    try:
        c = rt.create(cid, bundle, pid_file=pid_file, console_socket=console_socket, no_pivot=no_pivot,
                      no_new_keyring=no_new_keyring, preserve_fds=preserve_fds, detach=detach)
    except BaseException:
        if relay is not None:
            relay.close()
        raise
    if relay is not None:
        relay.accept()
    try:
        start(rt, cid)
    except BaseException:
        if relay is not None:
            relay.close()
        delete(rt, cid, force=True)
        raise
    if detach:
        return 0
    code = wait_foreground(c.pid, relay)
    if not keep:
        delete(rt, cid, force=True)
    return code


# -- kill ---------------------------------------------------------------------------------------
def kill(rt, cid: str, sig: str = "SIGTERM", all: bool = False) -> None:
    c = rt.load(cid)
    signo = parse_signal(sig)
    status = c.status()
    if all:
        # runc: --all signals whatever the cgroup still holds, whatever the state; a
        # stopped container's is success (containerd's shim asks after every exit in a
        # pod, whose containers share the sandbox's pid namespace)
        for p in c.pids():
            try:
                os.kill(p, signo)
            except (ProcessLookupError, OSError):
                pass
        if status == "paused" and signo == 9:
            group_of(c).thaw()  # a frozen task acts on SIGKILL once thawed
        return
    if status in ("stopped", "creating"):
        raise Conflict(NOT_RUNNING)
    try:
        os.kill(c.pid, signo)
    except ProcessLookupError:
        raise Conflict(NOT_RUNNING) from None
    except OSError as e:  # a number that is no signal: runc hands it to kill(2) too
        raise InvalidArgument(f"unable to signal init: {go_strerror(e)}") from None


# -- delete -------------------------------------------------------------------------------------
def delete(rt, cid: str, force: bool = False) -> None:
    """runc delete; with --force, success whatever there is (a container gone, half made,
    with an unreadable state, or whose cleaning fails: what is left is a warning)."""
    if not force:
        _delete(rt, cid, False)
        return
    d = container_dir(rt.root, check_id(cid))
    try:
        _delete(rt, cid, True)
    except BockerError as e:
        rt.log.warning(f"delete --force {cid}: {e}")
        rmtree(d)
    except OSError as e:
        rt.log.warning(f"delete --force {cid}: {e.strerror} ({e.filename or ''})")
        rmtree(d)


def _delete(rt, cid: str, force: bool) -> None:
    try:
        c = rt.load(cid)
    except NotFound:
        if force:
            rmtree(container_dir(rt.root, cid))  # a create that died before its first state: nothing else exists
            return
        raise
    except BockerError:
        if force:
            rmtree(container_dir(rt.root, cid))
            return
        raise
    status = c.status()
    if status in ("running", "paused", "creating") and not force:
        raise Conflict(f"cannot delete container {cid} that is not stopped: {status}")
    if status != "stopped":
        kill_everything(c, status)
    remove(rt, c, None)
    hooks_after(rt, c, "poststop", "stopped")


def kill_everything(c: Container, status: str) -> None:
    pids = set(c.pids())
    if c.pid and c.running():
        pids.add(c.pid)
    for p in pids:
        try:
            os.kill(p, 9)
        except ProcessLookupError:
            pass
    if status == "paused":
        group_of(c).thaw()
    deadline = time.monotonic() + 10
    while c.pid and c.running() and time.monotonic() < deadline:
        time.sleep(0.002)


def remove(rt, c: Container, group) -> None:
    """The cgroup (an empty one by rmdir; the driver kills what is left otherwise), the
    default parent when it was ours and is empty, the state directory with its fifo."""
    dirs = list(dict.fromkeys(c.cgroup.values()))
    busy = False
    for d in dirs:
        try:
            os.rmdir(d)
        except FileNotFoundError:
            pass
        except OSError:
            busy = True
    if busy:
        try:
            (group or group_of(c)).destroy()
        except BockerError as e:
            rt.log.warning(str(e))
    if not (c.config().get("linux") or {}).get("cgroupsPath"):  # /bocker-runc/ID: the parent is ours
        for d in dirs:
            try:
                os.rmdir(os.path.dirname(d))
            except OSError:
                pass  # another container's is there
    rmtree(c.dir)


def group_of(c: Container):
    """The container's cgroup, through the driver (create made it so)."""
    from ...kernel.cgroups import detect
    return detect(parent=DEFAULT_CGROUP_PARENT).group_at(
        cgroups_path(c.id, (c.config().get("linux") or {}).get("cgroupsPath")))


def rmtree(path: str) -> None:
    """shutil.rmtree for a state directory, without importing shutil (delete runs often)."""
    try:
        entries = list(os.scandir(path))
    except FileNotFoundError:
        return
    except NotADirectoryError:
        os.unlink(path)
        return
    for e in entries:
        if e.is_dir(follow_symlinks=False):
            rmtree(e.path)
        else:
            try:
                os.unlink(e.path)
            except FileNotFoundError:
                pass
    try:
        os.rmdir(path)
    except FileNotFoundError:
        pass


# -- ps, events, pause, resume, update ------------------------------------------------------------
def pids(rt, cid: str) -> list[int]:
    c = rt.load(cid)
    return [] if c.status() == "stopped" else c.pids()


def stats(rt, cid: str) -> dict | None:
    """`runc events --stats`: the cgroup's accounting in runc's shape (cpu, memory, pids;
    what the driver reads); None once the container has stopped."""
    c = rt.load(cid)
    if c.status() == "stopped":
        return None
    st = group_of(c).stats()
    out: dict = {}
    if st.cpu_seconds is not None:
        out["cpu"] = {"usage": {"total": int(st.cpu_seconds * 1e9)}}
    if st.memory_current is not None:
        out["memory"] = {"usage": {"usage": st.memory_current, "max": st.memory_peak or 0,
                                   "limit": st.memory_limit if st.memory_limit is not None else (1 << 63) - 4096,
                                   "failcnt": 0}}
    if st.pids_current is not None:
        out["pids"] = {"current": st.pids_current, "limit": st.pids_limit or 0}
    return out


def pause(rt, cid: str) -> None:
    c = rt.load(cid)
    if c.status() not in ("running", "created"):  # runc freezes a created container too
        raise Conflict(NOT_RUNNING)
    group_of(c).freeze()


def resume(rt, cid: str) -> None:
    c = rt.load(cid)
    if c.status() != "paused":
        raise Conflict(NOT_PAUSED)
    group_of(c).thaw()


def update(rt, cid: str, resources: dict) -> None:
    """`runc update`: the fields of a linux.resources object (all but devices), through
    the cgroup driver as create applies them; zero means "leave it"."""
    from ...spec import Linux, Resources, Spec, read_object
    from .bundle import values_at
    c = rt.load(cid)
    if c.status() == "stopped":
        raise Conflict(NOT_RUNNING)
    res = read_object(Resources, resources, "the resources")
    wrapped = Spec(linux=Linux(resources=res))
    document = wrapped.to_json()
    unsupported = [p for p in wrapped.unhonoured(UPDATABLE)
                   if any(v not in (0, False, "", None, [], {}) for v in values_at(document, p.split(".")))]
    if unsupported:
        raise InvalidArgument(f"update: {unsupported[0].removeprefix('linux.resources.')} is not supported by "
                              "bocker-runc yet: give the other fields of linux.resources")
    group_of(c).apply_resources(res)
