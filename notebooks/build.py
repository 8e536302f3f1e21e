"""Writes the notebooks (sources only) from the cells below: edit here, run
`python notebooks/build.py`, then `bocker-report --write-notebooks` stores a real run's outputs in them."""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

HERE = Path(__file__).parent
P = "parameters"


def md(text: str):
    return new_markdown_cell(text.strip())


def code(src: str, *tags: str):
    c = new_code_cell(src.strip())
    if tags:
        c.metadata["tags"] = list(tags)
    return c


NOTEBOOKS: dict[str, list] = {}

NOTEBOOKS["01-namespaces"] = [
    md("""
# 01 · Which namespaces does a process belong to? (article 2.1.3)

Every process is in exactly one namespace of each kind (mnt, uts, ipc, pid, net, user, cgroup, time).
`/proc/PID/ns/` holds one symbolic link per kind; its target reads `kind:[inode]`, and the inode
*is* the namespace's identity: two processes with the same inode share that namespace.

This notebook shows (1) the links of pid 1 — the first process the Linux kernel starts (init) — as a table
(where a sandbox hides pid 1's links even from root, the first cell says so and this notebook's own process
is the reference instead), (2) two processes
that share every namespace and one that has its own uts and ipc, and (3) that an open file
descriptor — or a bind mount — keeps a namespace alive after its last process has exited, which is
why the article says the links are there at all. Every claim is checked by an assertion.
"""),
    code("""
# parameters: what a reader may change
hostname_in_new_ns = "kept-alive"   # the hostname set inside the namespace we keep alive
""", P),
    code("""
import os, subprocess, time
from bocker_magics.views import NamespaceTable

def ns_inodes(pid):
    # the inode of each /proc/PID/ns/KIND link: what `readlink` prints between the brackets
    return {kind: os.stat(f"/proc/{pid}/ns/{kind}").st_ino for kind in sorted(os.listdir(f"/proc/{pid}/ns"))}

from bocker_magics.views.namespaces import host_column

# `ls -l /proc/1/ns`, as the article runs it for its shell (pid 1: init, the first process of the Linux kernel)
listing = subprocess.run(["ls", "-l", "/proc/1/ns"], capture_output=True, text=True)
print("# ls -l /proc/1/ns", listing.stdout + listing.stderr, sep="\\n")
reference, reference_pid = host_column()
if reference_pid != 1:
    # a sandbox (a container, a hardened VM) can hide pid 1's links even from root
    print(f"pid 1's links are not readable here, so the reference column below is {reference}.")
    listing = subprocess.run(["ls", "-l", "/proc/self/ns"], capture_output=True, text=True, check=True)
    print("# ls -l /proc/self/ns", listing.stdout, sep="\\n")
assert reference_pid == 1 or listing.returncode == 0
"""),
    md("""
## 1. The namespace links as a table

`ls -l /proc/$$/ns` in the article; here the inode of each link, one column per process: pid 1 and
the process that runs this notebook's code (the *Jupyter kernel*, a Python process: not the Linux
kernel). The first column is the reference (pid 1, or what the first cell named); a cell that differs from it is marked.
"""),
    code("""
me = NamespaceTable.of({"this notebook's Python (Jupyter kernel)": os.getpid()})
assert me.labels[0] == reference, "the first column is pid 1 (or, where it is hidden, the reference named above)"
assert set(me.kinds) >= {"ipc", "mnt", "net", "pid", "uts"}
me
"""),
    md("""
## 2. Two processes: sharing and not sharing

`sleep` started normally inherits every namespace of its parent. `unshare -u -i sleep` gets a new
uts and a new ipc namespace and shares the rest.
"""),
    code("""
same = subprocess.Popen(["sleep", "300"])
own = subprocess.Popen(["unshare", "-u", "-i", "sleep", "300"])
try:
    time.sleep(0.2)
    table = NamespaceTable.of({"sleep": same.pid, "unshare -u -i sleep": own.pid})
    display(table)
    mine = ns_inodes(os.getpid())
    a, b = ns_inodes(same.pid), ns_inodes(own.pid)
    assert all(a[k] == mine[k] for k in ("uts", "ipc", "mnt", "net", "pid")), "a plain child shares every namespace"
    assert a["uts"] != b["uts"] and a["ipc"] != b["ipc"], "unshare -u -i gives its own uts and ipc"
    assert a["mnt"] == b["mnt"] and a["net"] == b["net"], "and shares the others"
finally:
    for p in (same, own):
        p.kill(); p.wait()
print("checked: the plain child shares all; the unshared one differs in uts and ipc only")
"""),
    md("""
## 3. An open fd keeps a namespace alive

A namespace is destroyed when its last process exits — unless something still refers to it: an open
file descriptor on its `/proc/PID/ns/*` link, or a bind mount of that link (what `ip netns add` does).
We start a process in a new uts namespace that sets the hostname, open its `ns/uts`, and kill it.
Then `nsenter --uts=/proc/<this process>/fd/<fd> hostname` enters the namespace through our fd and still
reads the hostname set in it.
"""),
    code("""
holder = subprocess.Popen(["unshare", "-u", "sh", "-c", f"hostname {hostname_in_new_ns}; echo ready; exec sleep 300"],
                          stdout=subprocess.PIPE, text=True)
fd = pin = None
try:
    assert holder.stdout.readline().strip() == "ready"
    inode = ns_inodes(holder.pid)["uts"]
    fd = os.open(f"/proc/{holder.pid}/ns/uts", os.O_RDONLY)
    holder.kill(); holder.wait()
    assert not os.path.exists(f"/proc/{holder.pid}"), "its last process is gone"
    assert os.fstat(fd).st_ino == inode, "the fd still refers to the same namespace"
    seen = subprocess.run(["nsenter", f"--uts=/proc/{os.getpid()}/fd/{fd}", "hostname"],
                          capture_output=True, text=True, check=True).stdout.strip()
    print(f"process {holder.pid} has exited; through fd {fd}, uts:[{inode}] still has hostname {seen!r}")
    assert seen == hostname_in_new_ns

    # the same with a bind mount instead of an fd: what `ip netns add` does for a net namespace
    import tempfile
    pin = tempfile.NamedTemporaryFile(prefix="bocker-lab-uts-", delete=False).name
    subprocess.run(["mount", "--bind", f"/proc/{os.getpid()}/fd/{fd}", pin], check=True)
    os.close(fd); fd = None
    seen = subprocess.run(["nsenter", f"--uts={pin}", "hostname"], capture_output=True, text=True, check=True).stdout.strip()
    print(f"fd closed; through the bind mount {pin}, the namespace still has hostname {seen!r}")
    assert seen == hostname_in_new_ns and os.stat(pin).st_ino == inode
finally:
    if holder.poll() is None:
        holder.kill(); holder.wait()
    holder.stdout.close()
    if fd is not None:
        os.close(fd)
    if pin is not None:
        subprocess.run(["umount", pin], capture_output=True)
        os.unlink(pin)
print("unmounted and closed: nothing refers to the namespace any more, so the Linux kernel frees it")
"""),
    code("""
# the host as we found it: no mount of ours left
assert not [l for l in open("/proc/self/mounts") if "bocker-lab-uts-" in l]
"""),
]

