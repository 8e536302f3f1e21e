"""The engine's side of the shim: start it once, send it one request per container.

The shim is exec'ed (never forked from the engine, which may be a threaded Jupyter kernel)
as `python -I -S`: isolated from the user's environment and without site-packages, so it
starts in a few tens of milliseconds. It then forks a monitor per container, which costs
under a millisecond.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
from pathlib import Path

import bocker_magics

from .shim import BOOT

_PACKAGE_PARENT = str(Path(bocker_magics.__file__).resolve().parent.parent)


class Launcher:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._sock: socket.socket | None = None
        self._proc: subprocess.Popen | None = None

    def _start(self) -> socket.socket:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        try:
            self._proc = subprocess.Popen(
                [sys.executable, "-I", "-S", "-c", BOOT, _PACKAGE_PARENT, str(theirs.fileno())],
                pass_fds=[theirs.fileno()], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                start_new_session=True, close_fds=True,
                cwd="/",  # it outlives the command: it must not hold the caller's directory
            )
        finally:
            theirs.close()
        self._sock = ours
        return ours

    def start(self) -> None:
        """Start the shim now, not at the first launch (a server warming up)."""
        with self._lock:
            if self._sock is None or not self._alive():
                self._close_locked()
                self._start()

    def launch(self, request: dict, fds: list[int]) -> None:
        """Hand a container request and its fds (control socket, output pipe) to the shim."""
        data = json.dumps(request).encode()
        with self._lock:
            for attempt in (1, 2):
                sock = self._sock if self._sock is not None and self._alive() else self._start()
                try:
                    socket.send_fds(sock, [data], fds)
                    return
                except OSError:
                    if attempt == 2:
                        raise
                    self._close_locked()

    def _alive(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def _close_locked(self) -> None:
        if self._sock is not None:
            self._sock.close()  # the shim sees EOF and exits; its monitors live on
            self._sock = None
        if self._proc is not None:
            # The shim exits as soon as it reads EOF: a blocking wait (no timeout, so no
            # polling sleeps) reaps it at once.
            self._proc.wait()
            self._proc = None

    def close(self) -> None:
        with self._lock:
            self._close_locked()

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:
            pass
