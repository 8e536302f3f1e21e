"""Seccomp: Docker's default profile, compiled with libseccomp, loaded before exec.

Every attack runs in a child process that does what a container's pid 1 does (Docker's
default capabilities, no_new_privs, then the filter) and must fail with EPERM. Each attack
also runs as full root with no filter (it must then not be EPERM: the filter is what stops
it) and as full root under the filter (the profile alone refuses it). The arguments are
chosen so that even an unfiltered call harms nothing (a bad reboot magic, a mount point that
does not exist, a bad clock id). A small classic-BPF interpreter checks the compiled
programs for the other architectures, which this host can't run.
"""

from __future__ import annotations

import json
import struct
import subprocess
import sys
from pathlib import Path

import pytest

from bocker_magics.engine.kernel import seccomp
from bocker_magics.engine.kernel.capabilities import DOCKER_DEFAULT
from bocker_magics.engine.kernel.seccomp_default import ALLOWED, WITH_CAPABILITY
from bocker_magics.errors import BockerError, ContainerStartError, InvalidArgument

ROOT = str(Path(__file__).resolve().parent.parent)
EPERM, ENOSYS = 1, 38
RET_ALLOW, RET_ERRNO = 0x7FFF0000, 0x00050000
AUDIT = {"SCMP_ARCH_X86_64": 0xC000003E, "SCMP_ARCH_X86": 0x40000003,
         "SCMP_ARCH_AARCH64": 0xC00000B7, "SCMP_ARCH_ARM": 0x40000028}
CLONE_NEWNS, CLONE_NEWUSER, SIGCHLD = 0x00020000, 0x10000000, 17

# What a container's pid 1 does before exec, then the test's code. Runs as `python -I -S`,
# as the shim does: the modules it needs are stdlib + ctypes only.
CHILD = r"""
import ctypes, json, os, sys
sys.path.insert(0, ROOT)
from bocker_magics.engine.kernel import capabilities
from bocker_magics.engine.kernel import seccomp
cfg = json.loads(sys.argv[1])
libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long

def arg(a):
    return ctypes.c_char_p(a.encode()) if isinstance(a, str) else ctypes.c_void_p(a) if a is None else ctypes.c_long(a)

def call(name, *args):
    ctypes.set_errno(0)
    rc = libc.syscall(ctypes.c_long(cfg["nr"][name]), *[arg(a) for a in args])
    return 0 if rc >= 0 else ctypes.get_errno()

if cfg["caps"] is not None:
    capabilities.apply(cfg["caps"])            # drops the rest, sets no_new_privs
elif cfg["nnp"]:
    libc.prctl(38, 1, 0, 0, 0)                 # no_new_privs, every capability kept
if cfg["program"]:
    seccomp.load_filter(open(cfg["program"], "rb").read())
result = {}
exec(cfg["code"])
print(json.dumps(result))
""".replace("ROOT", repr(ROOT))

# attack -> the call, as errno (0: it worked)
ATTACKS = {
    "add_key": 'call("add_key", "user", "bocker-seccomp-test", "x", 1, -2)',     # to the process keyring
    "keyctl": 'call("keyctl", 0, -4, 0)',                  # KEYCTL_GET_KEYRING_ID of root's user keyring
    "request_key": 'call("request_key", "user", "bocker-seccomp-none", None, 0)',
    "unshare_user": f'call("unshare", {CLONE_NEWUSER})',
    "unshare_mount": f'call("unshare", {CLONE_NEWNS})',
    "clone_newuser": f'clone_ns({CLONE_NEWUSER})',
    "setns": 'call("setns", 9999, 0)',                     # EBADF without the filter
    "mount": 'call("mount", "none", "/nonexistent-bocker-seccomp", "tmpfs", 0, None)',
    "umount2": 'call("umount2", "/nonexistent-bocker-seccomp", 0)',
    "init_module": 'call("init_module", None, 0, "")',
    "kexec_load": 'call("kexec_load", 0, 1000, None, 0)',  # more segments than allowed: EINVAL
    "reboot": 'call("reboot", 0, 0, 0, None)',             # bad magic: EINVAL after the capability check
    "clock_settime": 'call("clock_settime", 0x7fffffff, ctypes.addressof(ctypes.create_string_buffer(16)))',
    "bpf": 'call("bpf", 0x7fff, None, 0)',                 # an unknown command: EINVAL
    "perf_event_open": 'call("perf_event_open", None, 0, -1, -1, 0)',
    "userfaultfd": 'call("userfaultfd", 0x80000)',          # O_CLOEXEC; closed when the child exits
    "personality": 'call("personality", 0x0040000)',        # ADDR_NO_RANDOMIZE
    "socket_vsock": 'call("socket", 40, 1, 0)',
}
CLONE_NS = """
def clone_ns(flags):
    ctypes.set_errno(0)
    pid = libc.syscall(ctypes.c_long(cfg["nr"]["clone"]), ctypes.c_long(flags | 17), *[ctypes.c_long(0)] * 4)
    if pid == 0:
        os._exit(0)
    if pid < 0:
        return ctypes.get_errno()
    os.waitpid(pid, 0)
    return 0
"""


