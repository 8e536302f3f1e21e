"""Healthchecks: the image's HEALTHCHECK or `run --health-*`, run on their schedule by whatever
holds the container (its monitor), in the container's namespaces and cgroup as `exec` runs a
process, never while the container is stopped. The result is the container's `health.json`
(Docker's State.Health: Status, FailingStreak, the last five results), written atomically.

Docker's rules: the first check runs one interval after the start; exit 0 is healthy and resets
the streak; anything else, or running past the timeout, is a failure; failures inside the start
period don't count; `retries` failures in a row make it unhealthy; until then it is `starting`.

A check is two processes: the monitor forks a runner, which joins the container's pid
namespace and forks the check itself (a process joins a pid namespace for its children only),
so the runner is the check's parent: it kills it at the timeout and reaps it, with no pid that
could have been reused meanwhile. The runner's exit status carries the check's.
"""

from __future__ import annotations

import json
import os
import signal
import time
from dataclasses import asdict, dataclass, field
from typing import Any

HEALTH_FILE = "health.json"
MAX_OUTPUT = 4096  # Docker keeps this much of a check's output
KEEP = 5  # results kept in the log, as Docker
TIMED_OUT = 124  # the runner's exit status when it had to kill the check
STARTING, HEALTHY, UNHEALTHY = "starting", "healthy", "unhealthy"
DEFAULT_INTERVAL = DEFAULT_TIMEOUT = 30.0


@dataclass
class Healthcheck:
    """What to run and when: Docker's HEALTHCHECK, times in seconds."""

    test: list[str]  # ["CMD", prog, args...] or ["CMD-SHELL", "a shell line"]
    interval: float = DEFAULT_INTERVAL
    timeout: float = DEFAULT_TIMEOUT
    retries: int = 3
    start_period: float = 0.0

    def argv(self, shell: list[str] | None = None) -> list[str]:
        kind, rest = self.test[0], self.test[1:]
        if kind == "CMD-SHELL":
            return [*(shell or ["/bin/sh", "-c"]), " ".join(rest)]
        return list(rest)

    @classmethod
    def from_image(cls, config: dict[str, Any] | None) -> Healthcheck | None:
        """An image config's Healthcheck (durations in nanoseconds, 0 meaning the default);
        None for none, or for test ["NONE"]."""
        if not config or not config.get("Test") or config["Test"][0] == "NONE":
            return None
        test = list(config["Test"])
        if test[0] not in ("CMD", "CMD-SHELL"):
            test = ["CMD-SHELL", *test]

        def secs(key: str, default: float) -> float:
            return (config.get(key) or 0) / 1e9 or default

        return cls(test, secs("Interval", DEFAULT_INTERVAL), secs("Timeout", DEFAULT_TIMEOUT),
                   int(config.get("Retries") or 3), secs("StartPeriod", 0.0))

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Health:
    """The container's health as `inspect` shows it (State.Health)."""

    status: str = STARTING
    failing_streak: int = 0
    log: list[dict[str, Any]] = field(default_factory=list)

    def record(self, check: Healthcheck, started: float, ended: float, code: int, output: str,
               container_started: float) -> None:
        self.log = (self.log + [{"Start": _iso(started), "End": _iso(ended), "ExitCode": code,
                                 "Output": output}])[-KEEP:]
        if code == 0:
            self.status, self.failing_streak = HEALTHY, 0
        elif started - container_started < check.start_period and self.status == STARTING:
            pass  # the start period: a failure doesn't count yet
        else:
            self.failing_streak += 1
            if self.failing_streak >= check.retries:
                self.status = UNHEALTHY

    def to_docker(self) -> dict[str, Any]:
        return {"Status": self.status, "FailingStreak": self.failing_streak, "Log": self.log}

    @classmethod
    def load(cls, bundle: str) -> Health | None:
        try:
            with open(os.path.join(bundle, HEALTH_FILE)) as f:
                data = json.load(f)
            return cls(data["Status"], int(data["FailingStreak"]), list(data.get("Log", [])))
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def save(self, bundle: str) -> None:
        path = os.path.join(bundle, HEALTH_FILE)
        tmp = f"{path}.{os.getpid()}.tmp"
        with open(tmp, "w") as f:
            json.dump(self.to_docker(), f)
        os.rename(tmp, path)


