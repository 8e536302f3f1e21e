"""`POST /build`: the classic builder's API (Builder-Version 1). The body is the context as a
tar (maybe gzip, bzip2 or xz), unpacked into a temporary directory with the standard
library's `data` filter (no absolute paths, no `..`, no links out, no devices); the engine's
build (the verb `bocker build` calls) runs on it and its log goes out as Docker's JSON lines,
`Step N/M : ...`, ` ---> ...`, `{"aux":{"ID":"sha256:..."}}`, `Successfully built <12 hex>`
and `Successfully tagged <name>` (docker-py takes the image id from that line)."""

from __future__ import annotations

import os
import tarfile
import tempfile
from typing import Any

from ..errors import BockerError
from .ids import image_id, local_name, short
from .routing import ApiError, docker_message, route


class _LineStream:
    """The build's log as {"stream": line} objects, a whole line each; the engine's own
    "Successfully built/tagged" lines (bocker's ids) are left out: the service writes Docker's."""

    def __init__(self, stream) -> None:
        self.stream = stream
        self.pending = b""

    def __call__(self, chunk: bytes, _stream: str = "stdout") -> None:
        self.pending += chunk
        *lines, self.pending = self.pending.split(b"\n")
        for line in lines:
            self._line(line + b"\n")

    def _line(self, line: bytes) -> None:
        text = line.decode(errors="replace")
        if text.startswith(("Successfully built ", "Successfully tagged ")):
            return
        self.stream.json({"stream": text})

    def flush(self) -> None:
        if self.pending:
            self._line(self.pending)
            self.pending = b""


class BuildApi:
    engine: Any

    @route("POST", "/build")
    def build(self, r) -> None:
        if r.arg("remote"):
            raise ApiError(501, "bocker builds from a context in the request body only (no remote URL)")
        tags = [local_name(t) for t in r.query.get("t", []) if t]
        dockerfile = r.arg("dockerfile") or "Dockerfile"
        build_args = r.json_arg("buildargs", {}) or {}
        network = r.arg("networkmode") or None
        if network == "default":
            network = None
        with tempfile.TemporaryDirectory(prefix="bocker-build-") as tmp:
            context = os.path.join(tmp, "context")
            os.mkdir(context)
            body = r.body_file()
            extracted = 0
            try:
                with tarfile.open(fileobj=body, mode="r|*") as tar:
                    for member in tar:
                        tar.extract(member, context, filter="data")
                        extracted += 1
            except (tarfile.TarError, EOFError, OSError) as err:
                # the CLI's `-f -` archive ends without its closing blocks: what came is all of it
                if not extracted or not isinstance(err, tarfile.ReadError) or "unexpected end" not in str(err):
                    raise ApiError(400, f"the build context is not a readable tar archive: {err}") from None
            finally:
                body.drain()
            path = os.path.normpath(os.path.join(context, dockerfile))
            if not path.startswith(context + os.sep):
                raise ApiError(400, f"the Dockerfile ({dockerfile}) must be within the build context")
            if not os.path.isfile(path):
                raise ApiError(500, f"Cannot locate specified Dockerfile: {dockerfile}")
            stream = r.stream()
            lines = _LineStream(stream)
            try:
                result = self.engine.build(context, tags, dockerfile=path,
                                           build_args={k: v for k, v in build_args.items() if v is not None},
                                           target=r.arg("target") or None, no_cache=r.flag("nocache"),
                                           pull=r.flag("pull"), network=network, on_output=lines)
            except BockerError as err:
                lines.flush()
                message = docker_message(err).replace(context + os.sep, "")
                stream.json({"errorDetail": {"code": getattr(err, "exit_code", 1), "message": message},
                             "error": message})
                stream.close()
                return
            lines.flush()
            img = result.image
            stream.json({"aux": {"ID": image_id(img.id)}})
            stream.json({"stream": f"Successfully built {short(img.id)}\n"})
            for tag in result.tags:
                full = tag if ":" in tag.rsplit("/", 1)[-1] else tag + ":latest"
                stream.json({"stream": f"Successfully tagged {full}\n"})
            stream.close()

    @route("POST", "/build/prune")
    def build_prune(self, r) -> None:
        r.reply(200, {"CachesDeleted": [], "SpaceReclaimed": 0})
