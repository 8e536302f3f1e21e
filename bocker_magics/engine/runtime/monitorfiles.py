"""What a container's monitor and its starter both read from the bundle: the spec, the
state, the cgroup (monitor.Monitor says who reads what, and when). Stdlib only."""

from __future__ import annotations

import os

from ..kernel.cgroups import detect
from ..spec import Spec, State
from .protocol import Launch

DRIVERS: dict = {}  # cgroup parent -> driver, detected by the shim before it forks


def cgroup_of(driver, spec: Spec, launch_id: str):
    """The container's group: the spec's cgroupsPath, else the driver's group for its id."""
    return driver.group_at(spec.linux.cgroups_path) if spec.linux.cgroups_path else driver.group(launch_id)


class MonitorFiles:
    """The spec, the state and the cgroup of one container, each read on first use. The
    state's monitor_pid is the *holder*, the process that lives as long as the container."""

    def __init__(self, launch: Launch, holder: int, holder_start: int) -> None:
        self.launch = launch
        self.bundle = launch.bundle
        self.holder, self.holder_start = holder, holder_start
        self.spec: Spec | None = None
        self.state: State | None = None
        self.cgroup = None
        self.driver = None
        self._state_text = b""  # the state of the run, as its starter sent it (read when it ends)

    def _load_spec(self) -> Spec:
        if self.spec is None:
            self.spec = Spec.load(os.path.join(self.bundle, "config.json"))
        return self.spec

    def _load_cgroup(self) -> None:
        if self.cgroup is None:
            self.driver = DRIVERS.get(self.launch.cgroup_parent) or detect(parent=self.launch.cgroup_parent)
            self.cgroup = cgroup_of(self.driver, self._load_spec(), self.launch.id)

    def _new_state(self) -> State:
        try:
            annotations = dict(self._load_spec().annotations)
        except Exception:
            annotations = {}
        state = State(id=self.launch.id, status="creating", bundle=self.bundle, phase="starting",
                      monitor_pid=self.holder, monitor_start=self.holder_start,
                      boot_id=self.launch.boot_id, annotations=annotations)
        previous = self._previous_state()
        if previous is not None:
            state.created_at = previous.created_at
            state.creator_pid, state.creator_start = previous.creator_pid, previous.creator_start
        return state

    def _load_state(self) -> State:
        """The state as the starter reported it, else as it saved it, else a new one."""
        if self.state is None and self._state_text:
            self.state = State.from_json(self._state_text)
        if self.state is None:
            previous = self._previous_state()
            ours = previous is not None and previous.monitor_pid == self.holder
            self.state = previous if ours else self._new_state()
        return self.state

    def _previous_state(self) -> State | None:
        try:
            return State.load(os.path.join(self.bundle, "state.json"))
        except Exception:
            return None

    def save(self, fsync: bool = True) -> None:
        self.state.save(os.path.join(self.bundle, "state.json"), fsync=fsync)