NOTEBOOKS["02-ipc-uts"] = [
    md("""
# 02 · IPC and UTS namespaces with two live shells (article 2.1.4.1)

The article opens two terminals. **Shell A** stays in the host's namespaces and makes a System V
message queue with `ipcmk -Q`. **Shell B** runs `unshare -iu /bin/bash`: a new bash in a new IPC and
a new UTS namespace, and sets its hostname to `shell-B`. B does not see A's queue, and A's hostname
is unchanged. Before that, the article checks that B *does* see A's queue while it is still in the
host's namespaces: the control that makes the empty list afterwards mean something. Then A joins B's namespaces with `nsenter -t PID -u -i /bin/bash` and sees `shell-B`
and no queue.

Both shells below are real `bash` processes, driven from this notebook; each step shows what each
terminal printed, side by side. The queue is removed at the end.
"""),
    code("""
# parameters
new_hostname = "shell-B"
""", P),
    code("""
import re
from bocker_magics.lab.shells import LiveShell, ShellPair
from bocker_magics.views import NamespaceTable
A, B = LiveShell("A"), LiveShell("B")
queue_id = None

def cleanup():   # also runs when a cell fails and the Jupyter kernel stops
    import subprocess
    if queue_id is not None:
        subprocess.run(["ipcrm", "-q", str(queue_id)], capture_output=True)
    A.close(); B.close()

import atexit; atexit.register(cleanup);
"""),
    md("""
## Step 1 — where both shells start: the same uts and ipc namespaces, the same hostname, no queue yet

The article's shell A first looks at its namespaces, its hostname and its message queues: `ipcs -q`
lists none (on a machine where another program made queues, they would show here; this notebook
looks only for the one it makes).
"""),
    code("""
def queue_ids(ipcs_output):
    # the msqid column of `ipcs -q` (key, msqid, owner, perms, used-bytes, messages)
    return {int(line.split()[1]) for line in ipcs_output.splitlines() if line.startswith("0x")}

m = ShellPair(A, B).mark()
A.run("readlink /proc/$$/ns/uts /proc/$$/ns/ipc"); A.run("hostname")
queues_before = queue_ids(A.run("ipcs -q"))
B.run("readlink /proc/$$/ns/uts /proc/$$/ns/ipc"); B.run("hostname")
host_name = A.run("hostname").strip()
display(ShellPair(A, B, since=m, title="before"))
before = NamespaceTable.of({"shell A": A.pid, "shell B": B.pid})
assert not before.differs("shell B", "uts") and not before.differs("shell B", "ipc")
before
"""),
    md("""
## Step 2 — A makes a message queue; B, still in the same namespaces, sees it (the control step)

Before B makes namespaces of its own, it runs `ipcs -q` and sees A's queue: both shells are in the
same IPC namespace, so the queue is visible to both. Without this step, the empty list in step 3
would prove nothing.
"""),
    code("""
m = ShellPair(A, B).mark()
out = A.run("ipcmk -Q")
queue_id = int(re.search(r"id: (\\d+)", out).group(1))
assert queue_id not in queues_before, "a new queue"
a_sees = queue_ids(A.run("ipcs -q"))
b_sees_before = queue_ids(B.run("ipcs -q"))
display(ShellPair(A, B, since=m, title="A: ipcmk -Q; B: ipcs -q (same namespaces)"))
assert queue_id in a_sees, "A sees its queue"
assert queue_id in b_sees_before, "B, in the same IPC namespace, sees A's queue too"
"""),
    md("## Step 3 — B makes new uts and ipc namespaces (`unshare -iu /bin/bash`), sets a hostname; A's queue is gone from its view"),
    code("""
m = ShellPair(A, B).mark()
b_pid = B.enter("unshare -iu /bin/bash")
B.run("readlink /proc/$$/ns/uts /proc/$$/ns/ipc")
B.run(f"hostname {new_hostname}"); B.run("hostname")
b_queues = B.run("ipcs -q")
B.run("echo $$")
A.run("hostname"); a_after = A.run("ipcs -q")
display(ShellPair(A, B, since=m, title="B: unshare -iu /bin/bash; A: hostname, ipcs -q"))
assert queue_id in queue_ids(a_after), "A still sees its queue"
assert queue_id not in queue_ids(b_queues), "B, in its new IPC namespace, does not see A's queue"
assert B.run("hostname").strip() == new_hostname and A.run("hostname").strip() == host_name, "and A's hostname is unchanged"
"""),
    code("""
after_unshare = NamespaceTable.of({"shell A": A.pid, "shell B (unshare -iu)": b_pid})
assert after_unshare.differs("shell B (unshare -iu)", "uts") and after_unshare.differs("shell B (unshare -iu)", "ipc")
assert not after_unshare.differs("shell B (unshare -iu)", "mnt") and not after_unshare.differs("shell B (unshare -iu)", "net")
after_unshare
"""),
    md("""
## Step 4 — A enters B's namespaces with `nsenter -t PID -u -i`

`nsenter` opens `/proc/PID/ns/uts` and `ipc` of B's bash and `setns()`s into them before it starts a
new bash. In there, A sees B's hostname and B's (empty) set of queues.
"""),
    code("""
m = ShellPair(A, B).mark()
a_inside = A.enter(f"nsenter -t {b_pid} -u -i /bin/bash")
A.run("readlink /proc/$$/ns/uts /proc/$$/ns/ipc")
seen_name = A.run("hostname").strip()
a_queues = A.run("ipcs -q")
display(ShellPair(A, B, since=m, title=f"A: nsenter -t {b_pid} -u -i /bin/bash"))
assert seen_name == new_hostname, "inside B's uts namespace A sees B's hostname"
assert queue_id not in queue_ids(a_queues), "and not its own queue"
inside = NamespaceTable.of({"shell A (nsenter)": a_inside, "shell B": b_pid})
assert inside.inode("shell A (nsenter)", "uts") == inside.inode("shell B", "uts")
assert inside.inode("shell A (nsenter)", "ipc") == inside.inode("shell B", "ipc")
inside
"""),
    md("## Step 5 — A leaves; it is back in the host's namespaces with its queue. Cleanup."),
    code("""
try:
    A.leave()
    assert A.run("hostname").strip() == host_name and str(queue_id) in A.run("ipcs -q")
finally:
    cleanup()
display(ShellPair(A, B, title="the whole session"))
assert A.proc.poll() is not None and B.proc.poll() is not None
print("queue removed, both shells closed")
"""),
]

NOTEBOOKS["03-net-namespace"] = [
    md("""
# 03 · Net namespaces: a veth pair between r1 and r2 (article 2.1.4.2)

A network namespace has its own interfaces, addresses, routes, firewall and sockets; a new one has
only `lo`, and `lo` is down until someone brings it up. The article makes a veth pair (a virtual cable: what goes in one end comes out of
the other), two namespaces r1 and r2, puts one end in each, gives them 172.18.0.11/24 and
172.18.0.12/24, brings them up and pings both ways.

Here every step is a pyroute2 (netlink) call, shown beside the `ip` command it replaces. The
namespaces get names of their own (`bkl-r1-…`, `bkl-r2-…`) so they cannot clash with anything on the
machine. The article's addresses are safe to use even next to the engine's bridge (bocker0,
172.18.0.1/24): r1 and r2 have their own routing tables, so nothing outside them sees these
addresses. All traffic stays inside the two namespaces.
"""),
    code("""
# parameters
addr1 = "172.18.0.11/24"
addr2 = "172.18.0.12/24"
ping_count = 2
""", P),
    code("""
from IPython.display import Image, display
from bocker_magics.lab.netns import NetnsDemo, link_names, addresses
demo = NetnsDemo(addr1, addr2)
import atexit; atexit.register(demo.close)   # also when a cell fails and the Jupyter kernel stops
print("r1 =", demo.r1, " r2 =", demo.r2, " veth:", demo.veth0, "<->", demo.veth1)
"""),
    md("""
## The steps, in the article's order, with `ip address` after each

Each step is made with a pyroute2 (netlink) call (below the article's `ip` command in the table);
after it, the real `ip address` runs where the step changed something, and its output is shown as
the article shows it. What to look for:

1. the new veth pair: two links, `state DOWN`, each named `NAME@PEER`;
2. a new network namespace holds only `lo`, and it is **DOWN** (`<LOOPBACK>`, `state DOWN`, no address);
3. moved, the veth ends are gone from this namespace and appear in r1 and r2;
4. r1's end has its address and is up, but its peer is still down: `NO-CARRIER`, `state LOWERLAYERDOWN`;
5. once r2's end is up too, both are `LOWER_UP`, `state UP`;
6. the article stops there (ping across the veth needs no `lo`); here `lo` is brought up too, so
   that 127.0.0.1 answers inside each namespace: it shows `UP,LOWER_UP`, `state UNKNOWN` (loopback
   has no carrier to report) and `inet 127.0.0.1/8`.
"""),
    code("""
try:
    steps = demo.run_all()
except BaseException:
    demo.close()
    raise
veth, netns_add, moved, conf1, conf2, lo_up = steps.steps
assert "state DOWN" in veth.ip_a and f"{demo.veth0}@{demo.veth1}" in veth.ip_a, "a new veth pair is down"
lo_line = next(l for l in netns_add.ip_a.splitlines() if ": lo:" in l)
assert "<LOOPBACK>" in lo_line and "state DOWN" in lo_line, "a new netns: only lo, and lo is DOWN"
assert "inet " not in netns_add.ip_a and demo.veth0 not in netns_add.ip_a
assert demo.veth0 not in link_names() and demo.veth1 not in link_names(), "both ends left this namespace"
assert set(link_names(demo.path("r1"))) == {"lo", demo.veth0} and set(link_names(demo.path("r2"))) == {"lo", demo.veth1}
v0_line = next(l for l in conf1.ip_a.splitlines() if f": {demo.veth0}@" in l)
assert "NO-CARRIER" in v0_line and "state LOWERLAYERDOWN" in v0_line, "up, but its peer is still down"
assert f"inet {addr1}" in conf1.ip_a
v1_line = next(l for l in conf2.ip_a.splitlines() if f": {demo.veth1}@" in l)
assert "LOWER_UP" in v1_line and "state UP" in v1_line, "both ends up: the cable carries"
assert demo.state(demo.veth0, "r1") == "UP" and demo.state(demo.veth1, "r2") == "UP"
lo_line = next(l for l in lo_up.ip_a.splitlines() if ": lo:" in l)
assert "UP,LOWER_UP" in lo_line and "state UNKNOWN" in lo_line and "inet 127.0.0.1/8" in lo_up.ip_a
assert (demo.veth0, addr1) in addresses(demo.path("r1")) and (demo.veth1, addr2) in addresses(demo.path("r2"))
steps
"""),
    md("## The topology"),
    code("""
display(Image(demo.topology_png()))
"""),
    md("## Ping both ways (`ip netns exec r1 ping 172.18.0.12`, and back)"),
    code("""
try:
    there = demo.ping("r1", demo.ip2, ping_count)
    back = demo.ping("r2", demo.ip1, ping_count)
    print(f"# in {demo.r1}: ping {demo.ip2}\\n{there.stdout}")
    print(f"# in {demo.r2}: ping {demo.ip1}\\n{back.stdout}")
    assert there.returncode == 0 and f"{ping_count} packets received" in there.stdout
    assert back.returncode == 0 and f"{ping_count} packets received" in back.stdout
finally:
    demo.close()   # ip netns delete r1 r2: the veth pair goes with them
"""),
    code("""
import os
assert not os.path.exists(demo.path("r1")) and not os.path.exists(demo.path("r2"))
assert demo.veth0 not in link_names() and demo.veth1 not in link_names()
print("both namespaces deleted; the veth pair went with them")
"""),
]