def numbers() -> dict[str, int]:
    arch = seccomp.host_arch()
    names = {"add_key", "keyctl", "request_key", "unshare", "clone", "clone3", "setns", "mount", "umount2",
             "init_module", "kexec_load", "reboot", "clock_settime", "bpf", "perf_event_open",
             "userfaultfd", "personality", "socket"}
    return {n: seccomp.resolve(n, arch) for n in names}


def run_child(code: str, caps: list[str] | None, program: Path | None, nnp: bool = True) -> dict:
    """Runs `code` in a fresh `python -I -S` that holds `caps` (None: all of root's) and, when
    `program` is given, the filter; returns the `result` dict it fills."""
    cfg = {"nr": numbers(), "caps": caps, "nnp": nnp, "program": str(program) if program else None, "code": code}
    proc = subprocess.run([sys.executable, "-I", "-S", "-c", CHILD, json.dumps(cfg)],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.splitlines()[-1])


@pytest.fixture(scope="module")
def programs(tmp_path_factory) -> dict[str, Path]:
    """The default profile's program for Docker's capabilities, and for them + SYS_ADMIN."""
    where = tmp_path_factory.mktemp("seccomp")
    out = {}
    for key, caps in (("docker", list(DOCKER_DEFAULT)), ("sys_admin", [*DOCKER_DEFAULT, "SYS_ADMIN"])):
        path = where / f"{key}.bpf"
        path.write_bytes(seccomp.compile_profile(seccomp.default_profile(caps)))
        out[key] = path
    return out


@pytest.fixture(scope="module")
def attack_results(programs) -> dict[str, dict[str, int]]:
    # each attack in a process of its own (forked from the child), so none changes the next one's
    # ground (after unshare(CLONE_NEWUSER), a process is nobody to the host's namespaces)
    code = CLONE_NS + """
def alone(expr):
    pid = os.fork()
    if pid == 0:
        os._exit(eval(expr))
    return os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])
""" + "\n".join(f"result[{name!r}] = alone({expr!r})" for name, expr in ATTACKS.items())
    return {
        "container": run_child(code, list(DOCKER_DEFAULT), programs["docker"]),
        "root_filtered": run_child(code, None, programs["docker"]),
        "root_unfiltered": run_child(code, None, None),
    }


# -- attacks ---------------------------------------------------------------------------------
@pytest.mark.parametrize("attack", ATTACKS)
def test_attack_fails_with_eperm(attack_results, attack):
    assert attack_results["container"][attack] == EPERM
    # the profile alone refuses it, whatever the capabilities
    assert attack_results["root_filtered"][attack] == EPERM
    # and without the filter, root would not have met EPERM: the filter is what stops it
    assert attack_results["root_unfiltered"][attack] != EPERM


def test_keyring_of_host_root_is_out_of_reach(attack_results):
    # the finding: with no filter, a process reads root's user keyring
    assert attack_results["root_unfiltered"]["keyctl"] == 0
    assert attack_results["container"]["keyctl"] == EPERM


