"""start: a created (or stopped) container handed to a monitor through the shim.

    engine                                   shim -> monitor (runtime/)
      plug: lease, /etc files (under the store lock); state phase "starting"
      hand_off: Launch + fds [ctl, attach, netns] -->  cgroup, namespaces, pid 1 waits
      (bridge) the veth goes into the new netns <--  netns {pid}
      go | abort ------------------------------------>  pid 1 execs
                                               <--  started {pid} | failed {message, code}
      attached: stream (attach.py) until exited

A start that fails leaves the container as it was (created), and the host as it was.
"""

from __future__ import annotations

import contextlib
import os
import socket
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ...errors import BockerError, Conflict, ContainerStartError, ExitCodeError, MonitorDied, NotFound
from ..kernel import linux
from ..network import plan as network_plan
from ..runtime.monitor import STOP_MARK
from ..runtime.protocol import (
    EVENT_DETACHED,
    EVENT_FAILED,
    EVENT_NETNS,
    OP_ABORT,
    OP_GO,
    Channel,
    Launch,
)
from ..spec import State
from ..store import read_json, write_json
from .attach import MONITOR_DIED, Output, stream
from .create import NS_FILE
from .record import ContainerRecord, RunResult
from .removal import rm
from .status import Status

if TYPE_CHECKING:
    from ..spec import Spec
    from ..store import Store
    from .record import Container
    from .room import Room


def seccomp_program(store: Store, spec: Spec) -> str | None:
    """The file of the spec's compiled seccomp filter (compiled once per profile)."""
    if spec.linux.seccomp is None:
        return None
    from ..kernel.seccomp import cached_program_file
    from ..spec import object_json
    return str(cached_program_file(object_json(spec.linux.seccomp), store.root / "seccomp"))


def _join_namespaces(rooms: Room, c: Container, spec: Spec) -> None:
    """The namespaces it shares with other containers, at their paths as those run now."""
    record = c.record
    for ns in spec.linux.namespaces:
        if ns.type in record.joins:
            other = rooms.find(record.joins[ns.type])
            if other is None or not other.running:
                raise Conflict(f"Container '{c.name or c.id}' shares the {ns.type} namespace of "
                               f"{record.joins[ns.type]}, which is not running: start it first")
            ns.path = f"/proc/{other.pid}/ns/{NS_FILE[ns.type]}"
    spec.save(rooms.store.container_dir(c.id) / "config.json", fsync=False)


def start(rooms: Room, c: Container, *, attach: bool, on_output: Output | None = None, capture: bool = True,
          on_start: Callable[[str], None] | None = None, stdin: bytes | int | None = None,
          t0: float | None = None, terminal: Any = None, detach_keys: bytes | None = None) -> RunResult:
    """Plug its network in, hand it to a monitor; attached: stream its output until it
    exits (a KeyboardInterrupt kills it first)."""
    t0 = time.perf_counter() if t0 is None else t0
    cid, cdir, record = c.id, rooms.store.container_dir(c.id), c.record
    if c.status.is_alive:
        raise Conflict(f"Container '{c.name or cid}' is already running")
    if c.status is Status.BROKEN:
        raise Conflict(f"Container '{cid}' is broken ({c.problem}): remove it with 'bocker rm {cid}'")
    spec = rooms.spec(cid)
    if record.joins:
        _join_namespaces(rooms, c, spec)
    if c.status is not Status.CREATED:
        reset_run(cid, cdir)
    with rooms.store.lock():
        # no hostname of its own: a shared UTS namespace
        network_plan.plug(rooms.networks, cid, cdir, spec.hostname or cid, record.network, rooms.holds_lease,
                          names=[record.name] if record.name else [])
        write_json(cdir / "container.json", record.to_json(), fsync=False)
        me = os.getpid()
        State(id=cid, status="creating", bundle=str(cdir), phase="starting", created_at=record.created,
              creator_pid=me, creator_start=linux.process_start_time(me) or 0).save(cdir / "state.json",
                                                                                   fsync=False)
    linux.crash_point("created")
    try:
        return _launch_and_attach(rooms, c, spec, attach, on_output, capture, on_start, stdin, t0,
                                  terminal, detach_keys)
    except MonitorDied:
        raise  # what it left stays recorded for gc ("dead")
    except BaseException:
        # A start that failed before its monitor ran, or one whose monitor reported the
        # failure and undid its steps: back to created.
        with contextlib.suppress(Exception):
            now = rooms.load(cid)
            if now.status is Status.FAILED or (now.state is not None and not now.state.monitor_pid):
                network_plan.unplug(rooms.networks, cid, record.network)
                reset_run(cid, cdir, phase="created")
        raise


