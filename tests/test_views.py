"""The views on their own: mime bundles (text, HTML, Markdown), frames and widgets, over real
processes, real overlay-form directories and real containers."""

from __future__ import annotations

import os
import subprocess
import time

import pytest

from bocker_magics.engine.kernel.cgroups.common import CgroupStats
from bocker_magics.views import ContainerTable, ImageTable, Inspect, LayerDiff, Monitor, NamespaceTable, Progress, stats_frame
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


def test_namespace_table_of_a_missing_pid():
    with pytest.raises(ProcessLookupError):
        NamespaceTable.of([2 ** 22 + 12345])


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


def test_stats_frame_has_the_same_columns_everywhere():
    s = CgroupStats(cpu_seconds=1.5, cpu_shares=512, cpu_weight=20, memory_current=1 << 20,
                    memory_peak=2 << 20, memory_limit=64 << 20, oom_kills=0, pids_current=3)
    frame = stats_frame({"ps_a": s, "ps_b": CgroupStats()}, {"ps_a": "web"})
    assert list(frame.columns) == ["name", "cpu_seconds", "cpu_shares", "cpu_weight", "cpu_quota_cpus",
                                   "memory_current", "memory_peak", "memory_limit", "oom_kills",
                                   "pids_current", "pids_limit"]
    assert frame.loc["ps_a", "memory_limit"] == 64 << 20 and frame.loc["ps_a", "name"] == "web"
    assert frame.loc["ps_b"].drop("name").isna().all()


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
        assert "```json" in info._repr_mimebundle_()["text/markdown"]
        m = Monitor(engine, 0.05).start(r.id)
        time.sleep(0.3)
        m.stop()
        assert len(m.samples) >= 3 and m.png().startswith(b"\x89PNG")
        assert m.to_frame()["memory_bytes"].iloc[0] > 0
        stats = engine.stats([r.id])[r.id]
        assert stats.pids_current == 1 and stats.memory_current > 0
    finally:
        engine.rm(r.id, force=True)


def test_progress_bundle():
    p = Progress("pull demo")
    p(512, 1024)
    bundle = p._repr_mimebundle_()
    assert '<progress value="512" max="1024"></progress>' in bundle["text/html"]
    assert "512 B of 1.0 KiB" in bundle["text/plain"]
    p.close("pulled")
    assert "pulled" in p._repr_mimebundle_()["text/plain"]


def test_layer_progress_sums_the_layers():
    from dataclasses import dataclass

    from bocker_magics.views.progress import LayerProgress

    @dataclass
    class Event:  # the fields of registry.Progress
        layer: str
        status: str
        current: int = 0
        total: int = 0

    p = LayerProgress("pull demo", )
    p(Event("aaa", "downloading", 100, 400))
    p(Event("bbb", "exists", 600, 600))
    bundle = p.progress._repr_mimebundle_()
    assert '<progress value="700" max="1000"></progress>' in bundle["text/html"]
    assert "(1/2 layers, exists bbb)" in bundle["text/plain"]