UNSHARE_COMMAND = """
import subprocess
p = subprocess.run(["unshare", "-U", "-r", "sh", "-c", "mount -t tmpfs x /mnt"], capture_output=True, text=True)
result["mount"], result["err"] = p.returncode, p.stderr
result["plain"] = subprocess.run(["unshare", "-U", "-r", "true"], capture_output=True).returncode
"""


def test_unshare_command_refused(programs):
    confined = run_child(UNSHARE_COMMAND.replace("mount -t tmpfs x /mnt", "true"), list(DOCKER_DEFAULT),
                         programs["docker"])
    assert confined["mount"] != 0 and confined["plain"] != 0
    assert "Operation not permitted" in confined["err"]
    # the finding: without the filter, a process with Docker's capabilities makes a
    # user namespace in which it is root (only `true` runs there, not the mount)
    assert run_child(UNSHARE_COMMAND.replace("mount -t tmpfs x /mnt", "true"), list(DOCKER_DEFAULT),
                     None)["plain"] == 0


def test_clone3_gets_enosys_so_libc_falls_back(programs):
    code = 'result["clone3"] = call("clone3", None, 0)'
    assert run_child(code, list(DOCKER_DEFAULT), programs["docker"])["clone3"] == ENOSYS


def test_a_call_newer_than_the_profile_gets_enosys(programs):
    # mseal (462 on x86_64 and aarch64, kernel 6.10) is named by the profile but unknown to
    # Debian 12's libseccomp; libc must see "no such call" and fall back, not EPERM
    code = ('libc.syscall.argtypes = None\n'
            'result["mseal"] = (libc.syscall(ctypes.c_long(462), ctypes.c_long(0), ctypes.c_long(0), ctypes.c_long(0)),'
            ' ctypes.get_errno())[1]\nresult["old"] = call("keyctl", 0, -4, 0)')
    r = run_child(code, list(DOCKER_DEFAULT), programs["docker"])
    assert r == {"mseal": ENOSYS, "old": EPERM}


# -- normal work -------------------------------------------------------------------------------
NORMAL_WORK = r"""
import subprocess, threading
result["status"] = open("/proc/self/status").read()
result["pipeline"] = subprocess.run(["/bin/sh", "-c", "echo hello world | tr a-z A-Z | sed s/WORLD/THERE/ | wc -c"],
                                    capture_output=True, text=True).stdout.strip()
seen = []
threads = [threading.Thread(target=seen.append, args=(i,)) for i in range(8)]
[t.start() for t in threads]; [t.join() for t in threads]
result["threads"] = sorted(seen)
pid = os.fork()
if pid == 0:
    os._exit(7)
result["fork"] = os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])
result["exec"] = subprocess.run(["/bin/true"]).returncode
result["python"] = subprocess.run([sys.executable, "-c", "import threading, socket, tempfile; "
                                   "s = socket.socket(); s.close(); print(sum(range(10)))"],
                                  capture_output=True, text=True).stdout.strip()
if os.path.exists("/bin/busybox"):
    result["busybox"] = subprocess.run(
        ["/bin/busybox", "sh", "-c", "busybox echo hi | busybox sed s/hi/ho/; busybox ls / >/dev/null; "
         "busybox ps >/dev/null; busybox date >/dev/null; busybox mkdir -p /tmp/bocker-sc-$$ && "
         "busybox rmdir /tmp/bocker-sc-$$; busybox id -u"], capture_output=True, text=True).stdout.split()
"""


def test_normal_work_runs_under_the_filter(programs):
    r = run_child(NORMAL_WORK, list(DOCKER_DEFAULT), programs["docker"])
    assert "Seccomp:\t2" in r["status"] and "NoNewPrivs:\t1" in r["status"]
    assert r["pipeline"] == "12"   # "HELLO THERE\n"
    assert r["threads"] == list(range(8))
    assert r["fork"] == 7 and r["exec"] == 0 and r["python"] == "45"
    if "busybox" in r:
        assert r["busybox"] == ["ho", "0"]