NOTEBOOKS["04-cgroups"] = [
    md("""
# 04 · cgroups: tasks, groups, subsystems, hierarchies; limits, a CPU hog and a memory hog (article 2.2)

Namespaces decide what a process can *see*; cgroups decide how much it may *use*, and count what it
used. The article's four words, each made concrete in this notebook:

* **task**: a process. Every task is in exactly one group of each tree.
* **cgroup**: a group of tasks, a directory in a tree; its files hold the limits and the accounting
  (`cgroup.procs` lists its tasks).
* **subsystem** (controller): the part of the Linux kernel that limits or counts one resource (`cpu`,
  `cpuacct`, `memory`, `cpuset`, `pids`, ...), acting on every group of the tree it is attached to.
* **hierarchy**: a tree of groups, mounted as a filesystem (cgroup v1: one tree per subsystem, or per
  set of subsystems mounted together; cgroup v2: one tree for all).

First what this machine has (`/proc/cgroups`, `/proc/self/cgroup`, `mount | grep cgroup`), then the
article's `cgcreate`, `cgset` and `cgexec` done with the engine's cgroup driver (v1 or v2, chosen for
this machine): a group with cpu shares, a CPU quota, a cpuset and a memory limit; a CPU hog held to
its quota on its CPU; two hogs sharing one CPU 1:2 by their shares; a memory hog ended by the OOM
killer. Every group lives under a parent directory of this notebook's own, removed at the end.
"""),
    code("""
# parameters
memory_limit_mb = 64
cpu_shares = 512
cpus = 0.5          # CPU quota, in CPUs
cpuset = "0"        # CPUs the group may run on
hog_seconds = 3
""", P),
    md("""
## `/proc/cgroups`: the subsystems and the tree each is attached to

One line per subsystem; the fields (the article explains them below its example):
`subsys_name`; `hierarchy`, the id of the tree it is attached to (subsystems with the same id share
one tree; 0 when it is attached to no v1 tree: bound to the v2 tree, not mounted, or disabled);
`num_cgroups`, how many groups that tree holds; `enabled`.
"""),
    code("""
import os, subprocess
import pandas as pd
from IPython.display import display
from bocker_magics.engine import Limits
from bocker_magics.lab.cgroups import (proc_cgroups_frame, cgroup_mode, hierarchy_notes, mount_grep_cgroup,
                                       cgroup_lines, task_frame, allowed_cpus, LabGroup, CPU_HOG, memory_hog)
mode, meaning = cgroup_mode()
print(f"cgroup mode on this machine: {mode}\\n{meaning}\\n")
print("# cat /proc/cgroups"); print(open("/proc/cgroups").read())
subsystems = proc_cgroups_frame()
for note in hierarchy_notes(subsystems):
    print("-", note)
assert list(subsystems.columns) == ["hierarchy", "num_cgroups", "enabled"]
assert {"cpu", "memory"} <= set(subsystems.index)
subsystems
"""),
    md("""
## `/proc/self/cgroup`: which group this process is in, in every tree

Three columns separated by `:` — the tree's id (the `hierarchy` of `/proc/cgroups`), the subsystems
attached to it (`name=systemd`: a tree with no subsystem, only named; empty: the v2 tree, id 0), and
the group's path in that tree, relative to where the tree is mounted.
"""),
    code("""
print("# cat /proc/self/cgroup"); print(open("/proc/self/cgroup").read())
mine = pd.DataFrame(cgroup_lines(), columns=["hierarchy (tree id)", "subsystems", "path in the tree"])
ids = dict(zip(subsystems.index, subsystems["hierarchy"]))
for hid, ctrls, path in cgroup_lines():
    for ctrl in filter(lambda c: c in ids, ctrls.split(",")):
        assert ids[ctrl] == hid, f"{ctrl}: the same tree id in both files"
mine
"""),
    md("""
## `mount | grep cgroup`: each tree is a mounted filesystem

Every v1 tree is a mount of type `cgroup` whose options name its subsystems (`cpu`, `memory`, or
`name=systemd`); the v2 tree is a mount of type `cgroup2`. A group is a directory on one of them.
(`/proc/cgroups` is the whole machine's; mounts are per mount namespace, so a tree that a program
mounted only in its own mount namespace, a container engine's for instance, has an id there and no
line here.)
"""),
    code("""
print("# mount | grep cgroup"); mounted = mount_grep_cgroup(); print(mounted)
v1_mounts = [l for l in mounted.splitlines() if " type cgroup " in l]
for line in v1_mounts:   # each mounted v1 tree: its subsystems have its tree id in /proc/cgroups
    options = line.split("(")[1].rstrip(")").split(",")
    ours = [o for o in options if o in subsystems.index]
    assert all(subsystems.loc[o, "hierarchy"] > 0 for o in ours), line
    assert len({int(subsystems.loc[o, "hierarchy"]) for o in ours}) <= 1, "one tree per mount"
assert mode == "v2" or v1_mounts
"""),
    md("""
## cgcreate + cgset

`cgcreate -g cpu,cpuacct,memory,cpuset:GROUP`, then `cgset -r cpu.shares=…`, `cpu.cfs_quota_us`,
`cpuset.cpus=…` and `memory.limit_in_bytes=…` (on cgroup v2: `cpu.weight`, `cpu.max`, `cpuset.cpus`,
`memory.max`). The driver makes the group's directory in each tree and writes the right files for
this machine's version; below, the files read back as `cgget` prints them: `file = value`.
"""),
    code("""
group = LabGroup(Limits(memory=memory_limit_mb << 20, cpu_shares=cpu_shares, cpus=cpus), cpuset=cpuset)
share_groups = []
def close_all():   # the share groups first (they sit beside the demo group), then the demo group and the parent
    for g in reversed(share_groups):
        g.close()
    group.close()
import atexit; atexit.register(close_all)   # also when a cell fails and the Jupyter kernel stops
display(pd.DataFrame(sorted(group.paths().items()), columns=["subsystem", "group directory"]))
settings = group.settings()
if mode == "v2":
    assert settings["memory.max"] == str(memory_limit_mb << 20) and settings["cpuset.cpus"] == cpuset
    assert settings["cpu.max"].split()[0] == str(int(cpus * int(settings["cpu.max"].split()[1])))
else:
    assert settings["memory.limit_in_bytes"] == str(memory_limit_mb << 20) and settings["cpuset.cpus"] == cpuset
    assert settings["cpu.shares"] == str(cpu_shares)
    assert int(settings["cpu.cfs_quota_us"]) == int(cpus * int(settings["cpu.cfs_period_us"]))
settings
"""),
    md("""
## cgexec a CPU hog: task -> cgroup -> tree -> subsystem

A shell joins the group (writes its pid into each tree's `cgroup.procs`) and execs an endless loop.
The hog's own `/proc/PID/cgroup` now names our group in each tree it joined, and each of those
groups' `cgroup.procs` lists its pid: one task, one group per tree, each tree with its subsystems.
"""),
    code("""
hog = group.exec(CPU_HOG)
import time; time.sleep(0.2)
print(f"# cat /proc/{hog.pid}/cgroup"); print(open(f"/proc/{hog.pid}/cgroup").read())
tasks = task_frame(hog.pid)
ours = tasks[tasks["cgroup (path in the tree)"].str.endswith(f"/{group.parent}/{group.name}")]
assert len(ours) >= 1 and ours["pid in cgroup.procs"].all(), "the hog is listed in its groups' cgroup.procs"
joined = {s for subs in ours["subsystems"] for s in subs.split(",")}
assert mode == "v2" or {"cpu", "memory", "cpuset"} <= joined
print(f"# cat {group.paths()['cpuset']}/cgroup.procs"); print(open(f"{group.paths()['cpuset']}/cgroup.procs").read())
tasks
"""),
    md("""
## The quota and the cpuset, measured

With a quota of `cpus` CPUs (`cpu.cfs_quota_us` / `cpu.cfs_period_us`), the accounting shows the hog
held at most at that share of one CPU (less, when other work on the machine shares the cpuset's
CPU); with `cpuset.cpus`, the Linux kernel runs it only on those CPUs: its
`Cpus_allowed_list` says so, and the CPU it last ran on (field 39 of `/proc/PID/stat`) is always one
of them.
"""),
    code("""
handle = display("starting…", display_id=True)
cpu = group.sample(hog, hog_seconds, 0.25, on_sample=lambda f: handle.update(f.tail(4)))
allowed = allowed_cpus(hog.pid)
hog.kill(); hog.wait()
handle.update(cpu)
used = cpu["cpu_percent"].dropna().iloc[2:].mean()
ran_on = sorted(set(cpu["on_cpu"].dropna().astype(int)))
print(f"mean CPU use: {used:.0f}% of one CPU (quota {cpus * 100:.0f}%); Cpus_allowed_list: {allowed}; ran on CPU {ran_on}")
assert used <= cpus * 100 * 1.25 + 5, "the quota holds the hog down"
assert used >= 5, "and the hog does run (less than its quota when other work shares its CPU)"
assert allowed == cpuset and ran_on == [int(c) for c in cpuset.split(",")], "only on the cpuset's CPUs"
"""),
    md("""
## cpu.shares: two hogs on one CPU, 1:2

`cpu.shares` (v2: `cpu.weight`) is not a cap: it only matters when groups compete for a CPU. Two
groups beside each other, with 512 and 1024 shares, no quota, both pinned by their cpuset to the same
CPU, each run a hog: the Linux kernel's scheduler gives the second about twice the CPU time of the
first. (Other work on that CPU takes its part too; the ratio between the two holds.)
"""),
    code("""
for shares in (512, 1024):
    share_groups.append(LabGroup(Limits(cpu_shares=shares), cpuset=cpuset, name=f"shares-{shares}"))
for g in share_groups:
    display(g.settings())
hogs = [g.exec(CPU_HOG) for g in share_groups]
time.sleep(0.5)
t0, start = time.monotonic(), [g.stats().cpu_seconds for g in share_groups]
time.sleep(hog_seconds)
elapsed, used = time.monotonic() - t0, [g.stats().cpu_seconds - s for g, s in zip(share_groups, start)]
for h in hogs:
    h.kill(); h.wait()
race = pd.DataFrame({"cpu.shares": [512, 1024], "CPU seconds": [round(u, 2) for u in used],
                     "% of one CPU": [round(100 * u / elapsed) for u in used]}, index=[g.name for g in share_groups])
ratio = used[1] / used[0]
print(f"the 1024-share hog got {ratio:.2f}x the CPU time of the 512-share one")
assert 1.4 <= ratio <= 2.9, "about 1:2"
race
"""),
    md("""
## cgexec a memory hog: the OOM kill

It allocates 2 MiB every 0.1 s and writes it. The group's memory grows to the limit; then the Linux kernel's
OOM killer kills it (SIGKILL: exit status -9), and the group's OOM counter goes up.
"""),
    code("""
mem_hog = group.exec(memory_hog())
handle = display("starting…", display_id=True)
mem = group.sample(mem_hog, 30, 0.1, on_sample=lambda f: handle.update(f.tail(4)))
status = mem_hog.wait(10)
handle.update(mem)
final = group.stats()
print(f"exit status {status}; peak {final.memory_peak / 2**20:.1f} MiB of {memory_limit_mb} MiB; oom kills {final.oom_kills}")
assert status == -9, "killed by SIGKILL"
assert final.oom_kills >= 1, "by the OOM killer"
assert final.memory_peak <= (memory_limit_mb << 20) + (1 << 20)
"""),
    md("""
## The two hogs over time

The CPU hog's use on a 0-100 % axis of one CPU, against its quota; the memory hog's usage against
its limit, up to the OOM kill.
"""),
    code("""
import io
from matplotlib.figure import Figure
from matplotlib.backends.backend_agg import FigureCanvasAgg
from IPython.display import Image
fig = Figure(figsize=(8, 2.8), dpi=72); FigureCanvasAgg(fig)
a, b = fig.subplots(1, 2)
a.plot(cpu["time_s"], cpu["cpu_percent"], marker=".", label="the hog's CPU use")
a.axhline(cpus * 100, ls="--", c="grey", label=f"quota ({cpus * 100:.0f} %)")
a.set_ylim(0, 100); a.set_title("CPU hog: % of one CPU"); a.set_xlabel("s"); a.set_ylabel("%"); a.legend(loc="lower right")
b.plot(mem["time_s"], mem["memory_mib"], marker=".", c="tab:red", label="memory usage")
b.axhline(memory_limit_mb, ls="--", c="grey", label=f"limit ({memory_limit_mb} MiB)")
b.set_ylim(0, memory_limit_mb * 1.15); b.set_title("memory hog: MiB"); b.set_xlabel("s"); b.legend(loc="lower right")
fig.tight_layout(); buf = io.BytesIO(); fig.savefig(buf, format="png")
assert a.get_ylim() == (0, 100) and a.get_legend() is not None and b.get_legend() is not None
Image(buf.getvalue())
"""),
    md("## Cleanup: the groups and their parent directories go"),
    code("""
paths = [p for g in [group, *share_groups] for p in g.paths().values()]
close_all()
assert not any(os.path.isdir(p) for p in paths)
assert not any(os.path.isdir(os.path.dirname(p)) for p in paths), "the parent dir is gone too"
print("removed:", *sorted(set(map(os.path.dirname, paths))), sep="\\n  ")
"""),
]

