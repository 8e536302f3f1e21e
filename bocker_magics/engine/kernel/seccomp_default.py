"""The default seccomp profile: the effect of Docker's, as data in the OCI `linux.seccomp` form.

An allow list: a system call the profile does not name fails with EPERM. What a container
needs for ordinary work is allowed outright; what only an administrator of the whole machine
should do is allowed only when the container holds the capability the kernel would check
(Docker's rule: the profile follows the capabilities, so `--cap-add SYS_TIME` really lets
the container set the clock). Never allowed, whatever the capabilities, because the kernel
does not namespace them and one container could reach the host or its neighbours through
them: kernel keyrings (add_key, keyctl, request_key), kexec, swapon/swapoff, userfaultfd,
io_uring, nfsservctl, vm86, uselib, _sysctl, ustat, sysfs and the other obsolete calls.

The names cover x86_64 (with its x86 and x32 ABIs) and aarch64 (with 32-bit arm); a name an
architecture lacks (modify_ldt on arm, set_tls on x86) is skipped there when compiled.
"""

from __future__ import annotations

# -- allowed outright ---------------------------------------------------------------------
_FILES = """
    access faccessat faccessat2 chdir fchdir getcwd chmod fchmod fchmodat fchmodat2
    chown chown32 fchown fchown32 fchownat lchown lchown32 umask
    open openat openat2 creat close close_range dup dup2 dup3 fcntl fcntl64 flock
    read readv pread64 preadv preadv2 write writev pwrite64 pwritev pwritev2
    lseek _llseek sendfile sendfile64 splice tee vmsplice copy_file_range readahead
    fadvise64 fadvise64_64 fallocate truncate truncate64 ftruncate ftruncate64
    fsync fdatasync sync syncfs sync_file_range cachestat
    stat stat64 lstat lstat64 fstat fstat64 fstatat64 newfstatat statx
    statfs statfs64 fstatfs fstatfs64 getdents getdents64
    link linkat symlink symlinkat unlink unlinkat rename renameat renameat2
    mkdir mkdirat rmdir mknod mknodat readlink readlinkat name_to_handle_at
    utime utimes futimesat utimensat utimensat_time64
    getxattr lgetxattr fgetxattr getxattrat listxattr llistxattr flistxattr listxattrat
    setxattr lsetxattr fsetxattr setxattrat removexattr lremovexattr fremovexattr removexattrat
    ioctl listmount statmount
"""
# mknod stays allowed: which nodes may be made and opened is the devices cgroup's decision.

_EVENTS = """
    poll ppoll ppoll_time64 select _newselect pselect6 pselect6_time64
    epoll_create epoll_create1 epoll_ctl epoll_ctl_old epoll_wait epoll_wait_old epoll_pwait epoll_pwait2
    eventfd eventfd2 signalfd signalfd4 inotify_init inotify_init1 inotify_add_watch inotify_rm_watch
    fanotify_mark timerfd_create timerfd_gettime timerfd_gettime64 timerfd_settime timerfd_settime64
    io_setup io_destroy io_submit io_cancel io_getevents io_pgetevents io_pgetevents_time64
"""
# io_uring_* are left out, as Docker leaves them out now: a large kernel surface that
# seccomp can't see into (the operations it runs never pass through the filter).

_MEMORY = """
    brk mmap mmap2 munmap mremap mprotect madvise mincore msync remap_file_pages
    mlock mlock2 mlockall munlock munlockall membarrier memfd_create memfd_secret
    pkey_alloc pkey_free pkey_mprotect map_shadow_stack mseal
"""

