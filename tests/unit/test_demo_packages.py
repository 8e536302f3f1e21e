"""What the demo starts, its set-up installs: every program the notebooks and `lab/` run is
found on this machine and belongs to a package that `quickstart.sh demo` installs, or to one a
fresh Debian has (priority required or important). So a notebook that starts a new program
fails here, not on a user's fresh VM (as 07 did with containerd)."""

from __future__ import annotations

import ast
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
RUNNERS = {"run", "Popen", "check_output", "check_call", "call"}
# argv[0] of a program that is not a program of its own
NOT_PROGRAMS = {"sh", "/bin/sh", "bash", "/bin/bash", "sleep"}  # coreutils/dash: required


def _argv0(node: ast.AST) -> str | None:
    if isinstance(node, (ast.List, ast.Tuple)) and node.elts:
        first = node.elts[0]
        if isinstance(first, ast.Constant) and isinstance(first.value, str):
            return first.value
    return None


def programs_in_shell(script: str) -> set[str]:
    return {m.group(1) for line in script.splitlines() if (m := re.match(r"\s*([\w./-]+)", line))}


def programs_in_python(source: str) -> set[str]:
    found: set[str] = set()
    first, _, body = source.partition("\n")
    if first.startswith("%%"):  # a cell magic: a shell script's programs, or no Python at all
        return programs_in_shell(body) if first.split()[0] in ("%%bash", "%%sh", "%%script") else set()
    try:
        tree = ast.parse(source)
    except SyntaxError:  # an IPython cell with a magic line: the magic lines are read apart
        try:
            tree = ast.parse("\n".join(line[:len(line) - len(line.lstrip())] + "pass"
                                       if line.lstrip().startswith(("%", "!")) else line
                                       for line in source.splitlines()))
        except SyntaxError:
            tree = ast.parse("")
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
        if name in RUNNERS and node.args and (program := _argv0(node.args[0])):
            found.add(program)
        if name in ("which", "_binary") and node.args and isinstance(node.args[0], ast.Constant):
            found.add(node.args[0].value)
    for line in source.splitlines():  # IPython's `!cmd` lines
        if m := re.match(r"\s*!\s*([\w./-]+)", line):
            found.add(m.group(1))
    return found


def demo_programs() -> set[str]:
    found: set[str] = set()
    for path in sorted((ROOT / "bocker_magics" / "lab").glob("*.py")):
        found |= programs_in_python(path.read_text())
    for path in sorted((ROOT / "notebooks").glob("[0-9][0-9]-*.ipynb")):
        for cell in json.loads(path.read_text())["cells"]:
            if cell["cell_type"] == "code":
                found |= programs_in_python("".join(cell["source"]))
    return found - NOT_PROGRAMS


def _base_packages() -> set[str]:
    out = subprocess.run(["dpkg-query", "-W", "-f", "${Package} ${Priority}\n"], capture_output=True,
                         text=True, check=True).stdout
    return {line.split()[0] for line in out.splitlines() if line.split()[1:] in (["required"], ["important"])}


def _owner(path: str) -> str | None:
    for candidate in (path, os.path.realpath(path)):
        r = subprocess.run(["dpkg", "-S", candidate], capture_output=True, text=True)
        if r.returncode == 0:
            return r.stdout.split(":", 1)[0].split(",")[0].strip()
        if candidate.startswith("/usr/"):  # merged /usr: dpkg may know it as /bin/...
            r = subprocess.run(["dpkg", "-S", candidate[4:]], capture_output=True, text=True)
            if r.returncode == 0:
                return r.stdout.split(":", 1)[0].split(",")[0].strip()
    return None


def test_the_scan_finds_what_the_notebooks_start():
    found = demo_programs()
    # containerd's (07), the registry's (06), util-linux's (02): the scan sees each kind of call
    assert {"containerd", "ctr", "docker-registry", "nsenter", "unshare"} <= found, found


@pytest.mark.skipif(shutil.which("dpkg-query") is None, reason="a Debian or Ubuntu host")
def test_every_program_of_the_demo_is_installed_by_its_set_up():
    demo = set(subprocess.run([str(ROOT / "quickstart.sh"), "packages", "demo"], capture_output=True, text=True,
                              check=True).stdout.split())
    allowed = demo | _base_packages()
    missing = []
    for program in sorted(demo_programs()):
        path = program if program.startswith("/") else shutil.which(program) or next(
            (p for p in (f"/usr/bin/{program}", f"/usr/sbin/{program}") if os.access(p, os.X_OK)), None)
        if path is None:
            missing.append(f"{program}: not on this machine")
            continue
        owner = _owner(path)
        if owner not in allowed:
            missing.append(f"{program} ({path}) is in package {owner}, which quickstart.sh demo does not install")
    assert missing == []


def _python_imports(source: str) -> set[str]:
    """Top-level modules a code cell imports (its magic lines read apart; a cell magic's body
    is no Python)."""
    if source.startswith("%%"):
        return set()
    lines = [line[:len(line) - len(line.lstrip())] + "pass" if line.lstrip().startswith(("%", "!")) else line
             for line in source.splitlines()]
    try:
        tree = ast.parse("\n".join(lines))
    except SyntaxError:
        return set()
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module.split(".")[0])
    return found


def test_every_python_package_a_notebook_imports_is_installed_with_the_notebooks_extra():
    """quickstart.sh demo installs the package with its `notebooks` extra (and bocker-report's
    users pip-install that extra): what a notebook imports (docker-py in 10) must be in it."""
    import importlib.metadata
    import sys
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = project["dependencies"] + project["optional-dependencies"]["notebooks"]
    names = {re.split(r"[<>=!~\[; ]", req, maxsplit=1)[0].lower().replace("_", "-") for req in wanted}
    owners = importlib.metadata.packages_distributions()
    imported: set[str] = set()
    for path in sorted((ROOT / "notebooks").glob("[0-9][0-9]-*.ipynb")):
        for cell in json.loads(path.read_text())["cells"]:
            if cell["cell_type"] == "code":
                imported |= _python_imports("".join(cell["source"]))
    assert "docker" in imported  # the scan sees 10's import
    third = {m for m in imported if m not in sys.stdlib_module_names and m != "bocker_magics"}
    missing = sorted(m for m in third
                     if not {d.lower().replace("_", "-") for d in owners.get(m, [m])} & names)
    assert missing == [], f"imported by a notebook, not in pyproject's dependencies or its notebooks extra: {missing}"
