"""The per-container monitor, and the small server that forks one per container.

Process model (../DESIGN.md): a Jupyter kernel is multi-threaded, so no Python may run in a
forked child of it. The engine therefore execs this module once, as a fresh single-threaded
interpreter (`python -I -S`), and sends it a request per container over a socket. For each,
the server forks a *monitor* (its own session, so it outlives the engine), which:

  1. makes the container's cgroup and applies the limits,
  2. unshares a pid namespace and forks the container's pid 1, which joins the cgroup,
     unshares mount/uts/ipc/net, brings lo up, prepares the root (rootfs.prepare),
     sets the hostname and execs the command,
  3. relays the container's output to its log (and to the engine, when attached),
  4. waits for pid 1, records the exit status (and an OOM kill) in state.json,
  5. removes the cgroup. The mounts die with the container's mount namespace: none is
     ever made in the host's.

Stdlib only and quick to import: this runs once per engine (and once per CLI command).
"""

from __future__ import annotations

import errno
import json
import os
import signal
import socket
import sys
import time

from ..kernel import capabilities, linux
from ..kernel.cgroups import Limits, detect
from ..kernel.rootfs import RootfsError, RootfsSpec, Volume, prepare
from ..network.relay import PortRelay
from ...errors import StartFailure

NAMESPACES = linux.CLONE_NEWNS | linux.CLONE_NEWUTS | linux.CLONE_NEWIPC | linux.CLONE_NEWNET
MAX_FDS = 4


# -- state.json, shared with the engine (same format as store.write_json) -----------------
def write_state(container_dir: str, state: dict, fsync: bool = True) -> None:
    path = os.path.join(container_dir, "state.json")
    tmp = f"{path}.{os.getpid()}.tmp"
    with open(tmp, "w") as f:
        json.dump(state, f, indent=1, sort_keys=True)
        f.write("\n")
        if fsync:
            f.flush()
            os.fsync(f.fileno())
    os.rename(tmp, path)


class Channel:
    """JSON events to the engine; a gone engine (detached, or killed) is not an error."""

    def __init__(self, fd: int) -> None:
        self.sock = socket.socket(fileno=fd)

    def send(self, **event) -> None:
        try:
            self.sock.send(json.dumps(event).encode())
        except OSError:
            pass

    def receive(self) -> dict:
        """The engine's answer; {} if it went away."""
        try:
            data = self.sock.recv(65536)
        except OSError:
            return {}
        return json.loads(data) if data else {}


def release_lease(spec: dict) -> None:
    """Give the container's address back (the lease file holds its id)."""
    lease = spec["network"].get("lease")
    if not lease:
        return
    try:
        with open(lease) as f:
            mine = f.read().strip() == spec["id"]
        if mine:
            os.unlink(lease)
    except OSError:
        pass


# -- the container's pid 1 ----------------------------------------------------------------
def container_init(spec: dict, cgroup_dirs: dict[str, str], out_w: int, err_w: int, go_r: int) -> None:
    """Runs as pid 1 of the new pid namespace; execs the command or reports why not.

    It prepares everything while the monitor moves it into its cgroup (a cgroup v1 move
    waits for an RCU grace period, milliseconds) and the engine plugs its network in; it
    execs only after the monitor's "go", so the command never runs outside its limits."""
    # Hold nothing of the monitor's: were the monitor killed, an inherited end of its pipes
    # or of the engine's socket would keep pid 1 (and the engine) waiting for ever.
    _close_fds_except({out_w, err_w, go_r, *([spec["netns_fd"]] if spec.get("netns_fd") is not None else [])})
    try:
        mode = spec["network"]["mode"]
        if spec.get("netns_fd") is not None:
            # the engine made our network namespace and is plugging its interface in
            linux.setns(spec["netns_fd"], linux.CLONE_NEWNET)
            os.close(spec["netns_fd"])
            linux.unshare(NAMESPACES & ~linux.CLONE_NEWNET)
        else:
            linux.unshare(NAMESPACES if mode != "host" else NAMESPACES & ~linux.CLONE_NEWNET)
            if mode != "host":
                linux.loopback_up()
        prepare(RootfsSpec(
            layers_dir=spec["layers_dir"], lowerdirs=spec["lowerdirs"],
            upper=os.path.join(spec["container_dir"], "upper"),
            work=os.path.join(spec["container_dir"], "work"),
            merged=os.path.join(spec["container_dir"], "merged"),
            volumes=[Volume(*v) for v in spec["volumes"]],
            cgroups=cgroup_dirs,
            privileged=spec.get("privileged", False),
            etc_files=spec["network"]["files"],
        ))
        linux.sethostname(spec["hostname"])
        if os.read(go_r, 1) != b"g":
            os._exit(1)  # the monitor or the engine could not finish the start: it reports why
        exec_command(spec, out_w, err_w)
    except RootfsError as e:
        os.write(err_w, json.dumps({"message": str(e)}).encode())
    except OSError as e:
        os.write(err_w, json.dumps({"message": f"Could not prepare the container: {e.strerror} ({e.filename or ''})"}).encode())
    except BaseException:
        import traceback
        os.write(err_w, json.dumps({"message": "Bug: " + traceback.format_exc()}).encode())
    os._exit(1)


