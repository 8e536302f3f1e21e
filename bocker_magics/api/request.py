"""One request as the endpoints see it (moby's api/server/httputils): the query's values, the
body read as it comes (sized or chunked), and the three ways to answer: a JSON reply, a chunked
stream flushed per JSON line, a hijacked connection (the raw socket, after `101 UPGRADED`)."""

from __future__ import annotations

import contextlib
import json
import socket
import threading
from typing import TYPE_CHECKING, Any

from .routing import API_VERSION, ApiError

if TYPE_CHECKING:
    from .server import Handler

COMMON_HEADERS = (("API-Version", API_VERSION), ("Docker-Experimental", "false"), ("OSType", "linux"),
                  ("Server", "Docker/20.10.24 (linux)"))


class Hijacked(Exception):
    """Raised out of a handler that took the connection over: nothing more is written."""


class Request:
    """One request as the endpoints see it: method, path, query, headers, a body reader and
    the ways to answer (a JSON reply, a stream of chunks, a hijack)."""

    def __init__(self, handler: Handler, method: str, path: str, query: dict[str, list[str]], version: str) -> None:
        self.handler = handler
        self.method = method
        self.path = path
        self.query = query
        self.version = version          # the API version the client asked for ("" unversioned)
        self.headers = handler.headers
        self.answered = False
        self._body_read = False

    # -- the query ------------------------------------------------------------------------
    def arg(self, name: str, default: str | None = None) -> str | None:
        values = self.query.get(name)
        return values[-1] if values else default

    def flag(self, name: str, default: bool = False) -> bool:
        value = self.arg(name)
        if value is None:
            return default
        return value.strip().lower() not in ("0", "false", "no", "")

    def integer(self, name: str, default: int | None = None) -> int | None:
        value = self.arg(name)
        if value is None or value == "":
            return default
        try:
            return int(value)
        except ValueError:
            raise ApiError(400, f"invalid value for {name}: {value!r} is not a number") from None

    def json_arg(self, name: str, default: Any = None) -> Any:
        value = self.arg(name)
        if not value:
            return default
        try:
            return json.loads(value)
        except ValueError:
            raise ApiError(400, f"invalid JSON in the query parameter {name}") from None

    def filters(self) -> dict[str, list[str]]:
        """`filters={"label":["a=b"]}` (or the old {"label":{"a=b":true}}) as name -> values."""
        raw = self.json_arg("filters", {}) or {}
        if not isinstance(raw, dict):
            raise ApiError(400, "invalid filter: filters must be a JSON object")
        out: dict[str, list[str]] = {}
        for key, values in raw.items():
            if isinstance(values, dict):
                values = [k for k, v in values.items() if v]
            elif isinstance(values, str):
                values = [values]
            out[key] = [str(v) for v in values or []]
        return out

    # -- the body -------------------------------------------------------------------------
    def body_file(self):
        """A file-like reader of the request body (chunked or sized), read as it comes."""
        self._body_read = True
        return _BodyReader(self.handler)

    def body(self) -> bytes:
        return self.body_file().read()

    def json_body(self, default: Any = None) -> Any:
        data = self.body()
        if not data.strip():
            return default
        try:
            return json.loads(data)
        except ValueError:
            raise ApiError(400, "invalid JSON in the request body") from None

    def client_gone(self) -> bool:
        """Whether the client closed its end (a `docker run -d` leaves its wait so)."""
        import select
        sock = self.handler.connection
        try:
            readable, _, _ = select.select([sock], [], [], 0)
            if not readable:
                return False
            return sock.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT) == b""
        except BlockingIOError:
            return False
        except OSError:
            return True

    # -- answers --------------------------------------------------------------------------
    def reply(self, status: int, body: Any = None, content_type: str = "application/json",
              headers: dict[str, str] | None = None) -> None:
        if isinstance(body, (bytes, bytearray)):
            data = bytes(body)
        elif body is None:
            data = b""
        elif isinstance(body, str):
            data = body.encode()
        else:
            data = json.dumps(body).encode() + b"\n"
        h = self._status_line(status, headers)
        if status not in (204, 304):
            h.send_header("Content-Type", content_type)
            h.send_header("Content-Length", str(len(data)))
        h.end_headers()
        if self.method != "HEAD" and status not in (204, 304):
            h.wfile.write(data)
        h.wfile.flush()
        self.answered = True

    def _status_line(self, status: int, headers: dict[str, str] | None):
        """The status line, the headers every answer carries, and `headers`: the handler."""
        h = self.handler
        h.send_response(status)
        for k, v in COMMON_HEADERS:
            h.send_header(k, v)
        for k, v in (headers or {}).items():
            h.send_header(k, v)
        return h

    def stream(self, content_type: str = "application/json", status: int = 200,
               headers: dict[str, str] | None = None) -> Stream:
        """Send the headers now (chunked); write chunks as they come, then close()."""
        h = self._status_line(status, headers)
        h.send_header("Content-Type", content_type)
        h.send_header("Transfer-Encoding", "chunked")
        h.end_headers()
        h.wfile.flush()
        self.answered = True
        return Stream(h)

    def hijack(self, content_type: str = "application/vnd.docker.raw-stream") -> socket.socket:
        """Take the connection over: `101 UPGRADED` when the client asked for the upgrade (as
        the docker CLI and docker-py do), else `200 OK` and the same raw pipe, as dockerd."""
        h = self.handler
        upgrade = "upgrade" in (self.headers.get("Connection") or "").lower() or bool(self.headers.get("Upgrade"))
        if upgrade:
            h.send_response_only(101, "UPGRADED")
            h.send_header("Content-Type", content_type)
            h.send_header("Connection", "Upgrade")
            h.send_header("Upgrade", "tcp")
        else:
            h.send_response_only(200)
            h.send_header("Content-Type", content_type)
        for k, v in COMMON_HEADERS:
            h.send_header(k, v)
        h.end_headers()
        h.wfile.flush()
        h.close_connection = True
        self.answered = True
        return h.connection