def test_sys_admin_allows_mount_and_unshare(programs, tmp_path):
    code = f"""
MS_REC, MS_PRIVATE = 0x4000, 0x40000
result["unshare"] = call("unshare", {CLONE_NEWNS})
result["private"] = call("mount", None, "/", None, MS_REC | MS_PRIVATE, None)
result["mount"] = call("mount", "bocker-sc", {str(tmp_path)!r}, "tmpfs", 0, None)
result["userns"] = clone_ns({CLONE_NEWUSER})
result["clone3"] = call("clone3", None, 0)     # allowed: the kernel itself refuses a size of 0
"""
    caps = [*DOCKER_DEFAULT, "SYS_ADMIN"]
    r = run_child(CLONE_NS + code, caps, programs["sys_admin"])
    assert r["clone3"] not in (EPERM, ENOSYS)
    assert r == {"unshare": 0, "private": 0, "mount": 0, "userns": 0, "clone3": r["clone3"]}
    # the same steps with Docker's capabilities and profile: refused
    r = run_child(CLONE_NS + code, list(DOCKER_DEFAULT), programs["docker"])
    assert r["unshare"] == EPERM and r["mount"] == EPERM and r["userns"] == EPERM


def test_load_without_no_new_privs_is_one_line(programs):
    code = f"""
program = open({str(programs["docker"])!r}, "rb").read()
os.setgroups([]); os.setgid(65534); os.setuid(65534)    # no capabilities, and no no_new_privs
try:
    seccomp.load_filter(program)
except Exception as e:
    result["error"] = [type(e).__name__, str(e)]
"""
    name, message = run_child(code, None, None, nnp=False)["error"]
    assert name == "ContainerStartError" and "no_new_privs" in message and "\n" not in message


