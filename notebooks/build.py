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

This notebook shows (1) the links of the kernel's own first process as a table, (2) two processes
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
from bocker_magics.views.namespaces import host_column
from bocker_magics.engine.kernel.namespaces import ns_links, ns_inodes
label, host_pid = host_column()
if host_pid == 1:
    print("The first column is pid 1, the kernel's first process (init).")
else:
    print(f"/proc/1/ns is not readable here (a sandbox); the first column is this process instead: {label}")
ns_links(host_pid)
"""),
    md("""
## 1. The namespace links as a table

`ls -l /proc/$$/ns` in the article; here the inode of each link, one column per process. The first
column is the reference; a cell that differs from it is marked.
"""),
    code("""
me = NamespaceTable.of({"this kernel": os.getpid()})
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
    kernel = ns_inodes(os.getpid())
    a, b = ns_inodes(same.pid), ns_inodes(own.pid)
    assert all(a[k] == kernel[k] for k in ("uts", "ipc", "mnt", "net", "pid")), "a plain child shares every namespace"
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
Then `nsenter --uts=/proc/<kernel>/fd/<fd> hostname` enters the namespace through our fd and still
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

    # the same with a bind mount instead of an fd
    import tempfile
    from bocker_magics.engine.kernel import linux
    pin = tempfile.NamedTemporaryFile(prefix="bocker-lab-uts-", delete=False).name
    linux.mount(f"/proc/{os.getpid()}/fd/{fd}", pin, None, linux.MS_BIND)
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
        try:
            linux.umount2(pin, 0)
        except OSError:
            pass
        os.unlink(pin)
print("unmounted and closed: nothing refers to the namespace any more, so the kernel frees it")
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
is unchanged. Then A joins B's namespaces with `nsenter -t PID -u -i /bin/bash` and sees `shell-B`
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

def cleanup():   # also runs when a cell fails and the kernel stops
    import subprocess
    if queue_id is not None:
        subprocess.run(["ipcrm", "-q", str(queue_id)], capture_output=True)
    A.close(); B.close()

import atexit; atexit.register(cleanup)
"""),
    md("## Step 1 — where both shells start: the same uts and ipc namespaces, the same hostname"),
    code("""
m = ShellPair(A, B).mark()
A.run("readlink /proc/$$/ns/uts /proc/$$/ns/ipc"); A.run("hostname")
B.run("readlink /proc/$$/ns/uts /proc/$$/ns/ipc"); B.run("hostname")
host_name = A.run("hostname").strip()
display(ShellPair(A, B, since=m, title="before"))
before = NamespaceTable.of({"shell A": A.pid, "shell B": B.pid})
assert not before.differs("shell B", "uts") and not before.differs("shell B", "ipc")
before
"""),
    md("## Step 2 — A makes a message queue; B makes new uts and ipc namespaces and a hostname"),
    code("""
m = ShellPair(A, B).mark()
out = A.run("ipcmk -Q")
queue_id = int(re.search(r"id: (\\d+)", out).group(1))
A.run("ipcs -q")
b_pid = B.enter("unshare -iu /bin/bash")
B.run("readlink /proc/$$/ns/uts /proc/$$/ns/ipc")
B.run(f"hostname {new_hostname}"); B.run("hostname")
b_queues = B.run("ipcs -q")
B.run("echo $$")
display(ShellPair(A, B, since=m, title="A: ipcmk -Q; B: unshare -iu /bin/bash"))
assert str(queue_id) in A.run("ipcs -q"), "A sees its queue"
assert not re.search(rf"\\s{queue_id}\\s", b_queues.split("messages", 1)[1]), "B does not see A's queue"
assert B.run("hostname").strip() == new_hostname and A.run("hostname").strip() == host_name
"""),
    code("""
