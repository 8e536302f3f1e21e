"""`bocker cp`: between a container's root and the host, both ways, for a running container
(through /proc/PID/root) and a stopped one (its upper dir over its image's layers), with
tar streams ('-'). The attacks: a symlink in the container never makes cp read or write a
host file, a tar stream never writes outside the destination."""

from __future__ import annotations

import io
import os
import stat
import subprocess
import tarfile
import time
from pathlib import Path

import pytest

from tests.support.session import BOCKER, bocker

SETUP = ("mkdir -p /data/sub; echo in-ctr > /data/f; echo deep > /data/sub/g; ln -s / /data/root; "
         "ln -s /etc /escape; ln -s ../../../../../../etc/hostname /rel; ln -s {marker} /abs")


@pytest.fixture
def marker(tmp_path: Path) -> Path:
    """A host file no container may read or write; it must stay as it is."""
    m = tmp_path / "host-secret"
    m.write_text("host only\n")
    return m


@pytest.fixture
def running(fresh_root, marker):
    name = f"cpr-{os.getpid()}"
    bocker("run", "-d", "--name", name, "busybox", SETUP.format(marker=marker) + "; sleep 120", check=True)
    deadline = time.monotonic() + 10
    while bocker("exec", name, "test", "-L", "/abs").returncode != 0:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    yield name
    bocker("rm", "-f", name)


@pytest.fixture
def stopped(fresh_root, marker):
    name = f"cps-{os.getpid()}"
    bocker("run", "--name", name, "busybox", SETUP.format(marker=marker) +
           "; rm /bin/true; rm -rf /home; mkdir /home; touch /home/new; echo changed > /etc/group", check=True)
    yield name
    bocker("rm", "-f", name)


def upper(fresh_root: Path, name: str) -> Path:
    cid = bocker("ps", "-q", "--filter", f"name=^{name}$").stdout.strip()
    return fresh_root / "containers" / cid / "upper"


