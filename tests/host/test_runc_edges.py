"""bocker-runc at runc's edges, the ones a Kubernetes node reaches through containerd's CRI
plugin and podman (issue 25): a privileged container's every host device (with /dev/ptmx
among them), every mount(8) propagation name for the root and for mounts (a host path
mounted rshared sees a mount made after the container started), `kill --all` and
`delete --force` of containers in any state, namespaces of every type joined by path (a
path of another type refused, as runtime-tools' linux_ns_path_type checks), the five
capability sets exactly as given.

Mount propagation is tested inside a mount namespace of the test's own (`unshare -m`), so
the shared mounts it makes never reach the host's.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import textwrap
from pathlib import Path

import pytest

from bocker_magics.lab.runc import (
    Runc,
    busybox_bundle,
    busybox_rootfs,
    launcher,
    read_config,
    remove_cgroup_parent,
    write_config,
)
from tests.support.hostcheck import leftovers
from tests.support.session import CGROUP_PARENT, SESSION_ROOT

RUNC = shutil.which("runc") or "/usr/sbin/runc"
PROPAGATIONS = ("private", "rprivate", "shared", "rshared", "slave", "rslave", "unbindable", "runbindable")


@pytest.fixture(scope="module")
def runc_bin(tmp_path_factory) -> str:
    return launcher(tmp_path_factory.mktemp("runc-edges-bin"))


@pytest.fixture(scope="module")
def rootfs(tmp_path_factory) -> Path:
    from bocker_magics.engine.engine import Engine
    engine = Engine(SESSION_ROOT / "root", cgroup_parent=CGROUP_PARENT)
    try:
        return busybox_rootfs(tmp_path_factory.mktemp("runc-edges-rootfs") / "rootfs", engine)
    finally:
        engine.close()


@pytest.fixture
def rt(runc_bin, tmp_path):
    root = SESSION_ROOT / f"runc-edges-{tmp_path.name}"
    r = Runc(runc_bin, root)
    yield r
    for cid in (os.listdir(root) if root.exists() else []):
        if not cid.startswith("."):
            r("delete", "--force", cid, check=False)
    left = [n for n in (os.listdir(root) if root.exists() else []) if not n.startswith(".")]
    shutil.rmtree(root, ignore_errors=True)
    assert left == [], f"state left in {root}: {left}"
    assert leftovers(str(root), CGROUP_PARENT, only_children=True) == []


@pytest.fixture
def bundle(tmp_path, rootfs):
    def make(name: str, args: list[str], **kw) -> Path:
        kw.setdefault("cgroups_path", f"/{CGROUP_PARENT}/runc-edges-{name}")
        return busybox_bundle(tmp_path / name, None, args, rootfs=rootfs, **kw)
    return make


def edit(b: Path, change) -> dict:
    config = read_config(b)
    change(config)
    write_config(b, config)
    return config


def error_line(r: subprocess.CompletedProcess) -> str:
    assert r.returncode == 1, (r.returncode, r.stdout, r.stderr)
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in r.stderr, r.stderr
    return json.loads(lines[0].split(" level=error msg=", 1)[1])


def host_devices() -> list[dict]:
    """Every device node of the host's /dev, as containerd's WithHostDevices lists them for a
    privileged container (pts, shm, mqueue and console are skipped there too)."""
    out = []
    for dirpath, dirnames, filenames in os.walk("/dev"):
        dirnames[:] = [d for d in dirnames if d not in ("pts", "shm", "fd", "mqueue", ".lxc", ".udev")]
        for name in filenames:
            path = os.path.join(dirpath, name)
            if name == "console":
                continue
            try:
                st = os.lstat(path)
            except OSError:
                continue
            kind = "c" if stat.S_ISCHR(st.st_mode) else "b" if stat.S_ISBLK(st.st_mode) else None
            if kind:
                out.append({"path": path, "type": kind, "major": os.major(st.st_rdev), "minor": os.minor(st.st_rdev),
                            "fileMode": stat.S_IMODE(st.st_mode), "uid": st.st_uid, "gid": st.st_gid})
    return out


def run_under_runc(rt: Runc, b: Path, cid: str) -> subprocess.CompletedProcess:
    """`runc run` of the bundle: runc makes its cgroup in every hierarchy and leaves the
    parents, so a parent of its own, removed after."""
    config = read_config(b)
    ours = config["linux"].get("cgroupsPath")
    parent = f"{CGROUP_PARENT}-runc-edges"
    config["linux"]["cgroupsPath"] = f"/{parent}/{cid}"
    write_config(b, config)
    try:
        return Runc(RUNC, Path(rt.root) / ".runc")("run", "--bundle", b, cid, check=False)
    finally:
        config["linux"]["cgroupsPath"] = ours
        write_config(b, config)
        assert remove_cgroup_parent(parent, timeout=5) == []


# -- devices -----------------------------------------------------------------------------------
def test_a_privileged_containers_every_host_device_and_ptmx(rt, bundle):
    devices = host_devices()
    assert any(d["path"] == "/dev/ptmx" for d in devices)
    b = bundle("priv", ["sh", "-c", "readlink /dev/ptmx; test -c /dev/pts/ptmx && echo devpts-ptmx; "
                                    "test -c /dev/zero && test -c /dev/kmsg && echo nodes; "
                                    "readlink /dev/fd; head -c 3 /dev/zero | od -An -tx1"])

    def privileged(c):
        c["linux"]["devices"] = devices + [{"path": "/dev/null", "type": "c", "major": 1, "minor": 3}]  # twice: done
        c["linux"]["resources"]["devices"] = [{"allow": True, "access": "rwm"}]
    edit(b, privileged)
    r = rt("run", "--bundle", b, "priv", check=False)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split("\n")[:4] == ["pts/ptmx", "devpts-ptmx", "nodes", "/proc/self/fd"], r.stdout
    assert r.stdout.split()[-3:] == ["00", "00", "00"]


def test_a_device_whose_name_is_a_link_in_the_image_is_made_in_dev_not_where_it_points(rt, bundle, tmp_path):
    b = bundle("devlink", ["sh", "-c", "test -c /dev/mydev && echo node; test -e /etc/landed || echo kept"])
    edit(b, lambda c: c["linux"].__setitem__("devices", [{"path": "/dev/mydev", "type": "c", "major": 1, "minor": 3}]))
    # /dev is a tmpfs of ours: no image link there; the node is made by name
    r = rt("run", "--bundle", b, "devlink", check=False)
    assert r.returncode == 0 and r.stdout.split() == ["node", "kept"], r.stdout + r.stderr


# -- propagation -------------------------------------------------------------------------------
@pytest.mark.parametrize("name", PROPAGATIONS)
def test_every_propagation_name_for_the_root_and_for_a_mount(rt, bundle, tmp_path, name):
    src = tmp_path / "src"
    src.mkdir()
    (src / "f").write_text("here\n")
    b = bundle(f"prop-{name}", ["sh", "-c", "cat /data/f; awk '$5 == \"/\"' /proc/self/mountinfo"])

    def change(c):
        c["linux"]["rootfsPropagation"] = name
        c["mounts"].append({"destination": "/data", "type": "bind", "source": str(src),
                            "options": ["rbind", name]})
    edit(b, change)
    r = subprocess.run(["unshare", "--mount", "--propagation", "private", *rt.argv("run", "--bundle", b, f"p-{name}")],
                       capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0] == "here"
    root_line = lines[1].split(" - ")[0]
    if name in ("shared", "rshared"):
        assert " shared:" in root_line, root_line
    if name in ("unbindable", "runbindable"):
        assert " unbindable" in root_line, root_line
    if name in ("private", "rprivate"):
        assert "shared:" not in root_line and "master:" not in root_line, root_line


@pytest.mark.parametrize("name", ["rshared", "rslave"])
def test_a_host_path_mounted_with_propagation_sees_a_mount_made_after_the_start(rt, bundle, tmp_path, name):
    """As a kubelet's Bidirectional (rshared) and HostToContainer (rslave) mounts: the host
    mounts a tmpfs under the path after the container started; the container sees it. All of
    it in a mount namespace of this test's (unshare -m), its mounts made shared there."""
    host = tmp_path / "host"
    host.mkdir()
    b = bundle(f"late-{name}", ["sleep", "1000"])

    def change(c):
        c["linux"]["rootfsPropagation"] = name
        c["mounts"].append({"destination": "/host", "type": "bind", "source": str(host), "options": ["rbind", name]})
        for kind in ("bounding", "effective", "permitted"):  # to mount, as a privileged pod's container
            c["process"]["capabilities"][kind].append("CAP_SYS_ADMIN")
    edit(b, change)
    cid = f"late-{name}"
    # rshared (Bidirectional) only: a mount the container makes reaches the host path too
    back = "" if name != "rshared" else textwrap.dedent(f"""
        {' '.join(rt.argv('exec', cid, 'sh', '-c', "'mkdir /host/back && mount -t tmpfs -o size=1m back /host/back && echo from-the-container > /host/back/file'"))}
        cat {host}/back/file || {{ {' '.join(rt.argv('exec', cid, 'cat', '/proc/self/mountinfo'))}; cat /proc/self/mountinfo; }}
    """).replace("\n", "\n        ")
    script = textwrap.dedent(f"""
        set -e
        mount --bind {host} {host}
        mount --make-shared {host}
        {' '.join(rt.argv('run', '-d', '--bundle', str(b), cid))} </dev/null >/dev/null 2>&1
        mkdir {host}/late
        mount -t tmpfs -o size=1m late {host}/late
        echo from-host > {host}/late/file
        {' '.join(rt.argv('exec', cid, 'cat', '/host/late/file'))}
        {' '.join(rt.argv('exec', cid, 'grep', '-c', ' /host/late ', '/proc/self/mountinfo'))}
        {back}
        {' '.join(rt.argv('kill', cid, 'KILL'))}
    """)
    r = subprocess.run(["unshare", "--mount", "--propagation", "private", "sh", "-c", script], capture_output=True,
                       text=True, timeout=60, stdin=subprocess.DEVNULL)
    try:
        assert r.returncode == 0, r.stdout + r.stderr
        assert r.stdout.split() == ["from-host", "1"] + (["from-the-container"] if name == "rshared" else []), \
            r.stdout + r.stderr
    finally:
        rt("delete", "--force", cid, check=False)
    assert not (host / "late" / "file").exists()  # the tmpfs was in the test's mount namespace only


