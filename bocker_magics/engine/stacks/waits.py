"""Waiting on a stack's services: a dependency's condition (service_started, service_healthy,
service_completed_successfully) before a service comes up, and `up --wait`'s every container
running, and healthy where it has a healthcheck."""

from __future__ import annotations

import time

from ...errors import BockerError
from .labels import ServiceContainer
from .model import Service


class StackError(BockerError):
    """A service that can't come up as asked (a failed dependency, an unhealthy one)."""


class Waits:
    """Mixed into Stack: it needs the engine, the project, `containers` and `say`."""

    def _wait_for_dependencies(self, service: Service, timeout: float) -> None:
        for dep, condition in service.depends_on.items():
            if dep not in self.project.services:
                continue  # an optional one (required: false) that is not in this file
            deadline = time.monotonic() + timeout
            for sc in self.containers(dep):
                self._wait_condition(dep, sc.container.id, condition.condition, deadline)

    def _wait_condition(self, service: str, cid: str, condition: str, deadline: float) -> None:
        if condition == "service_started":
            return
        while True:
            c = self.engine.container(cid)
            status, health = c.status_text, self.health_of(c)
            if condition == "service_healthy":
                if health == "healthy":
                    self.say(f"Container {c.name}  Healthy")
                    return
                if health is None:
                    raise StackError(f"dependency {service} has no healthcheck: service_healthy can't be waited on")
                if health == "unhealthy":
                    raise StackError(f"dependency failed to start: container {c.name} is unhealthy")
            elif condition == "service_completed_successfully":
                if not c.running:
                    code = c.state.exit_code if c.state is not None else None
                    if code == 0:
                        return
                    raise StackError(f"service {service} didn't complete successfully: exit {code}")
            if not c.running and condition == "service_healthy":
                raise StackError(f"dependency failed to start: container {c.name} exited ({status})")
            if time.monotonic() >= deadline:
                raise StackError(f"timed out waiting for {service} to be {condition.removeprefix('service_')}")
            time.sleep(0.1)

    @staticmethod
    def health_of(container) -> str | None:
        health = getattr(container, "health", None)
        return health() if callable(health) else health

    def wait_healthy(self, started: list[ServiceContainer], timeout: float) -> None:
        """`up --wait`: every container running, and healthy where it has a healthcheck."""
        deadline = time.monotonic() + timeout
        for sc in started:
            c = self.engine.container(sc.container.id)
            if self.health_of(c) is not None:
                self._wait_condition(sc.service, c.id, "service_healthy", deadline)
            elif not c.running:
                raise StackError(f"container {c.name} exited ({c.status_text})")
