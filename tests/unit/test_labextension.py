"""The JupyterLab extension the package ships prebuilt (bocker_magics/labextension): the bundle
under prebuilt/ was built from src/index.js as it is (a change to the source without a rebuild
would ship the old code), what pyproject installs is there, and the completion plugin's test of
"the cursor is in a magic's arguments" is the kernel matcher's (completion.py's _MAGIC).

Files only, no node: the browser tests (tests/host/test_browser_face.py) load the bundle into
JupyterLab and check what it does."""

from __future__ import annotations

import json
import re
from pathlib import Path

from bocker_magics import completion

EXT = Path(__file__).resolve().parents[2] / "bocker_magics" / "labextension"
SOURCE = EXT / "src" / "index.js"


def _code(js: str) -> str:
    """The source less its // comments (whole lines)."""
    return "\n".join(line for line in js.splitlines() if not line.lstrip().startswith("//"))


def _bundle() -> str:
    return "\n".join(p.read_text() for p in sorted((EXT / "prebuilt" / "static").glob("*.js")))


def test_the_prebuilt_bundle_is_what_pyproject_installs():
    meta = json.loads((EXT / "prebuilt" / "package.json").read_text())
    source_meta = json.loads((EXT / "package.json").read_text())
    assert meta["name"] == source_meta["name"] == "bocker-magics-highlight"
    assert meta["dependencies"] == source_meta["dependencies"], "rebuilt after package.json changed"
    assert (EXT / "prebuilt" / meta["jupyterlab"]["_build"]["load"]).is_file()
    # one build's files only: an entry point and the chunks it names
    entries = list((EXT / "prebuilt" / "static").glob("remoteEntry.*.js"))
    assert len(entries) == 1, entries
    for chunk in (EXT / "prebuilt" / "static").glob("[0-9]*.js"):
        assert chunk.name.split(".")[1] in entries[0].read_text(), f"{chunk.name}: left from another build"
    pyproject = (EXT.parents[1] / "pyproject.toml").read_text()
    assert '"share/jupyter/labextensions/bocker-magics-highlight/static" = ["bocker_magics/labextension/prebuilt/static/*"]' in pyproject


def test_the_prebuilt_bundle_was_built_from_this_source():
    code, bundle = _code(SOURCE.read_text()), _bundle()
    # every string literal of the source survives minification as it is
    literals = re.findall(r"'((?:[^'\\\n]|\\.)*)'" + r'|"((?:[^"\\\n]|\\.)*)"', code)
    strings = [a or b for a, b in literals if len(a or b) >= 4 and "\\" not in a + b]
    assert len(strings) >= 8 and "CompletionProvider:context" in strings, strings
    missing = [s for s in strings if s not in bundle]
    assert not missing, f"rebuild prebuilt/ (labextension/README.md): {missing}"
    # and so does every regular expression literal
    regexes = re.findall(r"[=\[(,]\s*(/[^/*\n][^/\n]*/)[gimsuy]*\s*[,;\])]", code)
    assert len(regexes) >= 4, regexes
    assert [r for r in regexes if r not in bundle] == []


def test_the_plugin_tests_what_the_kernel_matcher_tests():
    m = re.search(r"^const MAGIC = /(.*)/;$", SOURCE.read_text(), re.M)
    assert m, "src/index.js defines MAGIC"
    assert m.group(1) == completion._MAGIC.pattern, "change completion.py's _MAGIC and index.js's MAGIC together"