NOTEBOOKS["05-overlayfs"] = [
    md("""
# 05 · overlayfs: lower, upper, work, merged (article 2.3)

A container's root is a union mount: read-only image layers (`lowerdir`, one or several) under one
writable layer (`upperdir`), seen through `merged`; `workdir` is overlayfs's scratch space (emptied
at mount, used for atomic copy-ups, never shown to the user). The article's rules:

* a file in both layers is read from the upper one (upper wins); of several lowerdirs, the one
  written first in `lowerdir=` is nearest to merged (2.3.3);
* a new file made through merged lands in the upper dir;
* the first write to a lower file copies it up into the upper dir; the lower copy never changes;
* deleting a file that exists in a lower layer leaves a *whiteout* in the upper dir — a character
  device 0, 0 (`c---------` in `ls -l`) — which hides it in `merged`.

After each step `tree .` shows the four dirs as the article does, and a LayerDiff shows what the
upper dir adds, changes and deletes relative to the lower (what `docker diff` shows for a container).
"""),
    code("""
# parameters
appended_text = "written through merged"
""", P),
    code("""
import os, subprocess
from bocker_magics.lab.overlay import OverlayDemo, LayerOrder, is_whiteout, mounts_of
demo = OverlayDemo()
import atexit; atexit.register(demo.close)   # also when a cell fails and the Jupyter kernel stops
print(demo.tree())
demo.listing_frame()
"""),
    md("## Mount"),
    code("""
try:
    print("#", demo.command)
    print("# mount | grep overlay (this one)"); print(demo.mount())
except BaseException:
    demo.close(); raise
print(demo.tree())
assert sorted(os.listdir(demo.merged)) == ["in_both", "in_lower", "in_upper"]
assert os.listdir(demo.work) == ["work"], "overlayfs made work/work: its scratch space"
display(demo.listing_frame())
demo.diff("after mount")
"""),
    md("## Upper wins on read"),
    code("""
print("merged/in_both:", demo.read("in_both"))
assert demo.read("in_both") == demo.read("in_both", "upper") != demo.read("in_both", "lower")
"""),
    md("## A new file made through merged lands in upper (`touch merged/new_file`)"),
    code("""
subprocess.run(["touch", "merged/new_file"], cwd=demo.base, check=True)
print(demo.tree())
assert (demo.upper / "new_file").exists() and not (demo.lower / "new_file").exists()
d = demo.diff("after touch merged/new_file")
assert d.paths("A") == ["/in_upper", "/new_file"] or "/new_file" in d.paths("A")
d
"""),
    md("## The first write to a lower file copies it up"),
    code("""
assert not (demo.upper / "in_lower").exists()
with open(demo.merged / "in_lower", "a") as f:
    f.write(appended_text + "\\n")
assert (demo.upper / "in_lower").exists(), "copied up on the first write"
assert appended_text in demo.read("in_lower", "upper") and appended_text not in demo.read("in_lower", "lower")
display(demo.listing_frame())
d = demo.diff("after writing in_lower")
assert "/in_lower" in d.paths("C")
d
"""),
    md("""
## Delete leaves a whiteout (`rm -f merged/in_both`, then `ls -l upper/in_both`)

`tree` shows `in_both` gone from merged and still in upper (and in lower, untouched); `ls -l` shows what
upper's `in_both` now is: a character device, number 0, 0. (Recent Linux kernels may also keep a
spare whiteout, `#…`, in `work/work` to make the next one faster: overlayfs's scratch space at work.)
"""),
    code("""
subprocess.run(["rm", "-f", "merged/in_both"], cwd=demo.base, check=True)
print(demo.tree())
line = demo.ls_l("upper/in_both")
print("# ls -l upper/in_both"); print(line)
assert line.startswith("c---------") and " 0, 0 " in line, "a character device 0, 0, as in the article"
assert is_whiteout(demo.upper / "in_both")
assert (demo.lower / "in_both").exists() and not (demo.merged / "in_both").exists()
display(demo.listing_frame())
d = demo.diff("after deleting in_both")
assert d.paths("D") == ["/in_both"]
d
"""),
    md("""
## Several lowerdirs: the first one written is nearest to merged (article 2.3.3)

Image layers are lowerdirs: `lowerdir=top:…:bottom`. Two lower dirs both hold `same`; mounted as
`lowerdir=lowerA:lowerB`, merged shows lowerA's copy; mounted the other way round, lowerB's. Files
in only one of them show either way. (With no upperdir, the overlay is read-only.)
"""),
    code("""
order = LayerOrder()
try:
    print("#", order.command(("lowerA", "lowerB")))
    ab = order.mount(("lowerA", "lowerB")); print(ab)
    print("#", order.command(("lowerB", "lowerA")))
    ba = order.mount(("lowerB", "lowerA")); print(ba)
finally:
    order.close()
assert ab == {"only_in_A": "A", "only_in_B": "B", "same": "from lowerA"}
assert ba == {"only_in_A": "A", "only_in_B": "B", "same": "from lowerB"}
assert not order.base.exists()
"""),
    md("## Cleanup: unmount, remove the scratch dir"),
    code("""
base = demo.base
demo.close()
assert not mounts_of(base) and not base.exists()
print("unmounted and removed", base)
"""),
]


