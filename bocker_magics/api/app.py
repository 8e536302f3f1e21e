"""The Api: one object holding the engine and what the service keeps between requests (exec
instances, attaches waiting for their container's start, the event watcher), with the
endpoints of each resource group mixed in (containers.py, exec.py, images.py, build.py,
networks.py, volumes.py, system.py, events.py)."""

from __future__ import annotations

import threading
from typing import Any

from .build import BuildApi
from .containers import ContainersApi
from .events import EventsApi
from .exec import ExecApi
from .ids import Ids
from .images import ImagesApi
from .networks import NetworksApi
from .system import SystemApi
from .volumes import VolumesApi


class Api(SystemApi, ContainersApi, ExecApi, ImagesApi, BuildApi, NetworksApi, VolumesApi, EventsApi):
    def __init__(self, engine: Any) -> None:
        self.engine = engine
        self.ids = Ids(engine)
        self.lock = threading.Lock()
        self.execs: dict[str, Any] = {}          # exec id -> ExecInstance
        self.attaches: dict[str, Any] = {}       # bocker container id -> AttachSession waiting for start
        self.exits: dict[str, int] = {}          # exit codes seen by attached starts (a --rm run's)
        self.attached_runs: dict[str, Any] = {}  # container id -> an Event set when its attached start ended
        self.terminals: dict[str, Any] = {}      # container or exec id -> its PtySize (resize)
        self._events = None

    @property
    def events(self):
        with self.lock:
            if self._events is None:
                from ..engine import Events
                self._events = Events(self.engine)
                self._events.start()
            return self._events

    def close(self) -> None:
        if self._events is not None:
            self._events.close()
