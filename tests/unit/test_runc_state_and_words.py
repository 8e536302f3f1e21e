"""bocker-runc's words and its state file, without root: how runc (logrus, Go) writes what its
callers parse, and the state in the engine's format. Beside runc itself: tests/host/test_runc_words.py."""

from __future__ import annotations

import json
import os
import re

import pytest

from bocker_magics.engine.runtime.oci import state as oci_state
from bocker_magics.engine.runtime.oci import words
from bocker_magics.engine.spec import State
from bocker_magics.errors import InvalidArgument, NotFound


@pytest.mark.parametrize("cid", ["a", "a-b_c.d+e", "a,b", "X" * 1024])
def test_ids_runc_takes(cid):
    assert oci_state.check_id(cid) == cid


@pytest.mark.parametrize("cid, said", [("", "container id cannot be empty"), ("..", "invalid container ID format"),
                                       (".", "invalid container ID format"), ("a/b", "invalid container ID format"),
                                       ("a b", "invalid container ID format"), ("é", "invalid container ID format")])
def test_ids_runc_refuses(cid, said):
    with pytest.raises(InvalidArgument, match=f"^{re.escape(said)}$"):
        oci_state.check_id(cid)


def test_logrus_lines(tmp_path, capfd):
    assert words.logfmt_value("boom") == "boom" and words.logfmt_value("a/b-c.d@e^f+g_h") == "a/b-c.d@e^f+g_h"
    assert words.logfmt_value("container does not exist") == '"container does not exist"'
    assert words.quote('exec: "x"\n') == '"exec: \\"x\\"\\n"'
    words.Log(fmt="text").error("container not running")
    words.Log(fmt="json").error("container not running")
    log = tmp_path / "log"
    words.Log(str(log), "json").error("container does not exist")
    err = capfd.readouterr().err.splitlines()
    assert re.fullmatch(r'time="\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ" level=error msg="container not running"', err[0])
    assert list(json.loads(err[1])) == ["level", "msg", "time"]
    assert err[2] == "container does not exist"  # with --log: the file, and the bare message on stderr
    assert json.loads(log.read_text())["msg"] == "container does not exist"
    with pytest.raises(InvalidArgument, match="^invalid log-format: xml$"):
        words.Log(fmt="xml")


def test_signals_as_runc_parses_them():
    assert words.parse_signal("KILL") == words.parse_signal("SIGKILL") == words.parse_signal("9") == 9
    assert words.parse_signal("99") == 99 and words.parse_signal("-9") == -9  # kill(2) says EINVAL, as for runc
    with pytest.raises(InvalidArgument, match='^unknown signal "BOGUS"$'):
        words.parse_signal("BOGUS")


@pytest.mark.parametrize("lookup, said", [
    ({"program": "x", "path": True}, 'exec: "x": executable file not found in $PATH'),
    ({"program": "/x", "stat": "/x", "errno": 2}, 'exec: "/x": stat /x: no such file or directory'),
    ({"program": "/d", "errno": 13}, 'exec: "/d": permission denied'),
])
def test_a_program_that_cannot_run_in_runc_words(lookup, said):
    e = words.start_failure({"message": "ours", "code": 127, "lookup": lookup})
    assert str(e) == "unable to start container process: " + said and e.code == 127
    assert str(words.start_failure({"message": "ours"})) == "unable to start container process: ours"


def test_the_state_is_the_engines_format(tmp_path):
    """create writes a spec.State; the other verbs read it back as JSON; the engine's model reads it too."""
    d = tmp_path / "c1"
    d.mkdir()
    (d / "config.json").write_text(json.dumps({"ociVersion": "1.0.2-dev", "root": {"path": "rootfs"}}))
    c = oci_state.Container(str(d), {})
    c.save(State(id="c1", status="created", phase="created", pid=os.getpid(), pid_start=1, bundle="/b",
                 created_at=1.5, annotations={"k": "v"}, cgroup={"freezer": str(tmp_path / "none")}))
    again = oci_state.load(str(tmp_path), "c1")
    assert State.load(d / "state.json").id == "c1"
    assert again.state == c.state and again.cgroup == {"freezer": str(tmp_path / "none")}
    assert again.status() == "stopped"  # pid_start 1 is not this process's: another process with its pid
    out = again.oci_state()
    assert out["rootfs"] == "/b/rootfs" and out["created"] == "1970-01-01T00:00:01.500000000Z"
    assert out["annotations"] == {"k": "v"} and out["pid"] == 0
    with pytest.raises(NotFound, match="^container does not exist$"):
        oci_state.load(str(tmp_path), "c2")
