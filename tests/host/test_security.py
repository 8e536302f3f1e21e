"""Secure defaults, as runc and Docker have them: capabilities, no_new_privs, masked paths,
only fds 0-2, refused symlinked mount points, no chroot escape, no way to the host's binary."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from bocker_magics.engine.kernel.capabilities import DOCKER_DEFAULT, NUMBER
from bocker_magics.errors import BockerError
from tests.support.hostcheck import leftovers
from tests.support.session import CGROUP_PARENT, bocker


def caps_of(status_text: str, field: str) -> int:
    return int(next(l for l in status_text.splitlines() if l.startswith(field + ":")).split()[1], 16)


def mask(names) -> int:
    return sum(1 << NUMBER[n] for n in names)


def test_docker_default_capabilities_and_no_new_privs(engine, busybox):
    status = engine.run(busybox, "cat /proc/self/status").text
    assert caps_of(status, "CapBnd") == mask(DOCKER_DEFAULT)
    assert caps_of(status, "CapEff") == mask(DOCKER_DEFAULT)
    assert caps_of(status, "CapInh") == 0 and caps_of(status, "CapAmb") == 0
    assert "NoNewPrivs:\t1" in status
    # what the dropped capabilities forbid: no mount, no module, no clock, no raw I/O
    out = engine.run(busybox, "mount -t tmpfs x /mnt 2>&1; echo 1 > /proc/sys/vm/drop_caches 2>&1; "
                              "date -s 2000-01-01 2>&1 >/dev/null; hostname other 2>&1").text
    assert out.count("Operation not permitted") >= 2 and "Read-only file system" in out


def test_cap_add_cap_drop_privileged(engine, busybox):
    status = engine.run(busybox, "cat /proc/self/status", cap_add=["NET_ADMIN"], cap_drop=["CHOWN", "cap_kill"]).text
    want = (mask(DOCKER_DEFAULT) | mask(["NET_ADMIN"])) & ~mask(["CHOWN", "KILL"])
    assert caps_of(status, "CapBnd") == want
    status = engine.run(busybox, "cat /proc/self/status", cap_drop=["ALL"]).text
    assert caps_of(status, "CapBnd") == 0
    host = caps_of(Path("/proc/self/status").read_text(), "CapBnd")
    status = engine.run(busybox, "cat /proc/self/status; cat /proc/kcore >/dev/null 2>&1; ls /proc/sys >/dev/null && touch /sys/kernel/x 2>&1",
                        privileged=True).text
    assert caps_of(status, "CapBnd") == host
    r = bocker("run", "--cap-add", "NOT_A_CAP", "busybox", "true")
    assert r.returncode == 1 and r.stderr.startswith("Unknown capability 'NOT_A_CAP'")


def test_masked_and_readonly_proc_paths(engine, busybox):
    out = engine.run(busybox, "exec 2>&1; for f in /proc/keys /proc/timer_list /proc/sched_debug /proc/kcore; do "
                              "[ -e $f ] && echo $f $(wc -c < $f); done; ls /proc/acpi /proc/scsi /sys/firmware 2>/dev/null | wc -l; "
                              "echo 1 > /proc/sysrq-trigger 2>&1; echo x > /proc/sys/kernel/domainname 2>&1; "
                              "grep -E ' /proc/(sys|irq|bus|sysrq-trigger) ' /proc/self/mountinfo | grep -c ' ro,'").text
    lines = out.splitlines()
    for line in lines:
        if line.startswith("/proc/") and len(line.split()) == 2:
            assert line.split()[1] == "0", line  # masked: /dev/null bound over it
    assert "Read-only file system" in out
    assert int(lines[-1]) >= 2


def test_only_fds_0_1_2_in_the_container(engine, busybox):
    # ls opens the directory itself: that fd is the 4th entry and is gone after ls
    out = engine.run(busybox, "ls /proc/1/fd; ls -l /proc/1/fd").text.split("\n")
    assert out[:3] == ["0", "1", "2"] and out[3].startswith("total")
    # and an exec'd process too
    r = engine.run(busybox, "sleep 30", detach=True)
    try:
        assert engine.exec(r.id, ["ls", "/proc/self/fd"]).text.split() == ["0", "1", "2", "3"]
        assert engine.exec(r.id, ["sh", "-c", "ls /proc/$$/fd; true"]).text.split() == ["0", "1", "2"]
    finally:
        engine.rm(r.id, force=True)


def _image_with(engine, tmp_path: Path, links: dict[str, str]):
    tree = tmp_path / "tree"
    (tree / "bin").mkdir(parents=True)
    shutil.copy("/bin/busybox", tree / "bin" / "busybox")
    os.symlink("busybox", tree / "bin" / "sh")
    for name, target in links.items():
        os.symlink(target, tree / name)
    return engine.init(tree)


@pytest.mark.parametrize("name", ["proc", "dev", "sys"])
def test_symlinked_mount_points_are_refused(engine, tmp_path, name):
    # the link points at a host directory: nothing may appear there (no /dev nodes, no mount)
    target = tmp_path / "host-side"
    target.mkdir()
    img = _image_with(engine, tmp_path, {name: str(target)})
    with pytest.raises(BockerError, match=f"The image's /{name} is a symbolic link"):
        engine.run(img.id, "true")
    assert list(target.iterdir()) == []
    assert not [c for c in engine.ps() if c.image == img.id]
    assert leftovers(str(engine.store.root), CGROUP_PARENT, only_children=True) == []


ESCAPE_C = r"""
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>
/* The classic chroot escape: chroot into a subdirectory while keeping the cwd outside it,
   climb with "..", then chroot to where we ended. Against a chroot "container" it reaches
   the host's root; against pivot_root it stays inside. */
