"""A rebuild whose every step comes from the cache, checked without parsing the Dockerfile.

Each build records, under a key made of its inputs (the Dockerfile's text and name, the
context's path, the build args and the target), what its cache keys were made of that the
text alone doesn't fix: the state of every image it started from (FROM, COPY --from=IMAGE),
the digest of every COPY's and ADD's files, each step's cache key, and the image it made.

`rebuild()` takes the same inputs and checks that record: the same base images, the same
files (each COPY's digest computed again, by the builder's own code, digests.py), every
step's cache entry and its layer still there, the image still there. Then every step of a
full build would come from the cache with those same keys and end in that image, so the
image is the answer, and the log is the one that build would print. If anything differs
(or there is no record), rebuild() says None and the full build runs (builder.py), which
writes a new record. The point is speed: the parser and the builder are most of a cached
rebuild's time (their imports), and none of them is needed to know nothing changed.

--no-cache and --pull never take this path (they must run or re-check the steps).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .context import BuildContext
from .result import BuildResult, StepResult, base_state

RECORD_VERSION = 1
Output = Callable[[bytes, str], None]


def read_dockerfile(context_dir, options) -> tuple[BuildContext, str, str]:
    """The build context, the Dockerfile's text and the name errors give it."""
    path = None if options.dockerfile in (None, "-") else os.path.abspath(options.dockerfile)
    ctx = BuildContext(context_dir, path)
    if options.dockerfile_text is not None:
        return ctx, options.dockerfile_text, options.dockerfile or "Dockerfile"
    return ctx, ctx.read_dockerfile(), options.dockerfile or "Dockerfile"


def record_key(context_root: str, text: str, name: str, options) -> str:
    data = [RECORD_VERSION, context_root, name, text, sorted(options.build_args.items()), options.target]
    return hashlib.sha256(json.dumps(data, separators=(",", ":")).encode()).hexdigest()


def _records(store) -> Path:
    return store.build_cache.parent / "records"


@dataclass
class Recorder:
    """What the full build notes as it goes, saved once it succeeded."""
    bases: dict[str, str] = field(default_factory=dict)        # image ref -> ImageState.key
    steps: list[dict[str, Any]] = field(default_factory=list)

    def base(self, ref: str, key: str) -> None:
        self.bases[ref] = key

    def step(self, result: StepResult, key: str | None = None, copy: dict[str, Any] | None = None) -> None:
        self.steps.append({"result": result.to_json(), "key": key, "copy": copy})

    def save(self, store, key: str, image, total: int, results: list[StepResult], warnings: list[str]) -> None:
        from ..store import write_json
        directory = _records(store)
        directory.mkdir(parents=True, exist_ok=True)
        write_json(directory / f"{key}.json", {
            "version": RECORD_VERSION, "image": image.id, "layers": image.layers, "total": total,
            "bases": self.bases, "steps": self.steps, "warnings": warnings}, fsync=False)


def build(engine, options, context_dir, on_output: Output | None = None) -> BuildResult:
    """The verb: the cached image when every step comes from the cache (checked without the
    parser), else a full build (builder.py)."""
    done = rebuild(engine, options, context_dir, on_output)
    if done is not None:
        return done
    from .builder import Builder
    return Builder(engine, options, on_output=on_output).build(context_dir)


def rebuild(engine, options, context_dir, on_output: Output | None = None) -> BuildResult | None:
    """The image a build of these inputs makes when every step comes from the cache, or None
    (then the full build has to run)."""
    if options.no_cache or options.pull:
        return None
    t0 = time.perf_counter()
    try:
        ctx, text, name = read_dockerfile(context_dir, options)
    except Exception:
        return None                   # the full build says what is wrong
    key = record_key(ctx.root, text, name, options)
    try:
        with open(_records(engine.store) / f"{key}.json", "rb") as f:
            record = json.load(f)
    except (OSError, ValueError):
        return None
    try:
        if record.get("version") != RECORD_VERSION or not _holds(engine, ctx, record):
            return None
    except Exception:
        return None                   # whatever it is, the full build decides
    images = engine.images_store
    image = images.load(record["image"])
    steps = [StepResult.from_json(s["result"]) for s in record["steps"]]
    for s in steps:
        s.cached, s.seconds = True, 0.0
    emit = (lambda line: on_output((line + "\n").encode(), "stdout")) if on_output else (lambda line: None)
    for w in record["warnings"]:
        emit(f"warning: {w}")
    for s in steps:
        for line in s.log(record["total"]):
            emit(line)
    tags = list(options.tags)
    from ..distribution.reference import parse_image_name
    if tags and not set(":".join(parse_image_name(t)) for t in tags) <= set(image.names):
        image = images.tag(image, tags)
    emit(f"Successfully built {image.id}")
    for tag in image.names if tags else []:
        emit(f"Successfully tagged {tag}")
    return BuildResult(image, steps, time.perf_counter() - t0, tags, name, list(record["warnings"]))


def _holds(engine, ctx: BuildContext, record: dict[str, Any]) -> bool:
    store, images = engine.store, engine.images_store
    for ref, state_key in record["bases"].items():
        img = images.find(ref)
        if img is None or base_state(img).key != state_key:
            return False
    from .cache import BuildCache
    cache = BuildCache(store.build_cache, store.layer_dir)
    for s in record["steps"]:
        if s["key"] is not None and cache.get(s["key"]) is None:
            return False
        if s["copy"] is not None and not _same_files(engine, ctx, s["copy"]):
            return False
    try:
        image = images.load(record["image"])
    except Exception:
        return False
    return not image.removed and image.layers == record["layers"]


def _same_files(engine, ctx: BuildContext, copy: dict[str, Any]) -> bool:
    from .digests import CopySpec, context_inputs, view_inputs
    spec = CopySpec.from_json(copy["spec"])
    if copy.get("from_layers") is None:
        return context_inputs(spec, ctx)[2] == copy["digest"]
    from ..layerview import LayerView
    store = engine.store
    view = LayerView([store.layer_dir(d) for d in reversed(copy["from_layers"])])
    scratch = store.mkdtemp("build-check-")
    try:
        return view_inputs(spec, view, scratch / "src")[2] == copy["digest"]
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
