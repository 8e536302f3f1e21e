"""The views over real processes in new namespaces, real overlay-form directories (a whiteout
device, an opaque xattr: root) and real containers. The views from data alone: tests/unit/test_views.py."""

from __future__ import annotations

import os
import subprocess
import time

import pytest

from bocker_magics.views import (
    ContainerTable,
    ImageTable,
    Inspect,
    LayerDiff,
    Monitor,
    NamespaceTable,
)
from bocker_magics.views.namespaces import host_column

MIMES = ("text/plain", "text/html", "text/markdown")


def _inode(pid: int, kind: str) -> int:
    return int(os.readlink(f"/proc/{pid}/ns/{kind}").split("[")[1].rstrip("]"))


@pytest.fixture
def unshared():
    """A process in new uts and ipc namespaces (unshare(1)), gone after the test."""
    p = subprocess.Popen(["unshare", "--uts", "--ipc", "sleep", "30"])
    deadline = time.monotonic() + 5
    while _inode(p.pid, "uts") == _inode(os.getpid(), "uts") and time.monotonic() < deadline:
        time.sleep(0.01)  # until unshare(2) has run and sleep is exec'd
    yield p
    p.kill()
    p.wait()


def test_namespace_table_inodes_and_marks(unshared):
    table = NamespaceTable.of({"mine": os.getpid(), "unshared": unshared.pid})
    host_label, host_pid = host_column()
    assert table.labels == [host_label, "mine", "unshared"]
    frame = table.to_frame()
    assert list(frame.columns) == table.labels and frame.index.name == "namespace"
    assert {"cgroup", "ipc", "mnt", "net", "pid", "pid_for_children", "user", "uts"} <= set(frame.index)
    for kind in ("uts", "ipc", "mnt", "net"):
        assert frame.loc[kind, "unshared"] == _inode(unshared.pid, kind)
        assert frame.loc[kind, "mine"] == _inode(os.getpid(), kind)
    bundle = table._repr_mimebundle_()
    assert set(MIMES) <= set(bundle)
    uts, mnt = _inode(unshared.pid, "uts"), _inode(unshared.pid, "mnt")
    assert f"<mark>{uts}</mark>" in bundle["text/html"]
    assert f"**{uts}**" in bundle["text/markdown"] and f"{uts}*" in bundle["text/plain"]
    if host_pid == os.getpid():  # the same mount namespace as the first column: not marked
        assert f"<mark>{mnt}</mark>" not in bundle["text/html"]
    assert table.differs("unshared", "uts") and not table.differs("mine", "user")
    assert "<table>" in table.widget().value


@pytest.fixture
def overlay_dirs(tmp_path):
    lower, upper = tmp_path / "lower", tmp_path / "upper"
    for d in ("etc", "bin", "var/cache", "var/keep"):
        (lower / d).mkdir(parents=True)
    (lower / "etc/passwd").write_text("root:x:0:0\n")
    (lower / "bin/ls").write_bytes(b"\x7fELF\0binary")
    (lower / "var/cache/old").write_text("old\n")
    (upper / "etc").mkdir(parents=True)
    (upper / "etc/passwd").write_text("root:x:0:0\nuser:x:1000:1000\n")   # changed
    (upper / "etc/new.conf").write_text("new\n")                          # added
    (upper / "bin").mkdir()
    os.mknod(upper / "bin/ls", 0o600 | 0o020000, os.makedev(0, 0))        # deleted: a whiteout
    (upper / "var/cache").mkdir(parents=True)
    os.setxattr(upper / "var/cache", "trusted.overlay.opaque", b"y")      # opaque: hides "old"
    (upper / "var/cache/fresh").write_text("f\n")
    return upper, lower


def test_layer_diff_rows(overlay_dirs):
    upper, lower = overlay_dirs
    d = LayerDiff.of_dirs(upper, lower, title="demo")
    rows = {(c.kind, c.path) for c in d}
    assert rows == {("C", "/etc"), ("C", "/etc/passwd"), ("A", "/etc/new.conf"), ("C", "/bin"),
                    ("D", "/bin/ls"), ("C", "/var"), ("C", "/var/cache"), ("A", "/var/cache/fresh")}
    frame = d.to_frame()
    assert list(frame.columns) == ["kind", "path", "type", "size", "opaque"]
    assert frame.set_index("path").loc["/var/cache", "opaque"] == True  # noqa: E712
    assert frame.set_index("path").loc["/bin/ls", "type"] == "whiteout"
    bundle = d._repr_mimebundle_()
    assert "C /var/cache  (opaque)" in bundle["text/plain"] and "D /bin/ls" in bundle["text/plain"]
    assert "<del>/bin/ls</del>" in bundle["text/html"] and "<ins>/etc/new.conf</ins>" in bundle["text/html"]
    assert "| D | /bin/ls | whiteout |" in bundle["text/markdown"]
    patch = d.unified("/etc/passwd")
    assert "--- a/etc/passwd" in patch and "+user:x:1000:1000" in patch and "-root" not in patch
    assert d.text_changes() == ["/etc/new.conf", "/etc/passwd", "/var/cache/fresh"]


def test_layer_diff_widget_is_a_coloured_tree_with_a_file_diff(overlay_dirs):
    upper, lower = overlay_dirs
    w = LayerDiff.of_dirs(upper, [lower]).widget()
    tree, side = w.children
    assert "color:#cf222e" in tree.value and "<b>D</b> ls" in tree.value and "(opaque)" in tree.value
    pick, shown = side.children
    pick.value = "/etc/passwd"
    assert "+user:x:1000:1000" in shown.value


def test_engine_views_on_a_running_container(engine, busybox):
    r = engine.run(busybox, "sleep 30", detach=True, name="viewed")
    try:
        table = ContainerTable(engine.ps())
        bundle = table._repr_mimebundle_()
        assert set(MIMES) <= set(bundle) and r.id in bundle["text/html"] and "running" in bundle["text/markdown"]
        assert table.to_frame().set_index("id").loc[r.id, "status"] == "running"
        images = ImageTable(engine.images())
        assert busybox in images._repr_mimebundle_()["text/plain"]
        info = Inspect(engine.inspect(r.id))
        assert info.to_frame().loc["State.Running", "value"] == True  # noqa: E712
        assert f"- Id: {r.id}" in info._repr_mimebundle_()["text/markdown"]  # a tree, as the HTML
        m = Monitor(engine, 0.05).start(r.id)
        time.sleep(0.3)
        m.stop()
        assert len(m.samples) >= 3 and m.png().startswith(b"\x89PNG")
        assert m.to_frame()["memory_bytes"].iloc[0] > 0
        stats = engine.stats([r.id])[r.id]
        assert stats.pids_current == 1 and stats.memory_current > 0
    finally:
        engine.rm(r.id, force=True)
