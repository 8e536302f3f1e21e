"""The faces as tables (issue 20): every verb once in commands.VERBS with its call, its lines
and its notebook view; the CLI, the magic and bocker-runc look verbs up in tables; no face
imports another. And the one signal parser, size parser and atomic write they all use.
Nothing here needs a container, a namespace or a cgroup."""

from __future__ import annotations

import argparse
import ast
import os
import re
import signal
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from bocker_magics import cell_views, commands, rendering, runc
from bocker_magics.engine.fileio import atomic_write
from bocker_magics.engine.units import parse_size, signal_number
from bocker_magics.errors import BockerError, InvalidArgument

PACKAGE = Path(commands.__file__).parent


# -- the verb table ---------------------------------------------------------------------------
def test_every_verb_of_the_cli_help_is_once_in_the_table():
    helped = re.findall(r"^\tbocker (\S+)", commands.help_text(), re.M)
    assert len(helped) == len(set(helped)), "a verb listed twice in bocker help"
    assert set(helped) - {"help"} == set(commands.VERBS)
    assert all(name == verb.name for name, verb in commands.VERBS.items())


def test_every_verb_names_its_call_its_lines_and_its_view():
    for name, verb in commands.VERBS.items():
        for part in (verb.arguments, verb.call, verb.text, verb.view, verb.terminal):
            assert callable(part), (name, part)
        assert verb.purpose and verb.usage, name
        assert verb.text.__module__ == rendering.__name__, name      # lines: rendering.py
        assert verb.view.__module__ == cell_views.__name__, name     # the notebook's view: cell_views.py
        commands.parser(name)                                        # its arguments build


def test_the_table_says_what_the_faces_used_to_branch_on():
    verbs = commands.VERBS
    assert {n for n, v in verbs.items() if v.progress} == {"pull", "push"}
    assert {n for n, v in verbs.items() if v.many} == {"stop", "kill", "rm", "rmi", "pause", "unpause", "restart",
                                                       "volume"}
    run = commands.namespace_for("run", image="busybox", tty=True)
    assert verbs["run"].terminal(run) == commands.OWN_PTY
    assert verbs["run"].terminal(commands.namespace_for("run", image="busybox", tty=True, detach=True)) is None
    assert verbs["exec"].terminal(commands.namespace_for("exec", container="c", tty=True)) == commands.OWN_PTY
    assert verbs["attach"].terminal(commands.namespace_for("attach", container="web")) == "web"
    assert verbs["start"].terminal(commands.namespace_for("start", containers=["a"], attach=True)) == "a"
    assert verbs["start"].terminal(commands.namespace_for("start", containers=["a"])) is None
    assert verbs["ps"].terminal(commands.namespace_for("ps")) is None


def test_a_face_without_a_command_line_fills_a_verbs_arguments_from_values():
    """What a Docker API handler does: the parser's defaults, and what it was given."""
    a = commands.namespace_for("stop", containers=["web"])
    assert a == argparse.Namespace(time=None, containers=["web"])
    a = commands.namespace_for("run", image="busybox")
    assert (a.image, a.command, a.env, a.detach, a.memory) == ("busybox", [], [], False, None)
    assert commands.namespace_for("run", image="x").env is not commands.namespace_for("run", image="x").env
    with pytest.raises(TypeError, match="no argument bogus"):
        commands.namespace_for("ps", bogus=1)
    assert commands.lookup("ps") is commands.VERBS["ps"]
    with pytest.raises(InvalidArgument, match="Unknown command 'nope'"):
        commands.lookup("nope")


def test_the_lines_of_a_verb_are_the_same_for_both_faces(capsys):
    from bocker_magics import cli
    assert cli.render("rm", None, ["a", "b"]) == 0
    assert capsys.readouterr().out == "Removed: a\nRemoved: b\n"
    result = SimpleNamespace(id="ps_1", exit_code=3, detached=False)
    assert cli.render("run", argparse.Namespace(detach=True), result) == 3
    assert capsys.readouterr().out == "ps_1\n"
    verb = commands.VERBS["rm"]
    assert cell_views.printed_only(None, verb, argparse.Namespace(out=None), ["a"]) is None
    assert capsys.readouterr().out == "Removed: a\n"
    verb = commands.VERBS["gc"]
    assert cell_views.printed(None, verb, argparse.Namespace(out="v"), ["x"]) == ["x"]   # kept for --out
    assert capsys.readouterr().out == "Removed: x\n"