NOTEBOOKS["06-bocker"] = [
    md("""
# 06 · Bocker through the magics (article 3.1)

The article ends with Bocker, a Docker in ~130 lines of bash: `init` an image from a directory,
`pull` one from a registry, `images`, `run` with cgroup limits, `ps`, `exec` into a running
container, `logs`, `commit`, and `rm`. Here the same verbs run on this toolkit's engine through the
`%bocker` magics, and the views show what the Linux kernel holds for a running container: its namespace
inodes against the host's, its cgroup accounting, and its layer diff.

**The pull is real.** With `registry = "local"` (the default) the notebook starts Debian's
`docker-registry` on 127.0.0.1, fills it with `%bocker push`, and pulls from it: nothing leaves the
machine. With `registry = "docker.io"` it pulls `busybox` from Docker Hub instead (for machines that
reach it). The engine's default bridge network (bocker0, 172.18.0.1/24) is made in the network
namespace the Jupyter kernel runs in; the report command runs every Jupyter kernel in a fresh one.
"""),
    code("""
# parameters
registry = "local"          # "local": a registry on 127.0.0.1 filled by %bocker push; "docker.io": Docker Hub
image = "busybox"
memory = "64m"
cpu_shares = 512
""", P),
    code("""
%load_ext bocker_magics
from bocker_magics.lab.registry import LocalRegistry
import atexit
reg = None

def cleanup():
    # what this Jupyter kernel made (containers, images) and the registry; also runs when the
    # Jupyter kernel stops after a failed cell
    global reg
    %bocker cleanup
    if reg is not None:
        reg.close(); reg = None

atexit.register(cleanup);
"""),
    md("""
## init: an image from a directory, and the built-in busybox image

The seed's `bocker init DIR` copies a directory into a new image (`img_…`) and remembers where it
came from. Here a directory with a static busybox (as `/bin/sh` and `/bin/cat`) and one file becomes
an image; a container of it reads that file. Then `init --busybox` makes the built-in `busybox` image
the same way from the host's static busybox, offline.
"""),
    code("""
import os, shutil, tempfile
rootdir = tempfile.mkdtemp(prefix="bocker-lab-init-")
os.makedirs(f"{rootdir}/bin")
shutil.copy(shutil.which("busybox"), f"{rootdir}/bin/busybox")
for tool in ("sh", "cat"):
    os.symlink("busybox", f"{rootdir}/bin/{tool}")
with open(f"{rootdir}/hello.txt", "w") as f:
    f.write("made by init from a directory\\n")
try:
    %bocker init --out from_dir $rootdir
    %bocker run --rm --network none --out read_back {from_dir.id} cat /hello.txt
finally:
    shutil.rmtree(rootdir)   # init copied it: the image does not need it
assert from_dir.id.startswith("img_") and read_back.text == "made by init from a directory\\n"
%bocker init --busybox
"""),
    md("## pull"),
    code("""
if registry == "local":
    reg = LocalRegistry()
    source = f"{reg.host}/lab/{image}:latest"
    print(f"Docker Hub is not used: pulling from a registry on {reg.host} (docker-registry), filled with %bocker push")
    %bocker push busybox $source
else:
    source = f"docker.io/library/{image}:latest"
    print("pulling from Docker Hub")
%bocker pull --out pulled $source
assert source in pulled.images[0].names
%bocker images
"""),
    md("## run with limits (detached), ps, exec, logs"),
    code("""
%bocker run -d --name nb-bocker -m $memory --cpu-shares $cpu_shares --out run $source 'echo hello from $(hostname); echo data > /made-here; while true; do sleep 0.2; done'
%bocker ps
"""),
    code("""
import time
for _ in range(100):   # the container writes the file as it starts
    %bocker exec --quiet --no-raise-error --out probe nb-bocker cat /made-here
    if probe.text.strip() == "data":
        break
    time.sleep(0.1)
%bocker exec --quiet --out ex nb-bocker cat /made-here
assert ex.exit_code == 0 and ex.text.strip() == "data"
%bocker exec nb-bocker sh -c 'echo inside: $(hostname); ps'
"""),
    code("""
%bocker logs --out log nb-bocker
print(log)
assert "hello from" in log
"""),
    md("""
## The container's network, as the seed makes it

The seed script gives each container a veth pair: one end (`veth0_ID`) on the host, plugged into the
bridge `br1` (172.18.0.1/24), the other (`veth1_ID`) in the container's network namespace with an
address 172.18.0.x/24, a default route via 172.18.0.1, `lo` up, and an `/etc/resolv.conf`. The engine
does the same with its bridge `bocker0`: inside the container, `ip addr`, `ip route` and
`resolv.conf`; outside, the host end of the veth with `master bocker0`; and a ping from inside to the
gateway, the bridge's address.
"""),
    code("""
%bocker inspect --out info nb-bocker
net = info["Network"]
%bocker exec --quiet --out addr nb-bocker ip addr
%bocker exec --quiet --out route nb-bocker ip route
%bocker exec --quiet --out resolv nb-bocker cat /etc/resolv.conf
print("# inside: ip addr", addr.text, "# inside: ip route", route.text, "# inside: cat /etc/resolv.conf", resolv.text, sep="\\n")
import subprocess
outside = subprocess.run(["ip", "link", "show", net["HostVeth"]], capture_output=True, text=True).stdout
bridge = subprocess.run(["ip", "addr", "show", "bocker0"], capture_output=True, text=True).stdout
print(f"# outside: ip link show {net['HostVeth']}", outside, "# outside: ip addr show bocker0", bridge, sep="\\n")
%bocker exec --quiet --no-raise-error --out ping nb-bocker ping -c 1 -W 2 {net["Gateway"]}
print(f"# inside: ping -c 1 {net['Gateway']}", ping.text, sep="\\n")
assert f"inet {net['Address']}/{net['PrefixLen']}" in addr.text and net["Address"].startswith("172.18.0.")
assert "lo:" in addr.text and "127.0.0.1" in addr.text, "lo up, as the seed's ip link set dev lo up"
assert f"default via {net['Gateway']}" in route.text and net["Gateway"] == "172.18.0.1"
assert resolv.exit_code == 0
assert "master bocker0" in outside and f"inet {net['Gateway']}/24" in bridge
assert ping.exit_code == 0 and "1 packets received" in ping.text
"""),
    md("""
## The seed script's lines, and the engine's steps that do the same

| the seed script (`bocker_run`) | the engine |
|---|---|
| `uuid="ps_$(shuf -i 42002-42254 -n 1)"` | a random `ps_…` id; a name if `--name` is given |
| `ip link add dev veth0_$uuid type veth peer name veth1_$uuid`; `ip link set veth0_$uuid master br1` | `engine/network`: a veth pair by netlink (pyroute2), the host end `vb…` in bridge `bocker0` (made on first use) |
| `ip netns add netns_$uuid`; `ip link set veth1_$uuid netns netns_$uuid` | the container's own network namespace (made by its pid 1, `unshare`), the other end moved into it |
| `ip netns exec … ip link set dev lo up`, `ip addr add 172.18.0.x/24`, `ip route add default via 172.18.0.1` | the same by netlink: `lo` up, an address leased from the network's pool, the default route |
| `echo 'nameserver 114.114.114.114' > …/merged/etc/resolv.conf` | `/etc/resolv.conf` from the host's usable nameservers (never a hard-coded public one), or `--dns` |
| `mkdir -p …/{lower,upper,work,merged}`; `cp -rf` the image into lower; `mount -t overlay …` | the image's layers are lowerdirs as they are (no copy), an upper and a work dir per container, `merged` |
| `cgcreate -g cpu,cpuacct,memory:/$uuid`; `cgset -r cpu.shares=512`; `cgset -r memory.limit_in_bytes=512000000` | `kernel/cgroups` (v1 or v2 driver): a group under `bocker/`, `cpu.shares` (v2 `cpu.weight`), the memory limit |
| `cgexec -g …:$uuid` | the container's pid 1 writes itself into the group's `cgroup.procs` before it runs anything |
| `ip netns exec netns_$uuid` | the network namespace above |
| `unshare -fmuip --mount-proc` | new mount, uts, ipc and pid namespaces (and net, cgroup), pid 1 forked into them, a fresh `/proc` |
| `chroot …/merged /bin/sh -c "/bin/mount -t proc proc /proc && $cmd"` | `pivot_root` into `merged` (the old root unmounted: `chroot` can be escaped), `/proc`, `/dev`, `/sys`, then the command; capabilities dropped, seccomp |
| `> "$container_path/$uuid/$uuid.log"` | the container's monitor writes its log (each line with its stream) |
| `ip link del dev veth0_$uuid`; `ip netns del netns_$uuid` | when the container exits: its namespace goes, and the veth with it; the lease is given back |
| `bocker_exec`: `nsenter -t PID -m -u -i -n -p chroot …` | `%bocker exec`: all the container's namespaces, its root, its cgroup |
| `bocker_rm`: `umount …/merged && rm -rf …`; `cgdelete` | `%bocker rm`: unmount, the container's dirs, its cgroup, its lease |
"""),
    md("## The running container as the Linux kernel sees it: namespaces beside the host's, cgroup accounting, layer diff"),
    code("""
%bocker ns --out ns nb-bocker
label = ns.labels[-1]
assert all(ns.differs(label, k) for k in ("ipc", "mnt", "net", "pid_for_children", "uts")), "its own namespaces"
ns
"""),
    code("""
%bocker stats --out stats nb-bocker
assert int(stats["memory_limit"].iloc[0]) == 64 << 20 if memory == "64m" else True
assert int(stats["cpu_shares"].iloc[0]) == cpu_shares
stats
"""),
    code("""
%bocker diff --out diff nb-bocker
assert "/made-here" in diff.paths("A")
diff
"""),
    md("## commit, run the committed image, rm (the container; the image made from it stays)"),
    code("""
%bocker commit --out committed nb-bocker lab-committed:v1
%bocker run --rm --out second lab-committed:v1 cat /made-here
assert second.exit_code == 0 and second.text.strip() == "data", "the committed image has the container's change"
committed
"""),
    code("""
%bocker rm -f nb-bocker
%bocker ps --out after_rm
assert run.id not in [c.id for c in after_rm], "rm: the container is gone"
assert info["Cgroup"]["Paths"] and not any(os.path.isdir(p) for p in info["Cgroup"]["Paths"].values()), "and its cgroup"
%bocker images --out images_now
assert committed.id in [i.id for i in images_now], "and the image committed from it stays"
"""),
    md("""
## Cleanup: what this Jupyter kernel made, and the registry

`%bocker cleanup` removes the containers and images the magics made in this Jupyter kernel (a running
container is killed first), and nothing else: `%bocker cleanup --dry-run` lists them.
"""),
    code("""
ours = {run.id, pulled.id, committed.id, from_dir.id}
cleanup()
%bocker ps --out left
%bocker images --out images_left
assert not [c for c in left if c.id in ours] and not [i for i in images_left if i.id in ours]
assert reg is None
"""),
]


