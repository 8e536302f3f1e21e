"""The Docker Engine API service: HTTP/1.1 on a unix socket, one thread per connection.

Built on the standard library (socketserver + http.server.BaseHTTPRequestHandler): what the
clients need beyond plain requests is small and specific to Docker (a body read as it comes,
chunked replies flushed per JSON line, and the hijacked connection, where after a `101
UPGRADED` the socket is a raw two-way pipe), and each of those is a few lines on top of the
handler's own socket. A framework (aiohttp, an ASGI server) would hide that socket behind its
own transport and bring a dependency for no gain here. A request as the endpoints see it (its
query, its body, the ways to answer) is request.py's; this module is the socket, its threads
and the service's life.

    serve(engine, "unix:///run/bocker/docker.sock", idle=300, group="docker")
"""

from __future__ import annotations

import contextlib
import grp
import http.server
import logging
import os
import socket
import socketserver
import stat
import threading
import time
import urllib.parse
from typing import Any

from ..errors import BockerError, InvalidArgument
from . import routing
from .request import COMMON_HEADERS, Hijacked, Request, Stream, _BodyReader  # noqa: F401  (from here as before)
from .routing import ApiError

log = logging.getLogger("bocker.api")

DEFAULT_HOST = "unix:///run/bocker/docker.sock"
DEFAULT_IDLE = 300.0


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "Docker/20.10.24"
    sys_version = ""
    server: Service

    def log_message(self, format: str, *args: Any) -> None:  # the socket has no client address
        log.debug(format, *args)

    def address_string(self) -> str:
        return "unix"

    def _dispatch(self) -> None:
        self.server.activity(+1)
        try:
            self._serve()
        finally:
            self.server.activity(-1)

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _dispatch

    def _serve(self) -> None:
        url = urllib.parse.urlsplit(self.path)
        query = urllib.parse.parse_qs(url.query, keep_blank_values=True)
        path = url.path  # matched as sent: an escaped '/' in a name (%2F) stays inside its segment
        request = None
        try:
            version, path = routing.split_version(path)
            request = Request(self, self.command, path, query, version)
            routing.dispatch(self.server.api, request)
        except Hijacked:
            return
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
            return
        except ApiError as err:
            self._error(request, err.status, err.message)
        except BockerError as err:
            self._error(request, routing.status_of(err), routing.docker_message(err))
        except Exception as err:  # a fault of ours: one line in the log, Docker's 500 on the wire
            log.error("%s %s: %s: %s", self.command, self.path, type(err).__name__, err,
                      exc_info=log.isEnabledFor(logging.DEBUG))
            self._error(request, 500, f"{type(err).__name__}: {err}")
        finally:
            if request is not None and request.answered and not self.close_connection and not request._body_read:
                # an unread body would be taken for the next request
                with contextlib.suppress(Exception):
                    _BodyReader(self).drain()

    def _error(self, request: Request | None, status: int, message: str) -> None:
        if request is not None and request.answered:
            self.close_connection = True  # too late for a status: the stream ends here
            return
        r = request or Request(self, self.command, self.path, {}, "")
        if status == 304:
            r.reply(304)
            return
        with contextlib.suppress(OSError):
            r.reply(status, {"message": message})