def test_flags_of_a_profile_reach_the_kernel(tmp_path):
    profile = {"defaultAction": "SCMP_ACT_ALLOW", "flags": ["SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_TSYNC",
                                                            "SECCOMP_FILTER_FLAG_SPEC_ALLOW"],
               "syscalls": [{"names": ["keyctl"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13}]}
    assert seccomp.filter_flags(profile) == 7
    path = tmp_path / "log.bpf"
    path.write_bytes(seccomp.compile_profile(profile))
    code = ('seccomp.load_filter(open(%r, "rb").read(), flags=%d)\n'
            'result["keyctl"] = call("keyctl", 0, -4, 0)' % (str(path), seccomp.filter_flags(profile)))
    assert run_child(code, list(DOCKER_DEFAULT), None)["keyctl"] == 13   # EACCES, as the rule says


# -- the profile follows the capabilities --------------------------------------------------------
def allowed_names(caps) -> set[str]:
    profile = seccomp.default_profile(list(caps))
    return {n for r in profile["syscalls"] if r["action"] == "SCMP_ACT_ALLOW" and not r.get("args")
            for n in r["names"]}


def test_profile_follows_capabilities():
    base = allowed_names(DOCKER_DEFAULT)
    for refused in ("add_key", "keyctl", "request_key", "kexec_load", "kexec_file_load", "swapon", "swapoff",
                    "userfaultfd", "nfsservctl", "vm86", "uselib", "_sysctl", "io_uring_setup", "mount",
                    "unshare", "setns", "init_module", "reboot", "clock_settime", "bpf", "perf_event_open",
                    "open_by_handle_at", "acct", "iopl", "ioperm", "syslog", "quotactl", "lookup_dcookie",
                    "kcmp", "personality", "clone", "clone3", "socket"):
        assert refused not in base, refused
    assert {"read", "execve", "chroot", "ptrace", "mknod", "arch_prctl", "set_tls"} <= base
    for cap, names in WITH_CAPABILITY.items():
        assert set(names.split()) <= allowed_names([*DOCKER_DEFAULT, cap]), cap
    assert {"keyctl", "add_key", "kexec_load", "swapon", "userfaultfd"}.isdisjoint(
        allowed_names(list(WITH_CAPABILITY)))        # never allowed, whatever the capabilities
    rules = seccomp.default_profile(list(DOCKER_DEFAULT))["syscalls"]
    assert {"names": ["clone3"], "action": "SCMP_ACT_ERRNO", "errnoRet": ENOSYS} in rules
    assert not any("clone3" in r["names"] for r in seccomp.default_profile(["SYS_ADMIN"])["syscalls"]
                   if r["action"] != "SCMP_ACT_ALLOW")
    profile = seccomp.default_profile(list(DOCKER_DEFAULT))
    assert profile["defaultAction"] == "SCMP_ACT_ERRNO" and profile["defaultErrnoRet"] == EPERM
    assert set(profile["architectures"]) == {"SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32",
                                             "SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM"}
    assert len(ALLOWED) > 300


# -- other architectures, through a classic-BPF interpreter ---------------------------------------
def run_bpf(program: bytes, nr: int, arch: int, args: tuple[int, ...] = ()) -> int:
    """What the kernel's seccomp would return for one call (struct seccomp_data)."""
    data = struct.pack("<iIQ6Q", nr, arch, 0, *(list(args) + [0] * 6)[:6])
    insns = [struct.unpack_from("<HBBI", program, i) for i in range(0, len(program), 8)]
    a = x = pc = 0
    mem = [0] * 16
    while True:
        code, jt, jf, k = insns[pc]
        pc += 1
        cls, src = code & 0x07, (x if code & 0x08 else k)
        if cls == 0x00:                                   # LD: abs, imm, mem
            a = struct.unpack_from("<I", data, k)[0] if code & 0xE0 == 0x20 else mem[k] if code & 0xE0 == 0x60 else k
        elif cls == 0x01:
            x = mem[k] if code & 0xE0 == 0x60 else k
        elif cls in (0x02, 0x03):
            mem[k] = a if cls == 0x02 else x
        elif cls == 0x04:                                 # ALU
            op = code & 0xF0
            a = {0x00: a + src, 0x10: a - src, 0x20: a * src, 0x40: a | src, 0x50: a & src,
                 0x60: a << src, 0x70: a >> src, 0x80: -a, 0xA0: a ^ src}[op] & 0xFFFFFFFF
        elif cls == 0x05:                                 # JMP
            op = code & 0xF0
            if op == 0x00:
                pc += k
                continue
            taken = {0x10: a == src, 0x20: a > src, 0x30: a >= src, 0x40: bool(a & src)}[op]
            pc += jt if taken else jf
        elif cls == 0x06:                                 # RET
            return a if code & 0x18 == 0x10 else k
        else:                                             # MISC: tax / txa
            x, a = (a, a) if code & 0xF8 == 0 else (x, x)


# The kernel's own numbers (asm-generic/unistd.h for aarch64, arch/arm and x86 syscall tables).
AARCH64 = {"read": 63, "keyctl": 219, "add_key": 217, "unshare": 97, "mount": 40, "clone": 220, "clone3": 435,
           "init_module": 105, "kexec_load": 104, "reboot": 142, "bpf": 280, "perf_event_open": 241,
           "clock_settime": 112, "execve": 221, "personality": 92}
ARM = {"read": 3, "keyctl": 311, "set_tls": 0xF0005, "clone": 120, "mount": 21}
X86 = {"read": 3, "keyctl": 288, "clone": 120, "mount": 21, "socketcall": 102}
X86_64 = {"read": 0, "keyctl": 250, "clone": 56, "clone3": 435, "mount": 165, "arch_prctl": 158}


def test_aarch64_and_arm_names_resolve_and_compile():
    for table, arch in ((AARCH64, "SCMP_ARCH_AARCH64"), (ARM, "SCMP_ARCH_ARM"), (X86, "SCMP_ARCH_X86"),
                        (X86_64, "SCMP_ARCH_X86_64")):
        for name, nr in table.items():
            assert seccomp.resolve(name, arch) == nr, (name, arch)
    assert seccomp.resolve("modify_ldt", "SCMP_ARCH_AARCH64") is None      # an x86 call aarch64 lacks
    program = seccomp.compile_profile(seccomp.default_profile(list(DOCKER_DEFAULT)),
                                      arches=["SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM"])
    aa, arm = AUDIT["SCMP_ARCH_AARCH64"], AUDIT["SCMP_ARCH_ARM"]
    verdict = lambda nr, arch, *args: run_bpf(program, nr, arch, args)  # noqa: E731
    assert verdict(AARCH64["read"], aa) == RET_ALLOW and verdict(AARCH64["execve"], aa) == RET_ALLOW
    for name in ("keyctl", "add_key", "unshare", "mount", "init_module", "kexec_load", "reboot", "bpf",
                 "perf_event_open", "clock_settime"):
        assert verdict(AARCH64[name], aa) == RET_ERRNO | EPERM, name
    assert verdict(AARCH64["clone"], aa, SIGCHLD) == RET_ALLOW                 # fork
    assert verdict(AARCH64["clone"], aa, 0x3D0F00) == RET_ALLOW                # a pthread
    assert verdict(AARCH64["clone"], aa, CLONE_NEWUSER | SIGCHLD) == RET_ERRNO | EPERM
    assert verdict(AARCH64["clone3"], aa) == RET_ERRNO | ENOSYS
    assert verdict(AARCH64["personality"], aa, 0) == RET_ALLOW
    assert verdict(AARCH64["personality"], aa, 0x0040000) == RET_ERRNO | EPERM
    assert verdict(ARM["read"], arm) == RET_ALLOW and verdict(ARM["set_tls"], arm) == RET_ALLOW
    assert verdict(ARM["keyctl"], arm) == RET_ERRNO | EPERM
    assert verdict(AARCH64["read"], AUDIT["SCMP_ARCH_X86_64"]) == 0           # not in this filter: killed


def test_host_program_covers_the_x86_family():
    program = seccomp.compile_profile(seccomp.default_profile(list(DOCKER_DEFAULT)))
    x64, x86 = AUDIT["SCMP_ARCH_X86_64"], AUDIT["SCMP_ARCH_X86"]
    assert run_bpf(program, X86_64["read"], x64) == RET_ALLOW
    assert run_bpf(program, X86_64["arch_prctl"], x64) == RET_ALLOW
    assert run_bpf(program, X86_64["keyctl"], x64) == RET_ERRNO | EPERM
    assert run_bpf(program, X86_64["clone"], x64, (CLONE_NEWNS,)) == RET_ERRNO | EPERM
    assert run_bpf(program, X86["keyctl"], x86) == RET_ERRNO | EPERM
    assert run_bpf(program, X86["read"], x86) == RET_ALLOW
    assert run_bpf(program, X86["clone"], x86, (CLONE_NEWUSER,)) == RET_ERRNO | EPERM
    x32 = 0x40000000
    assert run_bpf(program, x32 | X86_64["read"], x64) == RET_ALLOW
    assert run_bpf(program, x32 | X86_64["keyctl"], x64) == RET_ERRNO | EPERM
    assert run_bpf(program, 1000, x64) == RET_ERRNO | ENOSYS                   # newer than the profile
    assert run_bpf(program, x32 | 470, x64) == RET_ERRNO | ENOSYS


# -- faults: one line naming the field -----------------------------------------------------------
def one_line(exc: BockerError) -> str:
    text = str(exc)
    assert "\n" not in text and isinstance(exc, BockerError)
    return text


@pytest.mark.parametrize("profile, field", [
    ({"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_NOTIFY"}]},
     "syscalls[0].action SCMP_ACT_NOTIFY"),
    ({"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALLOW",
                                                       "args": [{"index": 0, "value": 1, "op": "EQ"}]}]},
     "syscalls[0].args[0].op 'EQ'"),
    ({"defaultAction": "SCMP_ACT_DENY"}, "defaultAction 'SCMP_ACT_DENY'"),
    ({"defaultAction": "SCMP_ACT_ERRNO", "architectures": ["SCMP_ARCH_VAX"]}, "architectures[0] 'SCMP_ARCH_VAX'"),
    ({"defaultAction": "SCMP_ACT_ERRNO", "flags": ["SECCOMP_FILTER_FLAG_FAST"]}, "flags[0]"),
    ({"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALLOW",
                                                       "args": [{"index": 6, "value": 1, "op": "SCMP_CMP_EQ"}]}]},
     "syscalls[0].args[0].index"),
    ({"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": [], "action": "SCMP_ACT_ALLOW"}]},
     "syscalls[0].names"),
    ({"syscalls": []}, "defaultAction"),
])
def test_bad_profile_is_one_line_naming_the_field(profile, field):
    with pytest.raises(InvalidArgument) as e:
        seccomp.compile_profile(profile)
    assert field in one_line(e.value)


