"""Who says what to whom when a container starts and runs: the messages, named once.

    engine (runtime/launcher.py)      shim (shim.py)       monitor (monitor.py)         pid 1 (init.py)
      |                                  |                    |                           |
      |-- Launch + fds [ctl, attach,  -->|-- fork (setsid) -->| cgroup, limits, devices   |
      |   netns] over the shim socket    |                    | unshare(NEWPID), fork --->| namespaces, root,
      |                                  |                    |                           | process setup
      |<------------------------- Event netns {pid} (bridge) -|                           |
      |   (the veth goes in meanwhile)                        |<------------ Sync ready --|
      |-- Op go | abort {message} --------------------------->|------------- Sync go ---->| exec: Sync EOF
      |<------------------------- Event started {pid} --------|                           |   (or Sync error)
      |<======== attach frames: stdout, stderr ===============| relay: pipes or the pty   |
      |========= stdin, resize, eof, detach =================>|   -> log, clients, ports  |
      |<------------------------- Event exited {code, oom} ---| wait, record, clean up    |
      |                                                       |   (or restart: fork again)
    The monitor's start half (cgroup, pid 1, the netns/go/started exchange) runs in a child
    of it, the starter, which hands pid 1 and its stdio over and exits (monitor.Monitor says
    why: memory); the monitor, a subreaper, then waits for pid 1 as its parent.
    `bocker attach` connects to the monitor's attach socket (containers/<id>/attach.sock)
    and speaks the same frames. `exec` is the same picture with an exec monitor that joins
    the container's namespaces instead of making them.

bocker-runc (runc.py) is the monitor's stand-in for a runtime's callers: it makes pid 1
the same way and talks to it over the same Sync socket, then exits, leaving pid 1 waiting on
the exec fifo until `start`.

Every message is one datagram of a SOCK_SEQPACKET socket: JSON for events, ops and sync
messages; for attach frames, a one-byte kind then the data. Stdlib only.
"""

from __future__ import annotations

import os

from ... import _cjson  # json without its imports (re, enum): pid 1 of every bocker-runc create speaks it
from ..._record import Record

TYPE_CHECKING = False  # not typing's: bocker-runc would import typing at every start for nothing
if TYPE_CHECKING:
    from typing import Any

MAX_MESSAGE = 1 << 20

# -- events (monitor -> engine) and ops (engine -> monitor), on the ctl socket ---------------
EVENT_NETNS = "netns"        # pid 1 waits in its network namespace: plug it in, then go
EVENT_STARTED = "started"    # {pid}: the program runs
EVENT_FAILED = "failed"      # {message, code}: it never ran; nothing is left
EVENT_EXITED = "exited"      # {code, oom_killed}
OP_GO = "go"
OP_ABORT = "abort"           # {message}

# -- control messages of the attach socket (CONTROL frames) ------------------------------------
OP_HELLO = "hello"           # {stdin}: a client's first word (engine -> monitor)
OP_RESIZE = "resize"         # {rows, cols}: the client's terminal changed size
OP_EOF = "eof"               # the client's stdin ended
OP_DETACH = "detach"         # the detach keys were typed: leave it running
EVENT_DETACHED = "detached"  # the monitor's answer to detach (monitor -> engine)

# -- sync messages, pid 1 <-> its parent ({type: ...} on the Sync socket) ----------------------
SYNC_HOOKS = "hooks"         # up: run the prestart/createRuntime hooks now, then resume
SYNC_RESUME = "resume"       # down: the hooks ran {state}
SYNC_READY = "ready"         # up: all is prepared, pid 1 waits for go
SYNC_GO = "go"               # down: exec the program
SYNC_ABORT = "abort"         # down {message}: give up
SYNC_ERROR = "error"         # up {message, code}: a step failed; pid 1 exits

# -- requests to the shim (launcher.py -> shim.py) ------------------------------------------------
OP_RUN = "run"               # a Launch
OP_EXEC = "exec"             # an ExecLaunch
OP_PING = "ping"             # answered EVENT_PONG: the shim is up
EVENT_PONG = "pong"

# -- attach frames: the first byte says what the rest is ---------------------------------------
STDIN = b"0"
STDOUT = b"1"
STDERR = b"2"
CONTROL = b"c"               # JSON: hello, resize, eof, detach (client); exited, detached (monitor)
STREAMS = {STDOUT: "stdout", STDERR: "stderr"}


def frame(kind: bytes, data: bytes) -> bytes:
    return kind + data


def control(**message: Any) -> bytes:
    return CONTROL + _cjson.dumps(message).encode()


class Channel:
    """JSON messages on a SOCK_SEQPACKET socket; a peer that went away is not an error to
    the sender (a detached engine, a killed one), and reads as {} to the receiver.

    Plain read(2) and write(2) on its fd (a SEQPACKET socket keeps each write one message):
    no socket module, which bocker-runc's every start would pay for. Given an fd, the
    channel owns it; given a socket object, the object does."""

    def __init__(self, fd) -> None:
        self._owner = fd if not isinstance(fd, int) else None
        self.fd = fd if isinstance(fd, int) else fd.fileno()

    def send(self, **message: Any) -> None:
        try:
            os.write(self.fd, _cjson.dumps(message).encode())
        except OSError:
            pass

    def receive(self) -> dict[str, Any]:
        try:
            data = os.read(self.fd, MAX_MESSAGE)
        except OSError:
            return {}
        return _cjson.loads(data) if data else {}

    def fileno(self) -> int:
        return self.fd

    def close(self) -> None:
        if self._owner is not None:
            self._owner.close()
        elif self.fd >= 0:
            try:
                os.close(self.fd)
            except OSError:
                pass
        self.fd = -1


