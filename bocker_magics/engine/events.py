"""What happens to containers, images, networks and volumes, as a stream of events (Docker's
`/events`): a watcher compares what the store holds every `interval` seconds, so it sees what
any face, a monitor (a container that exits, restarts) or another process did, with none of
them writing a journal. Events a caller knows of first (a pull, an exec) are added with emit().

    watcher = Events(engine); watcher.start()
    for event in watcher.follow(since=t0): ...
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .engine import Engine


@dataclass
class Event:
    type: str                     # container | image | network | volume
    action: str                   # create, start, die, destroy, pause, unpause, rename, pull, tag, delete…
    id: str                       # bocker's id (a name for networks and volumes)
    time: float
    attributes: dict[str, str] = field(default_factory=dict)


@dataclass
class _Seen:
    status: str
    finished_at: float | None
    started_at: float | None
    name: str | None
    exit_code: int | None
    attributes: dict[str, str]


class Events:
    KEEP = 4096

    def __init__(self, engine: Engine, interval: float = 0.1) -> None:
        self.engine = engine
        self.interval = interval
        self.journal: deque[Event] = deque(maxlen=self.KEEP)
        self.cond = threading.Condition()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._containers: dict[str, _Seen] = {}
        self._images: dict[str, tuple[str, ...]] = {}
        self._networks: set[str] = set()
        self._volumes: set[str] = set()
        self._primed = False
        self._recent: dict[tuple[str, str, str], float] = {}

    def start(self) -> None:
        if self._thread is None:
            self._look()  # what exists now is no event
            self._thread = threading.Thread(target=self._run, name="bocker-events", daemon=True)
            self._thread.start()

    def close(self) -> None:
        self._stop.set()

    def emit(self, type: str, action: str, id: str, attributes: dict[str, str] | None = None) -> None:
        """An event the caller saw happen (its own verb): a look that sees it too adds no second."""
        self._add([Event(type, action, id, time.time(), dict(attributes or {}))])

    SAME = 2.0  # seconds within which one (type, id, action) twice is one event, seen two ways

    def _add(self, events: list[Event]) -> None:
        with self.cond:
            for e in events:
                key = (e.type, e.id, e.action)
                if e.time - self._recent.get(key, -1e9) < self.SAME:
                    continue
                if e.type == "container" and e.action == "die" and \
                        e.time - self._recent.get((e.type, e.id, "destroy"), -1e9) < self.SAME:
                    continue  # its die was told with its destroy (seen gone before its end was)
                if e.type == "container" and e.action == "destroy" and \
                        e.time - self._recent.get((e.type, e.id, "die"), -1e9) >= self.SAME and \
                        self._recent.get((e.type, e.id, "start"), -1e9) > self._recent.get((e.type, e.id, "die"), -1e9):
                    # a container destroyed after a start and before anyone saw it die: its die
                    # comes first, as Docker's stream always has it
                    self._recent[(e.type, e.id, "die")] = e.time
                    self.journal.append(Event(e.type, "die", e.id, e.time, dict(e.attributes)))
                self._recent[key] = e.time
                self.journal.append(e)
            if len(self._recent) > self.KEEP:
                cutoff = time.time() - self.SAME
                self._recent = {k: t for k, t in self._recent.items() if t >= cutoff}
            self.cond.notify_all()

    def follow(self, since: float | None = None, until: float | None = None,
               stop: threading.Event | None = None) -> Iterator[Event]:
        """Past events from `since`, then new ones as they come, up to `until` (or forever)."""
        with self.cond:
            events = list(self.journal)
        for e in events:
            if (since is None or e.time >= since) and (until is None or e.time <= until):
                yield e
        last = events[-1] if events else None
        if since is not None and until is not None and until <= time.time():
            return
        while not self._stop.is_set() and not (stop is not None and stop.is_set()):
            if until is not None and time.time() > until:
                return
            with self.cond:
                self.cond.wait(0.25)
                new = list(self.journal)
            start = 0
            if last is not None:
                for i in range(len(new) - 1, -1, -1):
                    if new[i] is last:
                        start = i + 1
                        break
            for e in new[start:]:
                if until is not None and e.time > until:
                    return
                yield e
            if new:
                last = new[-1]

    # -- looking ------------------------------------------------------------------------------
    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self._look()
            except Exception:  # a half-written record mid-change: next look
                continue

    def _look(self) -> None:
        out: list[Event] = []
        now = time.time()
        seen: dict[str, _Seen] = {}
        for c in self.engine.ps():
            labels = dict(c.record.labels) if c.record is not None else {}
            attrs = {**labels, "image": c.image_name, "name": c.name or c.id}
            s = _Seen(c.status, c.finished_at, c.started_at, c.name, c.exit_code, attrs)
            seen[c.id] = s
            old = self._containers.get(c.id)
            if old is None:
                if self._primed:
                    out.append(Event("container", "create", c.id, now, attrs))
                    if c.status in ("running", "exited", "paused"):
                        old = _Seen("created", None, None, c.name, None, attrs)
                if old is None:
                    continue
            if old.name != s.name and old.name is not None:
                out.append(Event("container", "rename", c.id, now, {**attrs, "oldName": "/" + (old.name or "")}))
            if s.started_at != old.started_at and s.started_at is not None:
                if old.started_at is not None and old.status in ("running", "paused", "restarting") and \
                        s.finished_at == old.finished_at:
                    out.append(Event("container", "die", c.id, now, {**attrs, "exitCode": str(s.exit_code or 0)}))
                out.append(Event("container", "start", c.id, now, attrs))
            if s.status == "paused" and old.status != "paused":
                out.append(Event("container", "pause", c.id, now, attrs))
            if old.status == "paused" and s.status == "running":
                out.append(Event("container", "unpause", c.id, now, attrs))
            if s.finished_at != old.finished_at and s.finished_at is not None:
                out.append(Event("container", "die", c.id, now, {**attrs, "exitCode": str(s.exit_code or 0)}))
        for cid, old in self._containers.items():
            if cid not in seen:
                if old.status in ("running", "paused", "restarting"):
                    out.append(Event("container", "die", cid, now, {**old.attributes, "exitCode": "137"}))
                out.append(Event("container", "destroy", cid, now, old.attributes))
        self._containers = seen
        images = {i.id: tuple(i.names) for i in self.engine.images()}
        if self._primed:
            for iid, names in images.items():
                before = self._images.get(iid)
                for n in names:
                    if before is None or n not in before:
                        out.append(Event("image", "tag", iid, now, {"name": n}))
            for iid, names in self._images.items():
                if iid not in images:
                    out.append(Event("image", "delete", iid, now, {"name": names[0] if names else iid}))
                else:
                    for n in names:
                        if n not in images[iid]:
                            out.append(Event("image", "untag", iid, now, {"name": n}))
        self._images = images
        networks = {n.name for n in self.engine.networks.list()}
        volumes = {v.name for v in self.engine.volumes.list()}
        if self._primed:
            bridge = {"type": "bridge"}
            out += [Event("network", "create", n, now, {"name": n, **bridge}) for n in networks - self._networks]
            out += [Event("network", "destroy", n, now, {"name": n, **bridge}) for n in self._networks - networks]
            out += [Event("volume", "create", v, now, {"driver": "local"}) for v in volumes - self._volumes]
            out += [Event("volume", "destroy", v, now, {"driver": "local"}) for v in self._volumes - volumes]
        self._networks, self._volumes = networks, volumes
        self._primed = True
        if out:
            self._add(out)