def cp(*args: str, input: bytes | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([BOCKER, "cp", *args], capture_output=True, input=input, env=os.environ, timeout=60)


def tar_names(data: bytes) -> list[str]:
    with tarfile.open(fileobj=io.BytesIO(data)) as t:
        return sorted(m.name for m in t.getmembers())


def make_tar(*members: tuple[str, str, bytes | str]) -> bytes:
    """(name, kind, data): kind is file, dir, symlink (data: the target) or link (a hard link)."""
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w") as t:
        for name, kind, data in members:
            info = tarfile.TarInfo(name)
            if kind == "file":
                info.size = len(data)
                t.addfile(info, io.BytesIO(data))
                continue
            info.type = {"dir": tarfile.DIRTYPE, "symlink": tarfile.SYMTYPE, "link": tarfile.LNKTYPE}[kind]
            info.mode = 0o755 if kind == "dir" else 0o777
            info.linkname = data if kind in ("symlink", "link") else ""
            t.addfile(info)
    return out.getvalue()


# -- a running container ------------------------------------------------------------------------
def test_from_a_running_container_as_docker_cp_places_things(running, tmp_path):
    r = cp(f"{running}:/data/f", str(tmp_path / "f.txt"))
    assert r.returncode == 0 and r.stderr.decode() == f"Successfully copied 1 file (7 B) to {tmp_path}/f.txt\n"
    assert (tmp_path / "f.txt").read_text() == "in-ctr\n"
    (tmp_path / "into").mkdir()
    assert cp(f"{running}:/data/f", str(tmp_path / "into")).returncode == 0  # into a directory: its name
    assert (tmp_path / "into" / "f").read_text() == "in-ctr\n"
    assert cp(f"{running}:/data", str(tmp_path / "newdir")).returncode == 0  # a missing DEST: made
    assert sorted(os.listdir(tmp_path / "newdir")) == ["f", "root", "sub"]
    assert os.readlink(tmp_path / "newdir" / "root") == "/"  # a symlink is copied as one
    assert cp(f"{running}:/data", str(tmp_path / "newdir")).returncode == 0  # an existing DEST: inside it
    assert (tmp_path / "newdir" / "data" / "sub" / "g").read_text() == "deep\n"
    assert cp(f"{running}:/data/sub/.", str(tmp_path / "into")).returncode == 0  # SRC/. : the contents
    assert (tmp_path / "into" / "g").read_text() == "deep\n"
    assert cp("-q", f"{running}:/data/f", str(tmp_path / "q")).stderr == b""
    for args, message in (([f"{running}:/data", str(tmp_path / "f.txt")], "Cannot copy a directory to a file"),
                          ([f"{running}:/data/f", str(tmp_path / "missing") + "/"], "does not exist"),
                          ([f"{running}:/data/f", str(tmp_path / "no" / "such")], "does not exist"),
                          ([f"{running}:/nothing", str(tmp_path / "x")], "No such file or directory in container"),
                          ([f"{running}:/data/f/x", str(tmp_path / "x")], "Not a directory: /data/f"),
                          (["nosuch:/x", str(tmp_path / "x")], "No container named 'nosuch' exists"),
                          ([str(tmp_path / "f.txt"), str(tmp_path / "y")], "one side as CONTAINER:PATH"),
                          ([f"{running}:/a", f"{running}:/b"], "not between two containers")):
        r = cp(*args)
        err = r.stderr.decode()
        assert r.returncode != 0 and err.count("\n") == 1 and message in err, (args, err)
    assert not (tmp_path / "x").exists() and not (tmp_path / "y").exists()


def test_into_a_running_container(running, tmp_path):
    (tmp_path / "tree" / "sub").mkdir(parents=True)
    (tmp_path / "tree" / "a.txt").write_text("A\n")
    (tmp_path / "tree" / "sub" / "b.sh").write_text("echo B\n")
    os.chmod(tmp_path / "tree" / "sub" / "b.sh", 0o750)
    os.symlink("a.txt", tmp_path / "tree" / "ln")
    os.chown(tmp_path / "tree" / "a.txt", 1234, 1234)
    r = cp(str(tmp_path / "tree"), f"{running}:/copied")
    assert r.returncode == 0 and r.stderr.decode() == f"Successfully copied 3 files (9 B) to {running}:/copied\n"
    out = bocker("exec", running, "sh", "-c", "cat /copied/a.txt /copied/ln; /copied/sub/b.sh; "
                 "stat -c '%u:%g %a %n' /copied/a.txt /copied/sub/b.sh").stdout
    assert out == "A\nA\nB\n0:0 644 /copied/a.txt\n0:0 750 /copied/sub/b.sh\n"  # the container's root owns them
    assert cp("-a", str(tmp_path / "tree" / "a.txt"), f"{running}:/kept").returncode == 0
    assert bocker("exec", running, "stat", "-c", "%u:%g", "/kept").stdout == "1234:1234\n"  # -a keeps owners
    assert cp(str(tmp_path / "tree" / "a.txt"), f"{running}:/data/f").returncode == 0  # overwritten
    assert bocker("exec", running, "cat", "/data/f").stdout == "A\n"
    assert cp(str(tmp_path / "tree") + "/.", f"{running}:/data/sub").returncode == 0
    assert sorted(bocker("exec", running, "ls", "/data/sub").stdout.split()) == ["a.txt", "g", "ln", "sub"]
    os.symlink(tmp_path / "tree" / "a.txt", tmp_path / "hostlink")
    assert cp("-L", str(tmp_path / "hostlink"), f"{running}:/followed").returncode == 0
    assert bocker("exec", running, "cat", "/followed").stdout == "A\n"
    r = cp(str(tmp_path / "tree"), f"{running}:/data/f")
    assert r.returncode == 1 and b"Cannot copy a directory to a file" in r.stderr


def test_symlinks_in_a_running_container_never_reach_the_host(running, marker, tmp_path):
    (tmp_path / "payload").write_text("from the host\n")
    # reading: each link resolved inside the container's root
    assert cp(f"{running}:/escape/hostname", str(tmp_path / "hn")).returncode == 0
    assert (tmp_path / "hn").read_text().strip() == bocker("exec", running, "hostname").stdout.strip()
    assert cp(f"{running}:/rel", str(tmp_path / "rel")).returncode == 0  # the link itself
    assert os.readlink(tmp_path / "rel") == "../../../../../../etc/hostname"
    assert cp("-L", f"{running}:/rel", str(tmp_path / "rel2")).returncode == 0  # '..' stops at its root
    assert (tmp_path / "rel2").read_text() == (tmp_path / "hn").read_text()
    r = cp(f"{running}:/abs/.", str(tmp_path / "leak"))
    assert r.returncode == 1 and not (tmp_path / "leak").exists()  # the host's path does not exist in it
    assert cp(f"{running}:/data/root/etc/passwd", str(tmp_path / "pw")).returncode == 0
    assert (tmp_path / "pw").read_text().startswith("root:x:0:0:root:/root:/bin/sh\nnobody")  # its own
    # writing: through /escape (-> /etc) into the container's /etc, never the host's
    assert cp(str(tmp_path / "payload"), f"{running}:/escape/").returncode == 0
    assert bocker("exec", running, "cat", "/etc/payload").stdout == "from the host\n"
    assert not os.path.exists("/etc/payload")
    r = cp(str(tmp_path / "payload"), f"{running}:/abs")  # a link to the host's path: not in its root
    assert r.returncode == 1 and r.stderr.decode() == f"No such directory: {marker.parents[-3]}\n"
    r = cp(str(tmp_path / "payload"), f"{running}:/data/root/../../{marker}")
    assert r.returncode == 1
    bocker("exec", running, "mkdir", "-p", str(marker.parent), check=True)
    assert cp(str(tmp_path / "payload"), f"{running}:/abs").returncode == 0  # now made in its root
    assert bocker("exec", running, "cat", str(marker)).stdout == "from the host\n"
    assert marker.read_text() == "host only\n"


def test_a_running_containers_mounts_are_seen_and_read_only_ones_refused(fresh_root, tmp_path):
    (tmp_path / "f").write_text("x\n")
    bocker("run", "-d", "--name", "ro", "--read-only", "-v", "cpvol:/vol", "--tmpfs", "/scratch",
           "busybox", "sleep 60", check=True)
    try:
        r = cp(str(tmp_path / "f"), "ro:/newfile")
        assert r.returncode == 1 and r.stderr.decode() == \
            "Can't write /newfile in container ro: it is read-only (a --read-only root or a :ro mount)\n"
        assert cp(str(tmp_path / "f"), "ro:/vol/f").returncode == 0  # the named volume is writable
        assert (fresh_root / "volumes" / "cpvol" / "_data" / "f").read_text() == "x\n"
        assert cp(str(tmp_path / "f"), "ro:/scratch/").returncode == 0
        assert bocker("exec", "ro", "cat", "/scratch/f").stdout == "x\n"  # on its tmpfs: only it sees it
    finally:
        bocker("rm", "-f", "-v", "ro")


def test_tar_streams_both_ways(running, tmp_path):
    r = cp(f"{running}:/data", "-")
    assert r.returncode == 0 and r.stderr == b""
    assert tar_names(r.stdout) == ["data", "data/f", "data/root", "data/sub", "data/sub/g"]
    data = make_tar(("new", "dir", b""), ("new/a", "file", b"A"), ("new/l", "symlink", "/etc"),
                    ("new/hard", "link", "new/a"), ("./top", "file", b"T"), ("/abs-stripped", "file", b"S"))
    r = cp("-", f"{running}:/data", input=data)
    assert r.returncode == 0, r.stderr
    out = bocker("exec", running, "sh", "-c", "cat /data/new/a /data/new/hard /data/top /data/abs-stripped; "
                 "readlink /data/new/l").stdout
    assert out == "AATS/etc\n"
    r = cp("-", f"{running}:/data/f", input=data)
    assert r.returncode == 1 and b"must be an existing directory" in r.stderr


@pytest.mark.parametrize("members,message", [
    ([("../evil", "file", b"x")], "its path leaves the destination"),
    ([("a/../../evil", "file", b"x")], "its path leaves the destination"),
    ([("l", "symlink", "/etc"), ("l/evil", "file", b"x")], "'l' is not a directory in the archive"),
    ([("l", "symlink", "../.."), ("l/evil", "file", b"x")], "'l' is not a directory in the archive"),
    ([("ok", "file", b"x"), ("f", "file", b"x"), ("f/evil", "file", b"x")], "'f' is not a directory"),
    ([("h", "link", "/etc/passwd")], "is not an earlier file of the archive"),
])
def test_a_tar_stream_never_writes_outside_the_destination(running, tmp_path, members, message):
    r = cp("-", f"{running}:/data/sub", input=make_tar(*members))
    assert r.returncode == 1 and message in r.stderr.decode() and r.stderr.decode().count("\n") == 1
    out = bocker("exec", running, "find", "/", "-xdev", "(", "-name", "evil", "-o", "-name", "h", ")").stdout
    assert out == ""
    assert bocker("exec", running, "ls", "/data/sub").stdout == "g\n"  # nothing written: checked first


def test_a_symlink_already_in_the_destination_is_never_followed_by_a_tar(running):
    bocker("exec", running, "ln", "-s", "/etc", "/data/sub/l", check=True)
    r = cp("-", f"{running}:/data/sub", input=make_tar(("l/evil", "file", b"x")))
    assert r.returncode == 1 and r.stderr.decode() == "Not a directory: /data/sub/l\n"
    assert bocker("exec", running, "ls", "/etc/evil").returncode != 0
    r = cp("-", f"{running}:/data/sub", input=b"not a tar at all" * 100)
    assert r.returncode == 1 and r.stderr.decode().startswith("Can't read the tar stream on stdin")
    assert not os.path.exists("/etc/evil") and not os.path.exists("/data")


# -- a stopped container -----------------------------------------------------------------------
def test_from_a_stopped_container_as_overlayfs_shows_it(stopped, fresh_root, tmp_path):
    assert cp(f"{stopped}:/data/f", str(tmp_path / "f")).returncode == 0  # in the upper dir
    assert (tmp_path / "f").read_text() == "in-ctr\n"
    assert cp(f"{stopped}:/etc/group", str(tmp_path / "group")).returncode == 0  # upper over lower
    assert (tmp_path / "group").read_text() == "changed\n"
    assert cp(f"{stopped}:/etc/passwd", str(tmp_path / "passwd")).returncode == 0  # the image's layer
    assert (tmp_path / "passwd").read_text().startswith("root:x:0:0")
    r = cp(f"{stopped}:/bin/true", str(tmp_path / "true"))  # deleted: a whiteout hides it
    assert r.returncode == 1 and b"No such file or directory" in r.stderr and not (tmp_path / "true").exists()
    assert cp(f"{stopped}:/bin", str(tmp_path / "bin")).returncode == 0
    names = os.listdir(tmp_path / "bin")
    assert "busybox" in names and "sh" in names and "true" not in names
    assert not any(stat.S_ISCHR(os.lstat(tmp_path / "bin" / n).st_mode) for n in names)  # no whiteout copied
    assert cp(f"{stopped}:/home", str(tmp_path / "home")).returncode == 0  # opaque: only what it made
    assert os.listdir(tmp_path / "home") == ["new"]
    r = cp(f"{stopped}:/", "-")
    names = tar_names(r.stdout)
    assert "./bin/busybox" in names and "./data/sub/g" in names and "./bin/true" not in names


def test_into_a_stopped_container_copies_up_and_replaces_whiteouts(stopped, fresh_root, tmp_path):
    up = upper(fresh_root, stopped)
    (tmp_path / "f").write_text("new\n")
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "inside").write_text("i\n")
    assert not (up / "usr").exists()
    assert cp(str(tmp_path / "f"), f"{stopped}:/usr/bin/f").returncode == 0  # /usr, /usr/bin: copied up
    lower_usr = os.stat(up / "usr")
    assert (up / "usr" / "bin" / "f").read_text() == "new\n"
    assert stat.S_IMODE(lower_usr.st_mode) == 0o755
    assert cp(str(tmp_path / "f"), f"{stopped}:/bin/true").returncode == 0  # the whiteout goes
    assert (up / "bin" / "true").read_text() == "new\n"
    assert cp(str(tmp_path / "d"), f"{stopped}:/escape/").returncode == 0  # /escape -> /etc, in its root
    assert (up / "etc" / "d" / "inside").read_text() == "i\n" and not os.path.exists("/etc/d/inside")
    # what overlayfs makes of the upper dir: its layer (commit copies it as it is) under a container
    bocker("commit", stopped, f"cpcheck:{os.getpid()}", check=True)
    r = bocker("run", "--rm", f"cpcheck:{os.getpid()}",
               "cat /usr/bin/f /bin/true /etc/d/inside; ls /usr/bin | grep -c . ; ls /etc | grep -c passwd")
    assert r.stdout.splitlines()[:3] == ["new", "new", "i"], r.stdout + r.stderr
    assert int(r.stdout.splitlines()[3]) > 50  # /usr/bin of the image still there under the copied-up /usr
    assert r.stdout.splitlines()[4] == "1"
    bocker("rmi", f"cpcheck:{os.getpid()}", check=True)


