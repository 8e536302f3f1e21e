"""Containers: create (a bundle), start (a monitor runs it), attach (its stdio), exec, wait,
signals, removal, and reading them back (ps).

A container's directory is an OCI bundle with the engine's record beside it:

    containers/<id>/config.json     the spec (spec.py): all it runs with
    containers/<id>/container.json  the engine's record (ContainerRecord): name, image, network
    containers/<id>/state.json      the state (spec.State): the OCI state and the engine's phase
    containers/<id>/log             what it printed (runtime/logfile.py)
    containers/<id>/{upper,work,merged}, hosts, hostname, resolv.conf, attach.sock
"""

from __future__ import annotations

import contextlib
import inspect as _inspect
import json
import os
import selectors
import shutil
import signal
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import (
    BockerError,
    Conflict,
    ContainerStartError,
    ExitCodeError,
    HostUnsupported,
    InvalidArgument,
    MonitorDied,
    NotFound,
)
from .kernel import linux
from .kernel.cgroups import CgroupStats, detect
from .options import RunOptions, Target, command_argv, parse_env, parse_mount, parse_restart, parse_volume, to_spec
from .runtime import logfile
from .runtime.monitor import ATTACH_SOCKET, STOP_MARK
from .runtime.protocol import (
    CONTROL,
    EVENT_EXITED,
    EVENT_FAILED,
    EVENT_NETNS,
    STDERR,
    STDIN,
    STDOUT,
    Channel,
    Endpoint,
    ExecLaunch,
    Launch,
    Publish,
    RestartPolicy,
    control,
)
from .spec import Spec, State, object_json
from .store import CONTAINER_PREFIX, check_container_name, is_id, read_json, write_json

if TYPE_CHECKING:
    from .engine import Engine

MONITOR_DIED: dict[str, Any] = {"event": EVENT_FAILED, "message": "the monitor died", "code": 255}
Output = Callable[..., None]  # on_output(chunk) or on_output(chunk, stream)


def _pid_alive(pid: int | None, start: int | None) -> bool:
    """True if `pid` is still the process that started at `start` (pids get reused), and is
    not a zombie (a killed monitor nobody reaped is dead)."""
    from .kernel.procfs import alive
    return bool(start) and alive(pid, start)


def _signal_number(sig: str | int) -> int:
    if isinstance(sig, int) or str(sig).isdigit():
        num = int(sig)
        if num in signal.valid_signals():
            return num
    else:
        name = str(sig).upper()
        name = name if name.startswith("SIG") else "SIG" + name
        if hasattr(signal.Signals, name):
            return int(signal.Signals[name])
    raise InvalidArgument(f"Invalid signal '{sig}': use a name like TERM, KILL, HUP or a number")


def _check_overlay() -> None:
    with open("/proc/filesystems") as f:
        if not any(line.split()[-1:] == ["overlay"] for line in f):
            raise HostUnsupported("No overlayfs on this host: load it with 'modprobe overlay' "
                                  "(kernel option CONFIG_OVERLAY_FS)")


# -- the engine's record --------------------------------------------------------------------
@dataclass
class NetworkPlan:
    """The container's network: what was asked (mode, network, ports, dns) and, once
    started, what it got (endpoint, lease)."""

    mode: str = "none"                   # bridge | none | host
    name: str = "none"
    publish: list[Publish] = field(default_factory=list)
    dns: list[str] = field(default_factory=list)
    endpoint: Endpoint | None = None
    lease: str | None = None

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> NetworkPlan:
        return cls(mode=data.get("mode", "none"), name=data.get("name", "none"),
                   publish=[Publish(**p) for p in data.get("publish", [])], dns=list(data.get("dns", [])),
                   endpoint=Endpoint(**data["endpoint"]) if data.get("endpoint") else None,
                   lease=data.get("lease"))


@dataclass
class ContainerRecord:
    id: str
    name: str | None
    image: str
    image_name: str
    layers: list[str]
    command: str
    created: float
    network: NetworkPlan = field(default_factory=NetworkPlan)
    auto_remove: bool = False
    restart: RestartPolicy = field(default_factory=RestartPolicy)
    stdin: bool = False                  # -i
    tty: bool = False                    # -t
    labels: dict[str, str] = field(default_factory=dict)
    volumes: list[str] = field(default_factory=list)   # the named volumes it mounts
    stop_signal: str = "SIGTERM"
    stop_timeout: int = 10
    joins: dict[str, str] = field(default_factory=dict)  # namespace kind -> the container it shares it with

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        # the runtime's records (runtime/protocol.py) are plain classes: their own dicts
        out["restart"] = self.restart.as_dict()
        out["network"]["publish"] = [p.as_dict() for p in self.network.publish]
        out["network"]["endpoint"] = self.network.endpoint.as_dict() if self.network.endpoint else None
        return out

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ContainerRecord:
        data = dict(data)
        data["network"] = NetworkPlan.from_json(data.get("network") or {})
        data["restart"] = RestartPolicy(**(data.get("restart") or {}))
        return cls(**{k: v for k, v in data.items() if k in cls.__dataclass_fields__})


