"""bocker-runc's errors in runc's words (issue 25): runc 1.1 and bocker-runc run side by side
on the same bad inputs, and say the same thing with the same exit status.

Why the words matter: runc's callers read them. containerd's runc shim (go-runc) takes the
msg of the last "error" line of `--log` (`--log-format json`) and matches "does not exist"
(delete) and "container not running" (kill); podman reads the runtime's stderr and matches
"does not exist", "not running", "executable file not found", "permission denied" and "no
such file or directory" (libpod's getOCIRuntimeError: exit 127 or 126 for `podman run`).
Docker shows them to its user ("OCI runtime create failed: runc create failed: ...").

Each runtime gets its own --root and its own copy of one bundle (busybox, the config.json
`runc spec` writes), differing only in linux.cgroupsPath: a cgroup of its own each. What is
compared is the error's msg and the exit status. Normalised, and why:
- the time (the clock moves between the two runs; its format is checked apart);
- the program's name: runc's checkArgs says os.Args[0] ("/usr/sbin/runc: ..."), as we do;
- each runtime's bundle path, where a message names a file in it ("invalid rootfs: stat ...").
A config.json that is not valid JSON, or whose fields have the wrong types, is the one place
the words differ beyond the prefix: runc prints Go's decoder ("invalid character 'n' looking
for beginning of object key string"), we name the field; the prefix and the status are runc's.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from bocker_magics.lab.runc import Runc, busybox_bundle, busybox_rootfs, launcher, read_config, remove_cgroup_parent, write_config
from tests.support.hostcheck import leftovers
from tests.support.session import CGROUP_PARENT, SESSION_ROOT

RUNC = shutil.which("runc") or "/usr/sbin/runc"
pytestmark = pytest.mark.skipif(not os.access(RUNC, os.X_OK), reason="runc is not installed: nothing to compare with")
RUNC_PARENT = f"{CGROUP_PARENT}-words-runc"  # runc leaves its cgroups' parent: one of its own, removed after
STAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")  # logrus' RFC 3339, seconds


@pytest.fixture(scope="module")
def runc_bin(tmp_path_factory) -> str:
    return launcher(tmp_path_factory.mktemp("runc-words-bin"))


@pytest.fixture(scope="module")
def rootfs(tmp_path_factory) -> Path:
    from bocker_magics.engine.engine import Engine
    engine = Engine(SESSION_ROOT / "root", cgroup_parent=CGROUP_PARENT)
    try:
        root = busybox_rootfs(tmp_path_factory.mktemp("runc-words-rootfs") / "rootfs", engine)
    finally:
        engine.close()
    (root / "dir").mkdir()
    (root / "bin" / "noexec").write_text("#!/bin/sh\necho never\n")  # a file without an x bit
    (root / "bin" / "noexec").chmod(0o644)
    return root


class Side:
    """One runtime: its client (own --root) and its own copy of the bundle."""

    def __init__(self, name: str, binary: str, root: Path, bundle: Path) -> None:
        self.name, self.binary, self.bundle = name, binary, bundle
        self.rt = Runc(binary, root)

    def __call__(self, *args, log: Path | None = None, log_format: str | None = None):
        argv = [str(a).replace("BUNDLE", str(self.bundle)) for a in args]
        pre = (["--log", str(log)] if log else []) + (["--log-format", log_format] if log_format else [])
        return self.rt(*pre, *argv, check=False)

    def said(self, r: subprocess.CompletedProcess) -> tuple[int, str]:
        """The exit status and the msg of the one error line (logrus' text form, on stderr)."""
        lines = r.stderr.strip().splitlines()
        assert "Traceback" not in r.stderr and len(lines) == 1, (self.name, r.stderr)
        m = re.fullmatch(r'time="([^"]+)" level=error msg=(.*)', lines[0])
        assert m, (self.name, lines[0])
        assert STAMP.match(m.group(1)), (self.name, lines[0])
        return r.returncode, self.normal(unquote(m.group(2)))

    def normal(self, msg: str) -> str:
        return msg.replace(str(self.bundle), "BUNDLE").replace(f"{self.binary}:", "RUNTIME:")

    def status(self, cid: str) -> str:
        return self.rt.status(cid)

    def wait(self, cid: str, status: str) -> None:
        deadline = time.monotonic() + 10
        while (now := self.status(cid)) != status:
            assert time.monotonic() < deadline, f"{self.name}: {cid} is {now}, not {status}"
            time.sleep(0.02)


def unquote(value: str) -> str:
    """logrus' msg=: Go-quoted when it holds more than letters, digits and -._/@^+."""
    return json.loads(value) if value.startswith('"') else value


@pytest.fixture
def pair(runc_bin, rootfs, tmp_path):
    """runc and bocker-runc, each with its own root and bundle; what either leaves is removed
    and must be nothing."""
    sides = {}
    for name, binary, parent in (("runc", RUNC, RUNC_PARENT), ("bocker-runc", runc_bin, CGROUP_PARENT)):
        tag = "runc" if name == "runc" else "ours"
        bundle = busybox_bundle(tmp_path / tag / "bundle", None, ["sleep", "1000"], rootfs=rootfs,
                                cgroups_path=f"/{parent}/words-{tmp_path.name}-{tag}")
        sides[name] = Side(name, binary, SESSION_ROOT / f"runc-words-{tmp_path.name}-{tag}", bundle)
    yield Pair(sides["runc"], sides["bocker-runc"])
    left = []
    for side in sides.values():
        root = Path(side.rt.root)
        for cid in (os.listdir(root) if root.exists() else []):
            if not cid.startswith("."):
                side("delete", "--force", cid)
        left += [f"{side.name}: {n}" for n in (os.listdir(root) if root.exists() else []) if not n.startswith(".")]
        shutil.rmtree(root, ignore_errors=True)
    assert remove_cgroup_parent(RUNC_PARENT, timeout=5) == []
    assert left == []
    assert leftovers(str(sides["bocker-runc"].rt.root), CGROUP_PARENT, only_children=True) == []


class Pair:
    def __init__(self, runc: Side, ours: Side) -> None:
        self.runc, self.ours = runc, ours

    def both(self, *args) -> tuple[subprocess.CompletedProcess, subprocess.CompletedProcess]:
        return self.runc(*args), self.ours(*args)

    def same_error(self, *args) -> tuple[int, str]:
        """Both fail with the same status and words; returns them."""
        theirs, ours = self.both(*args)
        said = self.runc.said(theirs)
        assert said[0] != 0, (args, theirs.stderr)
        assert self.ours.said(ours) == said, (args, theirs.stderr, ours.stderr)
        return said

    def same_success(self, *args) -> None:
        theirs, ours = self.both(*args)
        assert theirs.returncode == 0, (args, theirs.stderr)
        assert ours.returncode == 0, (args, ours.stderr)

    def same_status(self, cid: str) -> str:
        status = self.runc.status(cid)
        assert self.ours.status(cid) == status, cid
        return status

    def config(self, change) -> None:
        for side in (self.runc, self.ours):
            config = read_config(side.bundle)
            change(config)
            write_config(side.bundle, config)

    def args(self, *args: str) -> None:
        def change(config):
            config["process"]["args"] = list(args)
        self.config(change)


# -- ids -------------------------------------------------------------------------------------
ID_VERBS = (("state",), ("start",), ("delete",), ("pause",), ("resume",), ("ps",), ("events",), ("update",),
            ("kill",), ("kill", "--all"), ("exec",))


@pytest.mark.parametrize("verb", ID_VERBS, ids=" ".join)
def test_a_container_that_does_not_exist(pair, verb):
    args = [*verb, "ghost"] + (["true"] if verb == ("exec",) else [])
    code, msg = pair.same_error(*args)
    assert msg.endswith("container does not exist")  # containerd's shim and podman match these words
    assert (code, msg) == ((255, "exec failed: container does not exist") if verb == ("exec",)
                           else (1, "container does not exist"))


def test_delete_force_of_nothing_is_success(pair):
    pair.same_success("delete", "--force", "ghost")


@pytest.mark.parametrize("args", [("state", "../x"), ("state", "a b"), ("kill", "a/b"), ("state", ""),
                                  ("create", "--bundle", "BUNDLE", "a/b"), ("create", "--bundle", "BUNDLE", ""),
                                  ("run", "--bundle", "BUNDLE", "..")], ids=repr)
def test_an_invalid_or_empty_id(pair, args):
    code, msg = pair.same_error(*args)
    assert code == 1 and msg.endswith(("invalid container ID format", "container id cannot be empty"))


def test_a_comma_is_an_id_character_for_runc_too(pair):
    pair.same_success("create", "--bundle", "BUNDLE", "a,b")
    assert pair.same_status("a,b") == "created"
    pair.same_success("delete", "--force", "a,b")


@pytest.mark.parametrize("args", [("state",), ("state", "a", "b"), ("kill",), ("kill", "a", "b", "c"), ("start",),
                                  ("delete",), ("exec",), ("ps",), ("pause",), ("resume",), ("create",),
                                  ("events",), ("list", "x"), ("spec", "x")], ids=repr)
def test_the_wrong_number_of_arguments(pair, args):
    code, msg = pair.same_error(*args)
    assert code == 1 and msg.startswith(f'RUNTIME: "{args[0]}" requires ')


def test_a_command_or_flag_it_does_not_know(pair):
    assert pair.same_error("frobnicate") == (3, "No help topic for 'frobnicate'\n")
    assert pair.same_error("state", "--nope", "x") == (1, "flag provided but not defined: -nope")
    assert pair.same_error("--log-format", "xml", "state", "x") == (1, "invalid log-format: xml")
    assert pair.same_error("list", "--format", "xml") == (1, "invalid format option")


# -- the lifecycle's wrong moves -------------------------------------------------------------
def test_create_with_an_id_that_exists(pair):
    pair.same_success("create", "--bundle", "BUNDLE", "twice")
    assert pair.same_error("create", "--bundle", "BUNDLE", "twice") == \
        (1, "runc create failed: container with given ID already exists")
    assert pair.same_error("run", "--bundle", "BUNDLE", "twice") == \
        (1, "runc run failed: container with given ID already exists")


def test_a_created_container(pair):
    pair.same_success("create", "--bundle", "BUNDLE", "made")
    assert pair.same_error("kill", "made", "BOGUS") == (1, 'unknown signal "BOGUS"')
    assert pair.same_error("resume", "made") == (1, "container not paused")
    assert pair.same_error("exec", "made") == (255, "exec failed: process args cannot be empty")
    pair.same_success("pause", "made")  # runc freezes a created container too
    assert pair.same_status("made") == "paused"
    assert pair.same_error("start", "made") == (1, "cannot start a container in the paused state")
    pair.same_success("resume", "made")
    assert pair.same_status("made") == "created"
    pair.same_success("delete", "made")  # a created container goes without --force
    assert pair.same_error("state", "made") == (1, "container does not exist")


def test_a_running_and_a_paused_container(pair):
    pair.same_success("run", "--detach", "--bundle", "BUNDLE", "live")
    assert pair.same_status("live") == "running"
    for args, said in ((("start", "live"), "cannot start an already running container"),
                       (("resume", "live"), "container not paused"),
                       (("delete", "live"), "cannot delete container live that is not stopped: running"),
                       (("kill", "live", "SIGBOGUS"), 'unknown signal "SIGBOGUS"'),
                       (("kill", "live", "99"), "unable to signal init: invalid argument"),
                       (("update", "--memory", "1x", "live"), "invalid value for memory: invalid size: '1x'"),
                       (("ps", "--format", "xml", "live"), "invalid format option")):
        assert pair.same_error(*args) == (1, said), args
    pair.same_success("pause", "live")
    assert pair.same_status("live") == "paused"
    for args, said in ((("pause", "live"), (1, "container not running")),
                       (("start", "live"), (1, "cannot start a container in the paused state")),
                       (("delete", "live"), (1, "cannot delete container live that is not stopped: paused")),
                       (("exec", "live", "true"),
                        (255, "exec failed: cannot exec in a paused container (use --ignore-paused to override)"))):
        assert pair.same_error(*args) == said, args
    pair.same_success("resume", "live")
    pair.same_success("kill", "live", "KILL")
    for side in (pair.runc, pair.ours):
        side.wait("live", "stopped")


def test_a_stopped_container(pair):
    pair.same_success("run", "--detach", "--bundle", "BUNDLE", "done")
    pair.same_success("kill", "done", "KILL")
    for side in (pair.runc, pair.ours):
        side.wait("done", "stopped")
    for args, said in ((("kill", "done"), (1, "container not running")),  # containerd: "process already finished"
                       (("kill", "done", "KILL"), (1, "container not running")),
                       (("start", "done"), (1, "cannot start a container that has stopped")),
                       (("pause", "done"), (1, "container not running")),
                       (("resume", "done"), (1, "container not paused")),
                       (("update", "--memory", "10m", "done"), (1, "container not running")),
                       (("events", "--stats", "done"), (1, "container with id done is not running")),
                       (("exec", "done", "true"), (255, "exec failed: cannot exec in a stopped container"))):
        assert pair.same_error(*args) == said, args
    pair.same_success("kill", "--all", "done", "KILL")  # containerd's shim asks this after every exit
    pair.same_success("delete", "done")
    assert pair.same_error("delete", "done") == (1, "container does not exist")


# -- the program -----------------------------------------------------------------------------
PROGRAMS = {
    "nosuch": 'exec: "nosuch": executable file not found in $PATH',
    "/bin/nosuch": 'exec: "/bin/nosuch": stat /bin/nosuch: no such file or directory',
    "/bin/true/x": 'exec: "/bin/true/x": stat /bin/true/x: not a directory',
    "/dir": 'exec: "/dir": permission denied',
    "dir": 'exec: "dir": executable file not found in $PATH',
    "/bin/noexec": 'exec: "/bin/noexec": permission denied',
    "noexec": 'exec: "noexec": executable file not found in $PATH',  # not executable: passed over on PATH
}


@pytest.mark.parametrize("program", PROGRAMS)
def test_a_program_that_is_missing_or_cannot_run(pair, program):
    pair.args(program)
    words = "unable to start container process: " + PROGRAMS[program]
    assert pair.same_error("create", "--bundle", "BUNDLE", f"p-{len(program)}") == (1, "runc create failed: " + words)
    assert pair.same_error("run", "--bundle", "BUNDLE", f"p-{len(program)}") == (1, "runc run failed: " + words)
    pair.args("sleep", "1000")
    pair.same_success("run", "--detach", "--bundle", "BUNDLE", "host")
    assert pair.same_error("exec", "host", program) == (255, "exec failed: " + words)
    pair.same_success("delete", "--force", "host")


def test_a_process_file_that_is_missing(pair, tmp_path):
    pair.same_success("run", "--detach", "--bundle", "BUNDLE", "host")
    missing = tmp_path / "nope.json"
    assert pair.same_error("exec", "--process", missing, "host") == \
        (255, f"exec failed: open {missing}: no such file or directory")
    pair.same_success("delete", "--force", "host")


# -- the bundle ------------------------------------------------------------------------------
def test_a_missing_bundle_config_or_rootfs(pair, tmp_path):
    assert pair.same_error("create", "--bundle", tmp_path / "none", "b") == \
        (1, f"runc create failed: chdir {tmp_path / 'none'}: no such file or directory")
    (tmp_path / "empty").mkdir()
    assert pair.same_error("create", "--bundle", tmp_path / "empty", "b") == \
        (1, "runc create failed: JSON specification file config.json not found")
    assert pair.same_error("run", "--bundle", tmp_path / "empty", "b") == \
        (1, "runc run failed: JSON specification file config.json not found")

    def no_rootfs(config):
        config["root"]["path"] = "gone"
    pair.config(no_rootfs)
    assert pair.same_error("create", "--bundle", "BUNDLE", "b") == \
        (1, "runc create failed: invalid rootfs: stat BUNDLE/gone: no such file or directory")


@pytest.mark.parametrize("text", ["{nope", "[]", '{"ociVersion": "1.0.2", "process": {"args": "sh"}}'], ids=repr)
def test_a_config_that_is_not_a_spec(pair, text):
    """Go's JSON decoder's words are runc's own; the prefix and the status are the same."""
    for side in (pair.runc, pair.ours):
        (side.bundle / "config.json").write_text(text)
    theirs, ours = pair.both("create", "--bundle", "BUNDLE", "bad")
    (code, msg), (our_code, our_msg) = pair.runc.said(theirs), pair.ours.said(ours)
    assert code == our_code == 1
    assert msg.startswith("runc create failed: ") and our_msg.startswith("runc create failed: BUNDLE/config.json: ")


# -- how it is said: --log, --log-format ---------------------------------------------------------
@pytest.mark.parametrize("fmt", ["json", "text"])
def test_the_log_file_and_stderr(pair, tmp_path, fmt):
    """With --log, runc writes the error to the file and its bare message to stderr (its
    fatal()); containerd's shim reads the file's last "error" line."""
    got = {}
    for side in (pair.runc, pair.ours):
        log = tmp_path / f"{side.name}.log"
        r = side("kill", "ghost", log=log, log_format=fmt)
        assert r.returncode == 1 and r.stderr == "container does not exist\n", (side.name, r.stderr)
        lines = log.read_text().splitlines()
        assert len(lines) == 1, (side.name, lines)
        if fmt == "json":
            record = json.loads(lines[0])
            assert list(record) == ["level", "msg", "time"] and STAMP.match(record["time"]), (side.name, record)
            got[side.name] = (record["level"], record["msg"])
        else:
            m = re.fullmatch(r'time="([^"]+)" level=(\w+) msg=(.*)', lines[0])
            assert m and STAMP.match(m.group(1)), (side.name, lines[0])
            got[side.name] = (m.group(2), unquote(m.group(3)))
    assert got["bocker-runc"] == got["runc"] == ("error", "container does not exist")


def test_json_on_stderr_without_a_log_file(pair):
    got = {}
    for side in (pair.runc, pair.ours):
        r = side("exec", "ghost", "true", log_format="json")
        assert r.returncode == 255, (side.name, r.stderr)
        lines = r.stderr.splitlines()
        assert len(lines) == 1, (side.name, r.stderr)
        record = json.loads(lines[0])
        assert list(record) == ["level", "msg", "time"] and STAMP.match(record["time"])
        got[side.name] = record["msg"]
    assert got["bocker-runc"] == got["runc"] == "exec failed: container does not exist"
