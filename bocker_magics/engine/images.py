"""The image store: images are ordered lists of layers; layers are directories shared by digest.

An image record (images/<id>.json):
    {"id": "img_…", "layers": ["sha256:…", …] (bottom first), "source": "…",
     "names": ["busybox:latest"], "created": 1700000000.0, "config": {"Env": […], "Cmd": […]},
     "removed": false}

`rm` of an image that containers still use only untags it ("removed": true); the record and
its layers go when the last such container is removed.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import time
from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager as ContextManager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ..errors import Conflict, InvalidArgument, NotFound
from .distribution.layerstore import LayerStore, copy_tree
from .distribution.reference import parse_image_name
from .store import IMAGE_PREFIX, Store, is_id, new_id, read_json, write_json

DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
BUSYBOX_NAME = "busybox:latest"
# Directories every root needs as mount points (the seed adds /proc to each image it makes),
# and the files the engine binds its own over: made in the image, so that starting a
# container writes nothing to its upper dir.
ROOT_DIRS = ("proc", "sys", "dev", "tmp", "etc", "root")
ROOT_FILES = ("etc/hosts", "etc/hostname", "etc/resolv.conf")


@dataclass
class Image:
    id: str
    layers: list[str]
    source: str
    names: list[str] = field(default_factory=list)
    created: float = 0.0
    config: dict[str, Any] = field(default_factory=dict)
    removed: bool = False
    digest: str | None = None   # the manifest digest it was pulled or loaded as, if any
    # the OCI config's history: one entry per step, "empty_layer": true for those that made
    # no layer (a build's ENV, CMD, ...); empty for an image made before history was kept
    history: list[dict[str, Any]] = field(default_factory=list)
    author: str | None = None
    problem: str = ""           # why its record is unreadable (a broken image: only rmi and gc use it)

    @property
    def broken(self) -> bool:
        return bool(self.problem)

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        out.pop("problem")
        return out

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Image:
        return cls(**{k: data[k] for k in cls.__dataclass_fields__ if k in data})


class ImageStore:
    def __init__(self, store: Store) -> None:
        self.store = store
        self.layers = LayerStore(store)
        # the layers containers use (a build step's container may stand on layers no image
        # record holds yet): the engine sets it, so a removal never takes a layer in use
        self.layers_in_use = lambda: set()

    # -- reading ------------------------------------------------------------------------
    def list(self, include_removed: bool = False, include_broken: bool = True) -> list[Image]:
        images = []
        for path in sorted(self.store.images.glob(f"{IMAGE_PREFIX}*.json")):
            with contextlib.suppress(FileNotFoundError):
                img = self._read(path)
                if (include_removed or not img.removed) and (include_broken or not img.broken):
                    images.append(img)
        return sorted(images, key=lambda i: i.created)

    def _read(self, path: Path) -> Image:
        """An image record; one that is unreadable (truncated, not JSON) is a broken image,
        listed as such, that rmi and gc remove, and that no other verb trips over."""
        try:
            data = read_json(path)
            img = Image.from_json(data)
            if not isinstance(img.layers, list) or not all(isinstance(d, str) for d in img.layers) \
                    or not isinstance(img.names, list) or not isinstance(img.config, dict):
                raise ValueError("its fields have the wrong types")
            return img
        except FileNotFoundError:
            raise
        except (ValueError, TypeError, UnicodeDecodeError) as e:
            return Image(id=path.stem, layers=[], source="", created=path.stat().st_mtime,
                         problem=f"its record {path.name} is unreadable ({str(e).splitlines()[0]})")

    def load(self, image_id: str) -> Image:
        try:
            return self._read(self.store.image_file(image_id))
        except FileNotFoundError:
            raise NotFound(f"No image named '{image_id}' exists") from None

    def find(self, ref: str) -> Image | None:
        """An image by id or by name[:tag]; None when there is none."""
        if "\0" in ref or "/../" in f"/{ref}/" or ref.startswith("/"):
            raise InvalidArgument(f"Invalid image reference '{ref}': no '/', '..' or NUL at its start")
        if is_id(ref):
            try:
                img = self.load(ref)
            except NotFound:
                return None
            return None if img.removed else img
        name, tag = parse_image_name(ref)
        full = f"{name}:{tag}"
        for img in self.list(include_broken=False):
            if full in img.names:
                return img
        return None

    def get(self, ref: str) -> Image:
        img = self.find(ref)
        if img is None:
            raise NotFound(f"No image named '{ref}' exists")
        return img

    def usable(self, ref: str) -> Image:
        """An image a verb can use, by id or name; `busybox` is made on first use, like a pull;
        a broken one is an error that says how to remove it."""
        img = self.find(ref)
        if img is None and ref in ("busybox", BUSYBOX_NAME):
            return self.busybox()
        if img is None:
            raise NotFound(f"No image named '{ref}' exists: pull it (bocker pull {ref}) "
                           "or make the built-in one (bocker init --busybox)")
        if img.broken:
            raise Conflict(f"Image {img.id} is broken ({img.problem}): remove it with 'bocker rmi {img.id}'")
        return img

    def layer_paths(self, image: Image) -> list[Path]:
        return [self.store.layer_dir(d) for d in image.layers]

    # -- making -------------------------------------------------------------------------
    def create(self, layers: list[str], source: str, names: Iterable[str] = (),
               config: dict[str, Any] | None = None, image_id: str | None = None,
               history: list[dict[str, Any]] | None = None) -> Image:
        names = [":".join(parse_image_name(n)) for n in names]
        with self.store.lock():
            for n in names:
                if self.find(n) is not None:
                    raise Conflict(f"Image named '{n}' exists")
            if image_id is not None and self.store.image_file(image_id).exists():
                raise Conflict(f"Image named '{image_id}' exists")
            while image_id is None:
                image_id = new_id(IMAGE_PREFIX)
                if self.store.image_file(image_id).exists():
                    image_id = None
            now = time.time()
            img = Image(id=image_id, layers=list(layers), source=source, names=names,
                        created=now, config=config or {"Env": [f"PATH={DEFAULT_PATH}"], "Cmd": ["sh"]},
                        history=list(history) if history is not None else
                        [history_entry(now, source) for _ in layers])
            write_json(self.store.image_file(image_id), img.to_json())
        return img

    def create_named(self, layers: list[str], source: str, names: Iterable[str],
                     config: dict[str, Any], digest: str | None = None,
                     history: list[dict[str, Any]] | None = None, author: str | None = None) -> Image:
        """An image from a registry or an archive. Its names move to it from any image that
        had them (as `docker pull` re-points a tag); an image left with no name and no
        container keeps existing, as Docker's dangling images do."""
        names = [":".join(parse_image_name(n)) for n in names]
        with self.store.lock():
            for other in self.list():
                if set(other.names) & set(names):
                    other.names = [n for n in other.names if n not in names]
                    write_json(self.store.image_file(other.id), other.to_json())
            while True:
                image_id = new_id(IMAGE_PREFIX)
                if not self.store.image_file(image_id).exists():
                    break
            img = Image(id=image_id, layers=list(layers), source=source, names=names,
                        created=time.time(), config=config, digest=digest,
                        history=consistent_history(history, len(layers)), author=author)
            write_json(self.store.image_file(image_id), img.to_json())
        return img

    def init_from_dir(self, directory: str | os.PathLike[str], names: Iterable[str] = ()) -> Image:
        src = Path(directory)
        if not src.is_dir():
            raise NotFound(f"No directory named '{directory}' exists")
        names = list(names)
        for n in names:
            parse_image_name(n)
            if self.find(n) is not None:
                raise Conflict(f"Image named '{n}' exists")
        tmp = self.store.mkdtemp("init-")
        try:
            copy_tree(src, tmp)
            from .kernel import linux
            linux.crash_point("init-copied")
            os.chmod(tmp, 0o755)
            for d in ROOT_DIRS:
                if not os.path.lexists(tmp / d):
                    (tmp / d).mkdir(mode=0o1777 if d == "tmp" else 0o755)
            for f in ROOT_FILES:
                if not os.path.lexists(tmp / f) and (tmp / f).parent.is_dir() and not (tmp / f).parent.is_symlink():
                    (tmp / f).touch(0o644)
            digest = self.layers.add_from_dir(tmp)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        return self.create([digest], source=str(src.absolute()), names=names)

    def busybox(self) -> Image:
        """The built-in image: the host's static busybox and a link per applet. No network."""
        existing = self.find(BUSYBOX_NAME)
        if existing is not None:
            return existing
        binary = shutil.which("busybox") or "/bin/busybox"
        if not os.path.exists(binary):
            raise InvalidArgument("No busybox on this host: install the busybox-static package "
                                  "(apt-get install busybox-static)")
        tmp = self.store.mkdtemp("busybox-")
        try:
            self._make_busybox_tree(Path(binary), tmp)
            digest = self.layers.add_from_dir(tmp)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        import subprocess
        version = subprocess.run([binary], capture_output=True, text=True).stdout.split("\n", 1)[0]
        try:
            source = f"built-in {version.replace(' multi-call binary.', '').strip()}"
            return self.create([digest], source=source, names=[BUSYBOX_NAME])
        except Conflict:  # another engine made it at the same moment
            return self.get(BUSYBOX_NAME)

    @staticmethod
    def _make_busybox_tree(binary: Path, root: Path) -> None:
        os.chmod(root, 0o755)
        for d in ("bin", "sbin", "usr/bin", "usr/sbin", "proc", "sys", "dev", "etc", "root",
                  "tmp", "var/run", "home"):
            (root / d).mkdir(parents=True, exist_ok=True)
        os.chmod(root / "tmp", 0o1777)
        os.chmod(root / "root", 0o700)
        shutil.copy2(binary, root / "bin" / "busybox")
        os.chmod(root / "bin" / "busybox", 0o755)
        import subprocess
        listing = subprocess.run([str(binary), "--list-full"], capture_output=True, text=True, check=True)
        for rel in listing.stdout.split():
            if rel in ("bin/busybox", "linuxrc"):
                continue
            link = root / rel
            link.parent.mkdir(parents=True, exist_ok=True)
            if not os.path.lexists(link):
                os.symlink("/bin/busybox", link)
        (root / "etc" / "passwd").write_text(
            "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/home:/bin/false\n")
        (root / "etc" / "group").write_text("root:x:0:\nnogroup:x:65534:\n")
        for f in ROOT_FILES:
            (root / f).touch(0o644)

    def commit(self, parent: Image, upper: Path, target: str, source: str,
               freeze: Callable[[], ContextManager[None]]) -> Image:
        """A new image: the parent's layers and, on top, a copy of a container's upper dir.

        Only the upper dir is copied (O(size of the change)); overlay whiteouts (char 0/0)
        and opaque directories (trusted.overlay.opaque) are copied as they are, so what was
        deleted stays deleted. `freeze` holds the container still while the copy is taken.
        `target` is a new name[:tag], or an img_<hex> id as the seed's commit takes.
        """
        if is_id(target) and target.startswith(IMAGE_PREFIX):
            image_id, names = target, []
        else:
            image_id, names = None, [":".join(parse_image_name(target))]
        taken = self.find(target) if image_id is None else (
            self.load(image_id) if self.store.image_file(image_id).exists() else None)
        if taken is not None:
            raise Conflict(f"Image named '{target}' exists")
        tmp = self.store.mkdtemp("commit-")
        try:
            with freeze():
                copy_tree(upper, tmp / "layer")
            os.chmod(tmp / "layer", 0o755)
            digest = self.layers.add_from_dir(tmp / "layer")
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        return self.create(parent.layers + [digest], source=source, names=names,
                           config=dict(parent.config), image_id=image_id,
                           history=history_of(parent) + [history_entry(time.time(), f"bocker commit {source}")])

    def find_same(self, layers: list[str], config: dict[str, Any], history: list[dict[str, Any]]) -> Image | None:
        """An image with exactly these layers, config and history (a build whose every step
        came from the cache makes no second copy of its image)."""
        for img in self.list(include_broken=False):
            if img.layers == layers and img.config == config and img.history == history:
                return img
        return None

    def tag(self, image: Image, names: Iterable[str]) -> Image:
        """Give `image` these names, taking them from any image that had them (as docker tag)."""
        names = [":".join(parse_image_name(n)) for n in names]
        with self.store.lock():
            for other in self.list():
                if other.id != image.id and set(other.names) & set(names):
                    other.names = [n for n in other.names if n not in names]
                    write_json(self.store.image_file(other.id), other.to_json())
            current = self.load(image.id)
            current.names = list(dict.fromkeys(current.names + names))
            write_json(self.store.image_file(current.id), current.to_json())
        return current

    # -- removing -----------------------------------------------------------------------
    def remove(self, image: Image, in_use) -> None:
        """Delete an image; if containers still use it, only untag it (they keep its layers).
        `in_use` (a bool, or a callable) is decided under the store's lock, where a run that
        starts from the image records itself too: the check and the removal are one step."""
        with self.store.lock():
            if image.broken:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(self.store.image_file(image.id))
                return
            if callable(in_use):
                in_use = in_use()
            if not self.store.image_file(image.id).exists():
                raise NotFound(f"No image named '{image.id}' exists")
            if in_use:
                image.removed = True
                image.names = []
                write_json(self.store.image_file(image.id), image.to_json())
                return
            os.unlink(self.store.image_file(image.id))
            used = {d for img in self.list(include_removed=True) for d in img.layers} | self.layers_in_use()
            self.layers.drop_unused(image.layers, used)

    def forget_if_unused(self, image_id: str, in_use: Callable[[], bool]) -> None:
        """After a container is removed: drop an untagged image nobody uses any more.
        `in_use()` (a look at every container) is asked only of such an image: an rm of each
        of N containers would otherwise read all N, N times (issue 22: removal of 500)."""
        with contextlib.suppress(NotFound):
            img = self.load(image_id)
            if img.removed and not in_use():
                self.remove(img, in_use=False)


# -- history (the OCI image config's) ---------------------------------------------------------
def history_entry(created: float, created_by: str, empty_layer: bool = False,
                  comment: str | None = None) -> dict[str, Any]:
    entry: dict[str, Any] = {"created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(created)),
                             "created_by": created_by}
    if comment:
        entry["comment"] = comment
    if empty_layer:
        entry["empty_layer"] = True
    return entry


def consistent_history(history: list[dict[str, Any]] | None, layer_count: int) -> list[dict[str, Any]]:
    """`history` when its non-empty entries are one per layer (what the OCI spec asks and
    buildah checks), else nothing (the image's history is then made up from its layers)."""
    if not history:
        return []
    history = [dict(h) for h in history if isinstance(h, dict)]
    if sum(not h.get("empty_layer") for h in history) != layer_count:
        return []
    return history


def history_of(image: Image) -> list[dict[str, Any]]:
    """The image's history, one non-empty entry per layer: its own when it has a consistent
    one, else an entry per layer from its source (images made before history was kept)."""
    kept = consistent_history(image.history, len(image.layers))
    if kept or not image.layers:
        return kept
    return [history_entry(image.created or time.time(), image.source or "bocker") for _ in image.layers]