@dataclass
class Container:
    """A container as `ps` and `inspect` see it: its record and its state, read together."""

    id: str
    name: str | None
    image: str
    image_name: str
    command: str
    created: float
    status: str                  # created | running | paused | restarting | exited | failed | dead | broken
    exit_code: int | None = None
    oom_killed: bool = False
    pid: int | None = None
    started_at: float | None = None
    finished_at: float | None = None
    record: ContainerRecord | None = field(default=None, repr=False)
    state: State | None = field(default=None, repr=False)
    problem: str = ""            # why a broken one is broken

    @property
    def status_text(self) -> str:
        if self.status == "exited":
            return "oom-killed" if self.oom_killed else f"exited ({self.exit_code})"
        if self.status == "failed":
            return f"failed ({self.exit_code})"
        return self.status

    @property
    def running(self) -> bool:
        return self.status in ("running", "paused")

    @property
    def restart_count(self) -> int:
        return self.state.restart_count if self.state is not None else 0


@dataclass
class RunResult:
    id: str
    exit_code: int
    output: bytes                # stdout and stderr as they came
    duration: float
    oom_killed: bool = False
    stdout: bytes = b""
    stderr: bytes = b""
    detached: bool = False       # left running (-d, or the detach keys)

    @property
    def text(self) -> str:
        return self.output.decode(errors="replace")


def _emitter(on_output: Output | None) -> Callable[[bytes, str], None] | None:
    """Callbacks take (chunk) or (chunk, stream): call each the way it is written."""
    if on_output is None:
        return None
    try:
        params = _inspect.signature(on_output).parameters.values()
        two = sum(p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) for p in params) >= 2 or any(
            p.kind == p.VAR_POSITIONAL for p in params)
    except (TypeError, ValueError):
        two = False
    return (lambda chunk, stream: on_output(chunk, stream)) if two else (lambda chunk, stream: on_output(chunk))


NS_FILE = {"pid": "pid", "ipc": "ipc", "uts": "uts", "network": "net"}


class Interrupts:
    """A Ctrl-C (or a hang-up) that comes from another process, for the attach loops of the
    thread that serves it (the bocker server relays its client's): a signal only ever
    reaches the main thread. `streaming` says whether such a loop is listening now."""

    def __init__(self) -> None:
        self.fd, self._w = os.pipe2(os.O_CLOEXEC | os.O_NONBLOCK)
        self.streaming = False

    def interrupt(self) -> None:
        """As Ctrl-C: the process is killed, its monitor tears it down, KeyboardInterrupt."""
        with contextlib.suppress(OSError):
            os.write(self._w, b"i")

    def hang_up(self) -> None:
        """The face is gone: the loop ends and leaves the container running (as when a
        `bocker run` is killed)."""
        with contextlib.suppress(OSError):
            os.write(self._w, b"d")

    def close(self) -> None:
        for fd in (self.fd, self._w):
            with contextlib.suppress(OSError):
                os.close(fd)


_thread_interrupts = threading.local()


@contextlib.contextmanager
def interrupts_from(source: Interrupts) -> Iterator[Interrupts]:
    """The attach loops (stream) of this thread also listen to `source`."""
    before = getattr(_thread_interrupts, "source", None)
    _thread_interrupts.source = source
    try:
        yield source
    finally:
        _thread_interrupts.source = before


def _volume_request(text: str):
    """The named volume a -v or --mount names, if it names one."""
    try:
        r = parse_mount(text) if "=" in text else parse_volume(text)
    except InvalidArgument:
        return None
    return r if r.kind == "volume" else None


