"""What a long-lived engine keeps of each container's files (container/snapshots.py): `ps`
parses container.json and state.json again only when they changed, and stays exact. A
changed file (rewritten, renamed into place, edited in place, removed) is read again at
once; what a caller changes in what it got never reaches the next caller; the status is
derived afresh at every read (a monitor killed a moment ago is dead now, with no file
changed). No root: a store in a temporary directory, and real processes as monitors."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time

import pytest

from bocker_magics.engine.container.record import ContainerRecord
from bocker_magics.engine.container.room import Room
from bocker_magics.engine.container.status import Status
from bocker_magics.engine.kernel import linux
from bocker_magics.engine.spec import State
from bocker_magics.engine.store import Store, write_json

CID = "ps_00000000c1"


def unused(*args):
    raise AssertionError("ps does not need it")


@pytest.fixture
def room(tmp_path) -> Room:
    r = Room(Store(tmp_path / "root"), None, cgroup_parent="bocker-unit-no-such-parent", default_network="none",
             networks=unused, volumes=unused, launcher=unused, default_limits=unused)
    r.snapshots.racy_ns = 0  # files written a moment ago count as settled (test_a_young_file_... says why not)
    return r


@pytest.fixture
def reads(room, monkeypatch) -> list[str]:
    """The containers whose files the room parsed, in order."""
    seen: list[str] = []
    real = room._read

    def counting(cid, cdir):
        seen.append(cid)
        return real(cid, cdir)
    monkeypatch.setattr(room, "_read", counting)
    return seen


def make(room: Room, cid: str = CID, name: str = "web", **state) -> str:
    cdir = room.store.container_dir(cid)
    cdir.mkdir(parents=True, exist_ok=True)
    record = ContainerRecord(id=cid, name=name, image="img_1", image_name="busybox", layers=[],
                             command="sleep 3600", created=time.time(), labels={"tier": "web"})
    write_json(cdir / "container.json", record.to_json(), fsync=False)
    save_state(room, cid, **({"phase": "exited", "status": "stopped", "exit_code": 0} | state))
    return cid


def save_state(room: Room, cid: str, **fields) -> None:
    State(id=cid, bundle=str(room.store.container_dir(cid)), boot_id=room.boot_id, **fields).save(
        room.store.container_dir(cid) / "state.json", fsync=False)


def monitor() -> tuple[subprocess.Popen, dict]:
    """A process standing in for a container's monitor, and the state fields that name it."""
    p = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    start = None
    while start is None:
        start = linux.process_start_time(p.pid)
    return p, {"phase": "running", "status": "running", "pid": p.pid, "pid_start": start,
               "monitor_pid": p.pid, "monitor_start": start}


def test_unchanged_files_are_parsed_once(room, reads):
    make(room)
    first = room.load(CID)
    assert [c.id for c in room.list()] == [CID] and room.load(CID).name == "web"
    assert reads == [CID] and len(room.snapshots) == 1
    assert room.load(CID) == first


def test_a_rewritten_state_is_read_at_once(room, reads):
    make(room)
    assert room.load(CID).status_text == "exited (0)"
    save_state(room, CID, phase="exited", status="stopped", exit_code=3)
    assert room.load(CID).status_text == "exited (3)"
    assert [c.status_text for c in room.list()] == ["exited (3)"]
    assert reads == [CID, CID]


def test_a_renamed_container_shows_its_new_name_at_once(room):
    make(room)
    assert room.find("web") is not None
    record = room.store.container_dir(CID) / "container.json"
    write_json(record, {**__import__("json").loads(record.read_text()), "name": "api"}, fsync=False)
    assert room.find("web") is None and room.get("api").id == CID
    assert [c.name for c in room.list()] == ["api"]


def test_an_edit_in_place_with_its_times_put_back_is_read_again(room):
    """Same inode, same size, same mtime: the ctime (which no one can set) still tells."""
    make(room)
    path = room.store.container_dir(CID) / "state.json"
    assert room.load(CID).exit_code == 0
    st = os.stat(path)
    text = path.read_bytes()
    edited = text.replace(b"\"exitCode\": 0", b"\"exitCode\": 7")
    assert edited != text and len(edited) == len(text)
    time.sleep(0.02)  # past a tick of the file clock
    with open(path, "r+b") as f:
        f.write(edited)
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    after = os.stat(path)
    assert (after.st_ino, after.st_size, after.st_mtime_ns) == (st.st_ino, st.st_size, st.st_mtime_ns)
    assert room.load(CID).exit_code == 7


def test_a_young_file_is_read_again_until_it_ages(room, reads):
    room.snapshots.racy_ns = 200_000_000  # what a write in the last 0.2 s could still hide
    make(room)
    room.load(CID)
    room.load(CID)
    assert reads == [CID, CID] and len(room.snapshots) == 0
    time.sleep(0.25)
    room.load(CID)
    room.load(CID)
    assert reads == [CID, CID, CID] and len(room.snapshots) == 1


def test_what_a_caller_changes_stays_its_own(room, reads):
    make(room)
    for got in (room.load(CID), room.list()[0], room.get("web")):
        got.record.labels["tier"] = "changed"
        got.record.name = "changed"
        got.record.network.dns.append("10.0.0.1")
        got.state.exit_code = 99
        got.state.cgroup["freezer"] = "/changed"
        again = room.load(CID)
        assert again.record is not got.record and again.state is not got.state
        assert again.record.labels == {"tier": "web"} and again.record.name == "web"
        assert again.record.network.dns == [] and again.state.exit_code == 0 and again.state.cgroup == {}
        assert again.name == "web" and again.exit_code == 0
    assert reads == [CID]  # all from what was kept: each its own copy


def test_a_record_read_but_never_asked_for_is_never_copied(room):
    make(room)
    c = room.load(CID)
    assert type(c.__dict__["_record"]).__name__ == "Frozen" and not c.starting and c.restart_count == 0
    assert type(c.__dict__["_state"]).__name__ == "Frozen"  # ps, its id, command and status: no copy
    assert c.record.name == "web" and type(c.__dict__["_record"]) is ContainerRecord


def test_a_killed_monitor_is_dead_at_once(room, reads):
    p, fields = monitor()
    try:
        make(room, **fields)
        assert room.load(CID).status is Status.RUNNING
        assert room.list()[0].status is Status.RUNNING
        p.kill()
        p.wait()
        assert room.load(CID).status is Status.DEAD and room.list()[0].status is Status.DEAD
    finally:
        p.kill()
        p.wait()
    assert reads == [CID]  # its files did not change; what the host says did


def test_removed_and_broken_containers(room):
    make(room)
    other = make(room, "ps_00000000c2", name="db")
    assert len(room.list()) == 2 and len(room.snapshots) == 2
    shutil.rmtree(room.store.container_dir(other))
    assert [c.id for c in room.list()] == [CID] and len(room.snapshots) == 1
    assert room.find("db") is None
    (room.store.container_dir(CID) / "state.json").write_text("{not json")
    c = room.load(CID)
    assert c.status is Status.BROKEN and "state is unreadable" in c.problem and len(room.snapshots) == 0
    (room.store.container_dir(CID) / "state.json").unlink()
    assert room.load(CID).status is Status.BROKEN
    (room.store.container_dir(CID) / "container.json").unlink()
    assert room.find(CID) is None and room.list() == []
