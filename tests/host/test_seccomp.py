"""Seccomp: Docker's default profile, compiled with libseccomp, loaded before exec.

Every attack runs in a child process that does what a container's pid 1 does (Docker's
default capabilities, no_new_privs, then the filter) and must fail with EPERM. Each attack
also runs as full root with no filter (it must then not be EPERM: the filter is what stops
it) and as full root under the filter (the profile alone refuses it). The arguments are
chosen so that even an unfiltered call harms nothing (a bad reboot magic, a mount point that
does not exist, a bad clock id). The profiles as data (the capabilities, the compiled programs
for the other architectures, which this host can't run, bad profiles) are tests/unit/test_seccomp.py.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from bocker_magics.engine.kernel import seccomp
from bocker_magics.engine.kernel.capabilities import DOCKER_DEFAULT

ROOT = str(Path(__file__).resolve().parents[2])
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
