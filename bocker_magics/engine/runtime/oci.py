"""bocker-runc's runtime: runc's lifecycle (runtime-spec runtime.md) over the engine's one path
from a spec to pid 1.

    create ID   the bundle's config.json -> its cgroup, limits and devices policy (kernel/cgroups,
                kernel/devices) -> pid 1, forked into a new pid namespace (linux.clone_new_pid),
                runs init.container_init: namespaces, [prestart/createRuntime hooks, run here],
                createContainer hooks, the root (kernel/rootfs), console, process setup
                (kernel/process) -> READY -> it blocks opening the exec fifo for writing;
                the pid file and state.json are written and create exits. pid 1 is re-parented
                to the caller (podman's conmon, containerd's shim: subreapers), which reaps it.
    start ID    opens the fifo for reading: pid 1 goes on (cgroup namespace, startContainer
                hooks, seccomp, exec); the fifo is removed; poststart hooks
    state ID    created (pid 1 waits: the fifo is there) | running | paused (frozen) | stopped
    kill, ps, pause, resume, update, exec (init.exec_init in a setns'd fork), delete (kills what
                is left, removes the cgroup, runs poststop hooks, removes the state directory)

There is no monitor of ours between the caller and the container: what runs is the caller's
child. State lives in ROOT/ID/ (ROOT: --root, default /run/bocker-runc): `state` (pid and its
start time, bundle, cgroup directories, the hooks run after create; a marshal'ed dict, which
reads without importing anything), config.json (the spec as created), exec.fifo.

Stdlib only, and the verbs a caller runs per container besides create (start, kill, delete,
delete --force) import only os, time and select: here even `json` (re, enum) costs as much as
a whole runc start (benchmarks/bench_runc.py), so JSON goes through _cjson.py (json's own C functions) everywhere on
bocker-runc's paths. The spec, init and cgroup modules come with create, exec, pause,
resume, update.
"""

from __future__ import annotations

import marshal
import os
import time

from ...errors import BockerError, Conflict, InvalidArgument, NotFound, StartFailure
from ..fileio import atomic_write
from ..kernel.procfs import alive
from ..kernel.procfs import stat as _proc_stat
from ..units import signal_number

DEFAULT_ROOT = "/run/bocker-runc"
# the cgroup of a container whose config.json has no cgroupsPath: /bocker-runc/<id>
DEFAULT_CGROUP_PARENT = "bocker-runc"
OCI_VERSION = "1.0.2-dev"
STATE = "state"
CONFIG = "config.json"
FIFO = "exec.fifo"  # init.EXEC_FIFO (init.py is imported by create alone)

# runc's words (libcontainer/error.go and the verbs' own), the errors its callers read: podman
# matches "does not exist", "not running", "executable file not found", "permission denied",
# "no such file or directory" (libpod's getOCIRuntimeError, its kill and delete); containerd's
# shim takes the last "error" line of --log (go-runc) and matches "does not exist" (delete)
# and "container not running" (kill). tests/host/test_runc_words.py runs runc beside us.
NOT_EXIST = "container does not exist"
EXISTS = "container with given ID already exists"
INVALID_ID = "invalid container ID format"
EMPTY_ID = "container id cannot be empty"
NOT_RUNNING = "container not running"
NOT_PAUSED = "container not paused"
START_FAILED = "unable to start container process: "  # what pid 1 reported before it ran the program

NAMESPACES = ("pid", "network", "mount", "ipc", "uts", "cgroup", "user")
# `update`: every resource create applies, but the devices policy (as runc's update)
UPDATABLE = tuple(f"linux.resources.{p}" for p in ("memory", "cpu", "pids", "blockIO", "hugepageLimits", "network",
                                                    "rdma", "unified"))


class Log:
    """runc's logging: --log FILE (text or JSON lines {"level","msg","time"}), else stderr.

    An error is also printed to stderr as its bare message when a log file is given (podman
    reads stderr, containerd's shim the last "error" line of the file): runc's fatal()."""

    def __init__(self, path: str | None = None, fmt: str = "text", debug: bool = False) -> None:
        self.path, self.fmt, self.debugging = path, fmt, debug
        if fmt not in ("text", "json"):
            self.fmt = "text"  # runc says it in logrus' default form
            raise InvalidArgument(f"invalid log-format: {fmt}")

    def _line(self, level: str, msg: str) -> str:
        stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())  # logrus' default: RFC 3339, seconds
        if self.fmt == "json":
            from ... import _cjson
            return _cjson.dumps({"level": level, "msg": msg, "time": stamp}) + "\n"
        return f'time="{stamp}" level={level} msg={logfmt_value(msg)}\n'

    def write(self, level: str, msg: str) -> None:
        line = self._line(level, msg)
        if self.path:
            try:
                with open(self.path, "a") as f:
                    f.write(line)
            except OSError:
                os.write(2, line.encode())
        else:
            os.write(2, line.encode())

    def error(self, msg: str) -> None:
        self.write("error", msg)
        if self.path:
            os.write(2, (msg + "\n").encode())

    def warning(self, msg: str) -> None:
        self.write("warning", msg)

    def debug(self, msg: str) -> None:
        if self.debugging:
            self.write("debug", msg)


