"""A container as the engine keeps it (ContainerRecord, container.json) and as `ps` and
`inspect` see it (Container: the record and the state, read together), and what running
one gives back (RunResult).

A container's directory is an OCI bundle with the engine's record beside it:

    containers/<id>/config.json     the spec (spec/): all it runs with
    containers/<id>/container.json  the engine's record (ContainerRecord): name, image, network
    containers/<id>/state.json      the state (spec.State): the OCI state and the engine's phase
    containers/<id>/log             what it printed (runtime/logfile.py)
    containers/<id>/{upper,work,merged}, hosts, hostname, resolv.conf, attach.sock
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from ..network.plan import NetworkPlan
from ..runtime.protocol import RestartPolicy
from .snapshots import Frozen
from .status import Status

if TYPE_CHECKING:
    from ..spec import State


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
    anonymous_volumes: list[str] = field(default_factory=list)  # of those, the ones made for it (rm -v, --rm)
    stop_signal: str = "SIGTERM"
    stop_timeout: int = 10
    joins: dict[str, str] = field(default_factory=dict)  # namespace kind -> the container it shares it with
    healthcheck: dict[str, Any] | None = None  # runtime/health.Healthcheck's fields: what its monitor runs
    aliases: list[str] = field(default_factory=list)  # --network-alias: its other names on its first network
    # (each network's own aliases are its attachment's: network.attachments[i].aliases)

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        # the runtime's records (runtime/protocol.py) are plain classes: their own dicts
        out["restart"] = self.restart.as_dict()
        out["network"] = self.network.to_json()
        return out

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ContainerRecord:
        data = dict(data)
        network = data.get("network") or {}
        data["network"] = NetworkPlan.from_json(network)
        if "attachments" not in network and data["network"].attachments and data.get("aliases"):
            # a record of one network: its --network-alias values are that network's
            data["network"].attachments[0].aliases = list(data["aliases"])
        data["restart"] = RestartPolicy(**(data.get("restart") or {}))
        return cls(**{k: v for k, v in data.items() if k in cls.__dataclass_fields__})


class OwnCopy:
    """Container.record and .state: given a Frozen (what the engine keeps of the files,
    snapshots.py), the first read makes it the reader's own copy; anything else is kept as
    given. A dataclass field's default (None) is this object itself: __set__ turns it to None."""

    def __set_name__(self, owner: type, name: str) -> None:
        self.attr = "_" + name

    def __get__(self, obj: Any, objtype: type | None = None) -> Any:
        if obj is None:
            return self
        value = obj.__dict__[self.attr]
        if type(value) is Frozen:
            value = obj.__dict__[self.attr] = value.thaw()
        return value

    def __set__(self, obj: Any, value: Any) -> None:
        obj.__dict__[self.attr] = None if value is self else value

    def peek(self, obj: Any) -> Any:
        """The value to read from (never to change, never to hand on): a Frozen's kept
        object, without copying it."""
        value = obj.__dict__[self.attr]
        return value.kept if type(value) is Frozen else value


@dataclass
class Container:
    """A container as `ps` and `inspect` see it: its record and its state, read together.
    Its record and state are its own (a copy of what the engine keeps, made when first read)."""

    id: str
    name: str | None
    image: str
    image_name: str
    command: str
    created: float
    status: Status
    exit_code: int | None = None
    oom_killed: bool = False
    pid: int | None = None
    started_at: float | None = None
    finished_at: float | None = None
    record: ContainerRecord | None = field(default=OwnCopy(), repr=False)  # type: ignore[assignment]
    state: State | None = field(default=OwnCopy(), repr=False)  # type: ignore[assignment]
    problem: str = ""            # why a broken one is broken
    bundle: str = ""             # its directory (health.json is there)

    @property
    def health(self) -> str | None:
        """starting, healthy or unhealthy while it runs with a healthcheck; None without one
        (a stopped container keeps its last record in inspect, not in its status)."""
        record = self._peek("record")
        if record is None or not record.healthcheck or not self.status.is_running:
            return None
        record = self.health_record()
        return record.status if record is not None else "starting"  # its monitor writes it as it starts

    def health_record(self):
        record = self._peek("record")
        if record is None or not record.healthcheck or not self.bundle:
            return None
        from ..runtime.health import Health
        return Health.load(self.bundle)

    @property
    def status_text(self) -> str:
        if self.status is Status.EXITED:
            return "oom-killed" if self.oom_killed else f"exited ({self.exit_code})"
        if self.status is Status.FAILED:
            return f"failed ({self.exit_code})"
        if self.status is Status.RUNNING and (health := self.health) is not None:
            return f"running ({'health: starting' if health == 'starting' else health})"
        return self.status.value

    @property
    def running(self) -> bool:
        return self.status.is_running

    @property
    def starting(self) -> bool:
        """Being started right now (an engine is handing it to a monitor)."""
        state = self._peek("state")
        return self.status is Status.CREATED and state is not None and state.phase == "starting"

    @property
    def restart_count(self) -> int:
        state = self._peek("state")
        return state.restart_count if state is not None else 0

    def _peek(self, name: str) -> Any:
        """Its record or state to read a field of, without copying what the engine keeps."""
        return Container.__dict__[name].peek(self)


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
