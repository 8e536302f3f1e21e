"""`/containers/...`: Docker's container endpoints over the engine's verbs (create, start,
wait, logs, inspect, list, stop, kill, rm, top, stats, changes, rename, pause, prune), as
moby's container router holds its routes. Their parts live beside them: the create body ->
a RunOptions (runconfig.py), the engine's records -> Docker's inspect and list shapes
(container_json.py), attach and wait (attach.py), archive and export (archive.py); their
names stay importable from here."""

from __future__ import annotations

import contextlib
import time
from typing import Any

from ..errors import NotFound
from .archive import ArchiveApi, _StreamWriter  # noqa: F401  (the parts' names, from here as before)
from .attach import AttachApi, AttachSession  # noqa: F401
from .container_json import (  # noqa: F401
    DOCKER_STATUS,
    LIVE,
    ZERO_TIME,
    ContainerJson,
    _ago,
    docker_status,
    rfc3339,
    status_line,
)
from .ids import docker_id, local_name
from .routing import ApiError, route
from .runconfig import RunConfig, _as_list  # noqa: F401
from .streams import frame


class ContainersApi(RunConfig, ContainerJson, AttachApi, ArchiveApi):
    engine: Any
    ids: Any

    # == create ===========================================================================
    @route("POST", "/containers/create")
    def container_create(self, r) -> None:
        body = r.json_body({}) or {}
        name = r.arg("name") or None
        if name and name.startswith("/"):
            name = name[1:]
        image_ref = body.get("Image") or ""
        if not image_ref:
            raise ApiError(400, "Config cannot be empty in order to create a container")
        img = self.ids.image(image_ref)
        options, command = self.run_options(name, body, body.get("HostConfig") or {},
                                            body.get("NetworkingConfig") or {})
        other = None
        if name:
            with contextlib.suppress(ApiError):
                other = self.ids.container(name)
            if other is not None and other.name == name:
                raise ApiError(409, f'Conflict. The container name "/{name}" is already in use by container '
                               f'"{docker_id(other.id)}". You have to remove (or rename) that container '
                               "to be able to reuse that name.")
        c = self.engine.create(img.id, command, options)
        self.emit(c, "create")
        r.reply(201, {"Id": docker_id(c.id), "Warnings": []})

    def emit(self, c, action: str, **extra: str) -> None:
        """A container event of the service's own verbs, when someone follows /events (the
        watcher alone can miss a container that starts and goes between two of its looks)."""
        if self._events is None:
            return
        attrs = {**(c.record.labels if c.record is not None else {}), "image": c.image_name, "name": c.name or c.id}
        self._events.emit("container", action, c.id, {**attrs, **extra})

    @route("GET", "/containers/(?P<ref>[^/]+)/json")
    def container_inspect(self, r, ref: str) -> None:
        r.reply(200, self.container_json(self.ids.container(ref)))

    @route("GET", "/containers/json")
    def container_list(self, r) -> None:
        filters = r.filters()
        engine_filters = []
        for key in ("ancestor", "volume", "network", "exited"):
            for v in filters.get(key, []):
                engine_filters.append(f"{key}={local_name(v) if key == 'ancestor' else v}")
        statuses = filters.get("status", [])
        found = self.engine.ps(engine_filters or None)
        out = []
        show_all = r.flag("all") or bool(statuses)
        for c in found:
            if not show_all and c.status not in ("running", "paused", "restarting"):
                continue
            if statuses and docker_status(c) not in statuses:
                continue
            if filters.get("id") and not any(docker_id(c.id).startswith(v) or c.id == v for v in filters["id"]):
                continue
            if filters.get("name") and not any(_name_matches("/" + (c.name or ""), v) for v in filters["name"]):
                continue
            labels = c.record.labels if c.record is not None else {}
            if not all(_label_matches(labels, v) for v in filters.get("label", [])):  # Docker ANDs labels
                continue
            if filters.get("health") and (c.health or "none") not in filters["health"]:
                continue
            with contextlib.suppress(NotFound):
                out.append(self.container_summary(c))
        out.reverse()  # newest first, as dockerd
        limit = r.integer("limit", -1)
        if limit is not None and limit > 0:
            out = out[:limit]
        r.reply(200, out)

    # == lifecycle ==========================================================================
    @route("POST", "/containers/(?P<ref>[^/]+)/start")
    def container_start(self, r, ref: str) -> None:
        c = self.ids.container(ref)
        if c.status in LIVE:
            raise ApiError(304, "container already started")
        with self.lock:
            session = self.attaches.pop(c.id, None)
        if session is not None:
            session.go.set()
            session.started.wait(120)
            if session.error is not None:
                raise session.error
            self.emit(c, "start")
            r.reply(204)
            return
        self.engine.start(c.id)  # AutoRemove: the engine removes it when it ends (its --rm)
        self.emit(c, "start")
        r.reply(204)

    @route("POST", "/containers/(?P<ref>[^/]+)/stop")
    def container_stop(self, r, ref: str) -> None:
        c = self.ids.container(ref)
        if c.status not in LIVE:
            raise ApiError(304, "container already stopped")
        t = r.integer("t")
        self.engine.stop(c.id, None if t is None or t < 0 else t)
        r.reply(204)

    @route("POST", "/containers/(?P<ref>[^/]+)/restart")
    def container_restart(self, r, ref: str) -> None:
        c = self.ids.container(ref)
        t = r.integer("t")
        self.engine.restart(c.id, None if t is None or t < 0 else t)
        r.reply(204)

    @route("POST", "/containers/(?P<ref>[^/]+)/kill")
    def container_kill(self, r, ref: str) -> None:
        c = self.ids.container(ref)
        if c.status not in LIVE:
            raise ApiError(409, f"Cannot kill container: {ref}: Container {docker_id(c.id)} is not running")
        sig = r.arg("signal") or "KILL"
        self.engine.kill(c.id, int(sig) if sig.isdigit() else sig)
        r.reply(204)

    @route("POST", "/containers/(?P<ref>[^/]+)/pause")
    def container_pause(self, r, ref: str) -> None:
        self.engine.pause(self.ids.container(ref).id)
        r.reply(204)

    @route("POST", "/containers/(?P<ref>[^/]+)/unpause")
    def container_unpause(self, r, ref: str) -> None:
        self.engine.unpause(self.ids.container(ref).id)
        r.reply(204)

    @route("POST", "/containers/(?P<ref>[^/]+)/rename")
    def container_rename(self, r, ref: str) -> None:
        name = (r.arg("name") or "").lstrip("/")
        if not name:
            raise ApiError(400, "Neither old nor new names may be empty")
        self.engine.rename(self.ids.container(ref).id, name)
        r.reply(204)

    @route("DELETE", "/containers/(?P<ref>[^/]+)")
    def container_delete(self, r, ref: str) -> None:
        c = self.ids.container(ref)
        force = r.flag("force")
        if c.status in LIVE and not force:
            raise ApiError(409, f"You cannot remove a running container {docker_id(c.id)}. Stop the container "
                                "before attempting removal or force remove")
        try:
            # `v`: its anonymous volumes too, named ones stay (the engine's rm -v)
            self.engine.rm(c.id, force=force, volumes=r.flag("v"))
        except NotFound:
            pass  # removed meanwhile (an --rm run that ended)
        self.emit(c, "destroy")
        r.reply(204)

    @route("POST", "/containers/prune")
    def container_prune(self, r) -> None:
        filters = [f"{k}={v}" for k, vs in r.filters().items() for v in vs]
        before = {c.id for c in self.engine.ps()}
        result = self.engine.container_prune(filters)
        removed = [docker_id(cid) for cid in before if cid not in {c.id for c in self.engine.ps()}]
        r.reply(200, {"ContainersDeleted": removed, "SpaceReclaimed": getattr(result, "reclaimed", 0) or 0})

    # == logs ===============================================================================
    @route("GET", "/containers/(?P<ref>[^/]+)/logs")
    def container_logs(self, r, ref: str) -> None:
        from ..engine import parse_since
        c = self.ids.container(ref)
        want = tuple(s for s in ("stdout", "stderr") if r.flag(s))
        if not want:
            raise ApiError(400, "Bad parameters: you must choose at least one stream")
        tail_text = r.arg("tail") or "all"
        tail = None if tail_text == "all" else max(0, int(tail_text)) if tail_text.lstrip("-").isdigit() else None
        since = float(r.arg("since")) if (r.arg("since") or "0") not in ("0", "") else None
        until = float(r.arg("until")) if (r.arg("until") or "0") not in ("0", "") else None
        del parse_since
        follow, stamps = r.flag("follow"), r.flag("timestamps")
        tty = bool(c.record is not None and c.record.tty)
        stream = r.stream("application/vnd.docker.raw-stream")
        try:
            for rec in self.engine.log_records(c.id, tail=tail, since=since, follow=follow):
                if until is not None and rec.seconds > until:
                    if follow:
                        break
                    continue
                if rec.stream not in want:
                    continue
                data = rec.text(timestamps=stamps)
                stream.write(data if tty else frame(rec.stream, data))
        except NotFound:
            pass  # removed while followed
        stream.close()

    # == processes, stats, changes ==========================================================
    @route("GET", "/containers/(?P<ref>[^/]+)/top")
    def container_top(self, r, ref: str) -> None:
        c = self.ids.container(ref)
        if c.status not in LIVE:
            raise ApiError(409, f"Container {docker_id(c.id)} is not running")
        rows = self.engine.top(c.id)
        titles = ["UID", "PID", "PPID", "C", "STIME", "TTY", "TIME", "CMD"]
        procs = []
        for p in rows:
            seconds = int(p.cpu_seconds)
            procs.append([p.user, str(p.pid), str(p.ppid), "0", "", "?",
                          f"{seconds // 3600:02d}:{seconds // 60 % 60:02d}:{seconds % 60:02d}", p.command])
        r.reply(200, {"Titles": titles, "Processes": procs})

    @route("GET", "/containers/(?P<ref>[^/]+)/stats")
    def container_stats(self, r, ref: str) -> None:
        c = self.ids.container(ref)
        if not r.flag("stream", True) or r.flag("one-shot"):
            s = self.engine.stats([c.id]).get(c.id)
            r.reply(200, self._stats_json(c, s))
            return
        stream = r.stream()
        while True:
            try:
                c = self.engine.container(c.id)
                s = self.engine.stats([c.id]).get(c.id)
            except NotFound:
                break
            stream.json(self._stats_json(c, s))
            if c.status not in LIVE:
                break
            time.sleep(1)
        stream.close()

    @route("GET", "/containers/(?P<ref>[^/]+)/changes")
    def container_changes(self, r, ref: str) -> None:
        c = self.ids.container(ref)
        kinds = {"C": 0, "A": 1, "D": 2}
        out = []
        for ch in self.engine.diff(c.id):
            kind = getattr(ch, "kind", None) or getattr(ch, "type", "C")
            out.append({"Path": ch.path, "Kind": kinds.get(str(kind)[:1].upper(), 0)})
        r.reply(200, out or None)


def _label_matches(labels: dict[str, str], wanted: str) -> bool:
    key, sep, value = wanted.partition("=")
    return key in labels and (not sep or labels[key] == value)


def _name_matches(name: str, pattern: str) -> bool:
    import re
    try:
        return re.search(pattern, name) is not None
    except re.error:
        return pattern in name