class _BodyReader:
    """The request body: Content-Length bytes, or chunked (Go's client sends build contexts,
    archives and image tarballs so), decoded as it is read."""

    def __init__(self, handler: Handler) -> None:
        self.rfile = handler.rfile
        self.chunked = "chunked" in (handler.headers.get("Transfer-Encoding") or "").lower()
        self.left = int(handler.headers.get("Content-Length") or 0) if not self.chunked else 0
        self.chunk_left = 0
        self.done = not self.chunked and self.left == 0

    def read(self, n: int = -1) -> bytes:
        out = bytearray()
        while not self.done and (n < 0 or len(out) < n):
            want = (1 << 20) if n < 0 else n - len(out)
            if self.chunked:
                if self.chunk_left == 0:
                    line = self.rfile.readline(65537)
                    size = int(line.split(b";")[0].strip() or b"0", 16)
                    if size == 0:
                        while self.rfile.readline(65537) not in (b"\r\n", b"\n", b""):
                            pass  # trailers
                        self.done = True
                        break
                    self.chunk_left = size
                data = self.rfile.read(min(want, self.chunk_left))
                if not data:
                    self.done = True
                    break
                self.chunk_left -= len(data)
                if self.chunk_left == 0:
                    self.rfile.readline(3)
            else:
                data = self.rfile.read(min(want, self.left))
                if not data:
                    self.done = True
                    break
                self.left -= len(data)
                self.done = self.left == 0
            out += data
        return bytes(out)

    def readable(self) -> bool:
        return True

    def drain(self) -> None:
        while not self.done:
            self.read(1 << 16)


class Stream:
    """A chunked reply: each write is one chunk, flushed at once (a JSON line is never cut)."""

    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.closed = False
        self.lock = threading.Lock()

    def write(self, data: bytes) -> None:
        if not data or self.closed:
            return
        with self.lock:
            w = self.handler.wfile
            w.write(b"%x\r\n" % len(data) + data + b"\r\n")
            w.flush()

    def json(self, obj: Any) -> None:
        self.write(json.dumps(obj).encode() + b"\r\n")

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        with contextlib.suppress(OSError), self.lock:
            self.handler.wfile.write(b"0\r\n\r\n")
            self.handler.wfile.flush()