NOTEBOOKS["07-oci-runtime"] = [
    md("""
# 07 · From `%bocker run` to an OCI runtime (past 3.1)

`docker run`, `podman run` and Kubernetes do not start containers themselves. They write a
**bundle** (a root directory and a `config.json` in the OCI runtime spec's format) and hand it to
an **OCI runtime**, runc by default, through a small command line: `create`, `start`, `state`,
`kill`, `delete`. The engine of this toolkit works that way inside: `%bocker run` turns its
options into a `config.json` once and then executes only that. `bocker-runc` is the same engine
behind runc's command line, so real engines can drive it.

This notebook shows (1) the spec `%bocker run` writes, (2) a bundle as `runc spec` makes it, (3) the
runtime's lifecycle by hand: after `create` the container's process exists, in its own
namespaces and cgroup, but its program has not run (the process waits on a fifo, and `/proc`
shows it), then `start`, `kill`, `delete`; and (4) containerd driving the same runtime through its
own runc shim: the calls a Kubernetes node's containerd makes. Every step is checked.
"""),
    code("""
# parameters
container_id = "nb-oci"
message = "hello from the bundle"
""", P),
    code("""
%load_ext bocker_magics
import atexit, json, os, shutil, tempfile, time
from pathlib import Path
import pandas as pd
from bocker_magics.engine import Engine
from bocker_magics.lab.runc import Runc, launcher, busybox_rootfs, read_config, write_config, remove_cgroup_parent
from bocker_magics.lab.containerd import LabContainerd

work = Path(tempfile.mkdtemp(prefix="bocker-lab-runc-"))
parent = os.environ.get("BOCKER_CGROUP_PARENT", "bocker") + "-lab-runc"   # this notebook's cgroups
engine = Engine()
binary = launcher(work / "bin")                 # bocker-runc of this checkout
rt = Runc(binary, root=work / "state")          # every call: bocker-runc --root STATE ...
ctrd = None

def cleanup():
    # what this notebook made; also runs when the Jupyter kernel stops after a failed cell
    global ctrd
    if ctrd is not None:
        ctrd.close(); ctrd = None
    for cid in (os.listdir(work / "state") if (work / "state").is_dir() else []):
        if not cid.startswith("."):
            rt("delete", "--force", cid, check=False)
    remove_cgroup_parent(parent)
    remove_cgroup_parent(parent + "-ctr")
    shutil.rmtree(work, ignore_errors=True)
    engine.close()

atexit.register(cleanup);

def summary(config):
    # a few fields of a config.json, one row each
    linux = config.get("linux", {})
    caps = config["process"].get("capabilities") or {}
    rows = [("root", f"{config['root']['path']}" + (" (read-only)" if config["root"].get("readonly") else "")),
            ("process.args", " ".join(config["process"]["args"])),
            ("process.capabilities", f"{len(caps.get('bounding', []))} in the bounding set"),
            ("linux.namespaces", ", ".join(ns["type"] for ns in linux.get("namespaces", []))),
            ("mounts", ", ".join(m["destination"] for m in config.get("mounts", []))),
            ("linux.cgroupsPath", linux.get("cgroupsPath", "")),
            ("linux.resources", ", ".join(sorted(linux.get("resources", {})))),
            ("linux.seccomp", (linux.get("seccomp") or {}).get("defaultAction", "none")),
            ("linux.maskedPaths", f"{len(linux.get('maskedPaths', []))} paths")]
    return pd.DataFrame(rows, columns=["field", "value"]).set_index("field")
"""),
    md("""
## 1. `%bocker run` writes a spec, then executes only it

A detached container's directory holds its `config.json` (`inspect` shows it as `Spec`): Docker-style options (`--network none`,
the image's layers, the default capabilities and limits) have become spec fields. The engine's
monitor executes that file; so does `bocker-runc`, for a file anyone wrote.
"""),
    code("""
%bocker run -d --name nb-oci-src --network none -m 64m --out src busybox sleep 1000
%bocker inspect --out src_info nb-oci-src
engine_spec = src_info["Spec"]                  # the container's config.json, as `bocker inspect` shows it
%bocker rm -f nb-oci-src
assert "sleep 1000" in " ".join(engine_spec["process"]["args"])
assert {"pid", "mount", "network"} <= {ns["type"] for ns in engine_spec["linux"]["namespaces"]}
assert engine_spec["linux"]["resources"]["memory"]["limit"] == 64 << 20
summary(engine_spec)
"""),
    md("""
## 2. A bundle

`bocker-runc spec` writes the `config.json` that `runc spec` writes (`sh` on a read-only `rootfs/`,
five new namespaces, three capabilities, every device denied but the defaults); the root is a copy
of the busybox image's files. We change the program, turn the terminal off and give the cgroup a
path of ours.
"""),
    code("""
bundle = work / "bundle"
busybox_rootfs(bundle / "rootfs", engine)
rt("spec", "--bundle", bundle)
config = read_config(bundle)
config["process"].update(terminal=False, args=["sh", "-c", f"echo {message}; trap 'echo bye; exit 0' TERM; "
                                                           "while :; do sleep 0.1; done"])
config["linux"]["cgroupsPath"] = f"/{parent}/{container_id}"
write_config(bundle, config)

print(f"{bundle}/")
for p in sorted(bundle.iterdir()):
    print(f"  {p.name}{'/' if p.is_dir() else ''}  " + (f"({len(list(p.iterdir()))} entries: "
          + " ".join(sorted(x.name for x in p.iterdir())) + ")" if p.is_dir() else f"({p.stat().st_size} bytes)"))
assert config["root"] == {"path": "rootfs", "readonly": True}
assert [ns["type"] for ns in config["linux"]["namespaces"]] == ["pid", "network", "ipc", "uts", "mount"]
summary(config)
"""),
    md("""
## 3. create: the process is there, its program is not

`create` makes the cgroup, forks pid 1 into a new pid namespace, and pid 1 makes its namespaces,
mounts the root and `pivot_root`s into it, sets up the process (capabilities, rlimits, ...) and
then blocks opening the **exec fifo** for writing. `create` returns once the pid file is written.
In `/proc`, that process is still the runtime's Python (`exe`), in its own pid namespace
(`NSpid`: one pid on the host, 1 inside), in its cgroup, sleeping in the Linux kernel's
`wait_for_partner`: the open of a fifo that has no reader yet. Nothing of the program has run.
"""),
    code("""
out = work / "output.txt"
with open(out, "w") as f:     # the container's stdout and stderr: this file, as a shim's pipes would be
    rt("create", "--bundle", bundle, "--pid-file", work / "pid", container_id, stdout=f, stderr=f)
pid = int((work / "pid").read_text())
lifecycle = []

def proc_facts(pid):
    status = dict(l.split(":\\t", 1) for l in Path(f"/proc/{pid}/status").read_text().splitlines() if ":\\t" in l)
    cgroup = [l.split(":")[2] for l in Path(f"/proc/{pid}/cgroup").read_text().splitlines() if ":pids:" in l]
    return pd.Series({"State": status["State"], "NSpid (host, inside)": status["NSpid"].replace("\\t", ", "),
                      "wchan": Path(f"/proc/{pid}/wchan").read_text(), "exe": os.readlink(f"/proc/{pid}/exe"),
                      "cgroup (pids)": cgroup[0] if cgroup else "",
                      "pid namespace": os.readlink(f"/proc/{pid}/ns/pid"),
                      "this notebook's (Jupyter kernel)": os.readlink("/proc/self/ns/pid")}, name=f"/proc/{pid}")

def record(step):
    state = rt.state(container_id) if rt.status(container_id) != "absent" else {"status": "(gone)", "pid": ""}
    lifecycle.append({"after": step, "status": state["status"], "pid": state["pid"]})
    return state

state = record("create")
facts = proc_facts(pid)
display(pd.Series(state, name="bocker-runc state"))
assert state["status"] == "created" and state["pid"] == pid
assert facts["wchan"] == "wait_for_partner", "blocked opening the exec fifo"
assert "python" in os.path.basename(facts["exe"]), "still the runtime, not the program"
assert facts["NSpid (host, inside)"] == f"{pid}, 1"
assert facts["cgroup (pids)"] == f"/{parent}/{container_id}"
assert out.read_text() == "", "the program has not run"
facts
"""),
    md("## 4. start: the program runs"),
    code("""
rt("start", container_id)
deadline = time.monotonic() + 10
while message not in out.read_text():
    assert time.monotonic() < deadline, out.read_text()
    time.sleep(0.05)
state = record("start")
facts = proc_facts(pid)
assert state["status"] == "running"
assert os.path.basename(facts["exe"]) == "busybox" and facts["wchan"] != "wait_for_partner"
print(out.read_text(), end="")
facts
"""),
    md("## 5. kill, then the container is stopped"),
    code("""
rt("kill", container_id, "TERM")       # the program's trap says bye and exits
deadline = time.monotonic() + 10
while rt.status(container_id) != "stopped":
    assert time.monotonic() < deadline
    time.sleep(0.05)
state = record("kill TERM")
assert state["pid"] == 0 and out.read_text().splitlines()[-1] == "bye"
print(out.read_text(), end="")
"""),
    md("""
## 6. delete: nothing of the container is left

`delete` removes its cgroup in every hierarchy and its state directory (with the exec fifo).
"""),
    code("""
rt("delete", container_id)
record("delete")
cgroups = [d for d in (f"/sys/fs/cgroup/{h}/{parent}/{container_id}" for h in os.listdir("/sys/fs/cgroup"))
           if os.path.isdir(d)]
assert rt.status(container_id) == "absent" and cgroups == [] and not (work / "state" / container_id).exists()
pd.DataFrame(lifecycle).set_index("after")
"""),
    md("""
## 7. containerd drives the same runtime

containerd (here one of our own, its state in a temp dir, in a mount and network namespace of its
own) runs every container through its runc shim, `containerd-shim-runc-v2`, which calls the runtime
binary its options name: `ctr run --runc-binary` here, `BinaryName` in a Kubernetes node's runtime
entry (README). A logging wrapper records each call the shim makes.
"""),
    code("""
calls = work / "calls.log"
logged = work / "bin" / "bocker-runc-logged"
logged.write_text(f'#!/bin/sh\\necho "$*" >> {calls}\\nexec {binary} "$@"\\n')
logged.chmod(0o755)
tar = work / "busybox.tar"
engine.save("busybox", tar)                 # bocker save: a docker-save tarball
ctrd = LabContainerd(work / "containerd", namespace=parent + "-ctr")
ctrd.start()
image = ctrd.load(tar)
fg = ctrd.ctr("run", "--rm", "--runc-binary", logged, image, "nb-ctr", "sh", "-c",
              "echo hello through containerd; grep pids /proc/self/cgroup").stdout
print(fg, end="")
assert "hello through containerd" in fg and f"/{ctrd.namespace}/nb-ctr" in fg

def verb(line):   # the first word after the global flags (--root X --log Y --log-format json)
    words = line.split()
    i = 0
    while words[i].startswith("--"):
        i += 1 if "=" in words[i] else 2
    return words[i] + (" --force" if "--force" in words[i + 1:] else "")
shim_calls = pd.DataFrame({"call": [verb(l) for l in calls.read_text().splitlines()],
                           "arguments": calls.read_text().splitlines()})
assert list(shim_calls["call"]) == ["create", "start", "delete", "delete --force"]
shim_calls
"""),
    code("""
ctrd.ctr("run", "-d", "--runc-binary", logged, image, "nb-ctr-bg", "sleep", "1000")
inside = ctrd.ctr("task", "exec", "--exec-id", "e1", "nb-ctr-bg", "sh", "-c", "echo exec in $(hostname)").stdout
tasks = ctrd.ctr("task", "ls").stdout
ctrd.ctr("task", "kill", "--signal", "SIGKILL", "nb-ctr-bg")
deadline = time.monotonic() + 10
while "STOPPED" not in ctrd.ctr("task", "ls").stdout:
    assert time.monotonic() < deadline
    time.sleep(0.05)
ctrd.ctr("task", "delete", "nb-ctr-bg")
ctrd.ctr("container", "delete", "nb-ctr-bg")
print(inside, tasks, sep="")
assert inside.startswith("exec in") and "RUNNING" in tasks
assert [verb(l) for l in calls.read_text().splitlines()][4:] == ["create", "start", "exec", "kill", "delete",
                                                                "delete --force"]
"""),
    md("## Cleanup: containerd, the bundle, the cgroups"),
    code("""
cleanup()
left = [d for h in os.listdir("/sys/fs/cgroup")
        for d in (f"/sys/fs/cgroup/{h}/{parent}", f"/sys/fs/cgroup/{h}/{parent}-ctr") if os.path.isdir(d)]
assert left == [] and not work.exists()
print("removed", work, "and the cgroups", parent, parent + "-ctr")
"""),
]


BUILD_DOCKERFILE = """FROM busybox
RUN echo data > /made-here
COPY greeting.txt /etc/greeting
COPY --chmod=0755 app.sh /usr/local/bin/app
RUN rm /etc/group
CMD ["app"]"""