def test_a_directory_over_a_deleted_one_is_opaque(fresh_root, tmp_path):
    name = f"cpo-{os.getpid()}"
    bocker("run", "--name", name, "busybox", "rm -rf /usr", check=True)
    (tmp_path / "usr").mkdir()
    (tmp_path / "usr" / "mine").write_text("m\n")
    assert cp(str(tmp_path / "usr"), f"{name}:/").returncode == 0
    up = upper(fresh_root, name)
    assert os.getxattr(up / "usr", "trusted.overlay.opaque") == b"y"
    bocker("commit", name, f"cpo:{os.getpid()}", check=True)
    r = bocker("run", "--rm", f"cpo:{os.getpid()}", "ls -A /usr")
    assert r.stdout == "mine\n"  # the image's /usr stays hidden
    bocker("rm", name, check=True)
    bocker("rmi", f"cpo:{os.getpid()}", check=True)


def test_symlinks_of_a_stopped_container_never_reach_the_host(stopped, marker, tmp_path):
    (tmp_path / "payload").write_text("from the host\n")
    assert cp(str(tmp_path / "payload"), f"{stopped}:/abs").returncode == 1  # no such directory in its root
    assert cp(str(tmp_path / "payload"), f"{stopped}:/data/root/tmp/abs").returncode == 0
    assert marker.read_text() == "host only\n"
    assert cp(str(tmp_path / "payload"), f"{stopped}:/data/root/etc/").returncode == 0
    assert not os.path.exists("/etc/payload")
    r = cp(f"{stopped}:/abs/.", str(tmp_path / "x"))
    assert r.returncode == 1 and not (tmp_path / "x").exists()
    assert cp("-L", f"{stopped}:/rel", str(tmp_path / "rel")).returncode == 0
    assert (tmp_path / "rel").read_text() == ""  # the image's (empty) /etc/hostname, not the host's


