"""CI executes every notebook of notebooks/ end to end, one test each, in a real kernel (the
venv's python) inside the test session: its network namespace, BOCKER_ROOT and cgroup
parent. Each notebook checks its own outcome with assertions, so a wrong result fails here;
afterwards nothing of the notebook's may be left on the host."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from bocker_magics.report import execute, kernel_spec, notebooks

pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")

NOTEBOOKS = notebooks()


def lab_leftovers(tmp: str = "/tmp") -> list[str]:
    """What the lab helpers make, by their names: netns bkl-*, scratch dirs bocker-lab-* (in
    `tmp`: the kernel's TMPDIR), this session's cgroup parents <parent>-lab-*, mounts of either.
    Scoped to this session where names allow (colleagues' runs of the same notebooks on the
    machine make the same kinds of things at the same time)."""
    from tests.support.session import CGROUP_PARENT

    found = []
    netns = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    found += [f"netns {l.split()[0]}" for l in netns.splitlines() if l.startswith("bkl-")]
    links = subprocess.run(["ip", "-o", "link"], capture_output=True, text=True).stdout
    found += [f"link {l.split(':')[1].strip()}" for l in links.splitlines() if ": bkl" in l]
    found += [f"mount {l.split()[1]}" for l in open("/proc/self/mounts") if f"{tmp}/bocker-lab-" in l]
    found += [f"dir {tmp}/{d}" for d in os.listdir(tmp) if d.startswith("bocker-lab-")]
    for base in ("/sys/fs/cgroup", "/sys/fs/cgroup/unified"):
        if not os.path.isdir(base):
            continue
        for hier in [base] + [os.path.join(base, d) for d in os.listdir(base)]:
            if os.path.isdir(hier):
                found += [f"cgroup {hier}/{d}" for d in os.listdir(hier) if d.startswith(f"{CGROUP_PARENT}-lab-")]
    queues = subprocess.run(["ipcs", "-q"], capture_output=True, text=True).stdout
    return found + [f"queue {l}" for l in queues.splitlines() if l.startswith("0x")]


def test_all_notebooks_are_there():
    stems = [p.stem for p in NOTEBOOKS]
    assert stems == sorted(stems)
    assert {"01-namespaces", "02-ipc-uts", "03-net-namespace", "04-cgroups", "05-overlayfs", "06-bocker",
            "07-oci-runtime", "08-build"} <= set(stems)
    import nbformat

    for p in NOTEBOOKS:
        nb = nbformat.read(p, as_version=4)
        tagged = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
        assert len(tagged) == 1, f"{p.name}: one cell tagged 'parameters' (papermill)"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs_and_checks_its_outcome(path, tmp_path, monkeypatch, request, busybox, assert_nothing_left):
    # busybox: the built-in image exists before (06 inits it; only what it adds must go)
    monkeypatch.setenv("IPYTHONDIR", str(tmp_path / "ipython"))
    # the kernel's TMPDIR: its scratch dirs are this test's to find (short: containerd's sockets
    # in 07 live there, and a Unix socket path holds at most 107 bytes)
    scratch = Path(tempfile.mkdtemp(prefix="bnb-", dir="/tmp"))
    request.addfinalizer(lambda: shutil.rmtree(scratch, ignore_errors=True))
    before = set(lab_leftovers(str(scratch)))
    with monkeypatch.context() as m:
        for var in ("JUPYTER_PATH", "JUPYTER_RUNTIME_DIR", "MPLBACKEND"):
            m.setenv(var, os.environ.get(var, ""))
        m.setenv("TMPDIR", str(scratch))
        kernel = kernel_spec(tmp_path)
        nb, error = execute(path, kernel, timeout=180)
    assert not error, error[-4000:]
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
    assert not errors
    left = set(lab_leftovers(str(scratch))) - before
    # netns and links (03's) and message queues (02's) have machine-wide names: a colleague's run
    # of the same notebook at the same moment shows there too, so they count for their notebook only
    if path.stem != "03-net-namespace":
        left = {x for x in left if not x.startswith(("netns bkl-", "link bkl"))}
    if path.stem != "02-ipc-uts":
        left = {x for x in left if not x.startswith("queue ")}
    assert left == set()
    # the embedded resolver (dnsd) is a daemon of the engine's root, started with the first user
    # network (09's stack) and kept for the next: not the notebook's leftover; stopped before the check
    from tests.support.session import stop_session_resolvers
    stop_session_resolvers()
    assert_nothing_left()
