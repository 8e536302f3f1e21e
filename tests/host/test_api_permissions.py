"""The service's socket, as dockerd's: 0660, root's, and the group --group names. A user
outside that group is refused by the kernel (EACCES on connect), one in it gets answers."""

from __future__ import annotations

import grp
import os
import stat
import subprocess
import sys

import pytest

from tests.support.api_helpers import running_service

GROUP = "users" if any(g.gr_name == "users" for g in grp.getgrall()) else None
NOBODY = 65534

PROBE = """
import socket, sys
s = socket.socket(socket.AF_UNIX)
try:
    s.connect(sys.argv[1])
except PermissionError:
    print("refused"); sys.exit(0)
s.sendall(b"GET /_ping HTTP/1.1\\r\\nHost: x\\r\\n\\r\\n")
print("answered" if s.recv(4096).startswith(b"HTTP/1.1 200") else "odd")
"""


def probe(sock: str, groups: list[int]) -> str:
    """A client as user nobody (the system python: the venv is root's) with these groups."""
    r = subprocess.run(["/usr/bin/python3", "-I", "-c", PROBE, sock], capture_output=True, text=True, timeout=30,
                       user=NOBODY, group=NOBODY, extra_groups=groups)
    assert r.returncode == 0, r.stderr
    return r.stdout.strip()


@pytest.mark.skipif(GROUP is None, reason="needs a group named users")
def test_a_user_outside_the_group_is_refused_by_the_kernel():
    gid = grp.getgrnam(GROUP).gr_gid
    with running_service(group=GROUP) as s:
        os.chmod(s.dir, 0o755)  # the directory lets anyone reach the socket: only its own mode decides
        st = os.stat(s.sock)
        assert stat.S_IMODE(st.st_mode) == 0o660 and st.st_uid == 0 and st.st_gid == gid
        assert probe(s.sock, []) == "refused"
        assert probe(s.sock, [gid]) == "answered"


def test_an_unknown_group_is_one_line_and_no_socket(tmp_path):
    r = subprocess.run([sys.executable, "-m", "bocker_magics.cli", "system", "service", "-H",
                        f"unix://{tmp_path}/d.sock", "--group", "no-such-group-here", "--time", "1"],
                       capture_output=True, text=True, timeout=60, env={**os.environ, "BOCKER_NO_SERVER": "1"})
    assert r.returncode != 0 and "no-such-group-here" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1 and "Traceback" not in r.stderr
    assert not (tmp_path / "d.sock").exists()
    r = subprocess.run([sys.executable, "-m", "bocker_magics.cli", "system", "service", "-H", "tcp://0.0.0.0:2375"],
                       capture_output=True, text=True, timeout=60, env={**os.environ, "BOCKER_NO_SERVER": "1"})
    assert r.returncode != 0 and "unix socket" in r.stderr and "Traceback" not in r.stderr


@pytest.mark.skipif(not os.path.exists("/usr/bin/systemd-socket-activate"), reason="needs systemd-socket-activate")
def test_socket_activation_as_the_systemd_units_start_it(tmp_path):
    """bocker.socket/bocker.service: systemd listens and passes the socket as fd 3."""
    import signal
    import time

    from tests.support.api_helpers import UnixHTTPConnection
    sock = str(tmp_path / "activated.sock")
    env = {**os.environ, "BOCKER_NO_SERVER": "1"}
    proc = subprocess.Popen(["/usr/bin/systemd-socket-activate", "-l", sock, *sum((["-E", k] for k in env), []),
                             sys.executable, "-m", "bocker_magics.cli", "system", "service", "--time", "0"],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 10
        while not os.path.exists(sock) and time.monotonic() < deadline:
            time.sleep(0.05)
        conn = UnixHTTPConnection(sock)
        conn.request("GET", "/v1.41/_ping")
        resp = conn.getresponse()
        assert resp.status == 200 and resp.read() == b"OK" and resp.getheader("API-Version") == "1.41"
        conn.close()
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(15)
