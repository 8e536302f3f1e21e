"""`/images/...`: list, inspect, history, tag, remove, prune, pull (create), push, save (get)
and load, over the engine's image verbs; pull and push progress as Docker's JSON lines."""

from __future__ import annotations

import contextlib
import os
import tempfile
from typing import Any

from ..errors import BockerError
from .containers import rfc3339
from .ids import docker_id, image_id, local_name
from .routing import ApiError, docker_message, not_found, route, status_of

_STATUS = {"waiting": "Waiting", "downloading": "Downloading", "extracting": "Extracting", "done": "Pull complete",
           "exists": "Already exists", "uploading": "Pushing", "pushed": "Pushed"}


def _bar(current: int, total: int) -> str:
    if not total:
        return ""
    n = min(50, int(50 * current / total))
    return "[" + "=" * max(0, n - 1) + (">" if n < 50 else "=") + " " * (50 - n) + f"] {current}B/{total}B"


def _insecure(ref: str) -> bool:
    """Docker's rule: registries on 127.0.0.0/8 (and localhost) are spoken to over plain HTTP."""
    first = ref.split("/", 1)[0] if "/" in ref else ""
    host = first.rsplit(":", 1)[0]
    return host == "localhost" or host.startswith("127.") or host == "[::1]"


class _Lines:
    """JSON lines on a stream opened on the first line: an error before any line is still a
    status code (404 for a missing image, as dockerd), one after is in the stream."""

    def __init__(self, r) -> None:
        self.r = r
        self.stream = None

    def __call__(self, obj: dict[str, Any]) -> None:
        if self.stream is None:
            self.stream = self.r.stream()
        self.stream.json(obj)

    def fail(self, err: BaseException) -> None:
        message = docker_message(err) if isinstance(err, BockerError) else str(err)
        if self.stream is None:
            raise err if isinstance(err, (BockerError, ApiError)) else ApiError(500, message)
        self.stream.json({"errorDetail": {"message": message}, "error": message})

    def close(self) -> None:
        if self.stream is None:
            self.stream = self.r.stream()
        self.stream.close()


