"""`compose`'s verb in the table, without a kernel: its arguments, how its results print."""

from __future__ import annotations

import argparse
from types import SimpleNamespace

import pytest
import yaml

from bocker_magics import commands, rendering
from bocker_magics.errors import BockerError


def _container(name: str, running: bool = True):
    publish = [SimpleNamespace(host_ip="127.0.0.1", host_port=8080, container_port=80, proto="tcp")]
    return SimpleNamespace(id="ps_1", name=name, image_name="busybox:latest", command="httpd -f -p 80",
                           status_text="running" if running else "exited (0)", running=running,
                           record=SimpleNamespace(network=SimpleNamespace(publish=publish)))


def test_the_compose_options_come_before_its_verb_and_the_rest_is_the_verbs():
    a = commands.parser("compose").parse_args(["-f", "a.yml", "-f", "b.yml", "-p", "x", "exec", "-T", "db", "ls", "-l"])
    assert (a.file, a.project_name, a.action, a.args) == (["a.yml", "b.yml"], "x", "exec", ["-T", "db", "ls", "-l"])
    with pytest.raises(BockerError, match="invalid choice"):
        commands.parser("compose").parse_args(["frobnicate"])


def test_every_compose_verb_has_arguments_that_build():
    for name, (arguments, act) in commands.COMPOSE_ACTIONS.items():
        p = commands.Parser(prog=f"bocker compose {name}")
        arguments(p)
        assert callable(act), name
        assert name in commands.VERBS["compose"].usage, name


def test_ps_prints_composes_columns(capsys):
    rows = [SimpleNamespace(service="db", number=1, container=_container("p-db-1"))]
    rendering.compose(None, commands.ComposeResult("ps", argparse.Namespace(), None, rows))
    header, line = capsys.readouterr().out.splitlines()
    assert header.split() == ["NAME", "IMAGE", "COMMAND", "SERVICE", "STATUS", "PORTS"]
    assert line.split()[0] == "p-db-1" and "db" in line.split() and line.endswith("127.0.0.1:8080->80/tcp")


def test_config_prints_the_model_as_yaml_and_exec_exits_with_its_command(capsys):
    model = {"name": "p", "services": {"db": {"image": "busybox"}}}
    rendering.compose(None, commands.ComposeResult("config", argparse.Namespace(), None, model))
    assert yaml.safe_load(capsys.readouterr().out) == model
    ran = SimpleNamespace(exit_code=3)
    assert rendering.compose(None, commands.ComposeResult("exec", argparse.Namespace(), None, ran)) == 3