def test_a_stopped_containers_volumes_are_read_and_written_where_it_sees_them(fresh_root, tmp_path):
    name = f"cpv-{os.getpid()}"
    (tmp_path / "hostdir").mkdir()
    bocker("run", "--name", name, "-v", "cpdata:/data", "-v", f"{tmp_path / 'hostdir'}:/ro:ro", "busybox",
           "echo in-volume > /data/v", check=True)
    volume = fresh_root / "volumes" / "cpdata" / "_data"
    (tmp_path / "f").write_text("copied\n")
    assert cp(str(tmp_path / "f"), f"{name}:/data/").returncode == 0
    assert (volume / "f").read_text() == "copied\n" and not (upper(fresh_root, name) / "data" / "f").exists()
    assert cp(f"{name}:/data", str(tmp_path / "out")).returncode == 0  # the volume's own directory
    assert sorted(os.listdir(tmp_path / "out")) == ["f", "v"]
    (tmp_path / "into").mkdir()
    assert cp(f"{name}:/data", str(tmp_path / "into")).returncode == 0
    assert sorted(os.listdir(tmp_path / "into" / "data")) == ["f", "v"]  # under its name in the container
    r = cp(str(tmp_path / "f"), f"{name}:/ro/f")
    assert r.returncode == 1 and b"read-only" in r.stderr and not (tmp_path / "hostdir" / "f").exists()
    bocker("rm", "-v", name, check=True)
    bocker("volume", "rm", "cpdata", check=True)  # a named volume outlives rm -v (Docker's rule)