def test_all_actions_and_ops_compile():
    actions = ["SCMP_ACT_KILL", "SCMP_ACT_KILL_THREAD", "SCMP_ACT_KILL_PROCESS", "SCMP_ACT_TRAP",
               "SCMP_ACT_TRACE", "SCMP_ACT_LOG", "SCMP_ACT_ERRNO"]
    ops = ["SCMP_CMP_NE", "SCMP_CMP_LT", "SCMP_CMP_LE", "SCMP_CMP_EQ", "SCMP_CMP_GE", "SCMP_CMP_GT",
           "SCMP_CMP_MASKED_EQ"]
    calls = ["getpid", "getppid", "getuid", "getgid", "geteuid", "getegid", "gettid"]
    profile = {"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_X86_64"], "syscalls":
               [{"names": [c], "action": a, "args": [{"index": 1, "value": 0xFF, "valueTwo": 3, "op": o}]}
                for c, a, o in zip(calls, actions, ops)]}
    program = seccomp.compile_profile(profile, arches=["SCMP_ARCH_X86_64"])
    x64 = AUDIT["SCMP_ARCH_X86_64"]
    # call: (arg1 that matches its rule, arg1 that does not, what the match returns)
    expect = {"getpid": (0xFE, 0xFF, 0x00000000), "getppid": (0xFE, 0xFF, 0x00000000),
              "getuid": (0xFF, 0x100, 0x80000000), "getgid": (0xFF, 0xFE, 0x00030000),
              "geteuid": (0xFF, 0xFE, 0x7FF00001), "getegid": (0x100, 0xFF, 0x7FFC0000),
              "gettid": (0x103, 0x104, RET_ERRNO | EPERM)}
    for call, (hit, miss, ret) in expect.items():
        nr = seccomp.resolve(call, "SCMP_ARCH_X86_64")
        assert run_bpf(program, nr, x64, (0, hit)) == ret, call
        assert run_bpf(program, nr, x64, (0, miss)) == RET_ALLOW, call
    assert run_bpf(program, seccomp.resolve("getpid", "SCMP_ARCH_X86_64"), x64, (0, 1 << 40 | 0xFF)) == 0  # 64-bit
    assert seccomp.filter_flags({"defaultAction": "SCMP_ACT_ALLOW", "flags": [
        "SECCOMP_FILTER_FLAG_TSYNC", "SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_SPEC_ALLOW"]}) == 7


