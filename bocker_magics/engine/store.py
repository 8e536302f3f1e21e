"""The engine's state on disk: layout under BOCKER_ROOT, ids, names, locks, atomic files.

    BOCKER_ROOT (default /var/lib/bocker)
      layers/sha256/<hex>/       extracted layers: overlay lowerdirs, shared between images
      layers/meta/<hex>.json     a layer's known compressed blobs (for push)
      images/<id>.json           ordered layers, config, source, names
      containers/<id>/           a bundle: config.json (the OCI spec), state.json, log, upper/,
                                 work/, merged/ (the root)
      network/<name>.json        a network; network/<name>/<address>: a lease (the container id)
      build/cache/<hex>.json     a build step's result by its cache key (its layer, config, history)
      auth.json                  registry credentials (`bocker login`), 0600
      tmp/                       half-made things; anything here is garbage after a crash
      lock                       flock'ed around changes that span several files
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import secrets
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ..errors import InvalidArgument
from .fileio import atomic_write

DEFAULT_ROOT = "/var/lib/bocker"

IMAGE_PREFIX = "img_"
CONTAINER_PREFIX = "ps_"

# A container name or image name: what Docker allows, which can never escape a directory.
_NAME = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,127}\Z")
_ID = re.compile(r"^(img|ps)_[0-9a-f]{4,64}\Z")


def default_root() -> str:
    return os.environ.get("BOCKER_ROOT") or DEFAULT_ROOT


def process_alive(pid: int, start: int | None = None) -> bool:
    """Whether `pid` runs, not a zombie (and is the process that started at `start`)."""
    from .kernel.procfs import alive
    return alive(pid, start)


def new_id(prefix: str) -> str:
    """A fresh id: the prefix and 40 random bits (the seed drew from 253 values)."""
    return prefix + secrets.token_hex(5)


def is_id(text: str) -> bool:
    return bool(_ID.match(text))


def check_container_name(name: str) -> str:
    if not _NAME.match(name) or is_id(name):
        raise InvalidArgument(
            f"Invalid container name '{name}': use letters, digits, '_', '.' or '-' "
            "(starting with a letter or digit, not of the form ps_<hex>)"
        )
    return name


def write_json(path: Path, obj: Any, fsync: bool = True) -> None:
    atomic_write(path, json.dumps(obj, indent=1, sort_keys=True).encode() + b"\n", fsync=fsync)


def read_json(path: Path) -> Any:
    with open(path, "rb") as f:
        return json.load(f)


class Store:
    """Paths and locking for one BOCKER_ROOT. Creating it makes the directories."""

    def __init__(self, root: str | os.PathLike[str] | None = None) -> None:
        self.root = Path(root or default_root()).absolute()
        self.layers = self.root / "layers" / "sha256"
        self.images = self.root / "images"
        self.containers = self.root / "containers"
        self.tmp = self.root / "tmp"
        self.layer_meta = self.root / "layers" / "meta"
        self.network = self.root / "network"
        self.auth_file = self.root / "auth.json"
        self.build_cache = self.root / "build" / "cache"   # made by the first build
        for d in (self.layers, self.images, self.containers, self.tmp):
            d.mkdir(parents=True, exist_ok=True)

    # -- locking: one flock for changes that span files (names, refcounts) ----------------
    @contextlib.contextmanager
    def lock(self) -> Iterator[None]:
        fd = os.open(self.root / "lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)

    # -- paths ----------------------------------------------------------------------------
    def image_file(self, image_id: str) -> Path:
        return self.images / f"{image_id}.json"

    def container_dir(self, container_id: str) -> Path:
        return self.containers / container_id

    def layer_dir(self, digest: str) -> Path:
        algo, _, hexpart = digest.partition(":")
        if algo != "sha256" or not re.fullmatch(r"[0-9a-f]{64}", hexpart):
            raise InvalidArgument(f"Invalid layer digest '{digest}': expected sha256:<64 hex digits>")
        return self.layers / hexpart

    @contextlib.contextmanager
    def container_lock(self, cid: str) -> Iterator[None]:
        """One container's lock (rm, commit, cp): held, the container is not removed under
        the holder. It is gone with the container's directory."""
        try:
            fd = os.open(self.container_dir(cid) / "lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        except FileNotFoundError:
            from ..errors import NotFound
            raise NotFound(f"No container named '{cid}' exists") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            if not (self.container_dir(cid) / "container.json").exists():
                from ..errors import NotFound
                raise NotFound(f"No container named '{cid}' exists (it was removed meanwhile)")
            yield
        finally:
            os.close(fd)

    def new_container_id(self) -> str:
        """A fresh container id no container has (claim its directory with claim_container_dir)."""
        while True:
            cid = new_id(CONTAINER_PREFIX)
            if not self.container_dir(cid).exists():
                return cid

    def claim_container_dir(self, cid: str) -> Path:
        """mkdir the container's directory: two engines never share one."""
        path = self.container_dir(cid)
        try:
            path.mkdir()
        except FileExistsError:
            from ..errors import Conflict
            raise Conflict(f"Container id {cid} was taken meanwhile: run again") from None
        self._make_lock_file(path)
        return path

    @staticmethod
    def _make_lock_file(path: Path) -> None:
        """container_lock's file, made with the directory: a verb that takes the lock and then
        fails (a commit to a taken name) leaves the container's directory as it found it."""
        os.close(os.open(path / "lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600))

    def new_container_dir(self) -> tuple[str, Path]:
        """A fresh container id and its directory, made with mkdir so two engines never share one."""
        while True:
            cid = new_id(CONTAINER_PREFIX)
            path = self.container_dir(cid)
            try:
                path.mkdir()
            except FileExistsError:
                continue
            self._make_lock_file(path)
            return cid, path

    def mkdtemp(self, prefix: str) -> Path:
        """A scratch directory named by its maker's pid and start time, so that gc can
        tell one a crash left behind from one a live engine is filling."""
        from .kernel.linux import process_start_time
        pid = os.getpid()
        return Path(tempfile.mkdtemp(dir=self.tmp, prefix=f"{prefix}{pid}-{process_start_time(pid)}-"))

    def stale_tmp(self) -> list[Path]:
        """Scratch directories whose maker is gone."""
        out = []
        for p in self.tmp.iterdir():
            parts = p.name.split("-")
            try:
                pid, start = int(parts[-3]), int(parts[-2])
            except (IndexError, ValueError):
                out.append(p)
                continue
            if not process_alive(pid, start):
                out.append(p)
        return out