# -- kill --all, delete --force ------------------------------------------------------------------
def test_kill_all_of_a_stopped_container_is_success_and_plain_kill_is_not(rt, bundle):
    b = bundle("stopped", ["true"])
    rt("create", "--bundle", b, "stopped")
    rt("start", "stopped")
    import time
    deadline = time.monotonic() + 10
    while rt.status("stopped") != "stopped":
        assert time.monotonic() < deadline
        time.sleep(0.02)
    assert rt("kill", "--all", "stopped", "KILL").returncode == 0
    assert rt("kill", "-a", "stopped", "9").returncode == 0
    assert error_line(rt("kill", "stopped", "KILL", check=False)) == "container not running"
    rt("delete", "stopped")


def test_delete_force_of_anything_is_success(rt, bundle):
    assert rt("delete", "--force", "never-was").returncode == 0
    b = bundle("df", ["sleep", "1000"])
    rt("create", "--bundle", b, "df-created")
    assert rt("delete", "--force", "df-created").returncode == 0
    rt("run", "-d", "--bundle", b, "df-running")
    assert rt("delete", "--force", "df-running").returncode == 0
    rt("run", "-d", "--bundle", b, "df-garbled")
    state = Path(rt.root) / "df-garbled" / "state"
    pid = rt.state("df-garbled")["pid"]
    state.write_bytes(b"\x00not marshal")
    assert rt("delete", "--force", "df-garbled").returncode == 0
    assert not state.parent.exists()
    os.kill(pid, 9)  # its state was unreadable: what it ran is the caller's to kill, as with runc
    assert rt("delete", "--force", "df-garbled").returncode == 0
    import time
    deadline = time.monotonic() + 10
    while os.path.exists(f"/proc/{pid}") and time.monotonic() < deadline:
        try:
            os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            pass
        time.sleep(0.02)
    remove_cgroup_parent(f"{CGROUP_PARENT}/runc-edges-df", timeout=5)


