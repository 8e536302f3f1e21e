"""The sleeper: a container's monitor, while its container is idle, is a small C program
(sleeper.c) in the monitor's own process (issue 22: memory per container).

Why: a Python monitor owns ~1.7 MB as soon as it runs (CPython writes to every object it
touches, and its own static data is ~320 KB alone), where podman's conmon (C) owns ~350 KB.
Most containers are idle most of their life: nobody attached, nothing to check. So the
monitor, once idle, execs the sleeper in its own process: the pid (the state's monitor_pid),
its children (pid 1), its session and its fds stay; Python's memory goes. The sleeper
writes what pid 1 prints to the log, and execs the Python monitor again (`resume`) on
anything else: pid 1 exited, a client at the attach socket, a connection to a published
port, a healthcheck due. The Python monitor resumes from the record it left in a memfd,
does the work, and sleeps again once idle.

Idle means: no client, nothing queued for stdin, no published-port connection, no
healthcheck running or due within MIN_SLEEP seconds. The cost: an attach, a port's first
connection, a due healthcheck and the container's end each wait for a Python start
(~40-60 ms) first.

The binary is built from sleeper.c by the system's C compiler on first use, next to this
file (or under /var/lib/bocker/bin where the package is read-only), named after the
source's checksum. Without a compiler (or with BOCKER_HOLDER=python) monitors stay Python,
as before. Stdlib only: the monitor and the shim import this.
"""

from __future__ import annotations

import os
import sys

from ... import _cjson as json  # loads and dumps without json's imports (re): each resume pays them
from ..kernel import linux

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE = os.path.join(HERE, "sleeper.c")
PLACES = (os.path.join(HERE, "_bin"), "/var/lib/bocker/bin")
MIN_SLEEP = 2.0  # seconds to the next healthcheck, at least, to be worth two execs
PACKAGE_PARENT = os.path.dirname(os.path.dirname(os.path.dirname(HERE)))

# How the sleeper resumes the monitor: `python -I -S -c RESUME PACKAGE_PARENT MEMFD logfull=N`.
RESUME = ("import sys; sys.path.insert(0, sys.argv[1]); "
          "from bocker_magics.engine.runtime.sleeper import resume; resume()")

path: str | None = None  # the binary the monitors of this shim use (shim.boot sets it)


def binary() -> str | None:
    """The sleeper's binary, built on first use; None where it can't be (no compiler),
    or BOCKER_HOLDER=python asks for Python monitors."""
    import zlib

    if os.environ.get("BOCKER_HOLDER") == "python":
        return None
    try:
        with open(SOURCE, "rb") as f:
            name = f"bocker-sleeper-{zlib.crc32(f.read()):08x}"
    except OSError:
        return None
    for place in PLACES:
        candidate = os.path.join(place, name)
        if _trusted(candidate):
            return candidate
    for place in PLACES:
        built = _build(place, name)
        if built:
            return built
    return None


def _trusted(candidate: str) -> bool:
    """Ours: a file of root's (or ours), that nobody else may write."""
    import stat

    try:
        st = os.stat(candidate)
    except OSError:
        return False
    return (stat.S_ISREG(st.st_mode) and st.st_uid in (0, os.geteuid())
            and not st.st_mode & (stat.S_IWGRP | stat.S_IWOTH) and os.access(candidate, os.X_OK))


def _build(place: str, name: str) -> str | None:
    import subprocess

    try:
        os.makedirs(place, mode=0o755, exist_ok=True)
    except OSError:
        return None
    target = os.path.join(place, name)
    tmp = f"{target}.{os.getpid()}.tmp"
    try:
        r = subprocess.run(["cc", "-O2", "-o", tmp, SOURCE], stdin=subprocess.DEVNULL,
                           capture_output=True, timeout=120)
        if r.returncode != 0:
            return None
        os.chmod(tmp, 0o755)
        os.rename(tmp, target)  # several shims building at once: each rename is whole
    except (OSError, subprocess.SubprocessError):
        return None
    finally:
        try:
            os.unlink(tmp)
        except OSError:
            pass
    return target if _trusted(target) else None


# -- the monitor's side: to sleep --------------------------------------------------------------
def sleep(record: dict, *, log_fd: int, pid: int, deadline: float | None, log_full: bool,
          sources: dict[int, str], wakes: list[int], keep: list[int]) -> None:
    """Exec the sleeper in this process. Returns only if that failed (the monitor goes on
    in Python). `record`: what resume() needs; `keep`: every other fd that must survive."""
    if path is None:
        return
    record["sleeper"] = path  # the resumed monitor sleeps again
    fds = [log_fd, *sources, *wakes, *keep]
    memfd = None
    try:
        memfd = os.memfd_create("bocker-monitor", 0)  # close-on-exec off: the resumed monitor reads it
        os.write(memfd, json.dumps(record).encode())
        os.lseek(memfd, 0, os.SEEK_SET)
        for fd in fds:
            os.set_inheritable(fd, True)
        argv = [path, str(log_fd), str(pid), str(int(deadline * 1e9)) if deadline else "0", "1" if log_full else "0",
                ",".join(f"{fd}:{'e' if s == 'stderr' else 'o'}" for fd, s in sources.items()) or "-",
                ",".join(str(fd) for fd in wakes) or "-",
                sys.executable, "-I", "-S", "-c", RESUME, PACKAGE_PARENT, str(memfd)]
        linux.crash_point("sleeping")
        os.execv(path, argv)
    except OSError as e:  # no memfd, or no exec: this monitor goes on in Python, as without a sleeper
        print(f"bocker: the monitor stays in Python: could not run the sleeper {path}: {e.strerror}",
              file=sys.stderr)
        stay_python()
    if memfd is not None:
        os.close(memfd)
    for fd in fds:
        os.set_inheritable(fd, False)


def stay_python() -> None:
    """This monitor does not try the sleeper again (it could not exec it)."""
    global path
    path = None


# -- the sleeper's side: to resume -------------------------------------------------------------
def resume() -> None:
    """The Python monitor again, in the sleeper's process (sys.argv: PACKAGE_PARENT MEMFD
    logfull=N)."""
    code = 1
    try:
        memfd = int(sys.argv[2])
        with os.fdopen(memfd, "rb") as f:
            record = json.loads(f.read())
        record["log_full"] = record.get("log_full") or sys.argv[-1] == "logfull=1"
        record["sources"] = {int(fd): stream for fd, stream in record["sources"].items()}
        for fd in (*record["fds"].values(), *record["sources"], *(fd for fd, _ in record.get("ports", []))):
            if fd is not None:
                os.set_inheritable(fd, False)
        global path
        path = record["sleeper"]
        from .monitor import resume_monitor
        code = resume_monitor(record)
    except BaseException:
        import traceback
        traceback.print_exc()
    finally:
        os._exit(code)


def main() -> int:
    """`python -m bocker_magics.engine.runtime.sleeper`: build the binary now (the set-up's)."""
    built = binary()
    print(built or "no sleeper: monitors stay Python (no C compiler, or BOCKER_HOLDER=python)")
    return 0 if built else 1


if __name__ == "__main__":
    sys.exit(main())