def test_a_notebook_view_of_lines_that_failed_fails_the_cell(capsys):
    verb = commands.VERBS["container"]
    failed = SimpleNamespace(removed=[], reclaimed=0, errors=["ps_1: busy"])
    with pytest.raises(BockerError, match="%bocker container did not finish"):
        cell_views.printed(None, verb, argparse.Namespace(out=None), failed)
    assert "ps_1: busy" in capsys.readouterr().err


def test_the_magic_dispatches_through_its_tables():
    pytest.importorskip("IPython")
    from bocker_magics import magics
    assert not set(magics.MAGIC_VERBS) & set(commands.VERBS)
    names = set(commands.VERBS) | set(magics.MAGIC_VERBS)
    assert set(magics.OWN_WAYS) <= names
    assert set(magics.MAGIC_OPTIONS) <= names
    assert set(magics.MAKES_IMAGES) <= set(commands.VERBS)
    for name in names:
        p = magics.magic_parser(name)
        assert "--out" in p._option_string_actions, name
    assert set(magics.verbs()) == names | {"help"}
    assert "--monitor" in magics.magic_parser("top")._option_string_actions
    assert "--no-raise-error" in magics.magic_parser("exec")._option_string_actions


def test_bocker_runc_dispatches_through_its_table():
    usage_verbs = set(re.findall(r"(?:^|\| )\s*([a-z]+)(?= |$)", runc.USAGE.split("\n", 2)[2], re.M))
    assert set(runc.VERBS) <= usage_verbs | {"start", "state", "pause", "resume", "delete", "features"}
    for name, verb in runc.VERBS.items():
        assert callable(verb.run), name
        assert all(kind in ("flag", "value", "list", "int") for _, kind in verb.flags.values()), name
    assert {n for n, v in runc.VERBS.items() if v.command_follows} == {"exec", "ps"}


def _imports(path: Path) -> set[str]:
    """Every module a file imports, at its top or in a function, as absolute names."""
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = "bocker_magics" + ("." + base if base else "")
                out |= {f"{base}.{a.name}" for a in node.names}
            out.add(base)
    return out


FACES = {"cli": {"cli", "client", "server", "server_dir", "server_threads"},
         "magics": {"magics", "magic_tables", "magic_ways"},
         "runc": {"runc", "runc_verbs"}}


@pytest.mark.parametrize("face", sorted(FACES))
def test_no_face_imports_another_face(face):
    others = {f"bocker_magics.{m}" for other, modules in FACES.items() if other != face for m in modules}
    for module in FACES[face]:
        found = _imports(PACKAGE / f"{module}.py") & others
        assert not found, f"{module}.py imports {found}"
    shared = ["commands.py", "rendering.py", "cell_views.py",
              *(f"verbs/{p.name}" for p in (PACKAGE / "verbs").glob("*.py"))]
    for name in shared:  # the verbs' table and its parts (verbs/), the lines, the views
        found = _imports(PACKAGE / name) & {f"bocker_magics.{m}" for ms in FACES.values() for m in ms}
        assert not found, f"{name} imports a face: {found}"


# -- one signal parser --------------------------------------------------------------------------
@pytest.mark.parametrize("text, number", [
    ("TERM", 15), ("SIGTERM", 15), ("sigterm", 15), (" KILL ", 9), ("9", 9), (15, 15), ("64", 64),
    ("SIGRTMIN+3", signal.SIGRTMIN + 3), ("RTMAX-1", signal.SIGRTMAX - 1), ("SIGRTMIN", signal.SIGRTMIN),
    ("usr1", signal.SIGUSR1),
])
def test_a_signal_by_name_or_number(text, number):
    assert signal_number(text) == number


@pytest.mark.parametrize("text", ["NOPE", "0", "65", "-1", "", "SIG", "SIG_DFL", "SIGRTMIN+99", "SIGRTMAX+1",
                                  "SIGRTMIN+", "9x", "٣", True, None])
def test_what_is_no_signal(text):
    with pytest.raises(ValueError):
        signal_number(text)