# -- namespaces by path --------------------------------------------------------------------------
@pytest.fixture
def holder():
    """A process in new ipc, uts, network, cgroup, time and pid namespaces, as a pod's
    sandbox (its pause process) holds them."""
    p = subprocess.Popen(["unshare", "--ipc", "--uts", "--net", "--cgroup", "--time", "--pid", "--fork",
                          "--kill-child", "sh", "-c", "hostname podhost; echo ready; exec sleep 1000"],
                         stdout=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL)
    assert p.stdout.readline().strip() == "ready"
    children = Path(f"/proc/{p.pid}/task/{p.pid}/children").read_text().split()
    yield int(children[0])
    p.kill()
    p.wait()
    p.stdout.close()


def ns_inode(pid, kind: str) -> str:
    return os.readlink(f"/proc/{pid}/ns/{kind}")


def test_namespaces_of_every_type_by_path(rt, bundle, holder):
    kinds = {"ipc": "ipc", "uts": "uts", "network": "net", "cgroup": "cgroup", "time": "time", "pid": "pid"}
    b = bundle("nspath", ["sh", "-c", "hostname; for k in ipc uts net cgroup time pid; do readlink /proc/self/ns/$k; "
                                      "done"])

    def change(c):
        c["linux"]["namespaces"] = [n for n in c["linux"]["namespaces"] if n["type"] not in kinds]
        c["linux"]["namespaces"] += [{"type": t, "path": f"/proc/{holder}/ns/{f}"} for t, f in kinds.items()]
    edit(b, change)
    r = rt("run", "--bundle", b, "nspath", check=False)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.split()
    assert lines[0] == "podhost"  # the sandbox's hostname: a joined uts namespace is not renamed
    assert lines[1:] == [ns_inode(holder, f) for f in ("ipc", "uts", "net", "cgroup", "time", "pid")]