class Containers:
    """The container verbs of one engine."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.store = engine.store

    # -- reading ---------------------------------------------------------------------------
    def load(self, cid: str) -> Container:
        cdir = self.store.container_dir(cid)
        if not cdir.is_dir():
            raise NotFound(f"No container named '{cid}' exists")
        try:
            record = ContainerRecord.from_json(read_json(cdir / "container.json"))
        except FileNotFoundError:
            raise NotFound(f"No container named '{cid}' exists") from None
        except (ValueError, TypeError, KeyError) as e:
            return self._broken(cid, f"its record (container.json) is unreadable: {e}")
        try:
            state = State.load(cdir / "state.json")
        except FileNotFoundError:
            return self._broken(cid, "it has no state.json", record)
        except BockerError as e:
            return self._broken(cid, f"its state is unreadable ({e})", record)
        return Container(
            id=cid, name=record.name, image=record.image, image_name=record.image_name,
            command=record.command, created=record.created, status=self._status(cid, state),
            exit_code=state.exit_code, oom_killed=state.oom_killed,
            pid=state.pid or None, started_at=state.started_at, finished_at=state.finished_at,
            record=record, state=state)

    def _broken(self, cid: str, problem: str, record: ContainerRecord | None = None) -> Container:
        return Container(id=cid, name=record.name if record else None, image=record.image if record else "",
                         image_name=record.image_name if record else "", command=record.command if record else "",
                         created=record.created if record else self.store.container_dir(cid).stat().st_mtime,
                         status="broken", record=record, problem=problem)

    def _status(self, cid: str, state: State) -> str:
        phase = state.phase or {"creating": "starting", "created": "running", "running": "running"}.get(
            state.status, "exited")
        monitor_alive = _pid_alive(state.monitor_pid, state.monitor_start)
        if phase == "created":
            return "created"
        if phase == "starting":
            if state.monitor_pid:
                return "created" if monitor_alive else "dead"
            return "created" if _pid_alive(state.creator_pid, state.creator_start) else "dead"
        if phase in ("running", "restarting"):
            if state.boot_id != self.engine.boot_id or not monitor_alive:
                # the machine rebooted since, or its monitor was killed: nobody will record the
                # exit or clean up (gc will)
                return "dead"
            if phase == "restarting":
                return "restarting"
            return "paused" if self._frozen(state) else "running"
        return "failed" if phase == "failed" else "exited"

    @staticmethod
    def _frozen(state: State) -> bool:
        for name in ("freezer", "unified"):
            d = state.cgroup.get(name)
            if not d:
                continue
            try:
                if name == "freezer":
                    return open(os.path.join(d, "freezer.state")).read().strip() == "FROZEN"
                return "frozen 1" in open(os.path.join(d, "cgroup.events")).read()
            except OSError:
                return False
        return False

    def spec(self, cid: str) -> Spec:
        return Spec.load(self.store.container_dir(cid) / "config.json")

    def list(self) -> list[Container]:
        out = []
        for d in self.store.containers.iterdir():
            if d.name.startswith(CONTAINER_PREFIX):
                with contextlib.suppress(NotFound):
                    out.append(self.load(d.name))
        return sorted(out, key=lambda c: c.created)

    def find(self, ref: str) -> Container | None:
        if "\0" in ref or "/" in ref or ref in ("", ".", ".."):
            raise InvalidArgument(f"Invalid container reference '{ref}': no '/', '..' or NUL")
        if is_id(ref) and ref.startswith(CONTAINER_PREFIX):
            try:
                return self.load(ref)
            except NotFound:
                return None
        for c in self.list():
            if c.name == ref:
                return c
        return None

    def get(self, ref: str) -> Container:
        c = self.find(ref)
        if c is None:
            raise NotFound(f"No container named '{ref}' exists")
        return c

    # -- create ----------------------------------------------------------------------------
    def _joins(self, options: RunOptions) -> dict[str, str]:
        """--pid/--ipc/--uts/--network container:NAME -> kind -> that running container's id."""
        out = {}
        for kind, choice in (("pid", options.pid), ("ipc", options.ipc), ("uts", options.uts),
                             ("network", options.network)):
            if choice and choice.startswith("container:"):
                ref = choice.split(":", 1)[1]
                other = self.find(ref) if ref else None
                if other is None or not other.running:
                    raise NotFound(f"--{kind} container:{ref}: no running container named '{ref}'")
                out[kind] = other.id
        return out

    def create(self, image, command: str | list[str] | None, options: RunOptions) -> Container:
        """The bundle (spec, record, created state): nothing runs yet. `image` is a name or
        an id, or an Image itself (a build's step, which is no stored image yet)."""
        e = self.engine
        _check_overlay()
        img = image if hasattr(image, "layers") else e.image(image)
        if options.name is not None:
            check_container_name(options.name)
        if options.restart and options.remove and parse_restart(options.restart)[0] != "no":
            raise InvalidArgument("Conflicting options: --restart and --rm (a removed container can't restart)")
        restart = RestartPolicy(*parse_restart(options.restart))
        joins = self._joins(options)
        exposed = list((img.config or {}).get("ExposedPorts") or {}) if options.publish_all else []
        mode, network_name, publish, dns = e.network_request(options.network, options.publish, options.dns,
                                                             exposed=exposed, joins=joins)
        cid = self.store.new_container_id()
        cdir = self.store.container_dir(cid)
        etc = {} if mode in ("host", "container") else {"hosts": str(cdir / "hosts"),
                                                        "hostname": str(cdir / "hostname")}
        if mode == "container":
            other = self.store.container_dir(joins["network"])
            etc = {n: str(other / n) for n in ("hosts", "hostname", "resolv.conf") if (other / n).exists()}
        else:
            etc["resolv.conf"] = str(cdir / "resolv.conf")
        volumes = [r.source for r in map(_volume_request, options.volumes + options.mounts) if r is not None]
        target = Target(cid, cdir, f"/{e.cgroup_parent}/{cid}", mode, etc,
                        layer_dirs=[self.store.layer_dir(d) for d in reversed(img.layers)],
                        volume_path=lambda name: e.volumes.ensure(name).mountpoint,
                        joins={k: f"/proc/{self.get(v).pid}/ns/{NS_FILE[k]}" for k, v in joins.items()})
        spec = to_spec(img, command, options, target, e.default_limits)
        text = " ".join(spec.process.args) if options.entrypoint is not None else command_argv(img.config or {},
                                                                                             command)[1]
        labels = dict(parse_env(options.labels)) if options.labels else {}
        stop_signal = options.stop_signal or (img.config or {}).get("StopSignal") or "SIGTERM"
        try:
            _signal_number(stop_signal)
        except InvalidArgument:
            raise InvalidArgument(f"Invalid stop signal '{stop_signal}' (--stop-signal or the image's StopSignal): "
                                  "use a name like TERM, INT, QUIT, USR1 or a number") from None
        linux.pause_point("create")  # tests widen the window between finding the image and the lock
        record = ContainerRecord(id=cid, name=options.name, image=img.id, image_name=(img.names or [img.id])[0],
                                 layers=list(img.layers), command=text, created=time.time(),
                                 network=NetworkPlan(mode=mode, name=network_name, publish=publish, dns=dns),
                                 auto_remove=options.remove, restart=restart, stdin=options.interactive,
                                 tty=options.tty, labels=labels, volumes=volumes,
                                 stop_signal=stop_signal,
                                 stop_timeout=10 if options.stop_timeout is None else options.stop_timeout,
                                 joins=joins)
        with self.store.lock():
            if options.name is not None and self.find(options.name) is not None:
                raise Conflict(f"Container named '{options.name}' exists: remove it or choose another --name")
            # under the lock rmi decides in, so an image removed meanwhile is never used
            if img is image:   # a build step's image, not stored: its layers must still be there
                if not all(self.store.layer_dir(d).is_dir() for d in img.layers):
                    raise NotFound("A layer of the build step's image was removed meanwhile: build again")
            else:
                still = self.engine.images_store.find(img.id)
                if still is None or still.layers != img.layers:
                    raise NotFound(f"The image '{image}' was removed meanwhile: pull or build it again")
            self.store.claim_container_dir(cid)
            try:
                spec.save(cdir / "config.json", fsync=False)
                write_json(cdir / "container.json", record.to_json(), fsync=False)
                State(id=cid, status="creating", bundle=str(cdir), phase="created",
                      created_at=record.created).save(cdir / "state.json", fsync=False)
            except BaseException:
                shutil.rmtree(cdir, ignore_errors=True)
                raise
        return self.load(cid)

    # -- start -----------------------------------------------------------------------------
    def start(self, c: Container, *, attach: bool, on_output: Output | None = None, capture: bool = True,
              on_start: Callable[[str], None] | None = None, stdin: bytes | int | None = None,
              t0: float | None = None, terminal: Any = None, detach_keys: bytes | None = None) -> RunResult:
        """Plug its network in, hand it to a monitor; attached: stream its output until it
        exits (a KeyboardInterrupt kills it first). A start that fails leaves the container
        as it was before (created), and the host as it was."""
        e = self.engine
        t0 = time.perf_counter() if t0 is None else t0
        cid, cdir, record = c.id, self.store.container_dir(c.id), c.record
        if c.status in ("running", "paused", "restarting"):
            raise Conflict(f"Container '{c.name or cid}' is already running")
        if c.status == "broken":
            raise Conflict(f"Container '{cid}' is broken ({c.problem}): remove it with 'bocker rm {cid}'")
        spec = self.spec(cid)
        if record.joins:  # the containers it shares namespaces with, as they run now
            for ns in spec.linux.namespaces:
                if ns.type in record.joins:
                    other = self.find(record.joins[ns.type])
                    if other is None or not other.running:
                        raise Conflict(f"Container '{c.name or cid}' shares the {ns.type} namespace of "
                                       f"{record.joins[ns.type]}, which is not running: start it first")
                    ns.path = f"/proc/{other.pid}/ns/{NS_FILE[ns.type]}"
            spec.save(cdir / "config.json", fsync=False)
        if c.status != "created":
            self._reset_run(cid, cdir)
        plan = record.network
        with self.store.lock():
            e.plug(cid, cdir, spec.hostname or cid, plan)  # no hostname of its own: a shared UTS namespace
            write_json(cdir / "container.json", record.to_json(), fsync=False)
            me = os.getpid()
            state = State(id=cid, status="creating", bundle=str(cdir), phase="starting", created_at=record.created,
                          creator_pid=me, creator_start=linux.process_start_time(me) or 0)
            state.save(cdir / "state.json", fsync=False)
        linux.crash_point("created")
        try:
            return self._launch_and_attach(c, spec, attach, on_output, capture, on_start, stdin, t0,
                                           terminal, detach_keys)
        except MonitorDied:
            raise  # what it left stays recorded for gc ("dead")
        except BaseException:
            # A start that failed before its monitor ran, or one whose monitor reported the
            # failure and undid its steps: back to created.
            with contextlib.suppress(Exception):
                now = self.load(cid)
                if now.status == "failed" or (now.state is not None and not now.state.monitor_pid):
                    self._unplug(cid, record)
                    self._reset_run(cid, cdir, phase="created")
            raise

    def _reset_run(self, cid: str, cdir: Path, phase: str = "created") -> None:
        """Back to a created container (a restart, or a start that failed)."""
        # the upper dir is the container's filesystem: it stays across runs
        with contextlib.suppress(FileNotFoundError):
            os.unlink(cdir / STOP_MARK)
        record = ContainerRecord.from_json(read_json(cdir / "container.json"))
        State(id=cid, status="creating", bundle=str(cdir), phase=phase,
              created_at=record.created).save(cdir / "state.json", fsync=False)

    def _launch_and_attach(self, c: Container, spec: Spec, attach: bool, on_output, capture, on_start,
                           stdin, t0: float, terminal=None, detach_keys: bytes | None = None) -> RunResult:
        e = self.engine
        cid, cdir, record = c.id, self.store.container_dir(c.id), c.record
        plan = record.network
        launch = Launch(id=cid, bundle=str(cdir), layers_dir=str(self.store.layers),
                        lowerdirs=[self.store.layer_dir(d).name for d in reversed(record.layers)],
                        cgroup_parent=e.cgroup_parent, boot_id=e.boot_id,
                        seccomp=e.seccomp_program(spec), endpoint=plan.endpoint, publish=plan.publish,
                        lease=plan.lease, stdin=record.stdin or stdin is not None, restart=record.restart)
        plug = None
        netns_fd = None
        if plan.endpoint is not None:
            # The container's network namespace is made now and its interface plugged in on
            # the netlink thread while the shim starts the container, which joins it.
            ns_fd, inside = e.networks.new_namespace()
            netns_fd = os.dup(ns_fd)  # attach_async owns (and closes) ns_fd and the socket
            plug = e.networks.attach_async(plan.endpoint, ns_fd, inside)
        try:
            ctl, client, event = self._launch(launch, attach=attach, netns_fd=netns_fd)
        except BaseException:
            if plug is not None:
                with contextlib.suppress(Exception):
                    plug.result()
            raise
        finally:
            if netns_fd is not None:
                os.close(netns_fd)
        try:
            if event.get("event") == EVENT_NETNS:
                event = self._connect(ctl, plug)
            if event.get("event") == EVENT_FAILED:
                self._fail(cid, event)
            if on_start is not None:
                on_start(cid)
            if not attach:
                return RunResult(cid, 0, b"", time.perf_counter() - t0, detached=True)
            try:
                result = self.stream(cid, event["pid"], client, on_output, capture, stdin, terminal, detach_keys)
            except KeyboardInterrupt:
                if record.auto_remove:  # --rm holds when interrupted too: the monitor has torn it down
                    with contextlib.suppress(BockerError):
                        self.rm(cid, force=True)
                raise
        finally:
            ctl.close()
            if client is not None:
                client.close()
        if result.get("event") == EVENT_FAILED:
            self._fail(cid, result)
        out = RunResult(cid, result.get("code", 137), result["output"], time.perf_counter() - t0,
                        result.get("oom_killed", False), result["stdout"], result["stderr"],
                        detached=result.get("event") == "detached")
        if record.auto_remove and not out.detached:
            self.rm(cid)
        return out

    def _launch(self, launch, attach: bool, netns_fd: int | None = None):
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
            self.engine.launcher.launch(launch.to_json(), fds)
        except BaseException:
            ctl.close()
            if ours is not None:
                ours.close()
            raise
        finally:
            ctl_theirs.close()
            if theirs is not None:
                theirs.close()
        channel = Channel(ctl)
        event = channel.receive() or MONITOR_DIED
        return ctl, ours, event

    def _connect(self, ctl: socket.socket, plug) -> dict[str, Any]:
        """pid 1 waits in its network namespace: once the interface is plugged in, let it go
        on; returns the monitor's next event (started or failed)."""
        channel = Channel(ctl)
        try:
            plug.result()
        except Exception as err:
            # the monitor stops pid 1 and answers "failed": with pid 1's own report if it
            # had failed first, else with ours
            channel.send(op="abort", message=str(err))
            return channel.receive() or MONITOR_DIED
        except BaseException:
            channel.send(op="abort", message="interrupted")
            channel.receive()
            raise
        channel.send(op="go")
        return channel.receive() or MONITOR_DIED

    def _fail(self, cid: str, event: dict[str, Any]) -> None:
        if event is MONITOR_DIED or event.get("message") == "the monitor died":
            # Nobody cleaned up: what it left (a cgroup, processes) stays recorded for gc.
            raise MonitorDied(f"The monitor of container {cid} was killed: "
                              "run 'bocker gc' to remove what it left")
        code = event.get("code", 125)
        message = event.get("message", "the container failed to start")
        if code in (126, 127):
            raise ExitCodeError(message, code)
        raise ContainerStartError(message)

    # -- attach ----------------------------------------------------------------------------
    def stream(self, cid: str, pid: int, sock: socket.socket, on_output: Output | None, capture: bool,
               stdin: bytes | int | None = None, terminal: Any = None,
               detach_keys: bytes | None = None) -> dict[str, Any]:
        """Relay a container's (or an exec'd process's) stdio until it ends: its output to
        `on_output`, `stdin` (bytes, or an fd read to its end) to it. With a `terminal`
        (size() and a winch_fd that wakes on SIGWINCH), its pty follows the terminal's size.
        `detach_keys` in the input leave it running (the result's event is "detached"). A
        KeyboardInterrupt kills it first, then waits for the monitor to tear it down, so the
        host is clean when this returns. The result: the final event plus output, stdout, stderr."""
        emit = _emitter(on_output)
        chunks: list[bytes] = []
        parts: dict[str, list[bytes]] = {"stdout": [], "stderr": []}
        final: dict[str, Any] = {}
        interrupted = False
        sel = selectors.DefaultSelector()
        sel.register(sock, selectors.EVENT_READ, "attach")
        pending_input: list[bytes] = []
        if isinstance(stdin, (bytes, bytearray)):
            pending_input = [bytes(stdin[i:i + 65536]) for i in range(0, len(stdin), 65536)] + [b""]
        file_stdin = False  # a regular file or /dev/null: always readable, and epoll refuses it
        if isinstance(stdin, int):
            try:
                sel.register(stdin, selectors.EVENT_READ, "stdin")
            except PermissionError:
                file_stdin = True
        if terminal is not None:
            sel.register(terminal.winch_fd, selectors.EVENT_READ, "winch")
        remote: Interrupts | None = getattr(_thread_interrupts, "source", None)
        if remote is not None:
            sel.register(remote.fd, selectors.EVENT_READ, "remote")
            remote.streaming = True
        matched = 0  # how much of the detach keys the input has typed so far

        def send(message: bytes) -> None:
            try:
                sock.send(message)
            except OSError:
                pass

        detached = False  # the detach keys were typed: no more input goes to it

        def send_input(data: bytes) -> None:
            nonlocal matched, detached
            if detached:
                return
            if not data:
                send(control(op="eof"))
                return
            if detach_keys:
                out = bytearray()
                for b in data:
                    if matched and b != detach_keys[matched]:
                        out += detach_keys[:matched]  # a partial match was ordinary input after all
                        matched = 0
                    if b == detach_keys[matched]:
                        matched += 1
                        if matched == len(detach_keys):
                            if out:
                                send(STDIN + bytes(out))
                            send(control(op="detach"))
                            matched, detached = 0, True
                            return
                        continue
                    out.append(b)
                data = bytes(out)
                if not data:
                    return
            send(STDIN + data)

        def resize() -> None:
            rows, cols = terminal.size()
            send(control(op="resize", rows=rows, cols=cols))

        if terminal is not None:
            resize()
        for data in pending_input:
            send_input(data)
        try:
            while not final:
                try:
                    if file_stdin and not detached:
                        data = os.read(stdin, 65536)
                        file_stdin = bool(data)
                        send_input(data)
                    for key, _ in sel.select(0 if file_stdin else None):
                        if key.data == "stdin":
                            data = b"" if detached else os.read(stdin, 65536)
                            if not data:
                                sel.unregister(stdin)
                            send_input(data)
                            continue
                        if key.data == "winch":
                            terminal.drain_winch()
                            resize()
                            continue
                        if key.data == "remote":
                            what = os.read(remote.fd, 1)
                            if what == b"d":  # leave it running, as a killed face would
                                final = {"event": "detached"}
                                break
                            if what == b"i":
                                raise KeyboardInterrupt
                            continue
                        try:
                            msg = sock.recv(1 << 17)
                        except ConnectionResetError:
                            # It closed with our input (stdin, an eof, a resize) unread. The kernel
                            # reports that once, before the messages still queued for us: its
                            # final word (the exit code) is read next, then the end.
                            try:
                                msg = sock.recv(1 << 17)
                            except ConnectionResetError:
                                msg = b""
                        if not msg:
                            ended = self._recorded_end(cid)
                            if ended is None:  # removed meanwhile (--rm by another)
                                final = MONITOR_DIED if not chunks and not interrupted else {
                                    "event": EVENT_EXITED, "code": 137}
                            elif ended is False:
                                final = MONITOR_DIED
                            else:
                                final = {"event": EVENT_EXITED, "code": 137 if ended.exit_code is None
                                         else ended.exit_code, "oom_killed": ended.oom_killed}
                            break
                        kind, data = msg[:1], msg[1:]
                        if kind in (STDOUT, STDERR):
                            stream = "stdout" if kind == STDOUT else "stderr"
                            if capture:
                                chunks.append(data)
                                parts[stream].append(data)
                            if emit is not None:
                                emit(data, stream)
                        elif kind == CONTROL:
                            message = json.loads(data)
                            if message.get("event") in (EVENT_EXITED, EVENT_FAILED, "detached"):
                                final = message
                except KeyboardInterrupt:
                    # Ctrl-C or a notebook interrupt: stop it, then wait for the monitor to
                    # tear it down.
                    interrupted = True
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(pid, signal.SIGKILL)
        finally:
            sel.close()
            if remote is not None:
                remote.streaming = False
        if interrupted:
            raise KeyboardInterrupt
        return {**final, "output": b"".join(chunks), "stdout": b"".join(parts["stdout"]),
                "stderr": b"".join(parts["stderr"])}

    def _recorded_end(self, cid: str, wait: float = 2.0) -> Container | None | bool:
        """After the attach socket closed without a final word: the container as its monitor
        recorded its end (a live monitor may close the socket a moment before it writes the
        state: seen with a tty), None when it was removed meanwhile, False when no end is
        recorded (its monitor died)."""
        deadline = time.monotonic() + wait
        while True:
            try:
                c = self.load(cid)
            except NotFound:
                return None
            if c.status in ("exited", "failed"):
                return c
            if c.status != "running" or time.monotonic() >= deadline:
                return False
            time.sleep(0.02)

    def attach(self, ref: str, *, on_output: Output | None = None, stdin: bytes | int | None = None,
               capture: bool = False, terminal: Any = None, detach_keys: bytes | None = None) -> RunResult:
        """Attach to a running container's stdio through its monitor's attach socket; the
        detach keys leave it running."""
        t0 = time.perf_counter()
        c = self.get(ref)
        if not c.running:
            raise Conflict(f"Container '{ref}' exists but is not running: start it first")
        if stdin is not None and not c.record.stdin and not c.record.tty:
            stdin = None  # it was started without -i: there is no stdin to write to
        sock = self.connect(c.id, stdin=stdin is not None)
        try:
            result = self.stream(c.id, c.pid or 0, sock, on_output, capture, stdin, terminal, detach_keys)
        finally:
            sock.close()
        return RunResult(c.id, result.get("code", 0), result["output"], time.perf_counter() - t0,
                         result.get("oom_killed", False), result["stdout"], result["stderr"],
                         detached=result.get("event") == "detached")

    def connect(self, cid: str, stdin: bool = False) -> socket.socket:
        """A connection to the container's attach socket (its path may be longer than a socket
        address holds: reached through /proc/self/fd of its directory)."""
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET | socket.SOCK_CLOEXEC)
        dirfd = os.open(self.store.container_dir(cid), os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            sock.connect(f"/proc/self/fd/{dirfd}/{ATTACH_SOCKET}")
        except OSError as err:
            sock.close()
            raise Conflict(f"Container '{cid}' can't be attached to ({err.strerror}): is it running?") from None
        finally:
            os.close(dirfd)
        sock.send(control(op="hello", stdin=stdin))
        return sock

    # -- exec ------------------------------------------------------------------------------
    def exec(self, ref: str, command: str | list[str], *, env: list[str] | dict[str, str] | None = None,
             workdir: str | None = None, user: str | None = None, tty: bool = False, detach: bool = False,
             on_output: Output | None = None, capture: bool = True, stdin: bytes | int | None = None,
             terminal: Any = None, detach_keys: bytes | None = None) -> RunResult:
        """Run one more process in a running container: all its namespaces, its root, its
        cgroup, its capabilities and seccomp filter. A list is the argv; a string is run by
        /bin/sh -c."""
        t0 = time.perf_counter()
        c = self.get(ref)
        if not c.running:
            raise Conflict(f"Container '{ref}' exists but is not running")
        if c.status == "paused":
            raise Conflict(f"Container '{ref}' is paused: unpause it first (bocker unpause {ref})")
        argv = ["/bin/sh", "-c", command] if isinstance(command, str) else list(command)
        if not argv or not all(isinstance(a, str) and "\0" not in a for a in argv):
            raise InvalidArgument("Give the command to run in the container, e.g. bocker exec ID ls /")
        if workdir is not None and not workdir.startswith("/"):
            raise InvalidArgument(f"Invalid working directory '{workdir}': it must be an absolute path")
        spec = self.spec(c.id)
        environment = parse_env(spec.process.env)
        environment.update(parse_env(env))
        process = spec.process
        process.args = argv
        process.env = [f"{k}={v}" for k, v in environment.items()]
        process.cwd = workdir or process.cwd
        process.terminal = tty
        process.console_size = None
        if tty and terminal is not None:
            from .spec import Box
            rows, cols = terminal.size()
            process.console_size = Box(height=rows, width=cols)
        if tty:
            environment.setdefault("TERM", "xterm")
            process.env = [f"{k}={v}" for k, v in environment.items()]
        if user is not None:
            from .users import container_file, resolve
            root = f"/proc/{c.state.pid}/root"
            who = resolve(user, container_file(root, "etc/passwd"), container_file(root, "etc/group"))
            process.user.uid, process.user.gid, process.user.additional_gids = who.uid, who.gid, who.additional_gids
            caps = process.capabilities
            if caps is not None:  # Docker's rule: root holds the bounding set, another user nothing
                held = list(caps.bounding) if who.uid == 0 else []
                caps.effective, caps.permitted, caps.inheritable, caps.ambient = held, list(held), [], []
        from .options import check_arguments
        check_arguments(process.args, process.env)
        # the process goes in a file, as runc's exec --process: a long command line fits
        cdir = self.store.container_dir(c.id)
        process_file = cdir / f"exec-{os.urandom(6).hex()}.json"
        write_json(process_file, object_json(process), fsync=False)
        launch = ExecLaunch(id=c.id, bundle=str(cdir), process_file=str(process_file),
                            pid=c.state.pid, pid_start=c.state.pid_start, cgroup=c.state.cgroup,
                            seccomp=self.engine.seccomp_program(spec), stdin=stdin is not None)
        try:
            ctl, client, event = self._launch(launch, attach=not detach)
        except BaseException:
            process_file.unlink(missing_ok=True)
            raise
        try:
            if event.get("event") == EVENT_FAILED:
                if event.get("code") in (126, 127):
                    raise ExitCodeError(event["message"], event["code"])
                raise Conflict(event["message"])
            if detach:
                return RunResult(c.id, 0, b"", time.perf_counter() - t0, detached=True)
            result = self.stream(c.id, event["pid"], client, on_output, capture, stdin, terminal, detach_keys)
        finally:
            ctl.close()
            if client is not None:
                client.close()
        return RunResult(c.id, result.get("code", 137), result["output"], time.perf_counter() - t0,
                         False, result["stdout"], result["stderr"])

    # -- signals and waiting ---------------------------------------------------------------
    def kill(self, ref: str, sig: str | int = "KILL", *, stopping: bool = True) -> str:
        """Send a signal to the container's pid 1 (`bocker kill -s SIG`)."""
        signum = _signal_number(sig)
        c = self.get(ref)
        if not c.running or not _pid_alive(c.state.pid, c.state.pid_start):
            raise Conflict(f"Container '{ref}' exists but is not running")
        if stopping and signum in (signal.SIGKILL, signal.SIGTERM):
            # the user stopped it: its restart policy does not bring it back
            (self.store.container_dir(c.id) / STOP_MARK).touch()
        with contextlib.suppress(ProcessLookupError):
            os.kill(c.state.pid, signum)
        stop_signal = c.record.stop_signal if c.record is not None else "SIGTERM"
        if stopping and c.status == "paused" and signum in (signal.SIGKILL, signal.SIGTERM,
                                                            _signal_number(stop_signal)):
            # a frozen task acts on no signal: stop, kill and rm -f of a paused container
            # thaw it once the signal is sent (another signal waits for unpause)
            from .pause import thaw_if_paused
            thaw_if_paused(self.engine, c)
        return c.id

    def stop(self, ref: str, timeout: float | None = None) -> str:
        """Its stop signal (SIGTERM, or --stop-signal, or the image's StopSignal), then SIGKILL
        after `timeout` seconds (its --stop-timeout, or 10). A pid 1 that has no handler for
        the signal ignores it (the kernel protects a namespace's init), as in Docker."""
        c = self.get(ref)
        if timeout is None:
            timeout = c.record.stop_timeout if c.record is not None else 10
        if c.status == "restarting":
            (self.store.container_dir(c.id) / STOP_MARK).touch()
            self.wait(c.id, timeout=timeout)
            return c.id
        if c.running:
            with contextlib.suppress(Conflict):
                self.kill(c.id, c.record.stop_signal if c.record is not None else "TERM")
            (self.store.container_dir(c.id) / STOP_MARK).touch()
            if self.wait(c.id, timeout=timeout) is None:
                with contextlib.suppress(Conflict):
                    self.kill(c.id, "KILL")
                self.wait(c.id, timeout=30)
        return c.id

    def wait(self, ref: str, timeout: float | None = None) -> int | None:
        """Block until the container is no longer running; its exit code (None on timeout)."""
        cid = self.get(ref).id
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            c = self.load(cid)
            if c.status not in ("running", "paused", "restarting") and not (
                    c.status == "created" and c.state is not None and c.state.phase == "starting"):
                return c.exit_code
            if deadline is not None and time.monotonic() >= deadline:
                return None
            time.sleep(0.02)

    # -- removal ---------------------------------------------------------------------------
    def rm(self, ref: str, force: bool = False, volumes: bool = False) -> str:
        c = self.get(ref)
        with self.store.container_lock(c.id):  # one at a time with commit and cp of it
            return self._rm(c, force, volumes)

    def _rm(self, c: Container, force: bool, volumes: bool) -> str:
        if c.running or c.status == "restarting":
            if not force:
                raise Conflict(f"Container '{c.id}' is running: stop it first, or use rm -f")
            self._kill_and_wait(c)
            c = self.load(c.id)
        self.cleanup(c)
        shutil.rmtree(self.store.container_dir(c.id), ignore_errors=True)
        if volumes and c.record is not None:
            for name in c.record.volumes:
                users = [o.name or o.id for o in self.list() if o.record is not None and name in o.record.volumes]
                if not users:
                    with contextlib.suppress(NotFound):
                        self.engine.volumes.remove(name, [])
        if c.image:
            self.engine.images_store.forget_if_unused(c.image, in_use=any(o.image == c.image for o in self.list()))
        return c.id

    def _kill_and_wait(self, c: Container, timeout: float = 10.0) -> None:
        (self.store.container_dir(c.id) / STOP_MARK).touch()
        with contextlib.suppress(Conflict):
            self.kill(c.id, "KILL")
        self.wait(c.id, timeout=timeout)

    def cleanup(self, c: Container) -> None:
        """Whatever a monitor that died (kill -9) left: the cgroup (and its processes), the
        address lease, a veth that outlived its namespace. Mounts die with the container's
        mount namespace."""
        if c.status in ("dead", "running", "created", "broken", "restarting", "paused"):
            group = self._cgroup(c)
            if group is not None and group.exists():
                group.destroy()
        if c.record is not None:
            self._unplug(c.id, c.record)

    def _cgroup(self, c: Container):
        try:
            driver = detect(parent=self.engine.cgroup_parent)
        except BockerError:
            return None
        return driver.group(c.id)

    def _unplug(self, cid: str, record: ContainerRecord) -> None:
        plan = record.network
        if plan.endpoint is not None:
            self.engine.networks.release(plan.endpoint.network, plan.endpoint.address, cid)
            if plan.mode == "bridge":
                self.engine.networks.detach(cid)

    # -- accounting ------------------------------------------------------------------------
    def stats(self, refs: list[str] | None = None) -> dict[str, CgroupStats]:
        """Cgroup accounting per container id (the same fields on v1 and v2): every running
        container, or the ones named. A container that is not running gives the stats its
        monitor recorded at exit, or an empty CgroupStats."""
        driver = detect(parent=self.engine.cgroup_parent)
        containers = [self.get(r) for r in refs] if refs else [c for c in self.list() if c.running]
        out: dict[str, CgroupStats] = {}
        for c in containers:
            stats = None
            if c.running:
                with contextlib.suppress(NotFound, OSError):
                    stats = driver.group(c.id).stats()
            if stats is None:
                recorded = (c.state.stats if c.state is not None else {}) or {}
                stats = CgroupStats(**{k: (int(v) if k != "cpu_seconds" and k != "cpu_quota_cpus" else v)
                                       for k, v in recorded.items() if k in CgroupStats.__slots__})
            out[c.id] = stats
        return out

    # -- logs ------------------------------------------------------------------------------
    def log_records(self, ref: str, *, tail: int | None = None, since: float | None = None,
                    follow: bool = False):
        """The log's records (time, stream, data); following: as they come, until it stops."""
        c = self.get(ref)
        path = str(self.store.container_dir(c.id) / "log")
        records, offset = logfile.read(path, tail=tail, since=since)
        yield from records
        if follow:
            def running() -> bool:
                try:
                    return self.load(c.id).status in ("running", "paused", "restarting", "created")
                except NotFound:
                    return False
            for r in logfile.follow(path, running, start=offset):
                if since is None or r.seconds >= since:
                    yield r

    def logs(self, ref: str) -> bytes:
        """What it printed, stdout and stderr as they came (the seed's `bocker logs`)."""
        return b"".join(r.text() for r in self.log_records(ref))
