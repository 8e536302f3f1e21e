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

    def settings(self) -> Settings:
        """`cgget -r …`: what cgcreate and cgset wrote, read back from the files."""
        rows = []
        for ctrl, d in sorted(self.paths().items()):
            for name in SETTINGS_FILES.get(ctrl, ()):
                f = os.path.join(d, name)
                if os.path.exists(f):
                    rows.append((d, name, open(f).read().strip()))
        return Settings(rows)

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
            try:
                on_cpu = last_cpu(proc.pid)
            except (OSError, ValueError, IndexError):
                on_cpu = None
            rows.append({"time_s": round(t, 2), "cpu_seconds": s.cpu_seconds, "cpu_percent": pct,
                         "memory_mib": (s.memory_current or 0) / 2**20, "oom_kills": s.oom_kills,
                         "pids": s.pids_current, "on_cpu": on_cpu})
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


# -- reading what the article reads (2.2.2) ---------------------------------------------------
PROC_CGROUPS_FIELDS = {
    "hierarchy": "the id of the cgroup tree (hierarchy) the subsystem is attached to; subsystems with the same id "
                 "share one tree. 0: attached to no v1 tree (bound to the v2 tree, not mounted, or disabled)",
    "num_cgroups": "how many groups (nodes) that tree holds",
    "enabled": "1: on; 0: turned off at boot (the cgroup_disable= kernel parameter)",
}


def hierarchy_notes(frame=None) -> list[str]:
    """Sentences on /proc/cgroups as this machine has it: which subsystems share a tree, which
    are on none (hierarchy 0)."""
    frame = proc_cgroups_frame() if frame is None else frame
    notes = []
    by_tree: dict[int, list[str]] = {}
    for name, row in frame.iterrows():
        by_tree.setdefault(int(row["hierarchy"]), []).append(name)
    shared = [names for h, names in sorted(by_tree.items()) if h and len(names) > 1]
    alone = [names[0] for h, names in sorted(by_tree.items()) if h and len(names) == 1]
    if shared:
        notes.append("subsystems sharing one tree here: " + "; ".join(", ".join(n) for n in shared))
    if alone:
        notes.append("subsystems each on a tree of its own here: " + ", ".join(alone))
    if "cpu" in frame.index and "cpuacct" in frame.index:
        h_cpu, h_acct = int(frame.loc["cpu", "hierarchy"]), int(frame.loc["cpuacct", "hierarchy"])
        if h_cpu and h_acct and h_cpu != h_acct:
            notes.append(f"unlike the article's machine (cpu and cpuacct both on tree 4, mounted together as "
                         f"cpu,cpuacct), cpu is on tree {h_cpu} and cpuacct on tree {h_acct}: two trees, two mounts")
    zero = list(by_tree.get(0, []))
    if zero:
        notes.append(f"hierarchy 0 for {', '.join(zero)}: attached to no v1 tree on this machine (in the article every "
                     "subsystem has one); they are enabled in the Linux kernel, but no v1 hierarchy mounts them, and "
                     "a pure v2 machine shows 0 for every subsystem")
    return notes


def mount_grep_cgroup() -> str:
    """`mount | grep cgroup`: the real commands' output."""
    out = subprocess.run(["mount"], capture_output=True, text=True, check=True).stdout
    return "\n".join(l for l in out.splitlines() if "cgroup" in l)


def cgroup_lines(pid: int | str = "self") -> list[tuple[int, str, str]]:
    """/proc/PID/cgroup as (hierarchy id, subsystems, path) rows."""
    rows = []
    for line in open(f"/proc/{pid}/cgroup").read().splitlines():
        hid, ctrls, path = line.split(":", 2)
        rows.append((int(hid), ctrls, path))
    return rows


def task_frame(pid: int):
    """Task -> cgroup -> hierarchy -> subsystem for one process: each line of /proc/PID/cgroup, the
    directory that group is on the mounted tree, and whether the pid is in its cgroup.procs."""
    import pandas as pd

    mounts = read_mounts()
    rows = []
    for hid, ctrls, path in cgroup_lines(pid):
        wanted = set(ctrls.split(",")) if ctrls else set()
        mount = None
        for m in mounts:
            if ctrls and m.fstype == "cgroup" and wanted <= set(m.super_options):
                mount = m
            elif not ctrls and m.fstype == "cgroup2":
                mount = m
        directory = os.path.join(mount.mount_point, path.lstrip("/")) if mount else ""
        procs = os.path.join(directory, "cgroup.procs")
        listed = None
        if directory and os.path.exists(procs):
            listed = str(pid) in open(procs).read().split()
        rows.append({"hierarchy": hid, "subsystems": ctrls or "(v2 unified)", "cgroup (path in the tree)": path,
                     "directory": directory, "pid in cgroup.procs": listed})
    return pd.DataFrame(rows).set_index("hierarchy")


def last_cpu(pid: int) -> int:
    """The CPU the task last ran on: field 39 (`processor`) of /proc/PID/stat."""
    text = open(f"/proc/{pid}/stat").read()
    return int(text.rsplit(")", 1)[1].split()[36])


def allowed_cpus(pid: int) -> str:
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("Cpus_allowed_list:"):
            return line.split(":", 1)[1].strip()
    return ""


# the files cgset writes, by controller, v1 then v2 names
SETTINGS_FILES = {
    "cpu": ("cpu.shares", "cpu.cfs_period_us", "cpu.cfs_quota_us", "cpu.weight", "cpu.max"),
    "cpuset": ("cpuset.cpus", "cpuset.mems"),
    "memory": ("memory.limit_in_bytes", "memory.max"),
}


class Settings:
    """`cgget`: the group's limit files as `file = value` lines, per controller directory."""

    def __init__(self, rows: list[tuple[str, str, str]]) -> None:
        self.rows = rows  # (directory, file, value)

    def value(self, name: str) -> str:
        return next(v for _, f, v in self.rows if f == name)

    def __getitem__(self, name: str) -> str:
        return self.value(name)

    def __repr__(self) -> str:
        out, last = [], None
        for d, f, v in self.rows:
            if d != last:
                out.append(f"{d}/")
                last = d
            out.append(f"    {f} = {v}")
        return "\n".join(out)

    def _repr_html_(self) -> str:
        import html

        return f'<pre class="tex2jax_ignore mathjax_ignore">{html.escape(repr(self))}</pre>'