def reset_run(cid: str, cdir: Path, phase: str = "created") -> None:
    """Back to a created container (a restart, or a start that failed)."""
    # the upper dir is the container's filesystem: it stays across runs
    with contextlib.suppress(FileNotFoundError):
        os.unlink(cdir / STOP_MARK)
    record = ContainerRecord.from_json(read_json(cdir / "container.json"))
    State(id=cid, status="creating", bundle=str(cdir), phase=phase,
          created_at=record.created).save(cdir / "state.json", fsync=False)


def _launch(rooms: Room, c: Container, spec: Spec, attach: bool,
            stdin: bool) -> tuple[socket.socket, Any, dict, Any]:
    """The Launch handed off; with a bridge, the container's network namespace is made now
    and its interface plugged in on the netlink thread while the shim starts the container,
    which joins it. Returns the ctl and attach sockets, the first event and the plug."""
    store, record = rooms.store, c.record
    plan = record.network
    endpoints = plan.endpoints
    # the monitor relays published ports to the address on the network with the way out
    # (Docker's gateway endpoint); it gives back the first lease, the others are in the
    # bundle's leases file (plan.write_leases)
    outward = network_plan.gateway_endpoint(endpoints) or plan.endpoint
    launch = Launch(id=c.id, bundle=str(store.container_dir(c.id)), layers_dir=str(store.layers),
                    lowerdirs=[store.layer_dir(d).name for d in reversed(record.layers)],
                    cgroup_parent=rooms.cgroup_parent, boot_id=rooms.boot_id,
                    seccomp=seccomp_program(store, spec), endpoint=outward, publish=plan.publish,
                    lease=plan.lease, stdin=record.stdin or stdin, restart=record.restart,
                    healthcheck=record.healthcheck)
    if record.auto_remove and not attach:
        # detached --rm: nobody waits for its end, so its monitor starts the engine's
        # removal then (autoremove.py); an attached run is removed below, by its streamer
        from .autoremove import exit_command
        launch.exit_command = exit_command(rooms, c.id)
    plug = netns_fd = None
    if endpoints:
        networks = rooms.networks()
        ns_fd, inside = networks.new_namespace()
        netns_fd = os.dup(ns_fd)  # attach_async owns (and closes) ns_fd and the socket
        plug = networks.attach_async(endpoints, ns_fd, inside)
        plug.netns_inode = os.fstat(netns_fd).st_ino  # the namespace pid 1 joins (the resolver's)
    try:
        ctl, client, event = hand_off(rooms, launch, attach=attach, netns_fd=netns_fd)
    except BaseException:
        if plug is not None:
            with contextlib.suppress(Exception):
                plug.result()
        raise
    finally:
        if netns_fd is not None:
            os.close(netns_fd)
    return ctl, client, event, plug


def _launch_and_attach(rooms: Room, c: Container, spec: Spec, attach: bool, on_output, capture, on_start,
                       stdin, t0: float, terminal=None, detach_keys: bytes | None = None) -> RunResult:
    cid, record = c.id, c.record
    ctl, client, event, plug = _launch(rooms, c, spec, attach, stdin is not None)
    try:
        if event.get("event") == EVENT_NETNS:
            event = _plugged(ctl, plug, lambda: _resolver_ready(rooms, cid, event.get("pid"),
                                                                getattr(plug, "netns_inode", None)))
        if event.get("event") == EVENT_FAILED:
            fail(cid, event)
        if on_start is not None:
            on_start(cid)
        if not attach:
            return RunResult(cid, 0, b"", time.perf_counter() - t0, detached=True)
        try:
            result = stream(rooms, cid, event["pid"], client, on_output, capture, stdin, terminal, detach_keys)
        except KeyboardInterrupt:
            if record.auto_remove:  # --rm holds when interrupted too: the monitor has torn it down
                with contextlib.suppress(BockerError):
                    rm(rooms, cid, force=True, volumes=True)
            raise
    finally:
        ctl.close()
        if client is not None:
            client.close()
    if result.get("event") == EVENT_FAILED:
        fail(cid, result)
    out = RunResult(cid, result.get("code", 137), result["output"], time.perf_counter() - t0,
                    result.get("oom_killed", False), result["stdout"], result["stderr"],
                    detached=result.get("event") == EVENT_DETACHED)
    if record.auto_remove and not out.detached:
        with contextlib.suppress(NotFound):  # removed meanwhile (rm -f from elsewhere)
            rm(rooms, cid, volumes=True)  # with its anonymous volumes, as Docker's --rm
    return out


