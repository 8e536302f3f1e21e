"""The Docker API service's protocol: negotiation, errors, ids, streams and the socket."""

from __future__ import annotations

import json
import os
import socket
import stat
import struct

from tests.support.api_helpers import UnixHTTPConnection, service_fixture

service = service_fixture()


def test_ping_head_and_get_carry_the_negotiation_headers(service):
    for method in ("HEAD", "GET"):
        for path in ("/_ping", "/v1.41/_ping", "/v1.24/_ping"):
            status, headers, body = service.request(method, path)
            assert status == 200
            assert headers["api-version"] == "1.41"
            assert headers["ostype"] == "linux"
            assert headers["docker-experimental"] == "false"
            assert headers["builder-version"] == "1"   # not BuildKit: the CLI keeps the classic builder
            assert body == (b"OK" if method == "GET" else b"")


def test_version_info_and_versioned_paths(service):
    status, _, body = service.request("GET", "/version")
    v = json.loads(body)
    assert status == 200 and v["ApiVersion"] == "1.41" and v["MinAPIVersion"] == "1.24" and v["Os"] == "linux"
    status, _, body = service.request("GET", "/v1.30/info")
    info = json.loads(body)
    assert status == 200 and info["OSType"] == "linux" and info["Swarm"]["LocalNodeState"] == "inactive"
    assert info["ServerVersion"] and "ID" in info and info["ExperimentalBuild"] is False


def test_a_version_too_new_is_refused_with_dockers_words(service):
    status, headers, body = service.request("GET", "/v1.45/containers/json")
    assert status == 400
    assert json.loads(body) == {"message": "client version 1.45 is too new. Maximum supported API version is 1.41"}
    assert headers["content-type"] == "application/json"


def test_errors_are_dockers_json_and_never_a_traceback(service):
    status, _, body = service.request("GET", "/containers/nosuchthing/json")
    assert status == 404 and json.loads(body) == {"message": "No such container: nosuchthing"}
    status, _, body = service.request("GET", "/images/nosuchimage:1/json")
    assert status == 404 and json.loads(body)["message"].startswith("No such image: nosuchimage:1")
    status, _, body = service.request("GET", "/networks/nonet")
    assert status == 404 and "not found" in json.loads(body)["message"]
    status, _, body = service.request("GET", "/volumes/novol")
    assert status == 404 and "no such volume" in json.loads(body)["message"]
    status, _, body = service.request("GET", "/no/such/endpoint")
    assert status == 404 and json.loads(body) == {"message": "page not found"}
    status, _, body = service.request("POST", "/containers/create", b"{not json")
    assert status == 400 and "invalid JSON" in json.loads(body)["message"]
    status, _, body = service.request("GET", "/containers/json?filters=%7Bbad")
    assert status == 400
    status, _, body = service.request("GET", "/swarm")
    assert status == 503 and "not a swarm manager" in json.loads(body)["message"]
    status, _, body = service.request("POST", "/session")
    assert status == 501 and "BuildKit" in json.loads(body)["message"]
    assert "Traceback" not in service.log_text()


def test_ids_names_and_prefixes(service):
    cid = service.docker("create", "--name", "api-ids", "busybox", "true").stdout.decode().strip()
    assert len(cid) == 64 and all(c in "0123456789abcdef" for c in cid)
    # bocker's own id is ps_ + the Docker id's first 10 hex digits: `bocker ps` shows the same container
    bocker_id = "ps_" + cid[:10]
    for ref in (cid, cid[:12], cid[:5], "api-ids", "/api-ids", bocker_id):
        status, _, body = service.request("GET", f"/containers/{ref.replace('/', '%2F')}/json")
        assert status == 200, ref
        info = json.loads(body)
        assert info["Id"] == cid and info["Name"] == "/api-ids"
    status, _, body = service.request("POST", "/containers/create?name=api-ids", {"Image": "busybox"})
    assert status == 409 and "already in use" in json.loads(body)["message"]
    status, _, _ = service.request("POST", f"/containers/{cid[:12]}/stop")
    assert status == 304   # not running: Docker's "not modified"
    status, _, _ = service.request("DELETE", f"/containers/{cid}")
    assert status == 204


