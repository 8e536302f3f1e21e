"""The verbs of issue 14 in a notebook: each is a %bocker verb through the same parsers as the
CLI; views where a notebook has one (top, history, volume ls, system df), the CLI's lines
otherwise; %%bocker run -i feeds the cell as stdin; -t and attach say a notebook has no
terminal and what to use instead."""

from __future__ import annotations

import os

import pytest

IPython = pytest.importorskip("IPython")
from IPython.core.error import UsageError  # noqa: E402

TAG = f"mv{os.getpid()}"





@pytest.fixture
def engine(ip):
    return ip.magics_manager.registry["BockerMagics"].engine


def bk(ip, line: str):
    return ip.run_line_magic("bocker", line)


def test_every_verb_is_a_magic_verb_through_the_same_parser(ip, capsys):
    from bocker_magics import commands, magics
    doc = magics._help()
    for verb in commands.VERBS:
        assert f"%bocker {verb}" in doc, verb
        p = magics.magic_parser(verb)
        cli = commands.parser(verb)
        cli_options = {o for a in cli._actions for o in a.option_strings}
        assert cli_options <= {o for a in p._actions for o in a.option_strings}, verb  # the same options, and more
        assert bk(ip, f"{verb} --help") is None  # argparse's help, no error
    assert "usage: %bocker pause" in capsys.readouterr().out


def test_container_verbs_in_a_notebook(ip, engine, capsys):
    name = f"{TAG}-a"
    bk(ip, f"run -d --name {name} busybox sleep 60")
    capsys.readouterr()
    procs = bk(ip, f"top {name}")
    frame = procs.to_frame()
    assert list(frame["container_pid"]) == [1] and frame["command"][0] == "sleep 60"
    assert frame["pid"][0] == engine.container(name).pid
    assert bk(ip, f"pause {name}") is None and capsys.readouterr().out == f"{name}\n"
    table = bk(ip, f"ps --filter name={name}")
    assert table.to_frame()["status"][0] == "paused" and table.to_frame()["restarts"][0] == 0
    with pytest.raises(UsageError, match="is paused: unpause it first"):
        bk(ip, f"exec {name} true")
    bk(ip, f"unpause {name}")
    capsys.readouterr()
    bk(ip, f"ps -q --filter name={name}")
    assert capsys.readouterr().out == f"{engine.container(name).id}\n"
    ip.run_cell(f"%bocker ps --filter name={name} --format '{{{{.Names}}}} {{{{.Status}}}}'")
    assert capsys.readouterr().out == f"{name} running\n"  # Docker's template, as typed in a cell
    ip.run_cell(f"%bocker ps --filter name={name} --format '{{{{{{{{.Names}}}}}}}}'")
    assert capsys.readouterr().out == f"{name}\n"  # and IPython's escaped braces too
    bk(ip, f"rename {name} {name}-b")
    assert engine.container(f"{name}-b").status == "running"
    bk(ip, f"port {name}-b")
    assert capsys.readouterr().out == ""
    bk(ip, f"container ls -q --filter name={name}-b")
    assert capsys.readouterr().out.strip() == engine.container(f"{name}-b").id
    with pytest.raises(UsageError, match="Invalid filter 'bogus=1'"):
        bk(ip, "ps --filter bogus=1")
    bk(ip, f"rm -f {name}-b")


def test_cp_in_a_notebook(ip, engine, capsys, tmp_path):
    name = f"{TAG}-cp"
    bk(ip, f"run -d --name {name} busybox 'echo inside > /f; sleep 60'")
    (tmp_path / "in").write_text("from the notebook\n")
    bk(ip, f"cp {tmp_path}/in {name}:/copied")
    assert "Successfully copied 1 file" in capsys.readouterr().err
    bk(ip, f"cp {name}:/copied {tmp_path}/back")
    assert (tmp_path / "back").read_text() == "from the notebook\n"
    with pytest.raises(UsageError, match="a notebook has no stdin or stdout stream"):
        bk(ip, f"cp {name}:/f -")
    bk(ip, f"rm -f {name}")


def test_image_verbs_in_a_notebook(ip, engine, capsys, tmp_path):
    (tmp_path / "f").write_text(TAG)
    bk(ip, f"init {tmp_path} --name {TAG}-img:1")
    img = engine.image(f"{TAG}-img:1")
    try:
        bk(ip, f"tag {TAG}-img:1 {TAG}:v1")
        assert f"{TAG}:v1" in engine.image(img.id).names
        frame = bk(ip, f"history {TAG}:v1").to_frame()
        assert frame["image"][0] == img.id and str(tmp_path) in frame["created_by"].iloc[-1]
        capsys.readouterr()
        bk(ip, f"history -q {TAG}:v1")
        assert capsys.readouterr().out.splitlines()[0] == img.id
        bk(ip, f"images -q {TAG}")
        assert capsys.readouterr().out == f"{img.id}\n"
        with pytest.raises(UsageError, match="add -f to go on"):
            bk(ip, "image prune")  # a notebook can't ask: -f says yes
        bk(ip, "image prune -f")
        assert "Total reclaimed space" in capsys.readouterr().out
        assert engine.image(img.id).names == [f"{TAG}-img:1", f"{TAG}:v1"]  # named: not dangling
    finally:
        engine.rmi(img.id)