after_unshare = NamespaceTable.of({"shell A": A.pid, "shell B (unshare -iu)": b_pid})
assert after_unshare.differs("shell B (unshare -iu)", "uts") and after_unshare.differs("shell B (unshare -iu)", "ipc")
assert not after_unshare.differs("shell B (unshare -iu)", "mnt") and not after_unshare.differs("shell B (unshare -iu)", "net")
after_unshare
"""),
    md("""
## Step 3 — A enters B's namespaces with `nsenter -t PID -u -i`

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
assert not re.search(rf"\\s{queue_id}\\s", a_queues.split("messages", 1)[1]), "and not its own queue"
inside = NamespaceTable.of({"shell A (nsenter)": a_inside, "shell B": b_pid})
assert inside.inode("shell A (nsenter)", "uts") == inside.inode("shell B", "uts")
assert inside.inode("shell A (nsenter)", "ipc") == inside.inode("shell B", "ipc")
inside
"""),
    md("## Step 4 — A leaves; it is back in the host's namespaces with its queue. Cleanup."),
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
only `lo`, down. The article makes a veth pair (a virtual cable: what goes in one end comes out of
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
import atexit; atexit.register(demo.close)   # also when a cell fails and the kernel stops
print("r1 =", demo.r1, " r2 =", demo.r2, " veth:", demo.veth0, "<->", demo.veth1)
"""),
    md("## The steps: `ip` (the article) and pyroute2 (this notebook)"),
    code("""
try:
    steps = demo.run_all()
except BaseException:
    demo.close()
    raise
assert demo.veth0 not in link_names() and demo.veth1 not in link_names(), "both ends left this namespace"
assert link_names(demo.path("r1")) == ["lo", demo.veth0] or set(link_names(demo.path("r1"))) == {"lo", demo.veth0}
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
# 04 · cgroups: subsystems, a group, limits, a CPU hog and a memory hog (article 2.2.2–2.2.3)

`/proc/cgroups` lists the kernel's subsystems (controllers) and the hierarchy each is attached to;
`/proc/self/cgroup` says which group this process is in, in every hierarchy. The article then uses
libcgroup's `cgcreate`, `cgset` and `cgexec`. Here the same is done in Python with the engine's
cgroup driver (v1 or v2, chosen for this machine): create a group, set cpu shares, a CPU quota, a
cpuset and a memory limit, run a CPU hog and a memory hog in it, and watch the accounting — until
the OOM killer ends the memory hog. The group lives under a parent directory of this notebook's own,
removed at the end.
"""),
    code("""
# parameters
memory_limit_mb = 64
cpu_shares = 512
cpus = 0.5          # CPU quota, in CPUs
cpuset = "0"        # CPUs the group may run on
hog_seconds = 3
""", P),
    code("""
from bocker_magics.lab.cgroups import proc_cgroups_frame, self_cgroup_frame, cgroup_mode, LabGroup, CPU_HOG, memory_hog
from bocker_magics.engine.limits import Limits
mode, meaning = cgroup_mode()
print(f"cgroup mode on this machine: {mode}\\n{meaning}")
subsystems = proc_cgroups_frame()
assert {"cpu", "memory"} <= set(subsystems.index) or mode == "v2"
subsystems
"""),
    code("""
mine = self_cgroup_frame()
assert len(mine) >= 1
mine
"""),
    md("""
## cgcreate + cgset

`cgcreate -g cpu,cpuacct,memory,cpuset:GROUP`, then `cgset -r cpu.shares=…`, `cpu.cfs_quota_us`,
`cpuset.cpus=…` and `memory.limit_in_bytes=…` (on cgroup v2: `cpu.weight`, `cpu.max`, `cpuset.cpus`,
`memory.max`). The driver writes the right files for this machine's version.
"""),
    code("""
group = LabGroup(Limits(memory=memory_limit_mb << 20, cpu_shares=cpu_shares, cpus=cpus), cpuset=cpuset)
import atexit; atexit.register(group.close)   # also when a cell fails and the kernel stops
import pandas as pd
display(pd.DataFrame(sorted(group.paths().items()), columns=["controller", "group directory"]))
s = group.stats()
assert s.memory_limit == memory_limit_mb << 20 and s.cpu_shares == cpu_shares and abs(s.cpu_quota_cpus - cpus) < 1e-9
assert open(group.cpuset_file).read().strip() == cpuset
s
"""),
    md("""
## cgexec a CPU hog

A shell joins the group (writes its pid into each `cgroup.procs`) and execs an endless loop. With a
quota of `cpus` CPUs, the accounting shows it held at that share of one CPU, on the CPUs of the cpuset.
"""),
    code("""
from IPython.display import display
hog = group.exec(CPU_HOG)
handle = display("starting…", display_id=True)
cpu = group.sample(hog, hog_seconds, 0.25, on_sample=lambda f: handle.update(f.tail(4)))
hog.kill(); hog.wait()
handle.update(cpu)
used = cpu["cpu_percent"].dropna().iloc[2:].mean()
print(f"mean CPU use: {used:.0f}% of one CPU (quota {cpus * 100:.0f}%)")
assert used <= cpus * 100 * 1.25 + 5, "the quota holds the hog down"
assert used >= cpus * 100 * 0.5, "and the hog does run"
"""),
    md("""
## cgexec a memory hog: the OOM kill

It allocates 2 MiB every 0.1 s and writes it. The group's memory grows to the limit; then the kernel's
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
    code("""
import io
from matplotlib.figure import Figure
from matplotlib.backends.backend_agg import FigureCanvasAgg
from IPython.display import Image
fig = Figure(figsize=(7, 2.6), dpi=72); FigureCanvasAgg(fig)
a, b = fig.subplots(1, 2)
a.plot(cpu["time_s"], cpu["cpu_percent"], marker="."); a.axhline(cpus * 100, ls="--", c="grey")
a.set_title("CPU hog: % of one CPU"); a.set_xlabel("s")
b.plot(mem["time_s"], mem["memory_mib"], marker=".", c="tab:red"); b.axhline(memory_limit_mb, ls="--", c="grey")
b.set_title("memory hog: MiB"); b.set_xlabel("s")
fig.tight_layout(); buf = io.BytesIO(); fig.savefig(buf, format="png")
Image(buf.getvalue())
"""),
    md("## Cleanup: the group and its parent directories go"),
    code("""
import os
paths = group.paths()
group.close()
assert not any(os.path.isdir(p) for p in paths.values())
assert not any(os.path.isdir(os.path.dirname(p)) for p in paths.values()), "the parent dir is gone too"
print("removed:", *sorted(set(map(os.path.dirname, paths.values()))), sep="\\n  ")
"""),
]

NOTEBOOKS["05-overlayfs"] = [
    md("""
# 05 · overlayfs: lower, upper, work, merged (article 2.3.5)

A container's root is a union mount: read-only image layers (`lowerdir`) under one writable layer
(`upperdir`), seen through `merged`; `workdir` is overlayfs's scratch space. The article's rules:

* a file in both layers is read from the upper one (upper wins);
* the first write to a lower file copies it up into the upper dir; the lower copy never changes;
* deleting a file that exists in a lower layer leaves a *whiteout* in the upper dir — a character
  device 0/0 — which hides it in `merged`.

After each step a LayerDiff shows what the upper dir adds, changes and deletes relative to the lower
(what `docker diff` shows for a container).
"""),
    code("""
# parameters
appended_text = "written through merged"
""", P),
    code("""
import os
from bocker_magics.lab.overlay import OverlayDemo, is_whiteout
demo = OverlayDemo()
import atexit; atexit.register(demo.close)   # also when a cell fails and the kernel stops
print(demo.command)
demo.listing_frame()
"""),
    md("## Mount"),
    code("""
try:
    print(demo.mount())
except BaseException:
    demo.close(); raise
assert sorted(os.listdir(demo.merged)) == ["in_both", "in_lower", "in_upper"]
display(demo.listing_frame())
demo.diff("after mount")
"""),
    md("## Upper wins on read"),
    code("""
print("merged/in_both:", demo.read("in_both"))
assert demo.read("in_both") == demo.read("in_both", "upper") != demo.read("in_both", "lower")
"""),
    md("## The first write copies up"),
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
    md("## Delete leaves a whiteout"),
    code("""
os.unlink(demo.merged / "in_both")
st = os.lstat(demo.upper / "in_both")
print(f"upper/in_both: {oct(st.st_mode)} device {os.major(st.st_rdev)}/{os.minor(st.st_rdev)}")
assert is_whiteout(demo.upper / "in_both"), "a character device 0/0"
assert (demo.lower / "in_both").exists() and not (demo.merged / "in_both").exists()
display(demo.listing_frame())
d = demo.diff("after deleting in_both")
assert d.paths("D") == ["/in_both"]
d
"""),
    md("## Cleanup: unmount, remove the scratch dir"),
    code("""
from bocker_magics.lab.overlay import mounts_of
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
`%bocker` magics, and the views show what the kernel holds for a running container: its namespace
inodes against the host's, its cgroup accounting, and its layer diff.

**The pull is real.** With `registry = "local"` (the default) the notebook starts Debian's
`docker-registry` on 127.0.0.1, fills it with `%bocker push`, and pulls from it: nothing leaves the
machine. With `registry = "docker.io"` it pulls `busybox` from Docker Hub instead (for machines that
reach it). The engine's default bridge network (bocker0, 172.18.0.1/24) is made in the network
namespace the kernel runs in; the report command runs every kernel in a fresh one.
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
    # what this kernel made (containers, images) and the registry; also runs when the
    # kernel stops after a failed cell
    global reg
    %bocker cleanup
    if reg is not None:
        reg.close(); reg = None

atexit.register(cleanup);
"""),
    md("## init: the built-in busybox image (from the host's static busybox, offline)"),
    code("""
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
    md("## The running container as the kernel sees it: namespaces beside the host's, cgroup accounting, layer diff"),
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
    md("## commit, run the committed image, rm"),
    code("""
%bocker commit --out committed nb-bocker lab-committed:v1
%bocker run --rm --out second lab-committed:v1 cat /made-here
assert second.exit_code == 0 and second.text.strip() == "data", "the committed image has the container's change"
committed
"""),
    md("""
## Cleanup: what this kernel made, and the registry

`%bocker cleanup` removes the containers and images the magics made in this kernel (a running
container is killed first), and nothing else: `%bocker cleanup --dry-run` lists them.
"""),
    code("""
ours = {run.id, pulled.id, committed.id}
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
    # what this notebook made; also runs when the kernel stops after a failed cell
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

A detached container's directory holds its `config.json`: Docker-style options (`--network none`,
the image's layers, the default capabilities and limits) have become spec fields. The engine's
monitor executes that file; so does `bocker-runc`, for a file anyone wrote.
"""),
    code("""
%bocker run -d --name nb-oci-src --network none -m 64m --out src busybox sleep 1000
engine_spec = json.loads((engine.store.container_dir(src.id) / "config.json").read_text())
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
(`NSpid`: one pid on the host, 1 inside), in its cgroup, sleeping in the kernel's
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
                      "this kernel's": os.readlink("/proc/self/ns/pid")}, name=f"/proc/{pid}")

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
    # the images this kernel made, and the context; also when a cell fails and the kernel stops
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
[(h["created_by"], h.get("empty_layer", False)) for h in first.image.history]
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
    md("## Cleanup: the images this kernel built, and the context"),
    code("""
ours = {first.image.id, third.image.id}
cleanup()
%bocker images --out images_left
assert not [i for i in images_left if i.id in ours] and not ctx.exists()
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
