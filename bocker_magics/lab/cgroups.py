"""The article's cgroup experiments (2.2.2-2.2.3) in Python: cgcreate, cgset, cgexec.

    proc_cgroups_frame()        # /proc/cgroups: the subsystems (controllers) of this kernel
    self_cgroup_frame()         # /proc/self/cgroup: which group this process is in, per hierarchy
    cgroup_mode()               # "v1", "v2" or "hybrid", with what it means
    g = LabGroup(limits, cpuset="0")   # cgcreate + cgset, with the engine's cgroup driver
    p = g.exec("while :; do :; done")  # cgexec: a shell that joins the group, then execs
    g.stats(); g.close()        # accounting; kill what is left, remove the group and its parent

The group lives under a parent of its own (<$BOCKER_CGROUP_PARENT or bocker>-lab-<pid>), removed by close().
The cpuset controller is not one of the engine's limits: the driver's set_cpuset writes it, the v1 or the v2 way.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import time
from typing import Any

from ..engine.kernel.cgroups import detect, read_mounts
from ..engine.limits import Limits


def proc_cgroups_frame():
    import pandas as pd

    rows = [l.split() for l in open("/proc/cgroups").read().splitlines()]
    header = [h.lstrip("#") for h in rows[0]]
    frame = pd.DataFrame(rows[1:], columns=header)
    for c in header[1:]:
        frame[c] = frame[c].astype(int)
    return frame.set_index("subsys_name")


def self_cgroup_frame(pid: int | str = "self"):
    import pandas as pd

    rows = []
    for line in open(f"/proc/{pid}/cgroup").read().splitlines():
        hid, ctrls, path = line.split(":", 2)
        rows.append({"hierarchy": int(hid), "controllers": ctrls or "(v2 unified)", "path": path})
    return pd.DataFrame(rows).set_index("hierarchy")


def cgroup_mode() -> tuple[str, str]:
    """("v1" | "v2" | "hybrid", a sentence saying what that means here)."""
    mounts = read_mounts()
    v1 = sorted({m.mount_point for m in mounts if m.fstype == "cgroup"})
    v2 = sorted({m.mount_point for m in mounts if m.fstype == "cgroup2"})
    root_is_v2 = any(m.mount_point == "/sys/fs/cgroup" and m.fstype == "cgroup2" for m in mounts)
    if root_is_v2 or (v2 and not v1):
        return "v2", (f"pure cgroup v2: one unified hierarchy at {v2[0]}; every controller lives there "
                      "and a process is in exactly one group")
    if v1 and v2:
        return "hybrid", (f"hybrid: {len(v1)} cgroup v1 hierarchies (one per controller or group of controllers, "
                          f"under /sys/fs/cgroup) hold the controllers, and a cgroup v2 hierarchy at {v2[0]} "
                          "tracks processes only (systemd uses it); the engine uses the v1 driver")
    return "v1", (f"cgroup v1: {len(v1)} hierarchies, one per controller (or co-mounted group); "
                  "a process is in one group in each")


class LabGroup:
    def __init__(self, limits: Limits, cpuset: str | None = None, name: str = "demo",
                 parent: str | None = None) -> None:
        base = os.environ.get("BOCKER_CGROUP_PARENT") or "bocker"
        self.parent = parent or f"{base}-lab-{os.getpid()}"
        self.driver = detect(parent=self.parent)
        self.group = self.driver.group(name)
        self.name = name
        self.limits = limits
        self.cpuset = cpuset
        self.procs: list[subprocess.Popen] = []
        # cgcreate + cgset of memory, cpu: the limits as a spec's resources (Docker's rules), the
        # driver's v1 or v2 files
        self.group.create(limits.to_resources(swap_accounting=self.driver.swap_accounting()))
        try:
            if cpuset is not None:
                self._set_cpuset(cpuset)
        except BaseException:
            self.close()
            raise

    # -- cpuset: cgset -r cpuset.cpus=… (the driver's: v1 or v2 files) ----------------------
    def _set_cpuset(self, cpus: str) -> None:
        self.cpuset_file = self.group.set_cpuset(cpus)

    def procs_files(self) -> list[str]:
        return self.group.procs_files()

    def paths(self) -> dict[str, str]:
        p = self.group.paths()
        if self.cpuset is not None:
            p.setdefault("cpuset", os.path.dirname(self.cpuset_file))  # v2: the one hierarchy
        return p

    # -- cgexec ------------------------------------------------------------------------------
    def exec(self, command: str) -> subprocess.Popen:
        """`cgexec -g …:GROUP sh -c COMMAND`: a shell writes its own pid into the group's
        cgroup.procs files, then execs the command (no Python in the child)."""
        join = "; ".join(f"echo $$ > {shlex.quote(f)}" for f in self.procs_files())
        p = subprocess.Popen(["/bin/sh", "-c", f"{join}; exec {command}"], stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, text=True, start_new_session=True)
        self.procs.append(p)
        return p

    def stats(self):
        return self.group.stats()

    def sample(self, proc: subprocess.Popen, seconds: float, interval: float = 0.2, on_sample: Any = None):
        """Accounting every `interval` s while proc runs (at most `seconds`): a frame."""
        import pandas as pd

        rows, t0 = [], time.monotonic()
        prev = None
        while time.monotonic() - t0 < seconds:
            s = self.stats()
            t = time.monotonic() - t0
            pct = None
            if prev is not None and s.cpu_seconds is not None and t > prev[0]:
                pct = 100 * (s.cpu_seconds - prev[1]) / (t - prev[0])
            prev = (t, s.cpu_seconds)
            rows.append({"time_s": round(t, 2), "cpu_seconds": s.cpu_seconds, "cpu_percent": pct,
                         "memory_mib": (s.memory_current or 0) / 2**20, "oom_kills": s.oom_kills,
                         "pids": s.pids_current})
            if on_sample is not None:
                on_sample(pd.DataFrame(rows))
            if proc.poll() is not None:
                break
            time.sleep(interval)
        return pd.DataFrame(rows)

    def close(self) -> None:
        """Kill what runs in it, rmdir the group and the parent dirs made for it."""
        for p in self.procs:
            if p.poll() is None:
                try:
                    os.killpg(p.pid, 9)
                except ProcessLookupError:
                    pass
            p.wait()
            if p.stdout:
                p.stdout.close()
        self.group.destroy()
        self.driver.remove_parent()

    def __enter__(self) -> LabGroup:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


CPU_HOG = "sh -c 'while :; do :; done'"


def memory_hog(step_mib: int = 2, delay: float = 0.1) -> str:
    """A command that grows by step_mib MiB (pages written, so charged) every delay seconds,
    forever: the OOM killer ends it at the group's limit."""
    import sys

    code = (f"import time\nheap = []\nwhile True:\n    heap.append(b'x' * ({step_mib} << 20))\n"
            f"    print(len(heap) * {step_mib}, 'MiB', flush=True)\n    time.sleep({delay})\n")
    return f"{shlex.quote(sys.executable)} -I -S -c {shlex.quote(code)}"
