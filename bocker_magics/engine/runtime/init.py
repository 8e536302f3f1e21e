"""From a spec to pid 1: the one path both faces of the runtime take.

The engine's monitor (runtime/monitor.py) and bocker-runc's `create` (runc.py) each make
the pid namespace, fork, and call `container_init` in the child, which becomes the
container's pid 1:

    namespaces (unshare / setns, lo up) -> the root (kernel/rootfs.prepare: overlay or bundle
    root, the spec's mounts, /dev; then [hooks: the parent runs prestart/createRuntime],
    createContainer hooks; pivot_root) -> hostname, sysctls -> the console (a pty whose
    master goes to the caller) -> masked/read-only paths, read-only root -> stdio ->
    process setup (kernel/process: cwd, rlimits, user, capabilities, no_new_privs)
    -> READY: wait for the go (a message from the monitor, or the exec fifo opened by
    `bocker-runc start`) -> cgroup namespace -> startContainer hooks -> seccomp -> exec

One more process in a running container (`bocker exec`, `bocker-runc exec`) takes the same
last steps from `exec_init` (setns_init.py, runc's name for it; reached from here too), the child of a fork whose parent joined the container's pid
namespace: cgroup, the other namespaces (mount last), console or stdio, process setup, exec.

Messages go over the sync socket (protocol.Sync); an error at any step is reported there as
one line, and pid 1 exits. The exec closes the socket (close-on-exec): the parent reads EOF
and knows the program runs. Stdlib + ctypes only: pid 1 is a fork of a `python -I -S`.
"""

from __future__ import annotations

import errno
import os
import stat as _stat

from ..._record import Record
from ...errors import HookError, ProcessError, RootfsError
from ..kernel import linux, rootfs, userns
from ..kernel.process import Seccomp, exec_process
from .console import pid1_console, receive_fd  # noqa: F401  (receive_fd: the callers')
from .hooks import run_hooks
from .protocol import SYNC_ERROR, SYNC_GO, SYNC_HOOKS, SYNC_READY, SYNC_RESUME, Sync

# namespace type in the spec -> clone flag (pid and user are the parent's to make)
NS_FLAGS = {"mount": linux.CLONE_NEWNS, "uts": linux.CLONE_NEWUTS, "ipc": linux.CLONE_NEWIPC,
            "network": linux.CLONE_NEWNET, "cgroup": linux.CLONE_NEWCGROUP, "time": 0x80}  # CLONE_NEWTIME
NS_FILES = {"mount": "mnt", "uts": "uts", "ipc": "ipc", "network": "net", "cgroup": "cgroup",
            "pid": "pid", "user": "user", "time": "time"}


# What of a config.json this path to pid 1 executes. bocker-runc refuses a config.json that
# sets another field (with a value other than zero, false or empty: Docker writes
# blockIO.weight 0 and memory.disableOOMKiller false, which mean "not set"), and the engine's
# options.to_spec never sets one.
EXEC_FIFO = "exec.fifo"  # bocker-runc's: pid 1 blocks opening it for writing until `start`

HONOURED = (
    "ociVersion", "process.terminal", "process.consoleSize", "process.user", "process.args", "process.env",
    "process.cwd", "process.capabilities", "process.rlimits", "process.noNewPrivileges",
    "process.oomScoreAdj", "root", "hostname", "domainname", "mounts", "hooks", "annotations",
    "linux.namespaces", "linux.uidMappings", "linux.gidMappings", "linux.sysctl",
    # linux.resources: what runc 1.1 applies, through the cgroup drivers (kernel/cgroups)
    *(f"linux.resources.{f}" for f in (
        "devices", "memory.limit", "memory.reservation", "memory.swap", "memory.kernel", "memory.kernelTCP",
        "memory.swappiness", "memory.disableOOMKiller", "memory.useHierarchy", "cpu.shares", "cpu.quota",
        "cpu.period", "cpu.realtimeRuntime", "cpu.realtimePeriod", "cpu.cpus", "cpu.mems", "cpu.idle", "pids",
        "blockIO", "hugepageLimits", "network", "rdma", "unified")),
    "linux.cgroupsPath", "linux.devices",
    "linux.seccomp", "linux.rootfsPropagation", "linux.maskedPaths", "linux.readonlyPaths",
)