def quote(text: str) -> str:
    """A double-quoted string as Go's %q writes it (strconv.Quote, for what we print)."""
    out = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\t", "\\t")
    return '"' + "".join(c if c >= " " else f"\\x{ord(c):02x}" for c in out) + '"'


def logfmt_value(text: str) -> str:
    """msg= as logrus' text formatter writes it: bare when it is only letters, digits and
    -._/@^+, else quoted."""
    if all(c.isascii() and (c.isalnum() or c in "-._/@^+") for c in text):
        return text
    return quote(text)


# -- ids, state, status --------------------------------------------------------------------------
def check_id(cid: str) -> str:
    """runc's id rule: ^[\\w+-\\.]+$ (letters, digits, _ and the range + , - .), not . or .."""
    if not cid:
        raise InvalidArgument(EMPTY_ID)
    if cid in (".", "..") or len(cid) > 1024 or not all(c.isascii() and (c.isalnum() or c in "_+,-.") for c in cid):
        raise InvalidArgument(INVALID_ID)
    return cid


def rfc3339(ns: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ns // 10**9)) + f".{ns % 10**9:09d}Z"


def _frozen(cgroup: dict[str, str]) -> bool:
    for d in dict.fromkeys(cgroup.values()):
        for name, frozen in (("freezer.state", "FROZEN"), ("cgroup.freeze", "1")):
            try:
                with open(os.path.join(d, name)) as f:
                    if f.read().strip() == frozen:
                        return True
            except OSError:
                continue
    return False


def cgroup_pids(cgroup: dict[str, str]) -> list[int]:
    """Every process in the container's cgroup (any hierarchy)."""
    pids: set[int] = set()
    for d in dict.fromkeys(cgroup.values()):
        try:
            with open(os.path.join(d, "cgroup.procs")) as f:
                pids.update(int(x) for x in f.read().split())
        except OSError:
            continue
    return sorted(pids)


class Container:
    """One container's state directory and record."""

    def __init__(self, directory: str, record: dict) -> None:
        self.dir, self.rec = directory, record

    @property
    def id(self) -> str:
        return self.rec["id"]

    @property
    def pid(self) -> int:
        return self.rec.get("pid", 0)

    @property
    def fifo(self) -> str:
        return os.path.join(self.dir, FIFO)

    def save(self) -> None:
        atomic_write(os.path.join(self.dir, STATE), marshal.dumps(self.rec), fsync=False)

    def status(self) -> str:
        if not self.rec.get("ready"):
            creator = self.rec.get("creator") or [0, 0]
            return "creating" if alive(*creator) else "stopped"
        if not alive(self.pid, self.rec["pid_start"]):
            return "stopped"
        if _frozen(self.rec.get("cgroup", {})):  # runc's order: a created container may be paused too
            return "paused"
        return "created" if os.path.exists(self.fifo) else "running"

    def oci_state(self, status: str | None = None) -> dict:
        """runc's `state` JSON: the OCI state (state-schema.json) and runc's rootfs, created, owner."""
        status = status or self.status()
        out = {"ociVersion": OCI_VERSION, "id": self.id, "pid": 0 if status == "stopped" else self.pid,
               "status": status, "bundle": self.rec["bundle"], "rootfs": self.rec.get("rootfs", ""),
               "created": self.rec.get("created", ""), "owner": ""}
        if self.rec.get("annotations"):
            out["annotations"] = self.rec["annotations"]
        return out

    def hook_state(self, status: str) -> str:
        from ... import _cjson
        state = self.oci_state(status)
        return _cjson.dumps({k: state[k] for k in ("ociVersion", "id", "status", "pid", "bundle", "annotations")
                           if k in state})


# -- the runtime ---------------------------------------------------------------------------------
class Runtime:
    """The verbs of runc's command line (runc.py parses it), on the containers under `root`."""

    def __init__(self, root: str = DEFAULT_ROOT, log: Log | None = None) -> None:
        self.root = os.path.abspath(root)
        self.log = log or Log()

    # state directories
    def _dir(self, cid: str) -> str:
        return os.path.join(self.root, check_id(cid))

    def load(self, cid: str) -> Container:
        d = self._dir(cid)
        try:
            with open(os.path.join(d, STATE), "rb") as f:
                rec = marshal.loads(f.read())
        except FileNotFoundError:
            raise NotFound(NOT_EXIST) from None
        except (ValueError, EOFError, TypeError):
            raise BockerError(f"the state of container {cid} is unreadable ({d}/{STATE}): "
                              f"delete it with `delete --force {cid}`") from None
        return Container(d, rec)

    def ids(self) -> list[str]:
        try:
            return sorted(e.name for e in os.scandir(self.root) if e.is_dir())
        except FileNotFoundError:
            return []

    # -- create ------------------------------------------------------------------------------
    def create(self, cid: str, bundle: str | None = None, *, pid_file: str | None = None,
               console_socket: str | None = None, no_pivot: bool = False, no_new_keyring: bool = False,
               preserve_fds: int = 0, detach: bool = True) -> Container:
        """The container's process, in its namespaces, cgroup and root, waiting on the exec
        fifo; returns once its pid file and state are written (the process is our child:
        the caller of bocker-runc inherits it when we exit)."""
        from .init import InitConfig

        if not cid:
            raise InvalidArgument(EMPTY_ID)
        given = bundle
        bundle = os.path.abspath(bundle or ".")
        text = read_config(bundle, given)
        spec = parse_config(text, os.path.join(bundle, CONFIG))
        check_supported(spec)
        check_id(cid)
        rootfs = os.path.normpath(os.path.join(bundle, spec.root.path))
        try:
            os.stat(rootfs)
        except OSError as e:
            raise InvalidArgument(f"invalid rootfs: stat {rootfs}: {go_strerror(e)}") from None
        if spec.process.terminal and not console_socket and detach:
            raise InvalidArgument("cannot allocate tty if bocker-runc will detach without setting console socket "
                                  "(give --console-socket, or set process.terminal to false)")
        if preserve_fds < 0:
            raise InvalidArgument(f"--preserve-fds {preserve_fds}: give 0 or more")
        os.makedirs(self.root, mode=0o700, exist_ok=True)
        d = self._dir(cid)
        try:
            os.mkdir(d)
            # searchable, not readable: pid 1 opens its exec fifo here after it became the
            # container's user (another uid on the host with a user namespace); runc's modes
            os.chmod(d, 0o711)
        except FileExistsError:
            raise Conflict(EXISTS) from None
        me = os.getpid()
        c = Container(d, {"id": cid, "pid": 0, "pid_start": 0, "bundle": bundle,
                          "rootfs": rootfs,
                          "created": rfc3339(time.time_ns()), "annotations": dict(spec.annotations),
                          "creator": [me, _proc_stat(me)[1]], "ready": False, "cgroup": {},
                          "hooks": _later_hooks(spec)})
        cgroup = pid = None
        try:
            atomic_write(os.path.join(d, CONFIG), text, fsync=False)  # the spec as created: exec reads it
            cgroup = self._cgroup(c, spec)
            c.save()  # from here `delete --force` finds the cgroup, even if this process dies
            pid, sync = self._spawn(c, spec, cgroup, InitConfig, console_socket, no_pivot, no_new_keyring,
                                    preserve_fds)
            self._until_ready(c, spec, sync)
            if pid_file:
                atomic_write(os.path.abspath(pid_file), str(pid).encode(), fsync=False)
            c.rec["ready"] = True
            c.save()
            sync.close()
        except BaseException:
            if pid:
                _kill_wait_child(pid)
            self._remove(c, cgroup)
            raise
        return c

    def _cgroup(self, c: Container, spec):
        """Make the container's cgroup with every resource of the spec and its devices policy:
        the monitor of `bocker run` calls the same create."""
        from ..kernel.cgroups import detect
        from ..kernel.devices import RUNTIME_ALLOWS
        from ..spec import DeviceRule

        path = spec.linux.cgroups_path or f"/{DEFAULT_CGROUP_PARENT}/{c.id}"
        c.rec["cgroups_path"] = path
        c.rec["default_parent"] = not spec.linux.cgroups_path
        group = detect(parent=DEFAULT_CGROUP_PARENT).group_at(path)
        resources = spec.linux.resources
        # runc's specconv appends its default allow list to every spec's device rules (podman
        # sends only "deny all" and relies on it): the spec as runc would run it
        resources.devices = [*resources.devices, *(DeviceRule(**r.to_oci()) for r in RUNTIME_ALLOWS)]
        group.create(resources)
        c.rec["cgroup"] = group.paths()
        return group

    def _spawn(self, c: Container, spec, cgroup, InitConfig, console_socket, no_pivot, no_new_keyring,
               preserve_fds):
        """Fork pid 1 (into a new pid namespace, the spec's, or ours) running container_init."""
        from ..kernel import capabilities, linux
        from ..kernel.rootfs import RootContext
        from .init import fork_pid1
        from .protocol import Sync

        _fill_fds(preserve_fds)
        fifo = c.fifo
        os.mkfifo(fifo)
        os.chmod(fifo, 0o622)  # writable by pid 1 as another uid (a user namespace); not the umask's
        fifo_fd = os.open(c.dir, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)  # init.py opens FIFO in it
        console = connect_console(console_socket) if spec.process.terminal else None
        seccomp = self._seccomp(spec)
        ours, theirs = linux.socketpair_seqpacket()
        root = RootContext(root=os.path.realpath(c.rec["rootfs"]), cgroups=cgroup.paths(), no_pivot=no_pivot)
        # The container's processes must not open this interpreter's /proc/PID/exe (the
        # host's python) while pid 1 is still it: not dumpable until the exec.
        capabilities.set_dumpable(False)

        def config(userns_fd: int | None) -> InitConfig:  # in the child
            ours.close()
            return InitConfig(root=root, sync=theirs.fileno(), console=console.fileno() if console else None,
                              exec_fifo=fifo_fd, userns_fd=userns_fd, seccomp=seccomp, preserve_fds=preserve_fds)

        def keyring() -> None:
            if not no_new_keyring:
                try:
                    linux.join_session_keyring(f"_ses.{c.id}"[:255])
                except OSError:
                    pass  # no keyrings here (ENOSYS, a seccomp'd caller): runc goes on too

        pid = fork_pid1(spec, config, cgroup.join_files(), first=keyring)
        theirs.close()
        os.close(fifo_fd)
        if console is not None:
            console.close()
        c.rec["pid"] = pid
        st = _proc_stat(pid)
        c.rec["pid_start"] = st[1] if st else 0
        c.save()
        return pid, Sync(ours)

    def _until_ready(self, c: Container, spec, sync) -> None:
        from ...errors import HookError
        from .hooks import run_hooks
        from .protocol import SYNC_ABORT, SYNC_ERROR, SYNC_HOOKS, SYNC_READY, SYNC_RESUME

        while True:
            msg = sync.receive()
            kind = msg.get("type")
            if kind == SYNC_HOOKS:
                state = c.hook_state("creating")
                try:
                    run_hooks(spec.hooks.prestart, state, "prestart")
                    run_hooks(spec.hooks.create_runtime, state, "createRuntime")
                except HookError as e:
                    sync.send(type=SYNC_ABORT, message=str(e))
                    raise
                sync.send(type=SYNC_RESUME, state=c.hook_state("created"))
            elif kind == SYNC_READY:
                return
            elif kind == SYNC_ERROR:
                raise start_failure(msg)
            else:
                raise StartFailure(START_FAILED + "the container's init died before it was ready")

    def _seccomp(self, spec):
        if spec.linux.seccomp is None:
            return None
        from ..kernel.process import Seccomp
        from ..kernel.seccomp import cached_program, filter_flags
        from ..spec import object_json
        profile = object_json(spec.linux.seccomp)
        return Seccomp(cached_program(profile, os.path.join(self.root, ".seccomp")), filter_flags(profile))

    # -- start ---------------------------------------------------------------------------------
    def start(self, cid: str) -> None:
        c = self.load(cid)
        status = c.status()
        if status == "stopped":
            raise Conflict("cannot start a container that has stopped")
        if status == "running":
            raise Conflict("cannot start an already running container")
        if status == "paused":
            raise Conflict("cannot start a container in the paused state")
        if status == "creating":
            raise Conflict(f"container {cid} is still being created: try again")
        self._release(c)
        self._hooks_after(c, "poststart", "running")

    def _release(self, c: Container) -> None:
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
                if not alive(c.pid, c.rec["pid_start"]):
                    raise Conflict("cannot start a container that has stopped")
        finally:
            os.close(fd)
        os.unlink(c.fifo)

    def _hooks_after(self, c: Container, phase: str, status: str) -> None:
        """poststart, poststop: a failing hook is a warning (runtime.md), the rest still run."""
        hooks = c.rec.get("hooks", {}).get(phase)
        if not hooks:
            return
        from .hooks import HookCall, run_hooks
        state = c.hook_state(status)
        for h in hooks:
            try:
                run_hooks([HookCall.from_json(h)], state, phase)
            except BockerError as e:
                self.log.warning(str(e))

    # -- run -----------------------------------------------------------------------------------
    def run(self, cid: str, bundle: str | None = None, *, detach: bool = False, pid_file: str | None = None,
            console_socket: str | None = None, no_pivot: bool = False, no_new_keyring: bool = False,
            preserve_fds: int = 0, keep: bool = False) -> int:
        """create + start; in the foreground, wait for pid 1 (relaying a terminal, forwarding
        signals), delete the container and return its exit status."""
        relay = None
        if not detach and not console_socket and _spec_terminal(bundle):
            relay = ConsoleRelay()
            console_socket = relay.path
        try:
            c = self.create(cid, bundle, pid_file=pid_file, console_socket=console_socket, no_pivot=no_pivot,
                            no_new_keyring=no_new_keyring, preserve_fds=preserve_fds, detach=detach)
        except BaseException:
            if relay is not None:
                relay.close()
            raise
        if relay is not None:
            relay.accept()
        try:
            self.start(cid)
        except BaseException:
            if relay is not None:
                relay.close()
            self.delete(cid, force=True)
            raise
        if detach:
            return 0
        code = wait_foreground(c.pid, relay)
        if not keep:
            self.delete(cid, force=True)
        return code

    # -- state, list ---------------------------------------------------------------------------
    def state(self, cid: str) -> dict:
        return self.load(cid).oci_state()

    def list(self) -> list[dict]:
        out = []
        for cid in self.ids():
            try:
                out.append(self.load(cid).oci_state())
            except BockerError:
                continue
        return out

    # -- kill ----------------------------------------------------------------------------------
    def kill(self, cid: str, sig: str = "SIGTERM", all: bool = False) -> None:
        c = self.load(cid)
        signo = parse_signal(sig)
        status = c.status()
        if all:
            # runc: --all signals whatever the cgroup still holds, whatever the state; a
            # stopped container's is success (containerd's shim asks after every exit in a
            # pod, whose containers share the sandbox's pid namespace)
            for p in cgroup_pids(c.rec.get("cgroup", {})):
                try:
                    os.kill(p, signo)
                except ProcessLookupError:
                    pass
            if status == "paused" and signo == 9:
                self._group(c).thaw()  # a frozen task acts on SIGKILL once thawed
            return
        if status in ("stopped", "creating"):
            raise Conflict(NOT_RUNNING)
        try:
            os.kill(c.pid, signo)
        except ProcessLookupError:
            raise Conflict(NOT_RUNNING) from None
        except OSError as e:  # a number that is no signal: runc hands it to kill(2) too
            raise InvalidArgument(f"unable to signal init: {go_strerror(e)}") from None

    # -- delete --------------------------------------------------------------------------------
    def delete(self, cid: str, force: bool = False) -> None:
        """runc delete; with --force, success whatever there is (a container gone, half made,
        with an unreadable state, or whose cleaning fails: what is left is a warning)."""
        if not force:
            self._delete(cid, False)
            return
        check_id(cid)
        try:
            self._delete(cid, True)
        except BockerError as e:
            self.log.warning(f"delete --force {cid}: {e}")
            _rmtree(self._dir(cid))
        except OSError as e:
            self.log.warning(f"delete --force {cid}: {e.strerror} ({e.filename or ''})")
            _rmtree(self._dir(cid))

    def _delete(self, cid: str, force: bool) -> None:
        try:
            c = self.load(cid)
        except NotFound:
            d = self._dir(cid)
            if force:
                _rmtree(d)  # a create that died before its first state: nothing else of it exists
                return
            raise
        except BockerError:
            if force:
                _rmtree(self._dir(cid))
                return
            raise
        status = c.status()
        if status in ("running", "paused", "creating") and not force:
            raise Conflict(f"cannot delete container {cid} that is not stopped: {status}")
        if status != "stopped":
            self._kill_everything(c, status)
        self._remove(c, None)
        self._hooks_after(c, "poststop", "stopped")

    def _kill_everything(self, c: Container, status: str) -> None:
        pids = set(cgroup_pids(c.rec.get("cgroup", {})))
        if c.pid and alive(c.pid, c.rec["pid_start"]):
            pids.add(c.pid)
        for p in pids:
            try:
                os.kill(p, 9)
            except ProcessLookupError:
                pass
        if status == "paused":
            self._group(c).thaw()
        deadline = time.monotonic() + 10
        while c.pid and alive(c.pid, c.rec["pid_start"]) and time.monotonic() < deadline:
            time.sleep(0.002)

    def _remove(self, c: Container, group) -> None:
        """The cgroup (an empty one by rmdir; kill what is left otherwise), the default
        parent when it was ours and is empty, the state directory with its fifo."""
        dirs = list(dict.fromkeys(c.rec.get("cgroup", {}).values()))
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
                (group or self._group(c)).destroy()
            except BockerError as e:
                self.log.warning(str(e))
        if c.rec.get("default_parent"):
            for d in dirs:
                try:
                    os.rmdir(os.path.dirname(d))
                except OSError:
                    pass  # another container's is there
        _rmtree(c.dir)

    def _group(self, c: Container):
        from ..kernel.cgroups import detect
        return detect(parent=DEFAULT_CGROUP_PARENT).group_at(c.rec["cgroups_path"])

    # -- ps, pause, resume, update ---------------------------------------------------------------
    def pids(self, cid: str) -> list[int]:
        c = self.load(cid)
        if c.status() == "stopped":
            return []
        return cgroup_pids(c.rec.get("cgroup", {}))

    def stats(self, cid: str) -> dict | None:
        """`runc events --stats`: the cgroup's accounting in runc's shape (cpu, memory, pids;
        what the driver reads); None once the container has stopped."""
        c = self.load(cid)
        if c.status() == "stopped":
            return None
        st = self._group(c).stats()
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

    def pause(self, cid: str) -> None:
        c = self.load(cid)
        if c.status() not in ("running", "created"):  # runc freezes a created container too
            raise Conflict(NOT_RUNNING)
        self._group(c).freeze()

    def resume(self, cid: str) -> None:
        c = self.load(cid)
        if c.status() != "paused":
            raise Conflict(NOT_PAUSED)
        self._group(c).thaw()

    def update(self, cid: str, resources: dict) -> None:
        """`runc update`: the fields of a linux.resources object (all but devices), through
        the cgroup driver as create applies them; zero means "leave it"."""
        from ..spec import Linux, Resources, Spec, read_object
        c = self.load(cid)
        if c.status() == "stopped":
            raise Conflict(NOT_RUNNING)
        res = read_object(Resources, resources, "the resources")
        wrapped = Spec(linux=Linux(resources=res))
        document = wrapped.to_json()
        unsupported = [p for p in wrapped.unhonoured(UPDATABLE)
                       if any(v not in (0, False, "", None, [], {}) for v in _values(document, p.split(".")))]
        if unsupported:
            raise InvalidArgument(f"update: {unsupported[0].removeprefix('linux.resources.')} is not supported by "
                                  "bocker-runc yet: give the other fields of linux.resources")
        self._group(c).apply_resources(res)

    # -- exec ----------------------------------------------------------------------------------
    def exec(self, cid: str, process: dict, *, detach: bool = False, pid_file: str | None = None,
             console_socket: str | None = None, preserve_fds: int = 0, ignore_paused: bool = False) -> int:
        """One more process in the container (init.exec_init): its pid file is written once
        it runs; detached, it is left to our caller (a subreaper) to reap; else its exit
        status is returned."""

        from ..kernel import capabilities, linux
        from ..spec import Process, read_object
        from .init import EXEC_NAMESPACES, ExecConfig, exec_init
        from .protocol import SYNC_ERROR, Sync

        c = self.load(cid)
        self.check_exec(c, ignore_paused)
        proc = read_object(Process, process, "the process")
        relay = None
        if proc.terminal and not console_socket:
            if detach:
                raise InvalidArgument("cannot allocate tty if bocker-runc will detach without setting "
                                      "console socket (give --console-socket)")
            relay = ConsoleRelay()
            console_socket = relay.path
        spec = load_spec(c.dir)
        ns_fds: dict[str, int] = {}
        for kind in EXEC_NAMESPACES + ("pid", "user"):
            try:
                ns_fds[kind] = os.open(f"/proc/{c.pid}/ns/{kind}", os.O_RDONLY | os.O_CLOEXEC)
            except FileNotFoundError:
                continue
        if not alive(c.pid, c.rec["pid_start"]):  # after opening: the fds name its namespaces for good
            raise Conflict("cannot exec in a stopped container")
        for kind in [k for k, fd in ns_fds.items() if os.fstat(fd).st_ino == os.stat(f"/proc/self/ns/{k}").st_ino]:
            os.close(ns_fds.pop(kind))  # our own: joining it again is a no-op, and cgroup's is refused
        _fill_fds(preserve_fds)
        seccomp = self._seccomp(spec)
        console = connect_console(console_socket) if proc.terminal else None
        ours, theirs = linux.socketpair_seqpacket()
        capabilities.set_dumpable(False)  # see _spawn
        if "pid" in ns_fds:
            linux.setns(ns_fds["pid"], linux.CLONE_NEWPID)  # our child is born in the container's pid ns
        pid = os.fork()
        if pid == 0:
            try:
                ours.close()
                exec_init(proc, ExecConfig(sync=theirs.fileno(), namespaces=ns_fds,
                                           cgroup_dirs=list(c.rec.get("cgroup", {}).values()),
                                           console=console.fileno() if console else None, seccomp=seccomp,
                                           preserve_fds=preserve_fds))
            finally:
                os._exit(125)
        theirs.close()
        for fd in ns_fds.values():
            os.close(fd)
        if console is not None:
            console.close()
        report = Sync(ours).receive()  # EOF: it exec'ed
        ours.close()
        if report.get("type") == SYNC_ERROR:
            os.waitpid(pid, 0)
            if relay is not None:
                relay.close()
            raise start_failure(report)
        if pid_file:
            atomic_write(os.path.abspath(pid_file), str(pid).encode(), fsync=False)
        if detach:
            return 0
        if relay is not None:
            relay.accept()
        return wait_foreground(pid, relay)

    def check_exec(self, c: Container, ignore_paused: bool = False) -> None:
        """runc exec's checks, in its order, before the process is read."""
        status = c.status()
        if status == "stopped":
            raise Conflict("cannot exec in a stopped container")
        if status == "paused" and not ignore_paused:
            raise Conflict("cannot exec in a paused container (use --ignore-paused to override)")
        if status == "creating":
            raise Conflict(f"container {c.id} is still being created: try again")

    def exec_process(self, cid: str, args: list[str], *, tty: bool = False, cwd: str | None = None,
                     env: list[str] = (), user: str | None = None, caps: list[str] = (),
                     no_new_privs: bool = False, ignore_paused: bool = False) -> dict:
        """runc exec without --process: the container's own process, with these changes."""
        from ..spec import object_json
        c = self.load(cid)
        self.check_exec(c, ignore_paused)
        if not args:
            raise InvalidArgument("process args cannot be empty")
        base = object_json(load_spec(c.dir).process)
        base["args"] = list(args)
        base["terminal"] = tty
        base.pop("consoleSize", None)
        if cwd:
            base["cwd"] = cwd
        if env:
            base["env"] = list(base.get("env", [])) + list(env)
        if user:
            uid, _, gid = user.partition(":")
            if not uid.isdigit() or (gid and not gid.isdigit()):
                raise InvalidArgument(f"--user {user}: give UID[:GID] as numbers")
            base["user"] = {**base.get("user", {}), "uid": int(uid), "gid": int(gid or 0)}
        if caps:
            sets = base.setdefault("capabilities", {})
            for name in ("bounding", "effective", "permitted", "ambient"):
                sets[name] = list(dict.fromkeys([*sets.get(name, []), *caps]))
        if no_new_privs:
            base["noNewPrivileges"] = True
        return base


# -- the bundle ----------------------------------------------------------------------------------
def read_config(bundle: str, given: str | None = None) -> bytes:
    """The bundle's config.json; a missing one in runc's words (runc chdirs to the bundle
    as given, then opens config.json there)."""
    path = os.path.join(bundle, CONFIG)
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError as e:
        if given and not os.path.isdir(bundle):
            try:
                os.stat(bundle)
                reason = "not a directory"
            except OSError as e2:
                reason = go_strerror(e2)
            raise NotFound(f"chdir {given}: {reason}") from None
        if isinstance(e, FileNotFoundError):
            raise NotFound(f"JSON specification file {CONFIG} not found") from None
        raise InvalidArgument(f"open {CONFIG}: {go_strerror(e)}") from None


def parse_signal(text: str) -> int:
    """runc's parseSignal: any number goes to kill(2) as it is; a name with or without SIG."""
    word = str(text).strip()
    if word.lstrip("-").isdigit():
        return int(word)
    try:
        return signal_number(word)
    except ValueError:
        raise InvalidArgument(f"unknown signal {quote(str(text))}") from None


def start_failure(report: dict) -> StartFailure:
    """pid 1's (or an exec'd process's) error report in runc's words: a program that was
    not found or can't run as Go's exec.LookPath says it, the rest as init reported it."""
    lookup = report.get("lookup")
    message = report.get("message") or "the container's init failed"
    if lookup:
        prog = quote(lookup["program"])
        if lookup.get("path"):
            message = f"exec: {prog}: executable file not found in $PATH"
        elif lookup.get("stat"):
            message = f"exec: {prog}: stat {lookup['stat']}: {go_strerror(OSError(lookup['errno'], ''))}"
        else:
            message = f"exec: {prog}: permission denied"
    return StartFailure(START_FAILED + message, report.get("code", 125))


def go_strerror(e: OSError) -> str:
    """An errno as Go prints it (syscall.Errno: the C text, lower-case first letter)."""
    text = os.strerror(e.errno) if e.errno else str(e)
    return text[:1].lower() + text[1:]


def parse_config(text: bytes, source: str):
    from ..spec import Spec
    return Spec.from_json(text, source=source)


def load_spec(bundle: str):
    return parse_config(read_config(bundle), os.path.join(bundle, CONFIG))


def _spec_terminal(bundle: str | None) -> bool:
    from ... import _cjson
    try:
        with open(os.path.join(os.path.abspath(bundle or "."), CONFIG), "rb") as f:
            return bool(_cjson.loads(f.read()).get("process", {}).get("terminal"))
    except (OSError, ValueError, AttributeError):
        return False  # create reports it


def _values(obj, parts: list[str]):
    """The values at a set_paths() path ("a.b[].c") of a JSON object."""
    if not parts:
        yield obj
        return
    key, rest = parts[0], parts[1:]
    many = key.endswith("[]")
    key = key[:-2] if many else key
    if not isinstance(obj, dict) or key not in obj:
        return
    value = obj[key]
    for v in (value if many and isinstance(value, list) else [value]):
        yield from _values(v, rest)


def check_supported(spec) -> None:
    """Refuse, with one line, what bocker-runc does not execute: time namespaces, a new user
    namespace without its id mappings, and any field outside HONOURED that holds more than a
    zero value."""
    from ..kernel.namespaces import check_paths
    try:
        check_paths(spec.linux.namespaces)
    except ValueError as e:
        raise InvalidArgument(f"config.json: linux.namespaces: {e}") from None
    for ns in spec.linux.namespaces:
        if ns.type not in NAMESPACES and not (ns.type == "time" and ns.path):  # a time namespace: joined only
            raise InvalidArgument(f"config.json: linux.namespaces: {ns.type} namespaces are not supported by "
                                  "bocker-runc: remove it from the configuration (or use runc)")
        if ns.type == "user" and not ns.path and not (spec.linux.uid_mappings and spec.linux.gid_mappings):
            raise InvalidArgument("config.json: linux.namespaces: a new user namespace needs linux.uidMappings "
                                  "and linux.gidMappings: map the container's ids to the host's")
    from ..spec import object_json
    from .init import HONOURED  # what of a config.json the runtime executes (create's path only)
    document = object_json(spec)  # not to_json(): that validates again what was just read
    for path in spec.unhonoured(HONOURED):
        values = list(_values(document, path.split(".")))
        if any(v not in (0, False, "", None, [], {}) for v in values):
            raise InvalidArgument(f"config.json: {path}: not supported by bocker-runc yet; remove it from the "
                                  "configuration")


def _later_hooks(spec) -> dict:
    from ..spec import object_json
    return {"poststart": [object_json(h) for h in spec.hooks.poststart],
            "poststop": [object_json(h) for h in spec.hooks.poststop]}


# -- fds, consoles, foreground -------------------------------------------------------------------
def _fill_fds(preserve_fds: int) -> None:
    """--preserve-fds N hands fds 3..3+N-1 to the container: a hole there is filled with
    /dev/null, so that no fd of ours lands in the range."""
    for fd in range(3, 3 + preserve_fds):
        try:
            os.fstat(fd)
        except OSError:
            null = os.open("/dev/null", os.O_RDWR)
            if null != fd:
                os.dup2(null, fd)
                os.close(null)


def connect_console(path: str | None):
    """A connected socket to the caller's --console-socket (the pty master goes over it)."""
    import _socket  # not socket: its imports cost every create
    if not path:
        raise InvalidArgument("process.terminal is set but no --console-socket was given")
    s = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM | _socket.SOCK_CLOEXEC)
    try:
        if len(path) < 100:
            s.connect(path)
        else:  # a socket address holds ~108 bytes: go through the directory's fd
            dirfd = os.open(os.path.dirname(path) or ".", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
            try:
                s.connect(f"/proc/self/fd/{dirfd}/{os.path.basename(path)}")
            finally:
                os.close(dirfd)
    except OSError as e:
        s.close()
        raise InvalidArgument(f"cannot connect to the console socket {path}: {e.strerror}") from None
    return s


class ConsoleRelay:
    """A console socket of our own, for a foreground run or exec with a terminal: the pty
    master comes to us, and our stdin/stdout are relayed to it (raw, when stdin is a tty)."""

    def __init__(self) -> None:
        import socket
        import tempfile
        self.dir = tempfile.mkdtemp(prefix="bocker-runc-console-")
        self.path = os.path.join(self.dir, "sock")
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.listener.bind(self.path)
        self.listener.listen(1)
        self.master: int | None = None

    def accept(self) -> None:
        from .init import receive_fd
        conn, _ = self.listener.accept()
        try:
            self.master = receive_fd(conn)
        finally:
            conn.close()
            self._close_listener()

    def _close_listener(self) -> None:
        if self.listener is not None:
            self.listener.close()
            self.listener = None
            _rmtree(self.dir)

    def close(self) -> None:
        self._close_listener()
        if self.master is not None:
            os.close(self.master)
            self.master = None

    def relay(self) -> None:
        """Copy stdin -> master and master -> stdout until the container's side closes."""
        import select
        import termios
        saved = None
        if os.isatty(0):
            import tty
            saved = termios.tcgetattr(0)
            tty.setraw(0)
        try:
            sources = [self.master, 0]
            while self.master in sources:
                ready, _, _ = select.select(sources, [], [])
                for fd in ready:
                    try:
                        data = os.read(fd, 65536)
                    except OSError:  # EIO: every slave fd is closed
                        data = b""
                    if fd == self.master:
                        if not data:
                            sources.remove(fd)
                        else:
                            _write_all(1, data)
                    elif not data:
                        sources.remove(0)
                    else:
                        _write_all(self.master, data)
        finally:
            if saved is not None:
                termios.tcsetattr(0, termios.TCSADRAIN, saved)
            self.close()


def _write_all(fd: int, data: bytes) -> None:
    while data:
        data = data[os.write(fd, data):]


def wait_foreground(pid: int, relay: ConsoleRelay | None) -> int:
    """Forward the usual signals to the process, relay its terminal, return its exit status."""
    import gc
    import signal

    gc.enable()  # runc.cli turns it off for a verb's milliseconds; this may last

    def forward(signo, _frame) -> None:
        try:
            os.kill(pid, signo)
        except ProcessLookupError:
            pass
    for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT, signal.SIGUSR1, signal.SIGUSR2):
        signal.signal(s, forward)
    if relay is not None:
        relay.relay()
    _, status = os.waitpid(pid, 0)
    return 128 + os.WTERMSIG(status) if os.WIFSIGNALED(status) else os.WEXITSTATUS(status)


