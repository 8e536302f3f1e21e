"""The shim's rehearsal: what every monitor runs up to its idle loop, done once in the shim
on throwaway objects (shim._warm), so that every monitor, a fork of the shim, shares those
pages instead of copying them (issue 22: memory per container). Stdlib only."""

from __future__ import annotations

import json
import os
import socket

from .logfile import LogWriter
from .monitor import Monitor
from .protocol import CONTROL, EVENT_EXITED, EVENT_STARTED, Launch, control
from .starter import MAX_REPORT
from .stdio import Stdio

REHEARSALS = 16  # CPython 3.11 quickens a function's code after 8 calls, its loops after 8 turns


def rehearse(request: dict) -> None:
    """What a monitor runs up to its idle loop, on throwaway objects, in the shim, REHEARSALS
    times (the shim's _warm): CPython writes into a function's code object (its warm-up
    counter, then the quickened bytecode and its caches) during its first calls, and fills
    caches on first use; done here, every monitor (a fork of the shim) finds that done and
    shares those pages instead of copying them (a monitor's own memory at its idle loop goes
    down, once per shim: bench_density, README's Density).
    Nothing of it outlives the call: no file (the log is /dev/null), no process, no socket."""
    launch = Launch.from_json(request)
    launch.healthcheck = None  # a Checker would write the health file
    launch.publish = []
    for _ in range(REHEARSALS):
        a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET | socket.SOCK_CLOEXEC)
        c, d = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET | socket.SOCK_CLOEXEC)
        r, w = os.pipe2(os.O_CLOEXEC)
        m = Monitor(launch, {"ctl": os.dup(a.fileno())})
        stdio = Stdio(m.loop, LogWriter(os.devnull), tty=False)
        stdio.add_client(socket.socket(fileno=os.dup(c.fileno())), owner=True)
        head = json.dumps({"event": EVENT_STARTED, "pid": 1, "pid_start": 1, "tty": False,
                           "fds": ["stdout"]}).encode()
        socket.send_fds(b, [head + b"\n{}"], [r])
        msg, fds, _, _ = socket.recv_fds(a, MAX_REPORT, 4)
        got, _, _ = msg.partition(b"\n")
        report = json.loads(got)
        named = dict(zip(report["fds"], fds))
        os.write(w, b"rehearsal\n")
        stdio.broadcast(CONTROL, json.dumps({"event": EVENT_STARTED, "pid": report["pid"]}).encode())
        stdio.start({named["stdout"]: "stdout"}, None, None)
        os.close(w)
        while stdio.output_open:
            m.loop.run_once(1.0)
        stdio.end_run()
        stdio.finish(control(event=EVENT_EXITED, code=0, oom_killed=False))
        stdio.log.close()
        m.ctl.close()
        m.loop.close()
        for s in (a, b, c, d):
            s.close()
        os.close(r)  # (stdio closed its copy)