NOTEBOOKS["08-build"] = [
    md("""
# 08 · A Dockerfile: the image as a stack of layers, and the cache (past article 3.1)

In 06 a container wrote `/made-here`, and `commit` made its upper dir a new layer over busybox's.
A Dockerfile says the same as steps, and `bocker build` runs them: each `RUN` in a container of the
engine (its upper dir becomes the step's layer, exactly as `commit` takes it), each `COPY` writes a
layer of its own, and the other instructions (`CMD`, `ENV`, ...) change only the image's config.
Every step is kept in the build cache under what made it: its parent image, its instruction, and
for `COPY` the digest of the files it copies. So a second build runs nothing, and a change to one
copied file rebuilds from that step on, and not before.

The cell below `%%bocker build` *is* the Dockerfile; the result is a table of the steps, with each
layer's diff (A added, C changed, D deleted) one click away.
"""),
    code("""
# parameters
image = "lab-built:v1"
greeting = "hello from a Dockerfile"
""", P),
    code("""
%load_ext bocker_magics
import atexit, shutil, tempfile
from pathlib import Path

ctx = Path(tempfile.mkdtemp(prefix="bocker-lab-build-"))   # the build context: what COPY can take
(ctx / "greeting.txt").write_text(greeting + "\\n")
(ctx / "app.sh").write_text("#!/bin/sh\\ncat /etc/greeting /made-here\\n")

def cleanup():
    # the images this Jupyter kernel made, and the context; also when a cell fails and the Jupyter kernel stops
    %bocker cleanup
    shutil.rmtree(ctx, ignore_errors=True)

atexit.register(cleanup);
"""),
    md("## The first build: every step runs (`--no-cache`: whatever an earlier run left in the cache is not used)"),
    code(f"""
%%bocker build -t $image --no-cache --out first $ctx
{BUILD_DOCKERFILE}
"""),
    code("""
assert first.built == [2, 3, 4, 5, 6] and first.cached == []
assert first.layers == [2, 3, 4, 5], "RUN, COPY, COPY and RUN make a layer each; CMD only changes the config"
assert first.image.config["Cmd"] == ["app"]
first
"""),
    md("""
## The layers it made

Each layer is an overlay upper dir: step 2 adds `/made-here` (what 06's container wrote by hand),
the COPY steps add their files, and step 5's `rm` leaves a whiteout (D) that hides `/etc/group` of
busybox's layer. The history of the image lists one entry per step, as a registry shows it.
"""),
    code("""
assert first.diff(2).paths("A") == ["/made-here"]
assert first.diff(3).paths("A") == ["/etc/greeting"] and first.diff(3).paths("C") == ["/etc"]
assert first.diff(5).paths("D") == ["/etc/group"]
display(first.diff(5))
import pandas as pd
history = pd.DataFrame([{"step": h["created_by"], "makes a layer": not h.get("empty_layer", False)}
                        for h in first.image.history])
assert history["makes a layer"].sum() == len(first.image.layers)
history
"""),
    code("""
%bocker run --rm --network none --out out $image
assert out.exit_code == 0 and out.text == greeting + "\\n" + "data\\n"
"""),
    md("## The same build again: every step from the cache, the same image"),
    code(f"""
%%bocker build -t $image --out second $ctx
{BUILD_DOCKERFILE}
"""),
    code("""
assert second.cached == [2, 3, 4, 5, 6] and second.built == []
assert second.image.id == first.image.id, "nothing new: the image is the one the first build made"
second
"""),
    md("""
## One copied file changes: the build runs again from that step only

`greeting.txt` is what step 3 copies. Its digest is part of step 3's cache key, so step 3 misses
the cache; every step after it then has a new parent, so they run again too. Step 2 comes from
the cache: its layer is shared by both images.
"""),
    code("""
(ctx / "greeting.txt").write_text("a changed greeting\\n")
"""),
    code(f"""
%%bocker build -t $image --out third $ctx
{BUILD_DOCKERFILE}
"""),
    code("""
assert third.cached == [2] and third.built == [3, 4, 5, 6]
assert third.image.layers[:2] == first.image.layers[:2], "busybox's layer and step 2's, shared"
assert third.image.layers[2] != first.image.layers[2]
%bocker run --rm --network none --out changed $image
assert changed.text == "a changed greeting\\ndata\\n"
third
"""),
    md("## Cleanup: the images this Jupyter kernel built, and the context"),
    code("""
ours = {first.image.id, third.image.id}
cleanup()
%bocker images --out images_left
assert not [i for i in images_left if i.id in ours] and not ctx.exists()
"""),
]

STACK = """\
services:
  db:
    image: busybox
    command: ["sh", "-c", "mkdir -p /www; echo rows-from-db > /www/index.html; httpd -p 80 -h /www; sleep 1; touch /ready; exec sleep 600"]
    healthcheck:
      test: ["CMD", "test", "-f", "/ready"]
      interval: 1s
      retries: 30
    volumes: ["data:/data"]
  api:
    image: busybox
    depends_on:
      db: {condition: service_healthy}
    command: ["sh", "-c", "mkdir -p /www; echo api-up > /www/index.html; httpd -p 80 -h /www; exec sleep 600"]
  web:
    image: busybox
    depends_on: [api]
    command: ["sh", "-c", "exec sleep 600"]
volumes:
  data: {}"""

NOTEBOOKS["09-compose"] = [
    md("""
# 09 · A stack in a cell: Compose on the engine (past article 3.1)

06 ran one container at a time. A compose file says a whole application: its services, the
networks they share, their volumes, and the order they start in. Here `%%bocker compose` takes the
cell as the compose file and brings the stack up detached: a database, an API that reads from it,
and a web service in front of the API, all from busybox. The database has a healthcheck
(`test -f /ready`); the API waits for it (`depends_on: condition: service_healthy`), then fetches
the database's page *by name* (`http://db/`): the engine's embedded resolver answers the service
names from inside the containers. The cell shows the stack as a table and a picture.

Then the kernel's view: each service has its own namespaces (net, mnt, pid, uts, ipc), all of them
on one bridge; their cgroup accounting as one frame; and `down -v` removes the containers, the
network and the volume, leaving nothing of the project.
"""),
    code("""
# parameters
project = "lab-stack"
""", P),
    code("""
%load_ext bocker_magics
import atexit

def cleanup():
    # the stack (containers, network, volume) and whatever else the magics made; also runs when a
    # cell fails and the Jupyter kernel stops
    %bocker compose down -v
    %bocker cleanup

%bocker init --busybox
atexit.register(cleanup);
"""),
    md("""
## The stack: the cell is the compose file

`up` starts `db` first, waits until its healthcheck passes, then `api`, then `web`: the order
`depends_on` gives. The table says each service's state and health, its network and image.
"""),
    code(f"""
%%bocker compose -p $project up
{STACK}
"""),
    code("""
stack = %bocker compose ps
frame = stack.to_frame()
assert sorted(frame["service"]) == ["api", "db", "web"]
assert all(frame["state"].str.startswith("running")), frame
assert "healthy" in frame.set_index("service").loc["db", "state"], "db passed its healthcheck"
assert {tuple(n) for n in frame["networks"]} == {(f"{project}_default",)}, "all on the project's network"
assert "<svg" in stack.svg()
%bocker volume ls --out vols
assert f"{project}_data" in [v.name for v in vols.volumes], "db's named volume"
frame
"""),
    md("""
## Started in order, on the healthcheck

`db` touches `/ready` once its `httpd` is up, so its healthcheck passes only when it serves; `api`
was started after the first passing check (its start time against the health log). Inside, `api`
reaches `db` by name (`http://db/`), and `web` reaches `api`. `%bocker compose ps` works on the
last stack.
"""),
    code("""
import time
for _ in range(100):   # up -d returned once they were started: httpd may still be starting
    %bocker exec --quiet --no-raise-error --out fetched {project}-api-1 timeout 5 wget -q -O - http://db/
    %bocker exec --quiet --no-raise-error --out through {project}-web-1 timeout 5 wget -q -O - http://api/
    if fetched.exit_code == 0 and through.exit_code == 0:
        break
    time.sleep(0.1)
print("api got from db:", fetched.text, "web got from api:", through.text, sep="\\n")
assert fetched.text == "rows-from-db\\n" and through.text == "api-up\\n"
%bocker inspect --out db_info {project}-db-1
%bocker inspect --out api_info {project}-api-1
health = db_info["State"]["Health"]
assert health["Status"] == "healthy"
from datetime import datetime
first_pass = min(datetime.fromisoformat(h["End"].replace("Z", "+00:00")).timestamp()
                 for h in health["Log"] if h["ExitCode"] == 0)
assert api_info["State"]["StartedAt"] >= first_pass, "api started once db's healthcheck had passed"
%bocker compose ps
"""),
    md("""
## Names answered from inside: the embedded resolver

Each container's `/etc/resolv.conf` points at the resolver the engine runs for the stack's network
(127.0.0.11, as Docker's). It answers the service names with the containers' addresses on that
network; `nslookup` in `web` asks it for `db`.
"""),
    code("""
%bocker compose exec -T web nslookup db
%bocker exec --quiet --out lookup {project}-web-1 nslookup db
%bocker exec --quiet --out resolv {project}-web-1 cat /etc/resolv.conf
assert lookup.exit_code == 0
answer = lookup.text.split("Name:")[-1]
%bocker network --out net inspect {project}_default
assert "Address" in answer and net["Containers"][db_info["Id"]] in answer, "db's address on the project network"
assert "nameserver 127.0.0.11" in resolv.text
"""),
    md("""
## The services' namespaces, side by side

The host's column first, then one per service: every service has its own net, mnt, pid, uts and
ipc namespace (marked where it differs from the host's), and no two services share one. What they
share is the bridge: each container's veth ends in the project network's bridge.
"""),
    code("""
names = [f"{project}-{s}-1" for s in ("db", "api", "web")]
%bocker ns --out ns {names[0]} {names[1]} {names[2]}
kinds = ("net", "mnt", "pid_for_children", "uts", "ipc")
for label in ns.labels[1:]:
    assert all(ns.differs(label, k) for k in kinds), label
for k in kinds:
    assert len({ns.inode(label, k) for label in ns.labels[1:]}) == 3, f"no two services share a {k} namespace"
assert len(net["Containers"]) == 3 and net["BridgeExists"], "one bridge, the three of them on it"
print("the bridge:", net.get("Bridge"), "subnet:", net.get("Subnet"))
ns
"""),
    md("## Their cgroup accounting, as one frame"),
    code("""
%bocker stats --out stats {names[0]} {names[1]} {names[2]}
usage = stats.to_frame()
assert len(usage) == 3
assert sorted(usage["name"]) == sorted(names)
assert (usage["memory_current"] > 0).all() and (usage["pids_current"] >= 1).all()
usage
"""),
    md("""
## `down -v`: nothing of the project stays

`down` stops and removes the containers and the project's network; `-v` the named volumes too.
"""),
    code("""
%bocker compose down -v
%bocker ps -a --out left
%bocker network ls --out nets_left
%bocker volume ls --out vols_left
assert not [c for c in left if (c.name or "").startswith(f"{project}-")]
assert not [n for n in nets_left if n["name"].startswith(f"{project}_")]
assert not [v for v in vols_left.volumes if v.name.startswith(f"{project}_")]
"""),
    md("## Cleanup: what else the magics made in this Jupyter kernel"),
    code("""
cleanup()
"""),
]