@pytest.mark.parametrize("kind,wrong", [("network", "ipc"), ("ipc", "net"), ("mount", "uts"), ("pid", "net"),
                                        ("uts", "cgroup"), ("cgroup", "pid"), ("user", "net"), ("time", "ipc")])
def test_a_namespace_path_of_another_type_is_refused(rt, bundle, holder, kind, wrong):
    b = bundle(f"nswrong-{kind}", ["true"])

    def change(c):
        c["linux"]["namespaces"] = [n for n in c["linux"]["namespaces"] if n["type"] != kind]
        c["linux"]["namespaces"].append({"type": kind, "path": f"/proc/{holder}/ns/{wrong}"})
    edit(b, change)
    line = error_line(rt("create", "--bundle", b, "nswrong", check=False))
    named = {"net": "network", "mnt": "mount"}.get(wrong, wrong)
    wanted = dict(network="net", mount="mnt").get(kind, kind)
    a = lambda w: "an" if w[0] in "aeiou" else "a"  # noqa: E731
    assert line == (f"runc create failed: config.json: linux.namespaces: the {kind} namespace path /proc/{holder}/ns/{wrong} is "
                    f"{a(named)} {named} namespace: give {a(wanted)} {wanted} namespace"), line
    assert rt.status("nswrong") == "absent"