def _kill_wait_child(pid: int) -> None:
    try:
        os.kill(pid, 9)
    except ProcessLookupError:
        pass
    try:
        os.waitpid(pid, 0)
    except ChildProcessError:
        pass


def _rmtree(path: str) -> None:
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
            _rmtree(e.path)
        else:
            try:
                os.unlink(e.path)
            except FileNotFoundError:
                pass
    try:
        os.rmdir(path)
    except FileNotFoundError:
        pass


# -- features, spec -----------------------------------------------------------------------
def features() -> dict:
    """What this runtime supports, in the shape of `runc features` (runc 1.1)."""
    from ... import __version__
    from ..kernel import capabilities
    from ..kernel.rootfs import FLAGS, PROPAGATION
    from ..spec import SECCOMP_ACTIONS, SECCOMP_ARCHES, SECCOMP_OPERATORS
    names = ["CAP_" + n for n in capabilities.NAMES[:capabilities.last_cap() + 1]]
    return {
        "ociVersionMin": "1.0.0",
        "ociVersionMax": OCI_VERSION,
        "hooks": ["prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop"],
        "mountOptions": sorted({*FLAGS, *PROPAGATION, "tmpcopyup"}),
        "linux": {
            "namespaces": sorted(NAMESPACES),
            "capabilities": names,
            "cgroup": {"v1": True, "v2": True, "systemd": False, "systemdUser": False},
            "seccomp": {"enabled": True, "actions": sorted(SECCOMP_ACTIONS), "operators": sorted(SECCOMP_OPERATORS),
                        "archs": sorted(SECCOMP_ARCHES)},
            "apparmor": {"enabled": False},
            "selinux": {"enabled": False},
        },
        "annotations": {"org.bocker-magics.runc.version": __version__},
    }


def write_default_spec(bundle: str | None) -> str:
    """`runc spec`: the default config.json in the bundle (never over an existing one)."""
    from ..spec import default_spec
    path = os.path.join(os.path.abspath(bundle or "."), CONFIG)
    if os.path.exists(path):
        raise Conflict(f"File {path} exists. Remove it first")
    default_spec().save(path, fsync=False)
    return path