class Service(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True
    block_on_close = False

    def __init__(self, path: str, api: Any) -> None:
        self.api = api
        self.active = 0
        self.last = time.monotonic()
        self._lock = threading.Lock()
        super().__init__(path, Handler, bind_and_activate=True)

    def activity(self, delta: int) -> None:
        with self._lock:
            self.active += delta
            self.last = time.monotonic()

    def idle_for(self) -> float:
        with self._lock:
            return 0.0 if self.active else time.monotonic() - self.last

    def handle_error(self, request: Any, client_address: Any) -> None:
        import sys
        err = sys.exc_info()[1]
        if not isinstance(err, (OSError, ValueError)):
            log.error("connection: %s: %s", type(err).__name__, err)


def socket_path(host: str) -> str:
    """`unix:///path` (or a bare path) -> the path; another scheme is refused."""
    if host.startswith("unix://"):
        path = host[len("unix://"):]
    elif "://" in host:
        raise InvalidArgument(f"Invalid -H '{host}': bocker serves the API on a unix socket only "
                              "(unix:///run/bocker/docker.sock)")
    else:
        path = host
    if not path.startswith("/"):
        raise InvalidArgument(f"Invalid -H '{host}': give an absolute path, e.g. unix:///run/bocker/docker.sock")
    return path


def _take_path(path: str) -> None:
    """A stale socket (no one answers on it) is removed; a live one is another service's."""
    if not os.path.lexists(path):
        os.makedirs(os.path.dirname(path) or "/", exist_ok=True)
        return
    if not stat.S_ISSOCK(os.lstat(path).st_mode):
        raise InvalidArgument(f"{path} exists and is not a socket: choose another -H")
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        probe.connect(path)
    except OSError:
        os.unlink(path)
    else:
        raise InvalidArgument(f"Another service answers on {path}: stop it or choose another -H")
    finally:
        probe.close()


def make_service(engine: Any, host: str = DEFAULT_HOST, group: str | None = None) -> Service:
    """Bind the socket (0660, root and `group`, else root:root) and make the service."""
    from .app import Api
    path = socket_path(host)
    gid = 0
    if group:
        try:
            gid = grp.getgrnam(group).gr_gid if not group.isdigit() else int(group)
        except KeyError:
            raise InvalidArgument(f"No group named '{group}': create it (groupadd {group}) or give another --group") \
                from None
    _take_path(path)
    old = os.umask(0o177)  # never a moment when others may connect
    try:
        service = Service(path, Api(engine))
    finally:
        os.umask(old)
    os.chown(path, 0, gid)
    os.chmod(path, 0o660)
    return service


def serve(engine: Any, host: str = DEFAULT_HOST, idle: float = DEFAULT_IDLE, group: str | None = None,
          ready: Any = None, listen_fd: int | None = None) -> None:
    """Serve until stopped (SIGTERM/SIGINT), or `idle` seconds without a request (0: never).
    `listen_fd`: a socket systemd passed (socket activation) instead of binding `host`; when
    systemd started this process with one (LISTEN_PID, LISTEN_FDS), fd 3 is it."""
    if listen_fd is None and os.environ.get("LISTEN_PID") == str(os.getpid()) and \
            int(os.environ.get("LISTEN_FDS") or 0) >= 1:
        listen_fd = 3
    if listen_fd is not None:
        from .app import Api
        service = Service.__new__(Service)
        service.api, service.active, service.last, service._lock = Api(engine), 0, time.monotonic(), threading.Lock()
        socketserver.BaseServer.__init__(service, "", Handler)
        service.socket = socket.socket(fileno=listen_fd)
        path = None
    else:
        service = make_service(engine, host, group)
        path = socket_path(host)
    if threading.current_thread() is threading.main_thread():
        import faulthandler
        import signal
        faulthandler.register(signal.SIGUSR1, all_threads=True)  # kill -USR1: every thread's stack, to stderr

        def stop(*_: object) -> None:  # systemctl stop, kill: as Ctrl-C, the socket goes
            raise KeyboardInterrupt
        signal.signal(signal.SIGTERM, stop)
    thread = threading.Thread(target=service.serve_forever, kwargs={"poll_interval": 0.2}, daemon=True)
    thread.start()
    if ready is not None:
        ready()
    try:
        while True:
            time.sleep(0.5)
            if idle and service.idle_for() >= idle:
                break
            if path is not None and not os.path.exists(path):
                break  # its socket was removed: nobody can reach it any more
    except KeyboardInterrupt:
        pass
    finally:
        service.shutdown()
        service.api.close()
        service.server_close()
        if path is not None:
            with contextlib.suppress(OSError):
                os.unlink(path)