def _close_fds_except(keep: set[int]) -> None:
    for name in os.listdir("/proc/self/fd"):
        fd = int(name)
        if fd > 2 and fd not in keep:
            try:
                os.close(fd)
            except OSError:
                pass  # the directory's own fd, already gone


def exec_command(spec: dict, out_w: int, err_w: int) -> None:
    """The last steps of every container process (pid 1, or one `exec` adds): working
    directory, fds 0-2 only, capabilities, exec. Reports an exec failure on err_w."""
    workdir = spec.get("workdir") or "/"
    os.makedirs(workdir, exist_ok=True)
    os.chdir(workdir)
    # Only fds 0, 1, 2 in the container: stdin from /dev/null, output to the monitor.
    null = os.open("/dev/null", os.O_RDONLY)
    os.dup2(null, 0)
    os.dup2(out_w, 1)
    os.dup2(out_w, 2)
    os.closerange(3, err_w)
    os.closerange(err_w + 1, 65536)
    env = dict(e.split("=", 1) for e in spec["env"])
    for sig in (signal.SIGPIPE, signal.SIGINT, signal.SIGTERM, signal.SIGCHLD):
        signal.signal(sig, signal.SIG_DFL)
    argv = spec["argv"]
    capabilities.apply(spec["capabilities"])  # last: the steps before needed CAP_SYS_ADMIN
    try:
        os.execvpe(argv[0], argv, env)
    except OSError as e:
        code = 126 if e.errno == errno.EACCES else 127
        os.write(err_w, json.dumps({"message": f"{argv[0]}: {e.strerror} in the container", "code": code}).encode())
        os._exit(code)


# -- the monitor --------------------------------------------------------------------------
def _read_all(fd: int) -> bytes:
    chunks = []
    while chunk := os.read(fd, 65536):
        chunks.append(chunk)
    return b"".join(chunks)


def _exit_code(status: int) -> int:
    if os.WIFSIGNALED(status):
        return 128 + os.WTERMSIG(status)
    return os.WEXITSTATUS(status)