NOTEBOOKS["10-docker-api"] = [
    md("""
# 10 · Docker's own tools on the engine: the Docker Engine API (past 3.1)

Docker's command, its Python SDK (docker-py, `import docker`), docker-compose and testcontainers
do not start containers themselves: they speak the Docker Engine API to a daemon on a unix socket.
`bocker system service` serves that API over the same engine the magics use (the same
`BOCKER_ROOT`), so what docker-py makes, `%bocker ps` lists, and what `%bocker run` makes,
docker-py sees. The service is a face like the magics: each endpoint calls the engine's verbs.

Here the service runs on a socket in a temporary directory (`--time 0`: until it is stopped);
docker-py's `DockerClient(base_url=...)` runs a container detached; `%bocker ps`, `%bocker inspect`
and `%bocker ns` show that same container, its ids mapped (the Docker id begins with the digits of
bocker's `ps_` id), its pid 1 the one Docker's `State.Pid` names, its namespaces its own. Then the
other way round, and `remove=True` of a detached container (the engine's `--rm`): gone once it ends.
At the end nothing stays: the containers, the service and its socket.
"""),
    code("""
# parameters
name = "nb-docker-py"
label = "bocker-lab=10-docker-api"
""", P),
    code("""
%load_ext bocker_magics
import atexit, os, shutil, subprocess, sys, tempfile, time
import docker

workdir = tempfile.mkdtemp(prefix="bocker-lab-api-")
sock = f"{workdir}/docker.sock"
service = client = None

def cleanup():
    # the containers docker-py made (by their label), the service, its socket; also runs when a
    # cell fails and the Jupyter kernel stops
    global service, client
    if client is not None:
        for c in client.containers.list(all=True, filters={"label": label}):
            c.remove(force=True, v=True)
        client.close(); client = None
    if service is not None:
        service.terminate(); service.wait(30); service = None
    shutil.rmtree(workdir, ignore_errors=True)
    %bocker cleanup

%bocker init --busybox
atexit.register(cleanup);
"""),
    md("""
## The service, and docker-py talking to it

`bocker system service -H unix://PATH --time 0` is the command `podman system service` is to
podman. docker-py negotiates the API version with it (1.41, Docker 20.10's) as with dockerd.
"""),
    code("""
log = open(f"{workdir}/service.log", "wb")
service = subprocess.Popen([sys.executable, "-m", "bocker_magics.cli", "system", "service",
                            "-H", f"unix://{sock}", "--time", "0"], stdout=log, stderr=subprocess.STDOUT)
for _ in range(300):
    if os.path.exists(sock) or service.poll() is not None:
        break
    time.sleep(0.1)
assert os.path.exists(sock), open(f"{workdir}/service.log").read()
client = docker.DockerClient(base_url=f"unix://{sock}")
version = client.version()
print("server:", version["Components"][0]["Name"], version["Version"], "API", version["ApiVersion"],
      "| docker-py", docker.__version__, "API", client.api.api_version)
assert client.ping() and client.api.api_version == version["ApiVersion"] == "1.41"
"""),
    md("""
## docker-py runs a container; the magics see the same one

`client.containers.run(..., detach=True)` returns once it runs. `%bocker ps` lists it under the
name docker-py gave it; its bocker id `ps_` + 10 hex digits is where its Docker id begins.
"""),
    code("""
c = client.containers.run("busybox", ["sh", "-c", "echo hello from docker-py; exec sleep 300"], name=name,
                          detach=True, labels=dict([label.split("=")]), mem_limit="64m")
c.reload()
print("docker-py:", c.short_id, c.name, c.status, "pid", c.attrs["State"]["Pid"])
%bocker ps
%bocker ps --out listing
(mine,) = [x for x in listing if x.name == name]
print(f"bocker id {mine.id}  ->  Docker id {c.id}")
assert c.status == "running" and mine.status == "running"
assert c.id.startswith(mine.id.removeprefix("ps_")) and len(c.id) == 64, "the Docker id begins with bocker's digits"
assert client.containers.get(mine.id).id == c.id, "and bocker's own id resolves through the API too"
"""),
    md("""
## The same container in the kernel: its pid 1, its namespaces

`%bocker inspect` gives the pid of its pid 1 as the host sees it: the pid docker-py reads in
`State.Pid`. `%bocker ns` shows its namespace inodes beside the host's: each is its own, and each is
the one `/proc/<State.Pid>/ns/` links to.
"""),
    code("""
%bocker inspect --out info {name}
pid = c.attrs["State"]["Pid"]
assert info["State"]["Pid"] == pid and info["Id"] == mine.id
%bocker ns --out ns {name}
me = ns.labels[-1]
kinds = ("ipc", "mnt", "net", "pid_for_children", "uts")
assert all(ns.differs(me, k) for k in kinds), "its own namespaces, not the host's"
for k in kinds:
    assert ns.inode(me, k) == os.stat(f"/proc/{pid}/ns/{k}").st_ino, k
ns
"""),
    md("""
Its cgroup: docker-py's `mem_limit="64m"` became the engine's memory limit (`HostConfig.Memory`,
the same `Limits` `bocker run -m 64m` makes), and `%bocker stats` reads the accounting docker-py's
`stats()` reads.
"""),
    code("""
%bocker stats --out stats {name}
usage = stats.to_frame()
from_docker = c.stats(stream=False)
print("memory limit:", int(usage["memory_limit"].iloc[0]), "| docker-py:", from_docker["memory_stats"]["limit"])
print("pids:", int(usage["pids_current"].iloc[0]), "| docker-py:", from_docker["pids_stats"]["current"])
assert int(usage["memory_limit"].iloc[0]) == from_docker["memory_stats"]["limit"] == 64 << 20
assert int(usage["pids_current"].iloc[0]) == from_docker["pids_stats"]["current"] == 1
usage
"""),
    md("""
## Output and exec, both ways

What docker-py's `logs()` returns is the container's log the magics read; `exec_run` and
`%bocker exec` run in the same namespaces (the same hostname).
"""),
    code("""
%bocker logs --out log {name}
assert c.logs() == b"hello from docker-py\\n" and str(log) == "hello from docker-py\\n"
code, out = c.exec_run("hostname")
%bocker exec --quiet --out ex {name} hostname
print("exec_run:", code, out.decode().strip(), "| %bocker exec:", ex.text.strip())
assert code == 0 and out.decode() == ex.text
"""),
    md("""
## The other way round: `%bocker run`, seen by docker-py

A container the magics start is in docker-py's list, with its labels, and docker-py stops and
removes it.
"""),
    code("""
%bocker run -d --name nb-from-magics -l {label} --out magic busybox sleep 300
listed = {x.name: x for x in client.containers.list(filters={"label": label})}
print(sorted(listed))
assert set(listed) == {name, "nb-from-magics"} and listed["nb-from-magics"].id.startswith(magic.id[3:])
listed["nb-from-magics"].stop(timeout=1)
listed["nb-from-magics"].remove()
%bocker ps --out after
assert magic.id not in [x.id for x in after]
"""),
    md("""
## `remove=True` of a detached container: the engine's `--rm`

docker-py sends `HostConfig.AutoRemove`: the engine's `--rm`. Nobody waits on it here; when it
exits, its monitor starts the engine's removal, which takes its anonymous volume too (a `Mount`
without a source). The service's event stream says `die`, then `destroy`.
"""),
    code("""
since = time.time()
list(client.events(since=since - 1, until=since, decode=True))   # the service's event watcher starts now
before = {v.name for v in client.volumes.list()}
short = client.containers.run("busybox", ["sh", "-c", "sleep 1; exit 3"], detach=True, remove=True,
                              labels=dict([label.split("=")]),
                              mounts=[docker.types.Mount("/scratch", None, type="volume")])
(anonymous,) = {v.name for v in client.volumes.list()} - before
print("running:", short.short_id, "with the anonymous volume", anonymous[:12])
print("wait(condition='removed'):", short.wait(condition="removed"))
%bocker ps --out after
assert short.id[:10] not in [x.id.removeprefix("ps_") for x in after], "gone from the engine"
assert anonymous not in {v.name for v in client.volumes.list()}, "and its anonymous volume with it"
time.sleep(1)   # the service's watcher reports the destroy once it has seen it gone
events = [e["Action"] for e in client.events(since=since, until=time.time(), decode=True,
                                                filters={"container": short.id, "type": "container"})]
print("events:", events)
assert events[-2:] == ["die", "destroy"] and events[:2] == ["create", "start"]
"""),
    md("## Cleanup: the containers, the service and its socket; nothing stays"),
    code("""
c.remove(force=True)
cleanup()
%bocker ps --out left
assert not [x for x in left if x.name in (name, "nb-from-magics")]
assert not os.path.exists(sock) and not os.path.exists(workdir)
"""),
]

def main(names: list[str]) -> None:
    for name, cells in NOTEBOOKS.items():
        if names and name not in names:
            continue
        nb = new_notebook(cells=cells, metadata={
            "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
            "language_info": {"name": "python"}})
        nbformat.write(nb, HERE / f"{name}.ipynb")
        print("wrote", HERE / f"{name}.ipynb")


if __name__ == "__main__":
    main(sys.argv[1:])