_PROCESSES = """
    fork vfork execve execveat exit exit_group wait4 waitid waitpid
    getpid getppid gettid getpgid getpgrp setpgid getsid setsid
    getpriority setpriority getrlimit setrlimit ugetrlimit prlimit64 getrusage times
    prctl capget capset seccomp uname sysinfo getcpu getrandom ioprio_get ioprio_set
    set_tid_address set_robust_list get_robust_list rseq restart_syscall
    futex futex_time64 futex_waitv futex_wait futex_wake futex_requeue
    get_thread_area set_thread_area pidfd_open pidfd_send_signal process_mrelease
    landlock_create_ruleset landlock_add_rule landlock_restrict_self uretprobe riscv_hwprobe
    sched_yield sched_getaffinity sched_setaffinity sched_getattr sched_setattr
    sched_getparam sched_setparam sched_getscheduler sched_setscheduler
    sched_get_priority_max sched_get_priority_min sched_rr_get_interval sched_rr_get_interval_time64
    ptrace process_vm_readv process_vm_writev
"""
# ptrace within the container is allowed (since kernel 4.8 a ptracer can no longer use it to
# skip the seccomp filter of its tracee); ptrace of processes outside is ruled out by the pid
# namespace and the capabilities.

_CREDENTIALS = """
    getuid getuid32 geteuid geteuid32 getgid getgid32 getegid getegid32
    getresuid getresuid32 getresgid getresgid32 getgroups getgroups32
    setuid setuid32 setgid setgid32 setreuid setreuid32 setregid setregid32
    setresuid setresuid32 setresgid setresgid32 setfsuid setfsuid32 setfsgid setfsgid32
    setgroups setgroups32
"""

_SIGNALS = """
    kill tkill tgkill pause rt_sigaction rt_sigprocmask rt_sigpending rt_sigsuspend
    rt_sigqueueinfo rt_tgsigqueueinfo rt_sigtimedwait rt_sigtimedwait_time64 rt_sigreturn
    sigaltstack sigprocmask sigreturn
"""

_TIME = """
    time gettimeofday clock_gettime clock_gettime64 clock_getres clock_getres_time64
    clock_nanosleep clock_nanosleep_time64 nanosleep alarm getitimer setitimer
    timer_create timer_delete timer_getoverrun timer_gettime timer_gettime64 timer_settime timer_settime64
    adjtimex clock_adjtime clock_adjtime64
"""
# adjtimex/clock_adjtime only read the clock unless the caller holds CAP_SYS_TIME.

_NETWORK_AND_IPC = """
    socketpair bind connect listen accept accept4 shutdown getsockname getpeername
    getsockopt setsockopt send sendto sendmsg sendmmsg recv recvfrom recvmsg recvmmsg recvmmsg_time64
    socketcall pipe pipe2
    ipc msgget msgsnd msgrcv msgctl semget semop semtimedop semtimedop_time64 semctl
    shmget shmat shmdt shmctl
    mq_open mq_unlink mq_timedsend mq_timedsend_time64 mq_timedreceive mq_timedreceive_time64
    mq_notify mq_getsetattr
"""
# socket(2) itself is allowed below by an argument rule.

_ARCHITECTURE = """
    arch_prctl modify_ldt
    arm_fadvise64_64 arm_sync_file_range sync_file_range2 breakpoint cacheflush set_tls
"""
# x86: arch_prctl (x86_64, x32), modify_ldt (the whole family); arm: its own calls.

# -- allowed with a capability ------------------------------------------------------------
# Each call here is one the kernel itself guards with that capability (or, for the
# namespace calls, one whose attack surface the capability stands for). A call under two
# capabilities is allowed with either.
WITH_CAPABILITY: dict[str, str] = {
    "SYS_ADMIN": """
        mount umount umount2 mount_setattr move_mount open_tree fsopen fsconfig fsmount fspick
        unshare setns clone clone3 sethostname setdomainname
        quotactl quotactl_fd lookup_dcookie fanotify_init syslog bpf perf_event_open
        lsm_get_self_attr lsm_set_self_attr lsm_list_modules
    """,
    "DAC_READ_SEARCH": "open_by_handle_at",
    "SYS_BOOT": "reboot",
    "SYS_CHROOT": "chroot",
    "SYS_MODULE": "init_module finit_module delete_module",
    "SYS_PACCT": "acct",
    "SYS_PTRACE": "ptrace process_vm_readv process_vm_writev kcmp pidfd_getfd process_madvise",
    "SYS_RAWIO": "iopl ioperm",
    "SYS_TIME": "settimeofday stime clock_settime clock_settime64",
    "SYS_TTY_CONFIG": "vhangup",
    "SYS_NICE": "get_mempolicy set_mempolicy set_mempolicy_home_node mbind",
    "SYSLOG": "syslog",
    "BPF": "bpf",
    "PERFMON": "perf_event_open",
}