def _iso(t: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + f".{int(t % 1 * 1e6):06d}Z"


class Checker:
    """Runs one container's checks from a monitor's event loop (runtime/monitor.py's Loop):
    `due()` says how long the loop may sleep, `tick()` starts a check that is due; the check's
    output and its end come back through the loop."""

    def __init__(self, check: Healthcheck, bundle: str, loop, spawn_check) -> None:
        self.check, self.bundle, self.loop = check, bundle, loop
        self.spawn_check = spawn_check  # (argv, out_fd) -> runner pid (its parent's child)
        self.health = Health()
        self.next_at: float | None = None
        self.container_started = 0.0
        self._running: dict[str, Any] | None = None

    def start(self) -> None:
        """The container (re)started: health starts over."""
        self.stop()
        self.container_started = time.time()
        self.health = Health(log=self.health.log)
        self.health.save(self.bundle)
        self.next_at = time.monotonic() + self.check.interval

    def due(self) -> float | None:
        if self.next_at is None:
            return None
        if self._running is not None:
            return max(0.0, self._running["kill_at"] - time.monotonic())
        return max(0.0, self.next_at - time.monotonic())

    def tick(self) -> None:
        now = time.monotonic()
        if self._running is not None:
            if now >= self._running["kill_at"]:  # the runner should have ended it: it goes now
                try:
                    os.kill(self._running["pid"], signal.SIGKILL)
                except ProcessLookupError:
                    pass
            return
        if self.next_at is not None and now >= self.next_at:
            self._launch()

    def _launch(self) -> None:
        out_r, out_w = os.pipe2(os.O_CLOEXEC)
        try:
            pid = self.spawn_check(self.check.argv(), out_w, self.check.timeout)
        except OSError as e:
            os.close(out_r)
            os.close(out_w)
            self._finish(time.time(), 1, f"could not run the healthcheck: {e.strerror}")
            return
        os.close(out_w)
        pidfd = os.pidfd_open(pid)
        self._running = {"pid": pid, "pidfd": pidfd, "out": out_r, "output": b"", "started": time.time(),
                         "kill_at": time.monotonic() + self.check.timeout + 5}
        os.set_blocking(out_r, False)
        self.loop.watch(out_r, read=self._read)
        self.loop.watch(pidfd, read=self._ended)

    def _read(self, fd: int) -> None:
        try:
            data = os.read(fd, 65536)
        except BlockingIOError:
            return
        if not data:
            self.loop.remove(fd)
            return
        if self._running is not None and len(self._running["output"]) < MAX_OUTPUT:
            self._running["output"] = (self._running["output"] + data)[:MAX_OUTPUT]

    def _ended(self, pidfd: int) -> None:
        running = self._running
        if running is None:
            return
        _, status = os.waitpid(running["pid"], 0)
        self._read(running["out"])
        self._close(running)
        code = os.waitstatus_to_exitcode(status)
        output = running["output"].decode(errors="replace")
        if code == TIMED_OUT and output.endswith("\0timeout"):
            code, output = -1, f"Health check exceeded timeout ({self.check.timeout:g}s)"
        elif code < 0:
            code, output = -1, output or "the healthcheck was killed"
        self._finish(running["started"], code, output)

    def _finish(self, started: float, code: int, output: str) -> None:
        self.health.record(self.check, started, time.time(), code, output, self.container_started)
        try:
            self.health.save(self.bundle)
        except OSError:
            pass  # a full disk: the next check writes it again
        if self.next_at is not None:
            self.next_at = time.monotonic() + self.check.interval

    def _close(self, running: dict[str, Any]) -> None:
        for fd in (running["out"], running["pidfd"]):
            self.loop.remove(fd)
            try:
                os.close(fd)
            except OSError:
                pass
        self._running = None

    def stop(self) -> None:
        """The container stopped: no check runs any more (one running is ended)."""
        self.next_at = None
        running = self._running
        if running is not None:
            try:
                os.kill(running["pid"], signal.SIGKILL)
            except ProcessLookupError:
                pass
            os.waitpid(running["pid"], 0)
            self._close(running)


def run_check(argv: list[str], out_fd: int, timeout: float, enter) -> int:
    """Fork the runner: it calls `enter()` (join the container's pid namespace), forks the check
    (which `enter` returns the function to exec in: argv, the output fd, a sync fd on which a
    failure to start comes back as exec_init says it), waits for it up to `timeout`, and exits
    with its status, or TIMED_OUT after killing it. Returns the runner's pid."""
    pid = os.fork()
    if pid:
        return pid
    code = 125
    try:
        import select
        import socket

        from .protocol import SYNC_ERROR

        exec_check = enter()
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        child = os.fork()
        if child == 0:
            ours.close()
            exec_check(argv, out_fd, theirs.fileno())
            os._exit(125)
        theirs.close()
        pidfd = os.pidfd_open(child)
        ready, _, _ = select.select([pidfd], [], [], timeout)
        if not ready:
            os.kill(child, signal.SIGKILL)
            os.waitpid(child, 0)
            os.write(out_fd, b"\0timeout")
            os._exit(TIMED_OUT)
        _, status = os.waitpid(child, 0)
        code = os.waitstatus_to_exitcode(status)
        code = code if code >= 0 else 128 - code
        ours.setblocking(False)
        try:
            report = json.loads(ours.recv(65536) or b"{}")
        except (OSError, ValueError):
            report = {}
        if report.get("type") == SYNC_ERROR:  # it never ran: say why, as `exec` would
            os.write(out_fd, str(report.get("message", "")).encode())
    except BaseException:
        code = 125
    os._exit(code)