class ImagesApi:
    engine: Any
    ids: Any

    def image_summary(self, img) -> dict[str, Any]:
        from ..engine import image_size
        size = 0
        with contextlib.suppress(Exception):
            size = image_size(img, self.engine.store)
        return {"Id": image_id(img.id), "ParentId": "", "RepoTags": list(img.names) or None,
                "RepoDigests": [f"{n.rsplit(':', 1)[0]}@{img.digest}" for n in img.names] if img.digest else [],
                "Created": int(img.created), "Size": size, "VirtualSize": size, "SharedSize": -1,
                "Labels": (img.config or {}).get("Labels") or {}, "Containers": -1}

    def image_json(self, img) -> dict[str, Any]:
        s = self.image_summary(img)
        config = dict(img.config or {})
        config.setdefault("Env", None)
        config.setdefault("Cmd", None)
        config.setdefault("Labels", None)
        return {"Id": s["Id"], "RepoTags": list(img.names), "RepoDigests": s["RepoDigests"], "Parent": "",
                "Comment": "", "Created": rfc3339(img.created), "Container": "", "ContainerConfig": config,
                "DockerVersion": "", "Author": img.author or "", "Config": config, "Architecture": "amd64",
                "Os": "linux", "Size": s["Size"], "VirtualSize": s["Size"],
                "GraphDriver": {"Name": "overlay2", "Data": None},
                "RootFS": {"Type": "layers", "Layers": list(img.layers)},
                "Metadata": {"LastTagTime": ZERO}}

    @route("GET", "/images/json")
    def image_list(self, r) -> None:
        filters = [f"{k}={v}" for k, vs in r.filters().items() for v in vs]
        images = self.engine.images(filters or None)
        out = [self.image_summary(i) for i in images]
        if not r.flag("all"):
            out = [i for i in out if i["RepoTags"] or True]
        out.reverse()
        r.reply(200, out)

    @route("GET", "/images/search")
    def image_search(self, r) -> None:
        raise ApiError(501, "bocker does not search registries: pull a name you know")

    @route("POST", "/images/load")
    def image_load(self, r) -> None:
        body = r.body_file()
        with tempfile.NamedTemporaryFile(prefix="bocker-load-", suffix=".tar") as f:
            while True:
                data = body.read(1 << 20)
                if not data:
                    break
                f.write(data)
            f.flush()
            images = self.engine.load(f.name)
        stream = r.stream()
        for img in images:
            if img.names:
                for n in img.names:
                    stream.json({"stream": f"Loaded image: {n}\n"})
            else:
                stream.json({"stream": f"Loaded image ID: {image_id(img.id)}\n"})
        stream.close()

    @route("GET", "/images/get")
    def image_save_many(self, r) -> None:
        names = r.query.get("names") or []
        if len(names) != 1:
            raise ApiError(501, "bocker saves one image per archive: give one name")
        self._save(r, names[0])

    @route("GET", "/images/(?P<ref>.+)/get")
    def image_save(self, r, ref: str) -> None:
        self._save(r, ref)

    def _save(self, r, ref: str) -> None:
        img = self.ids.image(ref)
        name = local_name(ref) if any(local_name(ref) in (n, n.rsplit(":", 1)[0]) for n in img.names) else img.id
        with tempfile.TemporaryDirectory(prefix="bocker-save-") as d:
            path = os.path.join(d, "image.tar")
            self.engine.save(name, path)
            stream = r.stream("application/x-tar")
            with open(path, "rb") as f:
                while True:
                    data = f.read(1 << 20)
                    if not data:
                        break
                    stream.write(data)
            stream.close()

    @route("POST", "/images/create")
    def image_create(self, r) -> None:
        ref = r.arg("fromImage")
        if not ref:
            if r.arg("fromSrc"):
                raise ApiError(501, "bocker does not import root filesystem tarballs (fromSrc): "
                                    "use docker load of an image archive, or bocker init DIR")
            raise ApiError(400, "fromImage or fromSrc is required")
        tag = r.arg("tag") or None
        if tag and tag.startswith("sha256:"):
            full = f"{ref}@{tag}"
        elif tag:
            full = f"{ref}:{tag}"
        else:
            full = ref if ":" in ref.rsplit("/", 1)[-1] or "@" in ref else f"{ref}:latest"
        lines = _Lines(r)

        def progress(p) -> None:
            lines({"status": _STATUS.get(p.status, p.status.capitalize()),
                   "progressDetail": {"current": p.current, "total": p.total} if p.total else {},
                   "progress": _bar(p.current, p.total), "id": p.layer})
        try:
            img = self.engine.pull(local_name(full), insecure=_insecure(full), progress=progress,
                                   platform=r.arg("platform") or None)
        except BockerError as err:
            lines.fail(_pull_error(err, full))
            lines.close()
            return
        if img.digest:
            lines({"status": f"Digest: {img.digest}"})
        lines({"status": f"Status: Downloaded newer image for {local_name(full)}"})
        self.events.emit("image", "pull", img.id, {"name": local_name(full)})
        lines.close()

    @route("GET", "/images/(?P<ref>.+)/json")
    def image_inspect(self, r, ref: str) -> None:
        r.reply(200, self.image_json(self.ids.image(ref)))

    @route("GET", "/images/(?P<ref>.+)/history")
    def image_history(self, r, ref: str) -> None:
        img = self.ids.image(ref)
        rows = self.engine.history(img.id)
        out = []
        for i, row in enumerate(rows):
            out.append({"Id": image_id(img.id) if i == 0 else "<missing>", "Created": int(row.created or 0),
                        "CreatedBy": row.created_by, "Tags": list(img.names) if i == 0 else None,
                        "Size": row.size, "Comment": row.comment})
        r.reply(200, out)

    @route("POST", "/images/(?P<ref>.+)/tag")
    def image_tag(self, r, ref: str) -> None:
        img = self.ids.image(ref)
        repo = r.arg("repo")
        if not repo:
            raise ApiError(400, "repository name must have at least one component")
        target = f"{local_name(repo)}:{r.arg('tag') or 'latest'}"
        self.engine.tag(img.id, target)
        r.reply(201, b"", "text/plain")

    @route("POST", "/images/(?P<ref>.+)/push")
    def image_push(self, r, ref: str) -> None:
        tag = r.arg("tag")
        name = f"{ref}:{tag}" if tag else ref
        img = self.ids.image(name)
        lines = _Lines(r)
        lines({"status": f"The push refers to repository [{ref}]"})

        def progress(p) -> None:
            lines({"status": _STATUS.get(p.status, p.status.capitalize()),
                   "progressDetail": {"current": p.current, "total": p.total} if p.total else {},
                   "progress": _bar(p.current, p.total), "id": p.layer})
        try:
            pushed = self.engine.push(img.id, local_name(name), insecure=_insecure(name), progress=progress)
        except BockerError as err:
            lines.fail(err)
            lines.close()
            return
        digest = pushed.rsplit("@", 1)[-1]
        lines({"status": f"{tag or 'latest'}: digest: {digest} size: 0"})
        lines({"progressDetail": {}, "aux": {"Tag": tag or "latest", "Digest": digest, "Size": 0}})
        lines.close()

    @route("DELETE", "/images/(?P<ref>.+)")
    def image_delete(self, r, ref: str) -> None:
        img = self.ids.image(ref)
        names = list(img.names)
        name = local_name(ref)
        full = name if ":" in name.rsplit("/", 1)[-1] else f"{name}:latest"
        if full in names and len(names) > 1:  # one of its names: only that goes (containers or not)
            from ..engine import untag
            untag(self.engine, full)
            r.reply(200, [{"Untagged": full}])
            return
        in_use = [c for c in self.engine.ps() if c.image == img.id]
        if in_use and not r.flag("force"):  # its last name: it would be left dangling
            c = in_use[0]
            raise ApiError(409, f"conflict: unable to remove repository reference \"{ref}\" (must force) - "
                                f"container {docker_id(c.id)[:12]} is using its referenced image "
                                f"{docker_id(img.id)[:12]}")
        self.engine.rmi(img.id)
        r.reply(200, [{"Untagged": n} for n in names] + [{"Deleted": image_id(img.id)}])

    @route("POST", "/images/prune")
    def image_prune(self, r) -> None:
        filters = r.filters()
        dangling = filters.pop("dangling", ["true"])
        all_unused = any(v.lower() in ("false", "0") for v in dangling)
        before = {i.id for i in self.engine.images()}
        result = self.engine.image_prune(all_unused, [f"{k}={v}" for k, vs in filters.items() for v in vs])
        after = {i.id for i in self.engine.images()}
        r.reply(200, {"ImagesDeleted": [{"Deleted": image_id(i)} for i in sorted(before - after)] or None,
                      "SpaceReclaimed": getattr(result, "reclaimed", 0) or 0})


ZERO = "0001-01-01T00:00:00Z"


def _takes_engine(fn) -> bool:
    import inspect
    try:
        return len(inspect.signature(fn).parameters) >= 2
    except (TypeError, ValueError):
        return False


def _pull_error(err: BockerError, ref: str) -> BaseException:
    if status_of(err) == 404 or "not found" in str(err).lower() or "unknown" in str(err).lower():
        return ApiError(404, f"pull access denied for {ref}, repository does not exist or may require "
                             f"'docker login': {docker_message(err)}")
    return err


del not_found
