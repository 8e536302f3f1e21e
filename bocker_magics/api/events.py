"""`GET /events`: the engine's event stream (engine/events.py) as Docker's JSON lines, with
the legacy `status`/`id`/`from` fields docker-compose 1.29 still reads."""

from __future__ import annotations

import threading
from typing import Any

from .ids import docker_id, image_id
from .routing import route


def _time(text: str | None) -> float | None:
    if not text:
        return None
    try:
        return float(text)
    except ValueError:
        from ..engine import parse_since
        return parse_since(text)


class EventsApi:
    engine: Any
    events: Any

    def event_json(self, e) -> dict[str, Any]:
        attrs = dict(e.attributes)
        if e.type == "container":
            actor = docker_id(e.id)
        elif e.type == "image":
            actor = image_id(e.id)
        else:
            actor = docker_id("net_" + e.id) if e.type == "network" else e.id
        out = {"Type": e.type, "Action": e.action, "Actor": {"ID": actor, "Attributes": attrs}, "scope": "local",
               "time": int(e.time), "timeNano": int(e.time * 1e9)}
        if e.type == "container":
            out.update({"status": e.action, "id": actor, "from": attrs.get("image", "")})
        elif e.type == "image":
            out.update({"status": e.action, "id": attrs.get("name", actor)})
        return out

    @staticmethod
    def _matches(ev: dict[str, Any], filters: dict[str, list[str]]) -> bool:
        attrs = ev["Actor"]["Attributes"]
        for key, values in filters.items():
            if key == "type" and ev["Type"] not in values:
                return False
            if key in ("event", "action") and ev["Action"] not in values:
                return False
            if key in ("container", "image", "network", "volume"):
                if ev["Type"] != key or not any(ev["Actor"]["ID"].startswith(v.removeprefix("sha256:"))
                                                or ev["Actor"]["ID"] == v or attrs.get("name") == v for v in values):
                    return False
            if key == "label":
                for v in values:
                    k, sep, val = v.partition("=")
                    if k not in attrs or (sep and attrs[k] != val):
                        return False
        return True

    @route("GET", "/events")
    def events_stream(self, r) -> None:
        since, until = _time(r.arg("since")), _time(r.arg("until"))
        filters = r.filters()
        watcher = self.events
        stream = r.stream()
        stop = threading.Event()

        def watch() -> None:  # the client's leaving ends the stream, events or not
            while not stop.is_set():
                if r.client_gone():
                    stop.set()
                stop.wait(0.5)
        threading.Thread(target=watch, daemon=True).start()
        try:
            for e in watcher.follow(since=since, until=until, stop=stop):
                ev = self.event_json(e)
                if self._matches(ev, filters):
                    stream.json(ev)
        except OSError:
            return
        finally:
            stop_was = stop.is_set()
            stop.set()
        if stop_was:
            r.handler.close_connection = True
            return
        stream.close()