class InitConfig(Record):
    """What pid 1 needs besides the spec; fds are this process's."""

    __slots__ = (
        "root", "sync", "stdio", "console", "netns_fd", "userns_fd", "exec_fifo", "seccomp", "preserve_fds",
        "hook_state",
    )

    def __init__(
        self,
        root: rootfs.RootContext,
        sync: int,
        stdio: tuple[int, int, int] | None = None,
        console: int | None = None,
        netns_fd: int | None = None,
        userns_fd: int | None = None,
        exec_fifo: int | None = None,
        seccomp: Seccomp | None = None,
        preserve_fds: int = 0,
        hook_state: str = "",
    ) -> None:
        self.root = root
        self.sync = sync  # SOCK_SEQPACKET to the parent (protocol.Sync)
        self.stdio = stdio  # fds to become 0, 1, 2 (None: keep ours)
        self.console = console  # a connected unix socket: the pty master goes there
        self.netns_fd = netns_fd  # a network namespace the engine made and plugs
        self.userns_fd = userns_fd  # the user namespace to enter last (kernel/userns.py)
        self.exec_fifo = exec_fifo  # bocker-runc: an O_PATH fd of the directory of its EXEC_FIFO
        self.seccomp = seccomp
        self.preserve_fds = preserve_fds  # bocker-runc --preserve-fds: 3..3+N-1 stay open
        self.hook_state = hook_state  # the OCI state JSON hooks read on stdin


def fork_pid1(spec, make_config, cgroup_files, *, first=None) -> int:
    """Fork pid 1 and run container_init in it: in a new pid namespace (a raw clone: a process
    may make a pid namespace for its children only once, and a restart needs another), in
    the one the spec names (joined for this fork only), or in ours (no pid namespace). The
    user namespace it enters last is made here, from outside (kernel/userns.py). The child
    joins its cgroup before anything else (all it does is charged there; on v1 a thread that
    moves itself skips the RCU grace period a move from outside waits for), then runs
    `first()` (bocker-runc: its session keyring). make_config(userns_fd) -> InitConfig, in
    the child. The monitor and bocker-runc both start pid 1 here. Returns its pid; raises
    StartFailure."""
    from ...errors import StartFailure
    pidns = spec.linux.namespace("pid")
    try:
        userns_fd = userns.for_spec(spec)
    except OSError as e:
        raise StartFailure(f"Could not make the container's user namespace: {e.strerror}") from None
    own = None
    try:
        if pidns is not None and pidns.path:
            own = os.open("/proc/self/ns/pid", os.O_RDONLY | os.O_CLOEXEC)
            target = os.open(pidns.path, os.O_RDONLY | os.O_CLOEXEC)
            try:
                linux.setns(target, linux.CLONE_NEWPID)  # our next child is born there
            except OSError as e:
                raise StartFailure(f"Could not join the pid namespace {pidns.path}: {e.strerror}") from None
            finally:
                os.close(target)
        pid = linux.clone_new_pid() if pidns is not None and not pidns.path else os.fork()
        if pid == 0:
            cfg = make_config(userns_fd)
            try:
                for f in cgroup_files:
                    fd = os.open(f, os.O_WRONLY)
                    try:
                        os.write(fd, b"0")
                    finally:
                        os.close(fd)
            except OSError as e:
                Sync(cfg.sync).send(type=SYNC_ERROR, message=f"Could not join the cgroup ({f}): {e.strerror}", code=125)
                os._exit(125)
            try:
                if first is not None:
                    first()
                container_init(spec, cfg)
            finally:
                os._exit(125)
        return pid
    finally:
        if own is not None:  # the parent's later children (hooks, a restart's pid 1) are ours again
            linux.setns(own, linux.CLONE_NEWPID)
            os.close(own)
        if userns_fd is not None:
            os.close(userns_fd)  # pid 1 holds it now


def container_init(spec, cfg: InitConfig) -> None:
    """Runs as pid 1 of the new pid namespace; execs the program or reports why not."""
    sync = Sync(cfg.sync)
    try:
        _init(spec, cfg, sync)
    except (RootfsError, ProcessError, HookError) as e:
        sync.send(type=SYNC_ERROR, message=str(e), code=getattr(e, "code", 125), lookup=getattr(e, "lookup", None))
    except OSError as e:
        where = f" ({e.filename})" if e.filename else ""
        sync.send(type=SYNC_ERROR, message=f"Could not prepare the container: {e.strerror}{where}", code=125)
    except BaseException as e:
        sync.send(type=SYNC_ERROR, message="Bug: " + describe(e), code=125)
    os._exit(125)