def test_keep_alive_serves_several_requests_on_one_connection(service):
    conn = UnixHTTPConnection(service.sock)
    try:
        for _ in range(3):
            conn.request("GET", "/_ping")
            resp = conn.getresponse()
            assert resp.status == 200 and resp.read() == b"OK"
        conn.request("GET", "/containers/json")
        resp = conn.getresponse()
        assert resp.status == 200 and isinstance(json.loads(resp.read()), list)
    finally:
        conn.close()


def test_a_chunked_request_body_is_read(service):
    body = json.dumps({"Image": "busybox", "Cmd": ["true"]}).encode()
    s = socket.socket(socket.AF_UNIX)
    s.connect(service.sock)
    try:
        s.sendall(b"POST /v1.41/containers/create HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                  b"Transfer-Encoding: chunked\r\n\r\n" + b"%x\r\n" % 5 + body[:5] + b"\r\n"
                  + b"%x\r\n" % (len(body) - 5) + body[5:] + b"\r\n0\r\n\r\n")
        reply = b""
        while b"\r\n\r\n" not in reply or not reply.rstrip().endswith(b"}"):
            data = s.recv(4096)
            if not data:
                break
            reply += data
    finally:
        s.close()
    assert reply.startswith(b"HTTP/1.1 201")
    cid = json.loads(reply.split(b"\r\n\r\n", 1)[1])["Id"]
    assert service.request("DELETE", f"/containers/{cid}")[0] == 204


def test_hijacked_attach_streams_frames_and_takes_stdin_after_a_half_close(service):
    """As `docker run -i` does: attach (101 UPGRADED) before start, stdin, a half-close of
    the client's side, and the output still read after it (multiplexed frames: no tty)."""
    status, _, body = service.request("POST", "/containers/create", {
        "Image": "busybox", "Cmd": ["sh", "-c", "cat; echo err >&2; echo done"], "OpenStdin": True,
        "StdinOnce": True, "AttachStdin": True})
    cid = json.loads(body)["Id"]
    s = socket.socket(socket.AF_UNIX)
    s.connect(service.sock)
    s.sendall(f"POST /v1.41/containers/{cid}/attach?stream=1&stdin=1&stdout=1&stderr=1 HTTP/1.1\r\n"
              "Host: x\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n".encode())
    head = b""
    while b"\r\n\r\n" not in head:
        head += s.recv(1)
    assert head.startswith(b"HTTP/1.1 101 UPGRADED")
    assert b"application/vnd.docker.raw-stream" in head
    assert service.request("POST", f"/containers/{cid}/start")[0] == 204
    s.sendall(b"hello over the pipe\n")
    s.shutdown(socket.SHUT_WR)
    data = b""
    while True:
        chunk = s.recv(65536)
        if not chunk:
            break
        data += chunk
    s.close()
    frames = []
    while data:
        kind, size = struct.unpack(">BxxxL", data[:8])
        frames.append((kind, data[8:8 + size]))
        data = data[8 + size:]
    out = b"".join(p for k, p in frames if k == 1)
    err = b"".join(p for k, p in frames if k == 2)
    assert out == b"hello over the pipe\ndone\n" and err == b"err\n"
    status, _, body = service.request("POST", f"/containers/{cid}/wait")
    assert status == 200 and json.loads(body)["StatusCode"] == 0
    assert service.request("DELETE", f"/containers/{cid}")[0] == 204


def test_the_socket_is_root_only_by_default(service):
    st = os.stat(service.sock)
    assert stat.S_ISSOCK(st.st_mode)
    assert stat.S_IMODE(st.st_mode) == 0o660 and st.st_uid == 0 and st.st_gid == 0