def test_each_caller_keeps_its_own_message_about_a_signal():
    from bocker_magics.engine.build.instructions import check_signal
    from bocker_magics.engine.build.lexer import LexError
    check_signal("SIGRTMIN+3")
    with pytest.raises(LexError, match=re.escape("invalid signal: NOPE (a name like SIGTERM or a number like 15)")):
        check_signal("NOPE")


# -- one size parser ----------------------------------------------------------------------------
@pytest.mark.parametrize("text, size", [
    ("512", 512), ("512b", 512), ("64k", 64 << 10), ("64m", 64 << 20), ("64M", 64 << 20), ("1.5g", 3 << 29),
    ("2t", 2 << 40), ("1p", 1 << 50), ("64mb", 64 << 20), ("64MiB", 64 << 20), ("1 g", 1 << 30), ("0", 0),
    (" 256m ", 256 << 20),
])
def test_a_size_as_docker_spells_it(text, size):
    assert parse_size(text) == size


@pytest.mark.parametrize("text", ["", "b", "m", "1.2.3", "-1", "abc", "1x", "1  g", ".5m", "1.m", "1e3", "١m"])
def test_what_is_no_size(text):
    with pytest.raises(ValueError):
        parse_size(text)


def test_each_caller_keeps_its_own_message_about_a_size():
    assert commands.memory_size("256m") == 256 << 20
    with pytest.raises(InvalidArgument, match=re.escape("Invalid memory size 'lots': use a number with b, k, m or g")):
        commands.memory_size("lots")
    assert runc._size("memory", "64m") == 64 << 20
    assert runc._size("memory", "-1") == -1          # runc update's "no limit"
    assert runc._size("memory", None) is None
    with pytest.raises(runc.Usage, match=re.escape("invalid value for memory-swap: invalid size: 'lots'")):
        runc._size("memory-swap", "lots")  # runc's words (go-units')


def test_a_dockerfile_tmpfs_size_is_the_same_parser():
    from bocker_magics.engine.build import parts  # RUN --mount's values (type=tmpfs,size=)
    assert parts.parse_size is parse_size


# -- one atomic write ---------------------------------------------------------------------------
def test_an_atomic_write_replaces_the_file_and_leaves_no_temp(tmp_path):
    path = tmp_path / "state.json"
    atomic_write(path, b"one")
    atomic_write(str(path), b"two", fsync=False)
    assert path.read_bytes() == b"two"
    assert [p.name for p in tmp_path.iterdir()] == ["state.json"]
    assert os.stat(path).st_mode & 0o777 == 0o644 & ~_umask()


def test_a_failed_atomic_write_leaves_the_old_file_and_no_temp(tmp_path):
    (tmp_path / "dir").mkdir()
    (tmp_path / "dir" / "inside").write_text("x")
    with pytest.raises(OSError):
        atomic_write(tmp_path / "dir", b"data")  # rename over a non-empty directory fails
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dir"]
    with pytest.raises(TypeError):
        atomic_write(tmp_path / "f", "not bytes")  # type: ignore[arg-type]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dir"]


def test_every_atomic_write_is_the_one():
    from bocker_magics.engine import spec, store
    from bocker_magics.engine.distribution import credentials  # noqa: F401
    from bocker_magics.engine.runtime import oci
    assert spec.atomic_write is store.atomic_write is oci.atomic_write is atomic_write
    for path in PACKAGE.rglob("*.py"):
        text = path.read_text()
        if path.name != "fileio.py":
            assert "def atomic_write" not in text and "def _write_atomic" not in text, path


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def test_the_parsers_and_the_write_import_nothing_heavy():
    """bocker-runc's kill and update parse on its fast path; its state files go through fileio."""
    code = ("import sys; sys.path.insert(0, sys.argv[1]); "
            "from bocker_magics.engine.units import parse_size, signal_number; "
            "from bocker_magics.engine.fileio import atomic_write; "
            "parse_size('64m'); signal_number('9'); print(' '.join(sorted(sys.modules)))")
    out = subprocess.run([sys.executable, "-I", "-S", "-c", code, str(PACKAGE.parent)], capture_output=True,
                         text=True, check=True).stdout.split()
    heavy = {"json", "re", "enum", "signal", "collections", "dataclasses", "inspect", "typing", "importlib"}
    assert not heavy & set(out), heavy & set(out)
