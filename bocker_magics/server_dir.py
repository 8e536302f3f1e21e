"""The servers of a root, from outside any of them: their directory (BOCKER_ROOT/server,
reached through a short-lived fd each time) and log; telling a server to leave, retiring a
server's older versions, stopping every server of a root, and finding their processes."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import struct
import time

from .client import SERVER_DIR, address

LOG_LIMIT = 1 << 20


# -- the server's directory ----------------------------------------------------------------------
class ServerDir:
    """BOCKER_ROOT/server, reached through a short-lived fd each time: a server holds no file
    under its root (an rm -rf of the root, and the tests' host checks, see none open)."""

    def __init__(self, root: str) -> None:
        self.path = os.path.join(root, SERVER_DIR)

    def at(self, entry: str, fn):
        fd = os.open(self.path, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            return fn(address(fd, entry))
        finally:
            os.close(fd)

    def inode(self, entry: str) -> int | None:
        try:
            return self.at(entry, os.stat).st_ino
        except OSError:
            return None

    def unlink(self, entry: str) -> None:
        with contextlib.suppress(OSError):
            self.at(entry, os.unlink)

    def entries(self) -> list[str]:
        try:
            return os.listdir(self.path)
        except OSError:
            return []


class Log:
    """The server's log, BOCKER_ROOT/server/<name's first part>.log: each write opens,
    appends and closes (see ServerDir); gone with the root."""

    def __init__(self, sdir: ServerDir, name: str) -> None:
        self.sdir = sdir
        self.entry = name.split("-")[0] + ".log"
        with contextlib.suppress(OSError):
            if sdir.at(self.entry, os.stat).st_size > LOG_LIMIT:
                sdir.at(self.entry, lambda p: os.truncate(p, 0))

    def write(self, text: str) -> int:
        def append(path: str) -> None:
            fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o600)
            try:
                os.write(fd, text.encode("utf-8", "backslashreplace"))
            finally:
                os.close(fd)
        with contextlib.suppress(OSError):
            self.sdir.at(self.entry, append)
        return len(text)

    def flush(self) -> None:
        pass

    def isatty(self) -> bool:
        return False


def _peer(conn: socket.socket) -> tuple[int, int]:
    """The peer's (pid, uid), as the kernel saw them at connect (SO_PEERCRED)."""
    pid, uid, _gid = struct.unpack("3i", conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED,
                                                         struct.calcsize("3i")))
    return pid, uid


# -- telling servers to leave, retiring older versions, stopping and finding them ----------------
def tell_to_leave(sdir: ServerDir, name: str) -> tuple[int | None, bool]:
    """Ask the server listening as `name` to leave once its requests are done: (its pid,
    whether it said yes); (None, False) when nobody listens there."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET | socket.SOCK_CLOEXEC)
    try:
        s.settimeout(5)
        sdir.at(name + ".sock", s.connect)
        pid = _peer(s)[0]
        try:
            s.send(b"quit")
            return pid, s.recv(64).startswith(b"bye")
        except OSError:
            return pid, False
    except OSError:
        return None, False
    finally:
        s.close()


def retire_older(sdir: ServerDir, name: str, log) -> None:
    """Servers of this identity's older versions: told to leave (their socket goes at once,
    so no client reaches them; they finish the requests they serve)."""
    base = name.split("-")[0]
    for entry in sdir.entries():
        if entry.startswith(base + "-") and entry.endswith(".sock") and entry != name + ".sock":
            other = entry[:-len(".sock")]
            pid, agreed = tell_to_leave(sdir, other)
            if pid is None:  # nobody listens: a socket a killed server left
                sdir.unlink(entry)
                sdir.unlink(other + ".lock")
            elif agreed:
                log(f"told the older version {other} (pid {pid}) to leave")
            else:  # it does not answer: its containers are its monitors', nothing is lost
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
                sdir.unlink(entry)
                log(f"killed the older version {other} (pid {pid}): it did not answer")


def stop_servers(root: str, timeout: float = 10.0) -> list[int]:
    """Stop every server of a root (tests, a clean-up): told to leave, killed if still
    there after `timeout`. Returns their pids."""
    sdir = ServerDir(root)
    pids = []
    for entry in sdir.entries():
        if entry.endswith(".sock"):
            pid, _ = tell_to_leave(sdir, entry[:-len(".sock")])
            if pid is not None:
                pids.append(pid)
    deadline = time.monotonic() + timeout
    for pid in pids:
        while _alive(pid) and time.monotonic() < deadline:
            time.sleep(0.01)
        if _alive(pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
    return pids


def server_processes(root: str | None = None) -> list[int]:
    """Pids of bocker servers (of the root given or of roots under it, by the root in their
    command line): what the tests' last check looks for."""
    base = os.path.realpath(root) if root is not None else None
    out = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                argv = f.read().split(b"\0")
            if b"bocker_magics.server" not in argv or not _alive(int(pid)):
                continue
            rest = argv[argv.index(b"bocker_magics.server") + 1:]
            theirs = os.fsdecode(rest[2]) if len(rest) >= 3 else ""
            if base is not None and theirs != base and not theirs.startswith(base + os.sep):
                continue
            out.append(int(pid))
        except OSError:
            continue
    return out


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            data = f.read()
        return data[data.rindex(b")") + 2:][:1] not in (b"Z", b"X")
    except OSError:
        return False