def test_volumes_system_info_version_in_a_notebook(ip, engine, capsys):
    bk(ip, f"volume create {TAG}-vol")
    assert capsys.readouterr().out == f"{TAG}-vol\n"
    table = bk(ip, "volume ls")
    assert f"{TAG}-vol" in list(table.to_frame()["name"])
    info = bk(ip, f"volume inspect {TAG}-vol")
    assert info["Name"] == f"{TAG}-vol" and info["UsedBy"] == []
    bk(ip, f"volume rm {TAG}-vol")
    assert capsys.readouterr().out == f"{TAG}-vol\n"
    df = bk(ip, "system df").to_frame()
    assert list(df["type"]) == ["Images", "Containers", "Local Volumes"]
    bk(ip, "info")
    assert "Storage Driver: overlay" in capsys.readouterr().out
    bk(ip, "version")
    assert capsys.readouterr().out.startswith("Version: ")
    with pytest.raises(UsageError, match="container prune .*add -f"):
        bk(ip, "container prune")


def test_a_cell_is_stdin_with_i(ip):
    r = ip.run_cell_magic("bocker", "run --rm -i busybox sort", "pear\napple\nfig\n")
    assert r.exit_code == 0 and r.text == "apple\nfig\npear\n"
    r = ip.run_cell_magic("bocker", "run --rm -i busybox sh -c 'wc -l; echo eof'", "a\nb\n")
    assert r.text == "2\neof\n"  # the cell's end is EOF


@pytest.mark.parametrize("line", ["run -it busybox sh", "run -t busybox true", "attach x", "exec -it x sh"])
def test_a_notebook_has_no_terminal_and_says_what_to_use(ip, engine, line):
    name = f"{TAG}-tt"
    if "x" in line.split():
        bk(ip, f"run -d --name {name} busybox sleep 60")
        line = line.replace(" x", f" {name}")
    try:
        with pytest.raises(UsageError) as e:
            bk(ip, line)
        assert str(e.value).startswith("a notebook has no terminal: use %%bocker run IMAGE")
        assert "%bocker exec" in str(e.value) and "\n" not in str(e.value)
    finally:
        if "x" in line.split() or name in line:
            bk(ip, f"rm -f {name}")


def test_a_detached_pty_needs_no_terminal(ip, engine):
    name = f"{TAG}-dt"
    r = bk(ip, f"run -d -t --name {name} busybox sh")
    assert r.exit_code == 0
    assert ip.run_line_magic("bocker", f"exec --no-raise-error --out out {name} tty") is None
    assert ip.user_ns["out"].text == "not a tty\n"  # exec without -t: no pty
    with pytest.raises(UsageError, match="a notebook has no terminal"):
        bk(ip, f"start -a {name}")  # a -t container: attaching needs a terminal
    bk(ip, f"rm -f {name}")


def test_top_monitor_is_the_live_plot(ip, engine):
    name = f"{TAG}-mon"
    bk(ip, f"run -d --name {name} busybox sleep 60")
    m = bk(ip, f"top --interval 0.1 --duration 0.3 {name}")
    from bocker_magics import views
    assert isinstance(m, views.Monitor)
    bk(ip, f"rm -f {name}")


def test_network_connect_and_disconnect_as_magics(ip, engine):
    """%bocker network connect|disconnect: the CLI's verb through the same table, live."""
    net, name = f"{TAG}-net", f"{TAG}-nc"
    bk(ip, f"network create --subnet 10.240.9.0/24 {net}")
    try:
        bk(ip, f"run -d --name {name} busybox sleep 60")
        bk(ip, f"network connect --alias {TAG}-alias --ip 10.240.9.9 {net} {name}")
        on = engine.inspect(name)["Network"]["Networks"]
        assert list(on) == ["bridge", net] and on[net]["Address"] == "10.240.9.9" and on[net]["Interface"] == "eth1"
        assert on[net]["Aliases"] == [f"{TAG}-alias"]
        with pytest.raises(UsageError, match="already exists"):
            bk(ip, f"network connect {net} {name}")
        bk(ip, f"network disconnect {net} {name}")
        assert list(engine.inspect(name)["Network"]["Networks"]) == ["bridge"]
    finally:
        bk(ip, f"rm -f {name}")
        bk(ip, f"network rm {net}")
