"""`bocker-report`: execute every notebook and write reports/ — one self-contained HTML per
notebook and an index (experiment, passed or failed, duration, and the machine: kernel,
distro, cgroup mode). The HTML reads offline: no CDN (no MathJax, no require.js), the
views' static HTML shows, plots are embedded PNGs.

    bocker-report [--out reports] [--write-notebooks] [NOTEBOOK ...]
    bocker-report --check [NOTEBOOK ...]   # are the committed outputs from this code? (a release check)

Every kernel runs in a fresh network namespace (the report process unshares one before it
starts them), so the engine's bridge, addresses and NAT rules never touch the host's network.
With --write-notebooks the executed notebooks (outputs included) replace the sources, stamped
(metadata "bocker") with the digest of the cells they ran and of the package's code; --check
says which notebooks' outputs came from other cells or other code.
"""

from __future__ import annotations

import argparse
import html
import json
import os
import platform
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

# the package's notebooks: a link to the repository's notebooks/ in a clone, the notebooks
# themselves in an installed package (package data)
NOTEBOOK_DIR = Path(__file__).resolve().parent / "notebooks"
CELL_TIMEOUT = 180
EXTRA = "pip install 'bocker-magics[notebooks]'"
NEEDS = ("nbclient", "nbformat", "nbconvert", "ipykernel", "docker")  # docker: docker-py, for 10-docker-api


@dataclass
class Outcome:
    name: str
    title: str
    passed: bool
    duration: float
    error: str = ""
    html: str = ""


def missing_extra() -> list[str]:
    """The packages of the `notebooks` extra that are not installed."""
    import importlib.util

    return [name for name in NEEDS if importlib.util.find_spec(name) is None]


def machine() -> dict[str, str]:
    distro = "unknown"
    try:
        for line in open("/etc/os-release"):
            if line.startswith("PRETTY_NAME="):
                distro = line.split("=", 1)[1].strip().strip('"')
    except OSError:
        pass
    try:
        from .lab.cgroups import cgroup_mode

        mode = cgroup_mode()[0]
    except Exception as e:  # a machine with no cgroups at all still gets its report
        mode = f"unknown ({e})"
    return {"kernel": f"{platform.release()} ({platform.machine()})", "distro": distro, "cgroup mode": mode,
            "python": platform.python_version()}


def notebooks(names: list[str] | None = None) -> list[Path]:
    found = sorted(NOTEBOOK_DIR.glob("[0-9][0-9]-*.ipynb"))
    if names:
        # a path to a notebook of one's own runs too
        own = [Path(n).resolve() for n in names if n.endswith(".ipynb") and Path(n).is_file()]
        found = [p for p in found if p.stem in names or p.name in names or str(p) in names]
        found += [p for p in own if p not in found]
    return found


def enter_fresh_netns() -> None:
    """Unshare a network namespace with only lo, up; kernels started afterwards inherit it."""
    from .engine.kernel import linux

    linux.unshare(linux.CLONE_NEWNET)
    linux.loopback_up()


def kernel_spec(workdir: Path) -> str:
    """A kernelspec for this interpreter in a private JUPYTER_PATH: nothing registered globally."""
    spec = workdir / "jupyter" / "kernels" / "bocker-report"
    spec.mkdir(parents=True, exist_ok=True)
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "bocker-report", "language": "python"}))
    os.environ["JUPYTER_PATH"] = str(workdir / "jupyter")
    os.environ.setdefault("IPYTHONDIR", str(workdir / "ipython"))
    os.environ["JUPYTER_RUNTIME_DIR"] = str(workdir / "runtime")
    os.environ["MPLBACKEND"] = "Agg"
    return "bocker-report"


def code_digest(directory: Path | None = None) -> str:
    """A digest of the package's code by content (every .py file's path and bytes): the same in
    every checkout of the same commit, unlike mtimes."""
    import hashlib

    directory = directory or Path(__file__).resolve().parent
    h = hashlib.sha256()
    for path in sorted(directory.rglob("*.py")):
        if "__pycache__" in path.parts:
            continue
        h.update(str(path.relative_to(directory)).encode() + b"\0" + path.read_bytes() + b"\0")
    return h.hexdigest()


def source_digest(nb) -> str:
    """A digest of a notebook's cells as written (type and source), outputs left out."""
    import hashlib

    h = hashlib.sha256()
    for c in nb.cells:
        h.update(f"{c.cell_type}\0{c.source}\0".encode())
    return h.hexdigest()


def stamp(nb, duration: float) -> None:
    """What --check compares later: the cells and the code this run came from."""
    nb.metadata["bocker"] = {"source_digest": source_digest(nb), "code_digest": code_digest(),
                             "executed": time.strftime("%Y-%m-%d"), "duration_s": round(duration, 1),
                             "machine": machine()}
    for c in nb.cells:   # nbclient's per-cell timestamps: noise in every diff
        c.metadata.pop("execution", None)