def test_bad_program_is_refused_before_the_kernel():
    with pytest.raises(ContainerStartError) as e:
        seccomp.load_filter(b"\x06\x00\x00\x00")
    one_line(e.value)


# -- the cache -------------------------------------------------------------------------------------
def test_compiled_once_per_distinct_profile(tmp_path):
    profile = seccomp.default_profile(list(DOCKER_DEFAULT))
    first = seccomp.cached_program(profile, tmp_path)
    files = list(tmp_path.iterdir())
    assert len(files) == 1 and files[0].read_bytes() == first == seccomp.compile_profile(profile)
    # the second call reads the file: a program planted there is what comes back
    planted = struct.pack("<HBBI", 0x06, 0, 0, RET_ALLOW)
    files[0].write_bytes(planted)
    assert seccomp.cached_program(dict(reversed(list(profile.items()))), tmp_path) == planted
    other = seccomp.cached_program(seccomp.default_profile([*DOCKER_DEFAULT, "SYS_TIME"]), tmp_path)
    assert other != planted and len(list(tmp_path.iterdir())) == 2


# -- profile files: Docker's format and the OCI one ---------------------------------------------
DOCKER_FORMAT = {
    "defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 1,
    "archMap": [{"architecture": "SCMP_ARCH_X86_64", "subArchitectures": ["SCMP_ARCH_X86", "SCMP_ARCH_X32"]},
                {"architecture": "SCMP_ARCH_AARCH64", "subArchitectures": ["SCMP_ARCH_ARM"]}],
    "syscalls": [
        {"names": ["read", "write", "exit_group"], "action": "SCMP_ACT_ALLOW"},
        {"names": ["arch_prctl"], "action": "SCMP_ACT_ALLOW", "includes": {"arches": ["amd64", "x32"]}},
        {"names": ["set_tls"], "action": "SCMP_ACT_ALLOW", "includes": {"arches": ["arm", "arm64"]}},
        {"names": ["mount"], "action": "SCMP_ACT_ALLOW", "includes": {"caps": ["CAP_SYS_ADMIN"]}},
        {"name": "clone", "action": "SCMP_ACT_ALLOW", "comment": "no namespaces",
         "args": [{"index": 0, "value": 2114060288, "op": "SCMP_CMP_MASKED_EQ"}],
         "excludes": {"caps": ["CAP_SYS_ADMIN"]}},
        {"names": ["ptrace"], "action": "SCMP_ACT_ALLOW", "includes": {"minKernel": "4.8"}},
        {"names": ["futuristic"], "action": "SCMP_ACT_ALLOW", "includes": {"minKernel": "99.0"}},
    ],
}


