"""The cgroup v2 tests, for real, in a pure cgroup v2 VM (tests/support/v2vm/run.sh).

This host runs cgroup v1 (hybrid: a cgroup2 mount with no useful controllers), so
test_cgroups.py can only check the v2 driver's refusals here. Most users run pure
cgroup v2: this boots a Debian kernel with cgroup_no_v1=all in qemu, with the host's
root read-only and this repo read-write at the same path, checks that the guest
really is pure v2, then runs test_cgroups.py and test_resources.py there, where every v2
limit and resource is enforced.

A VM that cannot boot is a failure, not a skip: tests/support/v2vm/setup.sh installs what
it needs. Slow under TCG (no usable KVM): about a minute and a half to three minutes.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
RUN = REPO / "tests" / "support" / "v2vm" / "run.sh"
VM_TIMEOUT = int(os.environ.get("V2VM_TIMEOUT", "600"))

# Runs inside the guest, with the same interpreter as on the host.
CHECK = r"""
import sys
mounts = [line.split() for line in open("/proc/self/mounts")]
fstype = {m[1]: m[2] for m in mounts}
assert fstype.get("/sys/fs/cgroup") == "cgroup2", f"/sys/fs/cgroup is {fstype.get('/sys/fs/cgroup')!r}"
v1 = [m[1] for m in mounts if m[2] == "cgroup"]
assert not v1, f"cgroup v1 mounted at {v1}"
controllers = open("/sys/fs/cgroup/cgroup.controllers").read().split()
missing = {"cpu", "memory", "pids"} - set(controllers)
assert not missing, f"controllers {sorted(missing)} missing from {controllers}"
enabled = open("/sys/fs/cgroup/cgroup.subtree_control").read().split()
print("V2VM-CHECK-OK controllers=" + ",".join(controllers) + " enabled=" + ",".join(enabled))
"""

GUEST = 'set -e; "$1" -c "$2"; exec "$1" -m pytest tests/host/test_cgroups.py tests/host/test_resources.py tests/host/test_engine.py::test_v2_driver_runs_containers -p no:cacheprovider -q -rs'


def _mountinfo() -> list[str]:
    return sorted(line.split(" - ")[0].split(" ", 4)[4] + " " + line.split(" - ")[1].strip()
                  for line in Path("/proc/self/mountinfo").read_text().splitlines())


def _processes_mentioning(text: str) -> list[str]:
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if text in cmdline:
            found.append(f"{proc.name}: {cmdline[:200]}")
    return found


@pytest.mark.v2vm
@pytest.mark.timeout(VM_TIMEOUT + 120)
@pytest.mark.skipif(os.environ.get("V2VM") == "1", reason="already inside the v2vm guest")
def test_cgroup_tests_pass_in_a_pure_cgroup_v2_vm(tmp_path):
    assert os.access(RUN, os.X_OK), f"{RUN} is missing or not executable"
    assert (REPO / "tests" / "host" / "test_cgroups.py").exists()
    mounts_before = _mountinfo()
    # run.sh makes its scratch directory (control share, logs) under TMPDIR: here,
    # so that what it leaves, and any qemu still holding it, can be found.
    env = dict(os.environ, TMPDIR=str(tmp_path), V2VM_TIMEOUT=str(VM_TIMEOUT), V2VM_VERBOSE="1")
    started = time.monotonic()
    proc = subprocess.Popen(
        [str(RUN), "sh", "-c", GUEST, "sh", sys.executable, CHECK],
        cwd=REPO, env=env, stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        start_new_session=True,
    )
    try:
        output, _ = proc.communicate(timeout=VM_TIMEOUT + 60)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        output, _ = proc.communicate()
        pytest.fail(f"run.sh outlived its own timeout; output:\n{output}")
    elapsed = time.monotonic() - started
    print(output)
    print(f"v2vm test: {elapsed:.1f} s")

    # Nothing is left on the host, whatever the result.
    assert _processes_mentioning(str(tmp_path)) == [], "qemu (or a helper) outlived run.sh"
    assert list(tmp_path.iterdir()) == [], "run.sh left its scratch directory"
    new_mounts = set(_mountinfo()) - set(mounts_before)  # other tests' mounts may come and go
    assert [m for m in new_mounts if "v2vm" in m or str(tmp_path) in m or " 9p " in m] == []

    assert proc.returncode not in (124, 125), f"the VM did not boot or timed out (status {proc.returncode}):\n{output}"
    assert "V2VM-CHECK-OK" in output, f"the guest is not pure cgroup v2:\n{output}"
    assert proc.returncode == 0, f"test_cgroups.py failed in the v2 VM (status {proc.returncode}):\n{output}"
    # The v2 tests ran there (the v1 ones are skipped: the guest has no v1).
    assert " passed" in output and "no cgroup v2 hierarchy" not in output, output
    assert "has no cpuset controller" not in output, output  # the v2 cpuset ran there for real