ALLOWED: tuple[str, ...] = tuple(sorted({
    name for group in (_FILES, _EVENTS, _MEMORY, _PROCESSES, _CREDENTIALS, _SIGNALS, _TIME,
                       _NETWORK_AND_IPC, _ARCHITECTURE) for name in group.split()}))

# -- allowed with arguments ---------------------------------------------------------------
# The namespace flags of clone(2): without CAP_SYS_ADMIN, clone may make threads and
# processes but no namespace (CLONE_NEWNS|NEWCGROUP|NEWUTS|NEWIPC|NEWUSER|NEWPID|NEWNET).
CLONE_NAMESPACE_FLAGS = 0x7E020000
# The flags are argument 0 on every architecture listed here (s390 alone has them second).
_CLONE_FLAGS_ARG = 0
ENOSYS = 38
EPERM = 1

# personality(2): only the values Docker allows: PER_LINUX, PER_LINUX32, UNAME26 with either,
# and 0xffffffff, which only asks for the current persona.
PERSONALITIES = (0x0, 0x8, 0x20000, 0x20008, 0xFFFFFFFF)

# socket(2): every address family but AF_ALG (38, the kernel's crypto API, a recurring
# source of kernel bugs) and AF_VSOCK (40, a way out to the hypervisor and other guests).
_SOCKET_RULES = (("SCMP_CMP_LT", 38), ("SCMP_CMP_EQ", 39), ("SCMP_CMP_GT", 40))

ARCHITECTURES = ("SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32", "SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM")


def _arg_rule(name: str, op: str, value: int, value_two: int = 0, index: int = 0) -> dict:
    return {"names": [name], "action": "SCMP_ACT_ALLOW",
            "args": [{"index": index, "value": value, "valueTwo": value_two, "op": op}]}


def default_profile(capabilities: list[str] | tuple[str, ...]) -> dict:
    """The OCI `linux.seccomp` object for a container holding `capabilities` (names as in
    capabilities.NAMES, e.g. "SYS_ADMIN")."""
    held = {c.upper().removeprefix("CAP_") for c in capabilities}
    allowed = set(ALLOWED)
    for capability, names in WITH_CAPABILITY.items():
        if capability in held:
            allowed.update(names.split())
    rules = [{"names": sorted(allowed), "action": "SCMP_ACT_ALLOW"}]
    rules += [_arg_rule("socket", op, value) for op, value in _SOCKET_RULES]
    rules += [_arg_rule("personality", "SCMP_CMP_EQ", value) for value in PERSONALITIES]
    if "SYS_ADMIN" not in held:
        rules.append(_arg_rule("clone", "SCMP_CMP_MASKED_EQ", CLONE_NAMESPACE_FLAGS, 0, _CLONE_FLAGS_ARG))
        # clone3 passes its flags in a struct that seccomp can't read: ENOSYS makes glibc
        # fall back to clone, whose flags the rule above checks.
        rules.append({"names": ["clone3"], "action": "SCMP_ACT_ERRNO", "errnoRet": ENOSYS})
    return {
        "defaultAction": "SCMP_ACT_ERRNO",
        "defaultErrnoRet": EPERM,
        "architectures": list(ARCHITECTURES),
        "syscalls": rules,
    }
