"""A container's files over the API: `/containers/{id}/archive` (HEAD: a path's stat; GET: a
tar of it; PUT: a tar into it, the engine's `cp`) and `/export` (its whole filesystem)."""

from __future__ import annotations

import base64
import json
from typing import Any

from ..errors import NotFound
from .container_json import rfc3339
from .routing import ApiError, route


class ArchiveApi:
    engine: Any
    ids: Any

    def _path_stat_header(self, cid: str, path: str) -> str:
        from ..engine import path_stat
        st = path_stat(self.engine.containers, cid, path)
        mode = st.mode & 0o7777
        import stat as _stat
        if _stat.S_ISDIR(st.mode):
            mode |= 1 << 31
        elif _stat.S_ISLNK(st.mode):
            mode |= 1 << 27
        value = {"name": st.name, "size": st.size, "mode": mode, "mtime": rfc3339(st.mtime),
                 "linkTarget": st.link_target}
        return base64.b64encode(json.dumps(value).encode()).decode()

    def _archive_target(self, r, ref: str):
        """The container, the path asked for and its stat header (400 without a path, 404
        for a path that is not there)."""
        c = self.ids.container(ref)
        path = r.arg("path") or ""
        if not path:
            raise ApiError(400, "path is empty")
        try:
            header = self._path_stat_header(c.id, path)
        except NotFound:
            raise ApiError(404, f"Could not find the file {path} in container {ref}") from None
        return c, path, header

    @route("HEAD", "/containers/(?P<ref>[^/]+)/archive")
    def container_archive_head(self, r, ref: str) -> None:
        c, path, header = self._archive_target(r, ref)
        r.reply(200, b"", "application/json", {"X-Docker-Container-Path-Stat": header})

    @route("GET", "/containers/(?P<ref>[^/]+)/archive")
    def container_archive_get(self, r, ref: str) -> None:
        c, path, header = self._archive_target(r, ref)
        stream = r.stream("application/x-tar", headers={"X-Docker-Container-Path-Stat": header})
        self.engine.cp(f"{c.id}:{path}", "-", archive=True, stdout=_StreamWriter(stream))
        stream.close()

    @route("PUT", "/containers/(?P<ref>[^/]+)/archive")
    def container_archive_put(self, r, ref: str) -> None:
        c = self.ids.container(ref)
        path = r.arg("path") or ""
        if not path:
            raise ApiError(400, "path is empty")
        body = r.body_file()
        try:
            self.engine.cp("-", f"{c.id}:{path}", archive=True, stdin=body)
        except NotFound as err:
            raise ApiError(404, f"Could not find the file {path} in container {ref}: {err}") from None
        finally:
            body.drain()
        r.reply(200, b"", "text/plain")

    @route("GET", "/containers/(?P<ref>[^/]+)/export")
    def container_export(self, r, ref: str) -> None:
        c = self.ids.container(ref)
        from ..engine import export
        stream = r.stream("application/octet-stream")
        export(self.engine.containers, c.id, _StreamWriter(stream))
        stream.close()


class _StreamWriter:
    """A binary file over a chunked reply, for what writes tar streams."""

    def __init__(self, stream) -> None:
        self.stream = stream

    def write(self, data) -> int:
        self.stream.write(bytes(data))
        return len(data)

    def flush(self) -> None:
        pass