def monitor(spec: dict, ctl_fd: int, attach_fd: int | None) -> int:
    channel = Channel(ctl_fd)
    cdir = spec["container_dir"]
    state = {"status": "created", "boot_id": spec["boot_id"], "monitor_pid": os.getpid(),
             "monitor_start": linux.process_start_time(os.getpid())}
    cgroup = None
    pid = None
    try:
        write_state(cdir, {**state, "status": "starting"}, fsync=False)
        linux.crash_point("starting")
        driver = DRIVERS.get(spec["cgroup_parent"]) or detect(parent=spec["cgroup_parent"])
        cgroup = driver.group(spec["id"])
        cgroup.create(Limits(**spec["limits"]))
        linux.crash_point("cgroup")
        for d in ("upper", "work", "merged"):
            os.makedirs(os.path.join(cdir, d), exist_ok=True)
        log_fd = os.open(os.path.join(cdir, "log"), os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o640)
        relay = PortRelay(spec["network"])  # binds the published ports now: a taken one fails the start
        out_r, out_w = os.pipe()
        err_r, err_w = os.pipe2(os.O_CLOEXEC)
        go_r, go_w = os.pipe2(os.O_CLOEXEC)
        linux.unshare(linux.CLONE_NEWPID)  # our next child is pid 1 of a new pid namespace
        cgroup_dirs = cgroup.paths()
        pid = os.fork()
        if pid == 0:
            relay.close()
            container_init(spec, cgroup_dirs, out_w, err_w, go_r)
        os.close(out_w)
        os.close(err_w)
        os.close(go_r)
        if spec.get("netns_fd") is not None:
            state["netns"] = os.fstat(spec["netns_fd"]).st_ino
            os.close(spec["netns_fd"])  # pid 1 holds the namespace now
        linux.crash_point("forked")
        # Into the cgroup, from outside, while pid 1 prepares its root.
        problem = None
        try:
            cgroup.add(pid)
        except Exception as e:  # pid 1 already failed (its report follows), or a real problem
            problem = str(e)
        if problem is None and spec["network"]["mode"] == "bridge":
            channel.send(event="netns", pid=pid)  # the engine answers once the network is plugged in
            answer = channel.receive()
            if answer.get("op") != "go":
                problem = answer.get("message", "the engine went away")
        try:
            os.write(go_w, b"x" if problem else b"g")
        except BrokenPipeError:
            pass  # pid 1 already failed: its report is on err_r
        os.close(go_w)
        if problem:
            # pid 1's own failure, if it had one, is the cause; else ours
            failure = _read_all(err_r)
            os.waitpid(pid, 0)
            pid = None
            report = json.loads(failure) if failure else {}
            raise StartFailure(report.get("message") or problem, report.get("code", 125))
        failure = _read_all(err_r)  # EOF when pid 1 execs (the fd is close-on-exec)
        os.close(err_r)
        if failure:
            os.waitpid(pid, 0)
            pid = None
            report = json.loads(failure)
            raise StartFailure(report["message"], report.get("code", 1))
        state.update(status="running", pid=pid, pid_start=linux.process_start_time(pid),
                     started_at=time.time(), cgroup_driver=driver.name, cgroup=cgroup.paths())
        if "netns" not in state:  # none/host: pid 1 has exec'ed, so it has unshared (if still there)
            try:
                state["netns"] = os.stat(f"/proc/{pid}/ns/net").st_ino
            except OSError:
                state["netns"] = None
        write_state(cdir, state)
        channel.send(event="started", pid=pid)
        linux.crash_point("running")
        # Relay output until every process of the container has closed it, and relay the
        # published ports meanwhile.
        def output(chunk: bytes) -> None:
            nonlocal attach_fd
            os.write(log_fd, chunk)
            if attach_fd is not None:
                try:
                    os.write(attach_fd, chunk)
                except OSError:
                    attach_fd = None  # the engine went away: keep logging
        relay.run(out_r, output)
        _, status = os.waitpid(pid, 0)
        pid = None
        linux.crash_point("exited")
        code = _exit_code(status)
        oom = cgroup.oom_killed()
        state.update(status="exited", exit_code=code, oom_killed=oom, finished_at=time.time())
    except StartFailure as e:
        state.update(status="failed", error=e.message, exit_code=e.code)
    except Exception as e:  # BockerError from the cgroup driver, or a bug
        import traceback
        message = str(e) if type(e).__module__.startswith("bocker_magics") else "Bug: " + traceback.format_exc()
        state.update(status="failed", error=message, exit_code=125)
    finally:
        if pid is not None:  # a bug above while pid 1 ran: never leave it behind
            try:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
            except OSError:
                pass
        if cgroup is not None:
            try:
                if state.get("status") == "exited":  # the final accounting, before it goes
                    from dataclasses import asdict
                    state["stats"] = asdict(cgroup.stats())
            except Exception:
                pass
            try:
                cgroup.destroy()
                driver.remove_parent()  # the engine's own dir goes with its last container
            except Exception as e:
                state.setdefault("error", f"cgroup not removed: {e}")
        release_lease(spec)  # the veth went with the network namespace
    write_state(cdir, state)
    if state["status"] == "failed":
        channel.send(event="failed", message=state["error"], code=state["exit_code"])
    else:
        channel.send(event="exited", code=state["exit_code"], oom_killed=state["oom_killed"])
    return 0


# -- exec: one more process in a running container ----------------------------------------
# mnt last: entering the mount namespace moves our root and cwd to the container's root.
EXEC_NAMESPACES = ("ipc", "uts", "net", "mnt")


