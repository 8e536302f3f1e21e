"""What of ours is on the host: mounts, cgroups, processes, network namespaces."""

from __future__ import annotations

import os
import subprocess


def _cgroup_mounts() -> list[str]:
    out = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            fields = line.split()
            fstype = fields[fields.index("-") + 1]
            if fstype in ("cgroup", "cgroup2"):
                out.append(fields[4])
    return out


def leftovers(root: str, cgroup_parent: str, only_children: bool = False) -> list[str]:
    """Everything under `root` or named `cgroup_parent` that the host still holds.

    only_children: the parent cgroup directories themselves may stay (they go at the end).
    """
    found = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            fields = line.split()
            if root in fields[4] or root in fields[3]:
                found.append(f"mount {fields[4]}")
    for mount in _cgroup_mounts():
        parent = os.path.join(mount, cgroup_parent)
        if os.path.isdir(parent):
            children = [d for d in os.listdir(parent) if os.path.isdir(os.path.join(parent, d))]
            found += [f"cgroup {parent}/{c}" for c in children]
            if not only_children:
                found.append(f"cgroup {parent}")
    for pid in filter(str.isdigit, os.listdir("/proc")):
        if int(pid) == os.getpid():
            continue
        try:
            fds = os.listdir(f"/proc/{pid}/fd")
            targets = [os.readlink(f"/proc/{pid}/fd/{fd}") for fd in fds]
            targets.append(os.readlink(f"/proc/{pid}/cwd"))
        except OSError:
            continue
        if any(t.startswith(root) for t in targets):
            found.append(f"process {pid} ({open(f'/proc/{pid}/comm').read().strip()}) holds a file under {root}")
    netns = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    found += [f"netns {n.split()[0]}" for n in netns.splitlines() if "bocker" in n or "ps_" in n]
    return found