int main(void) {
    mkdir("/escape-dir", 0755);
    if (chroot("/escape-dir") != 0) { perror("chroot"); return 1; }
    for (int i = 0; i < 64; i++) chdir("..");
    if (chroot(".") != 0) { perror("chroot ."); return 1; }
    execl("/bin/sh", "sh", "-c",
          "ls /; test -e /work && echo ESCAPED-work; test -e /root/.pyenv && echo ESCAPED-pyenv;"
          " test -e /usr/lib/x86_64-linux-gnu && echo ESCAPED-usr-lib; echo done", (char *)0);
    perror("execl");
    return 1;
}
"""


def test_chroot_escape_does_not_reach_the_host(engine, busybox, tmp_path):
    src = tmp_path / "escape.c"
    src.write_text(ESCAPE_C)
    subprocess.run(["gcc", "-static", "-O1", "-o", str(tmp_path / "escape"), str(src)], check=True)
    r = engine.run(busybox, "/host/escape", volumes=[f"{tmp_path}:/host:ro"])
    assert r.exit_code == 0, r.text
    assert "ESCAPED" not in r.text and r.text.rstrip().endswith("done")
    assert "busybox" not in r.text.split() and "bin" in r.text.split()  # the container's own root


@pytest.mark.parametrize("privileged", [False, True])
def test_host_interpreter_is_unreachable_through_proc_exe_during_exec(engine, busybox, monkeypatch, privileged):
    """While exec's forked process is still the host's Python (between joining the container
    and exec'ing the command), a container process tries /proc/PID/exe: runc's CVE-2019-5736.
    Privileged, the container has every capability: only non-dumpability protects then."""
    from bocker_magics.engine.engine import Engine
    r = engine.run(busybox, "sleep 30", detach=True, privileged=privileged)  # starts `engine`'s shim: it won't pause
    monkeypatch.setenv("BOCKER_PAUSE_AT", "exec")
    monkeypatch.setenv("BOCKER_PAUSE_SECONDS", "2")
    paused = Engine(engine.store.root, cgroup_parent=CGROUP_PARENT)  # its shim sees the pause
    probe = ("for i in $(seq 60); do for p in /proc/[0-9]*; do n=${p#/proc/}; [ $n = 1 ] && continue; "
             "[ $n = $$ ] && continue; "
             "if grep -q python $p/cmdline 2>/dev/null || ! readlink $p/exe >/dev/null 2>&1; then "
             "echo seen $n; readlink $p/exe 2>&1; head -c 4 $p/exe >/dev/null 2>&1 && echo READ-OK; "
             "(exec 3>>$p/exe) 2>&1 && echo WRITE-OK; exit 0; fi; done; sleep 0.05; done; echo none")
    try:
        import threading
        t = threading.Thread(target=lambda: paused.exec(r.id, ["true"]))
        t.start()
        # probe from a second, unpaused engine while the first exec waits
        out = engine.exec(r.id, probe).text
        t.join(20)
    finally:
        paused.rm(r.id, force=True)
        paused.close()
    assert "seen" in out, out
    assert "WRITE-OK" not in out, out
    if privileged:
        # CAP_SYS_PTRACE lets it read the binary. The write fails "busy" while any of our
        # Python processes runs; what holds when none does is the read-only bind mount that
        # the shim (and so every process it forks) runs the interpreter from:
        interpreter = os.path.realpath(sys.executable)
        mounts = Path(f"/proc/{engine.launcher._proc.pid}/mountinfo").read_text().splitlines()
        mine = [m.split() for m in mounts if m.split()[4] == interpreter]
        assert mine and mine[-1][5].split(",")[0] == "ro", mine
        assert not any(m.split()[4] == interpreter for m in Path("/proc/self/mountinfo").read_text().splitlines())
    else:
        assert "READ-OK" not in out, out  # not dumpable, and fewer capabilities than ours