def hand_off(rooms: Room, launch, attach: bool, netns_fd: int | None = None):
    """Hand a launch to the shim; returns our end of its control socket, our end of the
    attach socket (when attached) and the monitor's first event."""
    ctl, ctl_theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    ours = theirs = None
    try:
        fds = [ctl_theirs.fileno()]
        launch.fds = ["ctl"]
        if attach:
            ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
            fds.append(theirs.fileno())
            launch.fds.append("attach")
        if netns_fd is not None:
            fds.append(netns_fd)
            launch.fds.append("netns")
        rooms.launcher().launch(launch.to_json(), fds)
    except BaseException:
        ctl.close()
        if ours is not None:
            ours.close()
        raise
    finally:
        ctl_theirs.close()
        if theirs is not None:
            theirs.close()
    try:
        event = Channel(ctl).receive() or MONITOR_DIED
    except BaseException:
        # interrupted before the first event: closing our ends tells the monitor (a monitor
        # waiting for go gives up and tears down; an unclosed socket would keep it waiting)
        ctl.close()
        if ours is not None:
            ours.close()
        raise
    return ctl, ours, event


def _resolver_ready(rooms: Room, cid: str, pid: int | None, netns_inode: int | None) -> None:
    """On a user network: the resolver daemon serves 127.0.0.11 in its namespace before its
    program runs (so its first lookup finds it), started if none runs for this root. pid 1
    joins the namespace the engine made as it starts: the resolver binds there only once
    /proc/PID/ns/net is that namespace (before, it is the monitor's: the host's)."""
    cdir = rooms.store.container_dir(cid)
    if not pid or not (cdir / "dns.json").exists():
        return
    deadline = time.monotonic() + 10
    while netns_inode is not None:
        try:
            if os.stat(f"/proc/{pid}/ns/net").st_ino == netns_inode:
                break
        except OSError:
            return  # it died: the monitor reports how
        if time.monotonic() >= deadline:
            raise BockerError(f"Container {cid} never joined its network namespace")
        time.sleep(0.001)
    from ..network import dnsd
    dns = read_json(cdir / "dns.json")
    dnsd.write_container_dns(cdir, dns["networks"], dns.get("upstreams", []), pid, linux.process_start_time(pid))
    if not dnsd.sync(rooms.store.root):
        raise BockerError("The name resolver of its network did not start: see "
                          f"{dnsd.daemon_dir(rooms.store.root) / 'daemon.log'}")


def _plugged(ctl: socket.socket, plug, before_go: Callable[[], None] = lambda: None) -> dict[str, Any]:
    """pid 1 waits in its network namespace: once the interface is plugged in (and its name
    resolver listens there), let it go on; returns the monitor's next event (started or failed)."""
    channel = Channel(ctl)
    try:
        plug.result()
        before_go()
    except Exception as err:
        # the monitor stops pid 1 and answers "failed": with pid 1's own report if it
        # had failed first, else with ours
        channel.send(op=OP_ABORT, message=str(err))
        return channel.receive() or MONITOR_DIED
    except BaseException:
        channel.send(op=OP_ABORT, message="interrupted")
        channel.receive()
        raise
    channel.send(op=OP_GO)
    return channel.receive() or MONITOR_DIED


def fail(cid: str, event: dict[str, Any]) -> None:
    if event is MONITOR_DIED or event.get("message") == MONITOR_DIED["message"]:
        # Nobody cleaned up: what it left (a cgroup, processes) stays recorded for gc.
        raise MonitorDied(f"The monitor of container {cid} was killed: "
                          "run 'bocker gc' to remove what it left")
    code = event.get("code", 125)
    message = event.get("message", "the container failed to start")
    if code in (126, 127):
        raise ExitCodeError(message, code)
    raise ContainerStartError(message)