def _init(spec, cfg: InitConfig, sync: Sync) -> None:
    """pid 1's steps, in order (the module's docstring has the picture)."""
    keep = _fds_to_keep(cfg)
    # Hold nothing of the parent's: were the monitor killed, an inherited end of its pipes
    # would keep pid 1 (and the engine) waiting for ever.
    _close_fds_except(keep)
    _enter_namespaces(spec, cfg)
    hooks = _CreateHooks(spec, sync, cfg.hook_state)
    _prepare_root(spec, cfg, hooks)
    _name_and_sysctls(spec)
    master = None
    if spec.process.terminal:
        master = pid1_console(spec, cfg.console)
    if spec.linux.namespace("mount") is not None:
        rootfs.finalize(spec)
    # pid 1 is in its cgroup since its fork: a cgroup namespace now, while pid 1 still holds
    # CAP_SYS_ADMIN (the capabilities go in exec_process)
    cgroup_ns = spec.linux.namespace("cgroup")
    if cgroup_ns is not None and not cgroup_ns.path:
        linux.unshare(linux.CLONE_NEWCGROUP)
    if master is None and cfg.stdio is not None:
        for i, fd in enumerate(cfg.stdio):
            if fd != i:
                os.dup2(fd, i)
    resolve_program(spec.process)
    # 4. The process: everything that can fail has run when READY is sent.
    exec_process(spec.process, seccomp=cfg.seccomp, ready=lambda: _ready(spec, cfg, sync, hooks.state),
                 userns_fd=cfg.userns_fd)


def _fds_to_keep(cfg: InitConfig) -> set[int]:
    keep = {0, 1, 2, cfg.sync, *(range(3, 3 + cfg.preserve_fds))}
    keep |= {fd for fd in (cfg.console, cfg.netns_fd, cfg.exec_fifo, cfg.userns_fd) if fd is not None}
    if cfg.stdio is not None:
        keep |= set(cfg.stdio)
    return keep


def _enter_namespaces(spec, cfg: InitConfig) -> None:
    """1. Namespaces: join the ones with a path (and the engine's network namespace), make
    the rest. cgroup waits for the root (below); user is entered last (exec_process)."""
    joins: list[tuple[int, int]] = []
    flags = 0
    for ns in spec.linux.namespaces:
        if ns.type in ("pid", "user") or (ns.type in ("cgroup", "time") and not ns.path):
            continue  # pid and user: the parent's; a new cgroup namespace: once the root is made
        if ns.type == "network" and cfg.netns_fd is not None:
            joins.append((cfg.netns_fd, linux.CLONE_NEWNET))
        elif ns.path:
            joins.append((os.open(ns.path, os.O_RDONLY | os.O_CLOEXEC), NS_FLAGS[ns.type]))
        else:
            flags |= NS_FLAGS[ns.type]
    for fd, kind in joins:
        try:
            linux.setns(fd, kind)
        except OSError as e:
            raise RootfsError(f"Could not join a namespace: {e.strerror}") from None
        os.close(fd)
    if flags:
        linux.unshare(flags)
    if flags & linux.CLONE_NEWNET:
        linux.loopback_up()


class _CreateHooks:
    """2. Hooks, once the root's mounts are made and before pivot_root (runc's moment): the
    parent runs prestart and createRuntime in the runtime's namespaces (and answers with the
    state our own hooks read: it knows our host pid), then createContainer runs here, in the
    container's namespaces. Called once; `state` is what startContainer's hooks read later."""

    __slots__ = ("spec", "sync", "state")

    def __init__(self, spec, sync: Sync, state: str) -> None:
        self.spec = spec
        self.sync = sync
        self.state = state
        if spec.hooks.start_container:
            __import__("subprocess")  # startContainer hooks run after pivot_root: import it now

    def __call__(self) -> None:
        hooks = self.spec.hooks
        own_hooks = hooks.create_container or hooks.start_container
        if hooks.prestart or hooks.create_runtime or (own_hooks and not self.state):
            self.sync.send(type=SYNC_HOOKS)
            answer = self.sync.receive()
            if answer.get("type") != SYNC_RESUME:
                raise HookError(answer.get("message") or "the runtime went away during its hooks")
            self.state = answer.get("state") or self.state
        run_hooks(hooks.create_container, self.state, "createContainer")


def _prepare_root(spec, cfg: InitConfig, hooks: _CreateHooks) -> None:
    """3. The root (the hooks run inside, before pivot_root), as the remapped root when a user
    namespace is entered last."""
    if cfg.userns_fd is not None:
        cfg.root.userns_fd = cfg.userns_fd
        cfg.root.mapped_root = userns.host_root(spec)
        cfg.root.userns_maps = (userns.map_text(spec.linux.uid_mappings), userns.map_text(spec.linux.gid_mappings))
        if cfg.root.mapped_root is not None:
            userns.take_ids(*cfg.root.mapped_root)  # what pid 1 creates is the container root's
    if spec.linux.namespace("mount") is not None:
        rootfs.prepare(spec, cfg.root, before_pivot=hooks)
    else:
        hooks()


