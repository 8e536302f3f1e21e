"""`create`: the bundle's config.json -> the container's cgroup (its resources and devices
policy, through the cgroup driver) -> pid 1, forked into its pid namespace, running
init.container_init: namespaces, [prestart/createRuntime hooks, run here], createContainer
hooks, the root, console, process -> READY -> it blocks opening the exec fifo for writing.
The pid file and state.json are written and create exits; pid 1 is re-parented to the caller
(podman's conmon, containerd's shim: subreapers), which reaps it. runc's container_linux.go
and process_linux.go.

The spec model, init and the cgroup drivers are imported here, by create (and run) alone.
"""

from __future__ import annotations

import os
import time

from ....errors import Conflict, HookError, InvalidArgument, StartFailure
from ...fileio import atomic_write
from ...kernel.procfs import stat as proc_stat
from .bundle import check_supported, parse_config, read_config
from .state import CONFIG, DEFAULT_CGROUP_PARENT, Container, cgroups_path, check_id, container_dir
from .words import EMPTY_ID, EXISTS, START_FAILED, go_strerror, start_failure

def create(rt, cid: str, bundle: str | None = None, *, pid_file: str | None = None,
           console_socket: str | None = None, no_pivot: bool = False, no_new_keyring: bool = False,
           preserve_fds: int = 0, detach: bool = True) -> Container:
    """The container's process, in its namespaces, cgroup and root, waiting on the exec fifo;
    returns once its pid file and state are written (the process is our child: the caller of
    bocker-runc inherits it when we exit). runc's checks, in runc's order: the id given, the
    bundle and its config.json, what the runtime can run, the id's form, the rootfs, the id free."""
    from ...spec import State

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
    os.makedirs(rt.root, mode=0o700, exist_ok=True)
    d = container_dir(rt.root, cid)
    try:
        os.mkdir(d)
        # searchable, not readable: pid 1 opens its exec fifo here after it became the
        # container's user (another uid on the host with a user namespace); runc's modes
        os.chmod(d, 0o711)
    except FileExistsError:
        raise Conflict(EXISTS) from None
    me = os.getpid()
    state = State(id=cid, status="creating", phase="starting", bundle=bundle, annotations=dict(spec.annotations),
                  created_at=time.time(), creator_pid=me, creator_start=proc_stat(me)[1])
    c = Container(d, {"id": cid, "bundle": bundle, "status": "creating"})
    group = pid = None
    try:
        atomic_write(os.path.join(d, CONFIG), text, fsync=False)  # the spec as created: exec reads it
        state.cgroup_driver, group = make_cgroup(cid, spec)
        state.cgroup = group.paths()
        c.save(state)  # from here `delete --force` finds the cgroup, even if this process dies
        pid, sync = spawn(rt, c, spec, rootfs, group, console_socket, no_pivot, no_new_keyring, preserve_fds)
        st = proc_stat(pid)
        state.pid, state.pid_start = pid, st[1] if st else 0
        c.save(state)
        until_ready(c, spec, sync)
        if pid_file:
            atomic_write(os.path.abspath(pid_file), str(pid).encode(), fsync=False)
        state.status, state.phase = "created", "created"
        c.save(state)
        sync.close()
    except BaseException:
        if pid:
            kill_wait_child(pid)
        from .lifecycle import remove
        remove(rt, c, group)
        raise
    return c


def make_cgroup(cid: str, spec):
    """Make the container's cgroup with every resource of the spec and its devices policy
    (the monitor of `bocker run` calls the same create); the driver's name and the group."""
    from ...kernel.cgroups import detect
    from ...kernel.devices import RUNTIME_ALLOWS
    from ...spec import DeviceRule

    driver = detect(parent=DEFAULT_CGROUP_PARENT)
    group = driver.group_at(cgroups_path(cid, spec.linux.cgroups_path))
    resources = spec.linux.resources
    # runc's specconv appends its default allow list to every spec's device rules (podman
    # sends only "deny all" and relies on it): the spec as runc would run it
    resources.devices = [*resources.devices, *(DeviceRule(**r.to_oci()) for r in RUNTIME_ALLOWS)]
    group.create(resources)
    return driver.name, group


def spawn(rt, c: Container, spec, rootfs: str, group, console_socket, no_pivot, no_new_keyring, preserve_fds):
    """Fork pid 1 (into a new pid namespace, the spec's, or ours) running container_init."""
    from ...kernel import capabilities, linux
    from ...kernel.rootfs import RootContext
    from ..init import InitConfig, fork_pid1
    from ..protocol import Sync
    from .exec import connect_console, fill_fds

    fill_fds(preserve_fds)
    fifo = c.fifo
    os.mkfifo(fifo)
    os.chmod(fifo, 0o622)  # writable by pid 1 as another uid (a user namespace); not the umask's
    fifo_fd = os.open(c.dir, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)  # init.py opens FIFO in it
    console = connect_console(console_socket) if spec.process.terminal else None
    seccomp = seccomp_of(rt, spec)
    ours, theirs = linux.socketpair_seqpacket()
    root = RootContext(root=os.path.realpath(rootfs), cgroups=group.paths(), no_pivot=no_pivot)
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

    pid = fork_pid1(spec, config, group.join_files(), first=keyring)
    theirs.close()
    os.close(fifo_fd)
    if console is not None:
        console.close()
    return pid, Sync(ours)


def until_ready(c: Container, spec, sync) -> None:
    """Serve pid 1 until it is READY: the prestart and createRuntime hooks when it asks."""
    from ..hooks import run_hooks
    from ..protocol import SYNC_ABORT, SYNC_ERROR, SYNC_HOOKS, SYNC_READY, SYNC_RESUME

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


def seccomp_of(rt, spec):
    """The spec's seccomp profile as a compiled program (cached under the root)."""
    if spec.linux.seccomp is None:
        return None
    from ...kernel.process import Seccomp
    from ...kernel.seccomp import cached_program, filter_flags
    from ...spec import object_json
    profile = object_json(spec.linux.seccomp)
    return Seccomp(cached_program(profile, os.path.join(rt.root, ".seccomp")), filter_flags(profile))


def kill_wait_child(pid: int) -> None:
    try:
        os.kill(pid, 9)
    except ProcessLookupError:
        pass
    try:
        os.waitpid(pid, 0)
    except ChildProcessError:
        pass
