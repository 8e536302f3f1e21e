"""--userns=remap: root in the container is an unprivileged range of the host's ids (issue 11's
stretch). What the container's root sees (its image's files as its own, a writable root and
named volumes), what the host sees (another uid, on-disk ids unchanged), and attacks from
inside that work as the host's root and must fail as the remapped one."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from bocker_magics.engine.kernel import userns
from tests.support.session import bocker

BASE, SIZE = userns.remap_range()[:2]


def run(engine, image: str, script: str, **options):
    return engine.run(image, script, network="none", remove=True, **options)


def test_root_inside_is_an_unprivileged_range_outside(engine, busybox):
    c = engine.run(busybox, "sleep 1000", network="none", detach=True, userns="remap")
    try:
        pid = engine.inspect(c.id)["State"]["Pid"]
        status = Path(f"/proc/{pid}/status").read_text()
        assert f"Uid:\t{BASE}\t{BASE}\t{BASE}\t{BASE}" in status
        assert f"Gid:\t{BASE}\t{BASE}\t{BASE}\t{BASE}" in status
        assert os.readlink(f"/proc/{pid}/ns/user") != os.readlink("/proc/self/ns/user")
        # every other namespace is owned by the host's user namespace: made before pid 1 entered its own
        r = engine.exec(c.id, ["sh", "-c", "id -u; cat /proc/self/uid_map /proc/self/gid_map; readlink /proc/self/ns/user"])
        lines = r.text.splitlines()
        assert lines[0] == "0"
        assert lines[1].split() == ["0", str(BASE), str(SIZE)] and lines[2].split() == ["0", str(BASE), str(SIZE)]
        assert lines[3] == os.readlink(f"/proc/{pid}/ns/user")  # exec joins it too
        spec = engine.inspect(c.id)["Spec"]
        assert {"type": "user"} in spec["linux"]["namespaces"]
        assert spec["linux"]["uidMappings"] == [{"containerID": 0, "hostID": BASE, "size": SIZE}]
    finally:
        engine.rm(c.id, force=True)


def test_the_image_is_the_containers_roots_and_its_writes_stay_container_ids_on_disk(engine, busybox, tmp_path):
    r = engine.run(busybox, "stat -c '%u %g' /bin/busybox /etc /dev/null; echo x > /etc/remapped && "
                   "chown 33:33 /etc/remapped && mkdir -p /new/dir && ls -ln /etc/remapped",
                   network="none", userns="remap", workdir="/made/by/docker")
    try:
        assert r.exit_code == 0, r.text
        lines = r.text.splitlines()
        assert lines[:3] == ["0 0", "0 0", "0 0"]
        assert lines[3].split()[2:4] == ["33", "33"]
        # on disk (the upper directory) the ids are the container's, not the host's remapped ones:
        # commit, diff and cp see the same files as without --userns
        upper, _ = engine.diff_dirs(r.id)
        st = (upper / "etc" / "remapped").stat()
        assert (st.st_uid, st.st_gid) == (33, 33)
        assert (upper / "new" / "dir").stat().st_uid == 0
        assert (upper / "made" / "by" / "docker").stat().st_uid == 0
        engine.commit(r.id, "remapped-commit")
        try:
            out = run(engine, "remapped-commit", "stat -c '%u %g' /etc/remapped").text
            assert out.strip() == "33 33"  # the same without remapping: nothing shifted
        finally:
            engine.rmi("remapped-commit")
    finally:
        engine.rm(r.id, force=True)


def test_named_volumes_are_the_containers_host_directories_stay_the_hosts(engine, busybox, tmp_path):
    host = tmp_path / "host"
    host.mkdir(mode=0o755)
    (host / "secret").write_text("the host's\n")
    os.chmod(host / "secret", 0o600)
    volume = f"remap-vol-{os.getpid()}"
    try:
        r = run(engine, busybox, "echo v > /vol/f && stat -c '%u' /vol /vol/f; "
                "stat -c '%u' /h; cat /h/secret 2>&1; echo rc=$?; touch /h/new 2>&1; echo rc=$?",
                userns="remap", volumes=[f"{volume}:/vol", f"{host}:/h"])
        lines = r.text.splitlines()
        assert lines[:2] == ["0", "0"], r.text
        assert lines[2] == "65534"  # the host's root is nobody in the container
        assert "Permission denied" in lines[3] and lines[4] == "rc=1"
        assert "Permission denied" in lines[5] and lines[6] == "rc=1"
        assert not (host / "new").exists()
        # the same container without remapping: root reads and writes the host's files
        r = run(engine, busybox, "cat /h/secret && touch /h/new && echo wrote", volumes=[f"{host}:/h"])
        assert r.text == "the host's\nwrote\n"
    finally:
        engine.volume_rm(volume, force=True)


def test_a_user_of_the_image_is_base_plus_its_uid(engine, busybox):
    c = engine.run(busybox, "sleep 1000", network="none", detach=True, userns="remap", user="33:33")
    try:
        pid = engine.inspect(c.id)["State"]["Pid"]
        assert f"Uid:\t{BASE + 33}\t" in Path(f"/proc/{pid}/status").read_text()
        r = engine.exec(c.id, ["sh", "-c", "id -u; touch /etc/x 2>&1; echo rc=$?"])
        assert r.text.splitlines()[0] == "33" and r.text.splitlines()[-1] == "rc=1"
    finally:
        engine.rm(c.id, force=True)


def test_cp_into_a_running_remapped_container_gives_its_ids(engine, busybox, tmp_path):
    src = tmp_path / "tree"
    (src / "sub").mkdir(parents=True)
    (src / "sub" / "f").write_text("hello\n")
    os.chown(src / "sub", 33, 33)
    os.chown(src / "sub" / "f", 33, 33)
    c = engine.run(busybox, "sleep 1000", network="none", detach=True, userns="remap")
    try:
        engine.cp(str(src), f"{c.id}:/etc/plain")
        engine.cp(str(src), f"{c.id}:/etc/kept", archive=True)
        r = engine.exec(c.id, ["stat", "-c", "%n %u %g", "/etc/plain/sub/f", "/etc/kept/sub/f"])
        assert r.text.splitlines() == ["/etc/plain/sub/f 0 0", "/etc/kept/sub/f 33 33"]
        assert engine.exec(c.id, ["cat", "/etc/kept/sub/f"]).text == "hello\n"
        # this thread is the host's root again: a copy to a container without remapping works
        other = engine.run(busybox, "sleep 1000", network="none", detach=True)
        try:
            engine.cp(str(src), f"{other.id}:/etc/plain")
            assert engine.exec(other.id, ["stat", "-c", "%u", "/etc/plain/sub/f"]).text == "0\n"
        finally:
            engine.rm(other.id, force=True)
    finally:
        engine.rm(c.id, force=True)
    status = Path("/proc/thread-self/status").read_text().splitlines()
    assert next(line for line in status if line.startswith("Uid:")).split()[4] == "0"  # the fs uid


def test_terminals_and_a_new_working_directory_are_the_containers_roots(busybox):
    # a pty (run -t, exec -t) and exec -w of a missing directory: made by the host's root, owned
    # by the container's (its id 0), not the overflow id; `script` gives bocker a terminal
    def on_a_terminal(command: str) -> list[str]:
        r = subprocess.run(["script", "-qec", command, "/dev/null"], capture_output=True, text=True, timeout=60)
        assert r.returncode == 0, r.stdout + r.stderr
        return r.stdout.replace("\r", "").split()
    from tests.support.session import BOCKER
    assert on_a_terminal(f"{BOCKER} run --rm -t --network none --userns remap {busybox} "
                         "sh -c 'stat -c %u $(tty) /dev/console'") == ["0", "0"]
    cid = bocker("run", "-d", "--network", "none", "--userns", "remap", busybox, "sleep 1000", check=True).stdout.strip()
    try:
        assert on_a_terminal(f"{BOCKER} exec -t {cid} sh -c 'stat -c %u $(tty)'") == ["0"]
        r = bocker("exec", "-w", "/made/here", cid, "sh", "-c", "pwd; stat -c %u /made/here", check=True)
        assert r.stdout.split() == ["/made/here", "0"]
    finally:
        bocker("rm", "-f", cid)


# -- attacks: what the host's root may do and the remapped root must not ----------------------
ATTACKS = {
    "mount": "mkdir -p /mnt && mount -t tmpfs none /mnt",  # its mount namespace is the host's root's
    "hostname": "hostname evil",                          # so is its UTS namespace
    "network": "ip link set lo mtu 1280",                 # and its network namespace
    "mknod": "mknod /tmp/null c 1 3",                     # a device node
    "chown": "touch /tmp/f && chown 70000 /tmp/f",        # an id outside its range
}
ADDED = dict(cap_add=["SYS_ADMIN", "NET_ADMIN", "MKNOD"], security_opt=["seccomp=unconfined"])


def attempt(engine, busybox, **options) -> dict[str, str]:
    script = "; ".join(f"({a}) >/dev/null 2>&1 && echo {name} worked || echo {name} refused"
                       for name, a in ATTACKS.items())
    r = run(engine, busybox, script, **ADDED, **options)
    return dict(line.split() for line in r.text.splitlines())


def test_capabilities_added_to_a_remapped_root_give_no_power_over_the_host(engine, busybox):
    # SYS_ADMIN, NET_ADMIN and MKNOD added, seccomp off: as the host's root each attack works;
    # as the remapped root, every namespace but its own user namespace is the host root's, and
    # a capability there is none here
    assert attempt(engine, busybox) == {name: "worked" for name in ATTACKS}
    assert attempt(engine, busybox, userns="remap") == {name: "refused" for name in ATTACKS}


def test_a_process_of_the_host_is_out_of_reach(engine, busybox):
    # with --pid host the container sees the host's processes: the host's root in a container
    # may kill one (CAP_KILL is a default), the remapped root may not
    victims = [subprocess.Popen(["sleep", "1000"]) for _ in range(2)]
    try:
        r = run(engine, busybox, f"kill -9 {victims[0].pid} && echo killed", pid="host")
        assert r.text == "killed\n" and victims[0].wait(timeout=5) == -9
        r = run(engine, busybox, f"kill -9 {victims[1].pid} 2>&1; echo rc=$?", userns="remap", pid="host")
        assert r.text.splitlines()[-1] == "rc=1" and "Operation not permitted" in r.text, r.text
        assert victims[1].poll() is None
    finally:
        for v in victims:
            v.kill()
            v.wait()


# -- the command line ----------------------------------------------------------------------------
def test_cli_userns_remap_and_its_refusals(busybox):
    r = bocker("run", "--network", "none", "--rm", "--userns", "remap", busybox, "cat /proc/self/uid_map")
    assert r.returncode == 0 and r.stdout.split() == ["0", str(BASE), str(SIZE)], r.stderr
    r = bocker("run", "--network", "none", "--rm", "--userns", "other", busybox, "true")
    assert r.returncode != 0 and r.stderr.strip() == "Invalid --userns 'other': use host or remap"
    r = bocker("run", "--network", "none", "--rm", "--userns", "remap", "--privileged", busybox, "true")
    assert r.returncode != 0 and len(r.stderr.strip().splitlines()) == 1 and "conflict" in r.stderr
    assert "Traceback" not in r.stderr


def test_the_remap_range_comes_from_subuid_for_bocker(tmp_path):
    (tmp_path / "subuid").write_text("alice:100000:65536\nbocker:300000:70000\n")
    (tmp_path / "subgid").write_text("bocker:400000:1000\n")
    assert userns.remap_range(subuid=str(tmp_path / "subuid"), subgid=str(tmp_path / "subgid")) == \
        (300000, 65536, 400000, 1000)
    assert userns.remap_range(subuid=str(tmp_path / "none"), subgid=str(tmp_path / "none")) == \
        (userns.REMAP_BASE, 65536, userns.REMAP_BASE, 65536)