def _name_and_sysctls(spec) -> None:
    uts = spec.linux.namespace("uts")
    own_uts = uts is not None and not uts.path  # never the name of a namespace it joined (another's)
    if spec.hostname and own_uts:
        linux.sethostname(spec.hostname)
    if spec.domainname and own_uts:
        linux.setdomainname(spec.domainname)
    for key, value in spec.linux.sysctl.items():
        _sysctl(key, value)


def _ready(spec, cfg: InitConfig, sync: Sync, hook_state: str) -> None:
    """The last step before the exec: READY, then wait for the go."""
    sync.send(type=SYNC_READY)
    if cfg.exec_fifo is not None:
        # bocker-runc: blocks until `start` opens the fifo for reading
        # by name in its directory, not through /proc/self/fd: with a user namespace we are
        # another uid now, and a process that is not dumpable can't open its own /proc files
        fd = os.open(EXEC_FIFO, os.O_WRONLY | os.O_CLOEXEC, dir_fd=cfg.exec_fifo)
        os.write(fd, b"0")
        os.close(fd)
    else:
        answer = sync.receive()
        if answer.get("type") != SYNC_GO:
            os._exit(125)  # the monitor or the engine could not finish the start: it reports why
    run_hooks(spec.hooks.start_container, hook_state, "startContainer")
    _close_fds_from(3 + cfg.preserve_fds, keep={cfg.sync})


# -- one more process in a running container: setns_init.py (runc's setns_init), on first use
def __getattr__(name: str):
    if name not in ("EXEC_NAMESPACES", "ExecConfig", "exec_init"):
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from . import setns_init
    return getattr(setns_init, name)


def _sysctl(key: str, value: str) -> None:
    path = "/proc/sys/" + key.replace(".", "/")
    try:
        with open(path, "w") as f:
            f.write(value)
    except OSError as e:
        raise RootfsError(f"Could not set the sysctl {key}={value}: {e.strerror}") from None


def resolve_program(process) -> None:
    """Find the program before READY, as runc does (Go's exec.LookPath): `create` then fails
    for a missing one. A name with a slash must be an executable file (a directory or a file
    without an x bit is "permission denied"); a bare name is the first executable file of
    that name on the process's PATH (others of that name are passed over, as a shell does).
    The error's `lookup` says what failed, for bocker-runc to word it as runc does."""
    prog = process.args[0] if process.args else ""
    if not prog:
        raise ProcessError("The process has no args: nothing to run", 125)
    if "/" in prog:
        path = prog if prog.startswith("/") else os.path.join(process.cwd or "/", prog)
        try:
            st = os.stat(path)
        except OSError as e:
            raise _lookup_error(prog, e.strerror, 127, stat=prog, errno=e.errno) from None
        if _stat.S_ISDIR(st.st_mode) or not os.access(path, os.X_OK):
            raise _lookup_error(prog, "Permission denied", 126, errno=errno.EACCES)
        return
    search = next((e[5:] for e in process.env if e.startswith("PATH=")), "/usr/local/bin:/usr/bin:/bin")
    for d in search.split(":"):
        candidate = os.path.join(d or ".", prog)
        if os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return
    raise _lookup_error(prog, "No such file or directory", 127, path=True)


def _lookup_error(prog: str, reason: str, code: int, **lookup) -> ProcessError:
    e = ProcessError(f"{prog}: {reason} in the container", code)
    e.lookup = {"program": prog, **lookup}
    return e


def _close_fds_except(keep: set[int]) -> None:
    for name in os.listdir("/proc/self/fd"):
        fd = int(name)
        if fd not in keep:
            try:
                os.close(fd)
            except OSError:
                pass  # the directory's own fd, already gone


def _close_fds_from(first: int, keep: set[int]) -> None:
    """Only fds 0..first-1 reach the program (the sync socket is close-on-exec)."""
    for name in os.listdir("/proc/self/fd"):
        fd = int(name)
        if fd >= first and fd not in keep:
            try:
                os.close(fd)
            except OSError:
                pass


def describe(e: BaseException) -> str:
    """An exception and where it came from, as a traceback's last lines say it: without the
    traceback module (its imports cost every start, and after pivot_root nothing more can be
    imported)."""
    frames = []
    tb = e.__traceback__
    while tb is not None:
        frames.append(f"{tb.tb_frame.f_code.co_filename}:{tb.tb_lineno} in {tb.tb_frame.f_code.co_name}")
        tb = tb.tb_next
    return f"{type(e).__name__}: {e} (" + " <- ".join(reversed(frames[-4:])) + ")"
