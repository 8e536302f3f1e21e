"""The report command, as a reader runs it, into a scratch dir; then the index and every
report opened in headless Chromium (a screenshot each), and their HTML checked for the
tables and the embedded plots, with nothing to fetch from the network."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
# every experiment: the index and each report are opened (tables everywhere, a topology
# picture in 03, plots in 04)
NOTEBOOKS = sorted(p.stem for p in (Path(__file__).resolve().parents[2] / "notebooks").glob("[0-9][0-9]-*.ipynb"))


class Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict]] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))


def tags(html: str) -> list[tuple[str, dict]]:
    p = Tags()
    p.feed(html)
    return p.tags


def screenshot(page: Path, png: Path, profile: Path) -> None:
    args = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            f"--user-data-dir={profile}", f"--screenshot={png}", "--window-size=1200,1600", page.as_uri()]
    r = subprocess.run(args, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and png.exists(), f"chromium: {r.returncode}\n{r.stderr[-2000:]}"


@pytest.fixture(scope="module")
def reports(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("reports")
    env = {**os.environ, "IPYTHONDIR": str(out.parent / "ipython")}
    r = subprocess.run([sys.executable, "-m", "bocker_magics.report", "--out", str(out), *NOTEBOOKS],
                       capture_output=True, text=True, timeout=600, env=env)
    assert r.returncode == 0, r.stdout[-4000:] + r.stderr[-4000:]
    return out


def test_index_lists_every_run_with_machine_facts(reports):
    html = (reports / "index.html").read_text()
    for name in NOTEBOOKS:
        assert f'href="{name}.html"' in html
    assert html.count(">passed<") == len(NOTEBOOKS)
    for fact in ("kernel", "distro", "cgroup mode", os.uname().release):
        assert fact in html


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_report_is_self_contained_with_tables_and_plots(reports, name):
    html = (reports / f"{name}.html").read_text()
    found = tags(html)
    assert sum(t == "table" for t, _ in found) >= (1 if name == "03-net-namespace" else 2), "the views static HTML tables"
    for t, a in found:  # nothing is fetched from the network
        if t in ("script", "img", "iframe"):
            assert not (a.get("src") or "").startswith(("http:", "https:", "//")), a
        if t == "link":
            assert not (a.get("href") or "").startswith(("http:", "https:", "//")), a
    assert "cdnjs" not in html
    if name in ("03-net-namespace", "04-cgroups"):
        assert re.search(r'<img [^>]*src="data:image/png;base64,', html), "the plot, embedded"
    assert "AssertionError" not in html and "Traceback" not in html
    # titled by the notebook and its article section, a banner (passed, the duration), the way back
    title = re.search(r"<title>(.*?)</title>", html).group(1)
    assert title.startswith(f"{name} · {name[:2]} · ") and "Notebook" != title
    banner = re.search(r'<nav id="bocker-banner".*?</nav>', html, re.S).group(0)
    assert 'href="index.html"' in banner and ">passed<" in banner and re.search(r"in \d+\.\d s", banner)


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (quickstart.sh test installs it)")
def test_index_and_reports_render_in_headless_chromium(reports, tmp_path):
    for page in ["index"] + NOTEBOOKS:
        png = tmp_path / f"{page}.png"
        screenshot(reports / f"{page}.html", png, tmp_path / f"profile-{page}")
        data = png.read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 20_000, f"{page}: a blank screenshot"