def staleness(path: Path) -> str:
    """Why a committed notebook's outputs are not from its cells and this code ('' when they are)."""
    import nbformat

    nb = nbformat.read(path, as_version=4)
    info = nb.metadata.get("bocker")
    if not info:
        return "never run by bocker-report --write-notebooks"
    if info.get("source_digest") != source_digest(nb):
        return "its cells changed since the run that made its outputs"
    if info.get("code_digest") != code_digest():
        return f"the package's code changed since its outputs were made ({info.get('executed', '?')})"
    return ""


def title_of(nb) -> str:
    for c in nb.cells:
        if c.cell_type == "markdown":
            for line in c.source.splitlines():
                if line.startswith("# "):
                    return line[2:].strip()
    return ""


def execute(path: Path, kernel: str, timeout: int = CELL_TIMEOUT):
    """Run one notebook in a real kernel (cwd: the notebooks dir). Returns (nb, error)."""
    import nbclient
    import nbformat
    from traitlets.config import Config

    nb = nbformat.read(path, as_version=4)
    # the kernel talks over Unix sockets (in the private runtime dir), not TCP: nothing to
    # eavesdrop on, and no "running over TCP without encryption" warning in the report's log
    # (an absolute path: the kernel runs in the notebook's directory, the client here)
    sockets = Path(os.environ.get("JUPYTER_RUNTIME_DIR") or tempfile.gettempdir()) / "kernel"
    sockets.parent.mkdir(parents=True, exist_ok=True)
    config = Config({"KernelManager": {"transport": "ipc", "ip": str(sockets)}})
    client = nbclient.NotebookClient(nb, kernel_name=kernel, timeout=timeout, startup_timeout=60,
                                     resources={"metadata": {"path": str(path.parent)}}, config=config)
    error = ""
    try:
        client.execute()
    except Exception as e:  # CellExecutionError (an assertion in a cell), a timeout, a dead kernel
        error = f"{type(e).__name__}: {e}"
    return nb, error


def failure_line(nb, error: str) -> str:
    """One line for the terminal and the index: the failing cell and its error. The whole
    traceback is the report's (a terminal full of ANSI-coloured frames tells a new user nothing)."""
    import re

    ansi = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
    for index, cell in enumerate(nb.cells):
        for output in cell.get("outputs", []) if cell.cell_type == "code" else []:
            if output.get("output_type") == "error":
                what = f"{output.get('ename', 'Error')}: {output.get('evalue', '')}".strip().rstrip(":")
                return f"cell {index}: {ansi.sub('', what).splitlines()[0] if what else 'error'}"
    lines = [line.strip() for line in ansi.sub("", error).splitlines() if line.strip()]
    return lines[-1] if lines else "failed"


def to_html(nb) -> str:
    """Self-contained HTML: nbconvert's lab template, with no CDN script."""
    from nbconvert import HTMLExporter

    exporter = HTMLExporter(template_name="lab", embed_images=True)
    exporter.mathjax_url = ""
    exporter.require_js_url = ""
    body, _ = exporter.from_notebook_node(nb)
    import re

    # anything left that would be fetched from the network: drop it (the page reads offline)
    body = re.sub(r'<script[^>]+src="https?://[^"]*"[^>]*>\s*</script>', "", body)
    body = re.sub(r'<script[^>]*>(?:(?!</script>).)*?https?://cdn(?:(?!</script>).)*</script>', "", body, flags=re.S)
    body = re.sub(r'<link[^>]+href="https?://[^"]*"[^>]*>', "", body)
    return body


def page_html(body: str, o: Outcome) -> str:
    """One notebook's page: titled by the notebook and its article section, a banner that says
    whether it passed and how long it took, a link back to the index."""
    import re

    title = f"{o.name} · {o.title}" if o.title else o.name
    body = re.sub(r"<title>.*?</title>", f"<title>{html.escape(title)}</title>", body, count=1, flags=re.S)
    colour, word = ("#1a7f37", "passed") if o.passed else ("#cf222e", "failed")
    error = f" — {html.escape(o.error.splitlines()[0])}" if o.error else ""
    banner = (f'<nav id="bocker-banner" class="tex2jax_ignore mathjax_ignore" style="font-family:sans-serif;'
              f'padding:8px 16px;border-bottom:3px solid {colour};background:#f6f8fa">'
              f'<a href="index.html">&larr; all experiments</a> &nbsp;·&nbsp; '
              f'<b>{html.escape(title)}</b> &nbsp;·&nbsp; '
              f'<span class="result" style="color:{colour};font-weight:bold">{word}</span> in {o.duration:.1f} s{error}'
              f'</nav>')
    return re.sub(r"(<body[^>]*>)", lambda m: m.group(1) + banner, body, count=1)