def exec_monitor(spec: dict, ctl_fd: int, attach_fd: int | None) -> int:
    """Fork a process into every namespace and the cgroup of the container's pid 1, exec
    the command there, relay its output, report its exit status."""
    channel = Channel(ctl_fd)
    target = spec["pid"]
    try:
        ns_fds = {kind: os.open(f"/proc/{target}/ns/{kind}", os.O_RDONLY | os.O_CLOEXEC)
                  for kind in EXEC_NAMESPACES + ("pid",)}
        # checked after opening: the fds now name that process's namespaces for good
        if linux.process_start_time(target) != spec["pid_start"]:
            raise ProcessLookupError
    except (OSError, ProcessLookupError):
        channel.send(event="failed", message=f"Container '{spec['id']}' exists but is not running", code=1)
        return 0
    # Not dumpable (inherited by the child until it execs the command): a container process
    # can't open /proc/PID/exe, mem or fd of a process that is still the host's interpreter.
    capabilities.set_dumpable(False)
    linux.setns(ns_fds["pid"], linux.CLONE_NEWPID)  # our child is born in the container's pid ns
    out_r, out_w = os.pipe()
    err_r, err_w = os.pipe2(os.O_CLOEXEC)
    pid = os.fork()
    if pid == 0:
        try:
            for directory in dict.fromkeys(spec["cgroup"].values()):
                with open(os.path.join(directory, "cgroup.procs"), "w") as f:
                    f.write("0")
            for kind in EXEC_NAMESPACES:
                linux.setns(ns_fds[kind], 0)
            linux.pause_point("exec")
            exec_command(spec, out_w, err_w)
        except OSError as e:
            os.write(err_w, json.dumps({"message": f"Could not enter the container: {e.strerror}"}).encode())
        except BaseException:
            import traceback
            os.write(err_w, json.dumps({"message": "Bug: " + traceback.format_exc()}).encode())
        os._exit(1)
    for fd in (out_w, err_w, *ns_fds.values()):
        os.close(fd)
    failure = _read_all(err_r)
    if failure:
        os.waitpid(pid, 0)
        report = json.loads(failure)
        channel.send(event="failed", message=report["message"], code=report.get("code", 1))
        return 0
    channel.send(event="started", pid=pid)
    while chunk := os.read(out_r, 65536):
        if attach_fd is not None:
            try:
                os.write(attach_fd, chunk)
            except OSError:
                attach_fd = None
    _, status = os.waitpid(pid, 0)
    channel.send(event="exited", code=_exit_code(status), oom_killed=False)
    return 0


# -- the server ---------------------------------------------------------------------------
DRIVERS: dict = {}  # cgroup parent -> driver, detected by the server before it forks
def serve(sock_fd: int) -> None:
    """Fork a monitor per request until the engine closes its end of the socket."""
    sock = socket.socket(fileno=sock_fd)
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # monitors are reaped by the kernel
    signal.signal(signal.SIGINT, signal.SIG_IGN)   # a Ctrl-C is the engine's to handle
    while True:
        try:
            msg, fds, _, _ = socket.recv_fds(sock, 1 << 20, MAX_FDS)
        except InterruptedError:
            continue
        if not msg:
            return
        request = json.loads(msg)
        if request.get("op") == "ping":
            sock.send(b'{"event": "pong"}')
            for fd in fds:
                os.close(fd)
            continue
        parent = request.get("cgroup_parent")
        if parent and parent not in DRIVERS:
            # which cgroup driver, and where: found once per shim (reading mountinfo), not per container
            try:
                DRIVERS[parent] = detect(parent=parent)
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
                os.dup2(os.open(os.path.join(request["container_dir"], "monitor.log"),
                                os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600), 2)
                named = dict(zip(request.get("fds", ["ctl", "attach"]), fds))
                request["netns_fd"] = named.get("netns")
                run = exec_monitor if request.get("op") == "exec" else monitor
                code = run(request, named["ctl"], named.get("attach"))
            except BaseException:
                import traceback
                traceback.print_exc()
            finally:
                os._exit(code)
        for fd in fds:
            os.close(fd)


# How the engine starts the shim: `python -I -S -c BOOT PACKAGE_PARENT FD`.
BOOT = ("import sys; sys.path.insert(0, sys.argv[1]); "
        "from bocker_magics.engine.runtime.shim import boot; boot()")


def boot() -> None:
    """First pass: move into a mount namespace where the interpreter is read-only, and
    exec again from there. Second pass ('protected' appended): serve."""
    package_parent, fd, *rest = sys.argv[1:]
    if rest != ["protected"]:
        linux.readonly_interpreter_namespace()
        os.execv(sys.executable, [sys.executable, "-I", "-S", "-c", BOOT, package_parent, fd, "protected"])
    serve(int(fd))