def test_docker_format_file_becomes_oci(tmp_path):
    path = tmp_path / "profile.json"
    path.write_text(json.dumps(DOCKER_FORMAT))
    oci = seccomp.load_profile_file(path, list(DOCKER_DEFAULT), machine="x86_64")
    assert oci["architectures"] == ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"]
    names = [r["names"] for r in oci["syscalls"]]
    assert names == [["read", "write", "exit_group"], ["arch_prctl"], ["clone"], ["ptrace"]]
    assert "comment" not in oci["syscalls"][2] and "archMap" not in oci
    admin = seccomp.load_profile_file(path, ["SYS_ADMIN"], machine="aarch64")
    assert admin["architectures"] == ["SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM"]
    assert [r["names"] for r in admin["syscalls"]] == [["read", "write", "exit_group"], ["set_tls"], ["mount"],
                                                       ["ptrace"]]
    seccomp.compile_profile(oci)
    # an OCI profile passes through as it is
    oci_path = tmp_path / "oci.json"
    oci_path.write_text(json.dumps(seccomp.default_profile(list(DOCKER_DEFAULT))))
    assert seccomp.load_profile_file(oci_path, list(DOCKER_DEFAULT)) == seccomp.default_profile(list(DOCKER_DEFAULT))


@pytest.mark.parametrize("text, words", [
    ("{not json", "not JSON"),
    ("[]", "not a JSON object"),
    (json.dumps({**DOCKER_FORMAT, "architectures": ["SCMP_ARCH_X86_64"]}), "archMap and architectures"),
    (json.dumps({"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"name": "a", "names": ["b"],
                                                                  "action": "SCMP_ACT_ALLOW"}]}), "both name and names"),
    (json.dumps({"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_NOTIFY"}]}),
     "SCMP_ACT_NOTIFY"),
])
def test_bad_profile_file_is_one_line(tmp_path, text, words):
    path = tmp_path / "bad.json"
    path.write_text(text)
    with pytest.raises(InvalidArgument) as e:
        seccomp.load_profile_file(path, list(DOCKER_DEFAULT))
    assert words in one_line(e.value) and str(path) in str(e.value)
    with pytest.raises(InvalidArgument) as e:
        seccomp.load_profile_file(tmp_path / "missing.json")
    assert "missing.json" in one_line(e.value)