def index_html(outcomes: list[Outcome], info: dict[str, str], when: str) -> str:
    rows = "".join(
        f"<tr><td><a href=\"{html.escape(o.name)}.html\">{html.escape(o.name)}</a></td><td>{html.escape(o.title)}</td>"
        f"<td class=\"{'ok' if o.passed else 'fail'}\">{'passed' if o.passed else 'failed'}</td>"
        f"<td>{o.duration:.1f} s</td><td>{html.escape(o.error.splitlines()[0] if o.error else '')}</td></tr>"
        for o in outcomes)
    facts = "".join(f"<tr><th>{html.escape(k)}</th><td>{html.escape(v)}</td></tr>" for k, v in info.items())
    passed = sum(o.passed for o in outcomes)
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>bocker-magics: the article's experiments</title>
<style>
body {{ font-family: sans-serif; margin: 2em; color: #222; }}
table {{ border-collapse: collapse; margin: 1em 0; }}
th, td {{ border: 1px solid #ccc; padding: 4px 10px; text-align: left; }}
td.ok {{ color: #1a7f37; font-weight: bold; }} td.fail {{ color: #cf222e; font-weight: bold; }}
</style></head><body>
<h1>bocker-magics: the article's experiments</h1>
<p>{passed} of {len(outcomes)} notebooks passed — run {html.escape(when)}.</p>
<table id="experiments"><thead><tr><th>notebook</th><th>experiment</th><th>result</th><th>duration</th>
<th>error</th></tr></thead>
<tbody>{rows}</tbody></table>
<h2>Machine</h2><table id="machine"><tbody>{facts}</tbody></table>
</body></html>
"""


def report(paths: list[Path], out: Path, write_notebooks: bool = False, netns: bool = True,
           timeout: int = CELL_TIMEOUT, log=print) -> list[Outcome]:
    import nbformat

    if netns:
        enter_fresh_netns()
    out.mkdir(parents=True, exist_ok=True)
    outcomes = []
    with tempfile.TemporaryDirectory(prefix="bocker-report-") as work:
        kernel = kernel_spec(Path(work))
        for path in paths:
            log(f"{path.stem}: running …")
            t0 = time.monotonic()
            nb, error = execute(path, kernel, timeout)
            o = Outcome(path.stem, title_of(nb), not error, time.monotonic() - t0,
                        failure_line(nb, error) if error else "")
            (out / f"{path.stem}.html").write_text(page_html(to_html(nb), o))
            if write_notebooks and o.passed:
                stamp(nb, o.duration)
                nbformat.write(nb, path)
            outcomes.append(o)
            if o.passed:
                log(f"{path.stem}: passed in {o.duration:.1f} s")
            else:
                log(f"{path.stem}: FAILED in {o.duration:.1f} s, {o.error} "
                    f"(see {out / path.stem}.html)")
    (out / "index.html").write_text(index_html(outcomes, machine(), time.strftime("%Y-%m-%d %H:%M:%S")))
    log(f"wrote {out / 'index.html'}")
    return outcomes


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="bocker-report", description=__doc__.split("\n\n")[0])
    p.add_argument("notebooks", nargs="*", help="names (01-namespaces) or paths; default: all six")
    p.add_argument("--out", default="reports", help="the directory to write (default: reports)")
    p.add_argument("--write-notebooks", action="store_true",
                   help="store each passing run's outputs in the notebook itself (for GitHub and mybinder)")
    p.add_argument("--no-netns", action="store_true", help="run the kernels in this network namespace")
    p.add_argument("--timeout", type=int, default=CELL_TIMEOUT, help="seconds per cell")
    p.add_argument("--check", action="store_true",
                   help="run nothing: say which notebooks' stored outputs are not from their cells and this code")
    a = p.parse_args(argv)
    if a.check:
        paths = notebooks(a.notebooks)
        stale = [(path.stem, why) for path in paths if (why := staleness(path))]
        for name, why in stale:
            print(f"{name}: {why}: run bocker-report --write-notebooks {name}")
        if not stale:
            print(f"the outputs of {len(paths)} notebooks come from their cells and this code")
        return 1 if stale else 0
    missing = missing_extra()
    if missing:
        print(f"bocker-report needs {', '.join(missing)}: {EXTRA}", file=sys.stderr)
        return 1
    if os.geteuid() != 0:
        print("bocker-report runs real namespaces, mounts and cgroups: run it as root", file=sys.stderr)
        return 1
    paths = notebooks(a.notebooks)
    if not paths:
        print(f"no notebook matches {a.notebooks} in {NOTEBOOK_DIR}", file=sys.stderr)
        return 2
    outcomes = report(paths, Path(a.out), a.write_notebooks, not a.no_netns, a.timeout)
    return 0 if all(o.passed for o in outcomes) else 1


if __name__ == "__main__":
    sys.exit(main())
