"""The last steps of every container process (pid 1, or one that `exec` adds), from the
spec's `process`: the order runc's standard init uses, each step while the process still
holds what the step needs.

    cwd -> rlimits -> oom_score_adj -> user namespace -> keep caps over setuid -> bounding set -> groups, gid,
    uid -> effective/permitted/inheritable, ambient -> no_new_privs -> seccomp -> umask -> exec

Stdlib + ctypes only: this runs in a forked child of the shim or of bocker-runc, and every
module it needs is imported before the fork: here, up front, or (the seccomp loader) with
the Seccomp that needs it. After pivot_root the host's Python is gone.
"""

from __future__ import annotations

import _signal  # signal's C half: signal.py makes enums, and importing enum is a visible share of bocker-runc's start
import errno
import os
import resource
import warnings  # noqa: F401  os.execvpe imports it (get_exec_path): pid 1 calls that after pivot_root

from ...errors import ProcessError
from . import capabilities, userns

# RLIMIT_* name -> resource number (the kernel's, the same on every Linux architecture the
# engine supports; Python's resource module names them too, but importing it costs a module).
RLIMITS = {
    "RLIMIT_CPU": 0, "RLIMIT_FSIZE": 1, "RLIMIT_DATA": 2, "RLIMIT_STACK": 3, "RLIMIT_CORE": 4,
    "RLIMIT_RSS": 5, "RLIMIT_NPROC": 6, "RLIMIT_NOFILE": 7, "RLIMIT_MEMLOCK": 8, "RLIMIT_AS": 9,
    "RLIMIT_LOCKS": 10, "RLIMIT_SIGPENDING": 11, "RLIMIT_MSGQUEUE": 12, "RLIMIT_NICE": 13,
    "RLIMIT_RTPRIO": 14, "RLIMIT_RTTIME": 15,
}


class Seccomp:
    """A compiled filter (classic BPF bytes) and the seccomp(2) flags to load it with."""

    __slots__ = ("flags", "load", "program")

    def __init__(self, program: bytes, flags: int = 0) -> None:
        self.program = program
        self.flags = flags
        # The loader's module comes with the filter, not with this module (a spec without
        # seccomp never needs it), and here, where it is made: pid 1 loads the filter after
        # pivot_root, where the package's files are out of reach.
        from . import seccomp
        self.load = seccomp.load_filter


def set_rlimits(rlimits) -> None:
    for r in rlimits:
        try:
            resource.setrlimit(RLIMITS[r.type], (r.soft, r.hard))
        except (ValueError, OSError) as e:
            raise ProcessError(f"Could not set {r.type} to {r.soft}:{r.hard}: {e}; "
                               "use a lower --ulimit (the host's hard limit is the ceiling)") from None


def set_oom_score_adj(value: int | None) -> None:
    if value is None:
        return
    try:
        with open("/proc/self/oom_score_adj", "w") as f:
            f.write(str(value))
    except OSError as e:
        raise ProcessError(f"Could not set oom_score_adj to {value}: {e.strerror}") from None


def change_user(uid: int, gid: int, groups: list[int]) -> None:
    """Supplementary groups, then gid, then uid (the other order would lose the right to the
    later steps). Capabilities survive the uid change only for a moment: the caller sets
    them again afterwards."""
    try:
        os.setgroups(sorted(set(groups)))
        os.setresgid(gid, gid, gid)
        os.setresuid(uid, uid, uid)
    except OSError as e:
        raise ProcessError(f"Could not become uid {uid}, gid {gid}: {e.strerror}") from None


def exec_process(process, *, seccomp: Seccomp | None = None, ready=None, userns_fd: int | None = None) -> None:
    """Apply the spec's `process` to this process and exec its args. Never returns: an exec
    that fails raises ProcessError (127 not found, 126 not executable). `ready` is called
    just before the exec (pid 1 waits for its go there: everything that can fail has run).
    userns_fd: a user namespace entered after the rlimits (raising a hard limit needs the
    host's CAP_SYS_RESOURCE) and before the user change (kernel/userns.py)."""
    cwd = process.cwd or "/"
    try:
        os.makedirs(cwd, exist_ok=True)  # Docker makes a missing working directory
        os.chdir(cwd)
    except OSError as e:
        raise ProcessError(f"Could not enter the working directory {cwd}: {e.strerror}") from None
    set_rlimits(process.rlimits)
    set_oom_score_adj(process.oom_score_adj)
    if userns_fd is not None:
        try:
            userns.enter(userns_fd)
        except OSError as e:
            raise ProcessError(f"Could not enter the container's user namespace: {e.strerror}") from None
    env = {}
    for item in process.env:
        key, _, value = item.partition("=")
        env[key] = value
    args = list(process.args)
    if not args:
        raise ProcessError("The process has no args: nothing to run", 125)
    for sig in (_signal.SIGPIPE, _signal.SIGINT, _signal.SIGTERM, _signal.SIGCHLD, _signal.SIGHUP,
                _signal.SIGQUIT, _signal.SIGTSTP, _signal.SIGTTIN, _signal.SIGTTOU):
        _signal.signal(sig, _signal.SIG_DFL)
    caps = process.capabilities
    user = process.user
    nnp = process.no_new_privileges
    if seccomp is not None and not nnp:
        # Without no_new_privs the filter needs CAP_SYS_ADMIN to load: before the drop.
        _load_seccomp(seccomp)
    capabilities.apply_sets(
        bounding=caps.bounding if caps else [], effective=caps.effective if caps else [],
        permitted=caps.permitted if caps else [], inheritable=caps.inheritable if caps else [],
        ambient=caps.ambient if caps else [],
        change_user=lambda: change_user(user.uid, user.gid, user.additional_gids),
        no_new_privs=nnp)
    if user.umask is not None:
        os.umask(user.umask)
    if ready is not None:
        ready()
    if seccomp is not None and nnp:
        _load_seccomp(seccomp)  # last: nothing of ours runs under the program's filter
    try:
        os.execvpe(args[0], args, env)
    except OSError as e:
        code = 126 if e.errno in (errno.EACCES, errno.ENOEXEC, errno.EISDIR) else 127
        raise ProcessError(f"{args[0]}: {e.strerror} in the container", code) from None


def _load_seccomp(seccomp: Seccomp) -> None:
    try:
        seccomp.load(seccomp.program, seccomp.flags)
    except Exception as e:
        raise ProcessError(f"Could not load the seccomp filter: {e}") from None
