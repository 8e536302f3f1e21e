"""What of ours is on the host: mounts, cgroups, processes, network namespaces."""

from __future__ import annotations

import os
import subprocess
import time


def _cgroup_mounts() -> list[str]:
    out = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            fields = line.split()
            fstype = fields[fields.index("-") + 1]
            if fstype in ("cgroup", "cgroup2"):
                out.append(fields[4])
    return out


def leftovers(root: str, cgroup_parent: str, only_children: bool = False, settle: float = 5.0) -> list[str]:
    """Everything under `root` or named `cgroup_parent` that the host still holds.

    only_children: the parent cgroup directories themselves may stay (they go at the end).
    settle: the kernel removes a dead container's network namespace (and its veth) and
    reaps its processes asynchronously; what is left is read again for up to this long.
    """
    import time
    deadline = time.monotonic() + settle
    while True:
        found = _leftovers(root, cgroup_parent, only_children)
        if not found or time.monotonic() >= deadline:
            return found
        time.sleep(0.1)


def _leftovers(root: str, cgroup_parent: str, only_children: bool) -> list[str]:
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
    found += network_leftovers()
    return found


def network_leftovers(netns_fd: int | None = None) -> list[str]:
    """Container veths (vb<hex>) in a network namespace (this one, or the one netns_fd
    names); with netns_fd, also any bocker bridge or iptables rule."""
    prefix = [] if netns_fd is None else ["nsenter", f"--net=/proc/{os.getpid()}/fd/{netns_fd}"]
    links = subprocess.run(prefix + ["ip", "-o", "link"], capture_output=True, text=True).stdout
    names = [l.split(":")[1].strip().split("@")[0] for l in links.splitlines()]
    found = [f"veth {n}" for n in names if n.startswith("vb") and len(n) >= 12]
    if netns_fd is not None:
        found += [f"bridge {n}" for n in names if n == "bocker0" or n.startswith("bk-")]
        for table in ("nat", "filter"):
            rules = subprocess.run(prefix + ["iptables", "-w", "-t", table, "-S"], capture_output=True, text=True).stdout
            found += [f"iptables {r}" for r in rules.splitlines() if "bocker:" in r]
    return found


def veths() -> list[str]:
    """The veth interfaces of this network namespace, by name."""
    out = subprocess.run(["ip", "-o", "link", "show", "type", "veth"], capture_output=True, text=True).stdout
    return [line.split(":")[1].strip().split("@")[0] for line in out.splitlines()]


def wait_until(predicate, timeout=5.0) -> bool:
    """Whether `predicate()` holds within `timeout` seconds (asked every 50 ms)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()