class Sync(Channel):
    """pid 1 <-> its parent: {type: hooks | ready | error {message, code}} up, {type: resume
    | go} down; EOF up means the program was exec'ed (the socket is close-on-exec)."""


# -- what the engine hands the shim ----------------------------------------------------------
class Endpoint(Record):
    """A container's place on a network (network/model.py has the engine's own)."""

    __slots__ = ("network", "bridge", "address", "prefixlen", "gateway", "mac", "host_ifname", "ifname")

    def __init__(
        self,
        network: str,
        bridge: str,
        address: str,
        prefixlen: int,
        gateway: str,
        mac: str,
        host_ifname: str,
        ifname: str = "eth0",
    ) -> None:
        self.network = network
        self.bridge = bridge
        self.address = address
        self.prefixlen = prefixlen
        self.gateway = gateway
        self.mac = mac
        self.host_ifname = host_ifname
        self.ifname = ifname


class Publish(Record):
    """-p: a host address and port relayed to the container's port."""

    __slots__ = ("host_ip", "host_port", "container_port", "proto")

    def __init__(self, host_ip: str, host_port: int, container_port: int, proto: str = "tcp") -> None:
        self.host_ip = host_ip
        self.host_port = host_port
        self.container_port = container_port
        self.proto = proto


class RestartPolicy(Record):
    __slots__ = ("name", "max_retries")

    def __init__(self, name: str = "no", max_retries: int = 0) -> None:
        self.name = name  # no | on-failure | always | unless-stopped
        self.max_retries = max_retries  # on-failure:N (0: no limit)


class Launch(Record):
    """One container start: the bundle (config.json holds the spec) and what the spec does
    not hold."""

    __slots__ = (
        "id", "bundle", "layers_dir", "lowerdirs", "cgroup_parent", "boot_id", "seccomp", "endpoint",
        "publish", "lease", "stdin", "restart", "healthcheck", "fds", "exit_command",
    )

    def __init__(
        self,
        id: str,
        bundle: str,
        layers_dir: str,
        lowerdirs: list[str],
        cgroup_parent: str,
        boot_id: str,
        seccomp: str | None = None,
        endpoint: Endpoint | None = None,
        publish: list[Publish] | None = None,
        lease: str | None = None,
        stdin: bool = False,
        restart: RestartPolicy | None = None,
        healthcheck: dict[str, Any] | None = None,
        fds: list[str] | None = None,
        exit_command: list[str] | None = None,
    ) -> None:
        self.id = id
        self.bundle = bundle  # the container's directory
        self.layers_dir = layers_dir
        self.lowerdirs = lowerdirs  # top first, relative to layers_dir
        self.cgroup_parent = cgroup_parent
        self.boot_id = boot_id
        self.seccomp = seccomp  # a compiled filter's file (kernel/seccomp.py)
        self.endpoint = endpoint
        self.publish = [] if publish is None else publish
        self.lease = lease  # the lease file to give back at the end
        self.stdin = stdin  # -i: keep stdin open
        self.restart = RestartPolicy() if restart is None else restart
        self.healthcheck = healthcheck  # runtime/health.Healthcheck's fields: the checks to run
        self.fds = [] if fds is None else fds  # names of the fds sent with it: ctl, attach, netns
        # argv the monitor starts once the container's end is recorded and cleaned up, as
        # conmon's --exit-command (the engine's removal of a detached --rm container)
        self.exit_command = exit_command

    def to_json(self) -> dict[str, Any]:
        return {"op": OP_RUN, **self.as_dict()}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Launch:
        data = {k: v for k, v in data.items() if k != "op"}
        data["endpoint"] = Endpoint(**data["endpoint"]) if data.get("endpoint") else None
        data["publish"] = [Publish(**p) for p in data.get("publish", [])]
        data["restart"] = RestartPolicy(**data.get("restart", {}))
        return cls(**data)


class ExecLaunch(Record):
    """One more process in a running container: its spec `process` (JSON) and where the
    container is."""

    __slots__ = ("id", "bundle", "process_file", "pid", "pid_start", "cgroup", "seccomp", "stdin", "fds")

    def __init__(
        self,
        id: str,
        bundle: str,
        process_file: str,
        pid: int,
        pid_start: int,
        cgroup: dict[str, str],
        seccomp: str | None = None,
        stdin: bool = False,
        fds: list[str] | None = None,
    ) -> None:
        self.id = id
        self.bundle = bundle
        self.process_file = process_file  # the spec's process object, as JSON (runc's --process)
        self.pid = pid
        self.pid_start = pid_start
        self.cgroup = cgroup  # hierarchy -> the container's cgroup dir
        self.seccomp = seccomp
        self.stdin = stdin
        self.fds = [] if fds is None else fds

    def to_json(self) -> dict[str, Any]:
        return {"op": OP_EXEC, **self.as_dict()}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ExecLaunch:
        return cls(**{k: v for k, v in data.items() if k != "op"})
