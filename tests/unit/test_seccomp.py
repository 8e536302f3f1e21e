"""Seccomp profiles as data: Docker's default profile following the capabilities, the compiled
programs checked by a small classic-BPF interpreter (also for the architectures this host can't
run), bad profiles as one line, the cache of compiled programs, Docker's profile format. No
filter is loaded here: tests/host/test_seccomp.py loads them into real processes.
"""

from __future__ import annotations

import json
import struct

import pytest

from bocker_magics.engine.kernel import seccomp
from bocker_magics.engine.kernel.capabilities import DOCKER_DEFAULT
from bocker_magics.engine.kernel.seccomp_default import ALLOWED, WITH_CAPABILITY
from bocker_magics.errors import BockerError, ContainerStartError, InvalidArgument

EPERM, ENOSYS = 1, 38
RET_ALLOW, RET_ERRNO = 0x7FFF0000, 0x00050000
AUDIT = {"SCMP_ARCH_X86_64": 0xC000003E, "SCMP_ARCH_X86": 0x40000003,
         "SCMP_ARCH_AARCH64": 0xC00000B7, "SCMP_ARCH_ARM": 0x40000028}
CLONE_NEWNS, CLONE_NEWUSER, SIGCHLD = 0x00020000, 0x10000000, 17


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