def test_a_namespace_path_that_is_no_namespace_or_twice_is_refused(rt, bundle, tmp_path):
    b = bundle("nsbad", ["true"])
    (tmp_path / "plain").write_text("")
    edit(b, lambda c: c["linux"].__setitem__("namespaces", [{"type": "pid"}, {"type": "mount"},
                                                            {"type": "network", "path": str(tmp_path / "plain")}]))
    assert "is not a namespace" in error_line(rt("create", "--bundle", b, "nsbad", check=False))
    edit(b, lambda c: c["linux"].__setitem__("namespaces", [{"type": "pid"}, {"type": "mount"}, {"type": "pid"}]))
    assert error_line(rt("create", "--bundle", b, "nsbad", check=False)).endswith(
        "config.json: linux.namespaces[2].type: pid is given twice")


# -- capabilities ---------------------------------------------------------------------------------
def caps_of(status: str) -> dict[str, int]:
    return {line.split(":")[0]: int(line.split()[1], 16) for line in status.splitlines() if line.startswith("Cap")}


def bits(*numbers: int) -> int:
    return sum(1 << n for n in numbers)


def test_the_five_capability_sets_exactly_as_given(rt, bundle):
    # CHOWN 0, KILL 5, NET_BIND_SERVICE 10, NET_ADMIN 12, NET_RAW 13
    b = bundle("caps", ["cat", "/proc/self/status"])
    sets = {"bounding": ["CAP_NET_ADMIN", "CAP_KILL", "CAP_NET_RAW"],
            "effective": ["CAP_CHOWN", "CAP_NET_ADMIN"],           # CHOWN: permitted, not in the bounding set
            "permitted": ["CAP_CHOWN", "CAP_NET_ADMIN", "CAP_KILL"],
            "inheritable": ["CAP_NET_ADMIN", "CAP_KILL"],
            "ambient": ["CAP_NET_ADMIN"]}
    edit(b, lambda c: c["process"].__setitem__("capabilities", sets))
    r = rt("run", "--bundle", b, "caps", check=False)
    assert r.returncode == 0, r.stderr
    ours = caps_of(r.stdout)
    # inheritable, bounding and ambient as given; permitted and effective are what the
    # exec made of the given sets (capabilities(7)): runc's, below, to the bit
    assert (ours["CapInh"], ours["CapBnd"], ours["CapAmb"]) == (bits(12, 5), bits(12, 5, 13), bits(12)), ours
    assert ours["CapPrm"] == ours["CapEff"] == bits(12, 5), ours
    if os.access(RUNC, os.X_OK):  # runc gives the very same sets
        theirs = run_under_runc(rt, b, "caps-runc")
        assert theirs.returncode == 0, theirs.stderr
        assert caps_of(theirs.stdout) == ours


def test_a_capability_the_host_lacks_is_refused_as_runc_refuses_it(rt, bundle):
    with open("/proc/self/status") as f:
        bounding = caps_of(f.read())["CapBnd"]
    if bounding >> 24 & 1:
        pytest.skip("this host's root holds CAP_SYS_RESOURCE: nothing to refuse")
    b = bundle("nores", ["true"])
    edit(b, lambda c: [c["process"]["capabilities"][k].append("CAP_SYS_RESOURCE") for k in ("bounding", "permitted",
                                                                                            "effective")])
    r = rt("run", "--bundle", b, "nores", check=False)
    assert r.returncode != 0 and "unable to apply caps: operation not permitted" in r.stderr, r.stderr
    assert "CAP_SYS_RESOURCE" in r.stderr and "Traceback" not in r.stderr
    if os.access(RUNC, os.X_OK):
        theirs = run_under_runc(rt, b, "nores-runc")
        assert theirs.returncode != 0 and "unable to apply caps: operation not permitted" in theirs.stderr
