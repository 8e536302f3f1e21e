"""`ps --filter` and `images --filter`: Docker's KEY=VALUE filters.

Filters of one key are alternatives (`-f status=exited -f status=created`: either), but labels
must all hold (`-f label=project=p -f label=service=web`: both, as docker-compose asks); filters
of different keys must all hold (`-f status=running -f label=tier=web`: both), as Docker's.

    containers: id=PREFIX  name=NAME (a regular expression, or a part of the name)
                status=created|restarting|running|paused|exited|dead|failed|broken
                ancestor=IMAGE (the image or one built over its layers)  label=KEY[=VALUE]
                exited=CODE  volume=NAME  network=NAME  health=starting|healthy|unhealthy|none
    images:     dangling=true|false  reference=PATTERN (busybox, busy*, busybox:1.*)
                label=KEY[=VALUE]  before=IMAGE  since=IMAGE
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from ..errors import InvalidArgument
from .container.status import STATUSES, Status

if TYPE_CHECKING:
    from .container import Container
    from .images import Image, ImageStore

CONTAINER_FILTERS = ("id", "name", "status", "ancestor", "label", "exited", "volume", "network", "health")
IMAGE_FILTERS = ("dangling", "reference", "label", "before", "since")
VOLUME_FILTERS = ("name", "dangling", "label")


def parse_filters(items: Iterable[str], allowed: tuple[str, ...], verb: str) -> dict[str, list[str]]:
    """["status=exited", "label=a=b"] -> {"status": ["exited"], "label": ["a=b"]}; a filter
    this verb does not know is one line that lists those it does."""
    out: dict[str, list[str]] = {}
    for item in items:
        key, sep, value = item.partition("=")
        key = key.strip().lower()
        if not sep or key not in allowed or value == "":
            raise InvalidArgument(f"Invalid filter '{item}': {verb} --filter takes "
                                  + ", ".join(f"{k}=…" for k in allowed))
        out.setdefault(key, []).append(value)
    for value in out.get("status", []):
        if value not in STATUSES:
            raise InvalidArgument(f"Invalid filter 'status={value}': use one of {', '.join(STATUSES)}")
    for value in out.get("exited", []):
        if not value.lstrip("-").isdigit():
            raise InvalidArgument(f"Invalid filter 'exited={value}': give an exit code, e.g. exited=0")
    for value in out.get("dangling", []):
        if value.lower() not in ("true", "false", "1", "0"):
            raise InvalidArgument(f"Invalid filter 'dangling={value}': use dangling=true or dangling=false")
    return out


def _label_matches(labels: dict[str, str], wanted: str) -> bool:
    key, sep, value = wanted.partition("=")
    return key in labels and (not sep or labels[key] == value)


def _name_matches(name: str | None, pattern: str) -> bool:
    if not name:
        return False
    try:
        return re.search(pattern, name) is not None
    except re.error:
        return pattern in name


def volumes(found: list[Any], filters: dict[str, list[str]], mounted: set[str]) -> list[Any]:
    """The volumes every filter key lets through; `mounted`: the names any container mounts
    (a volume no container mounts is dangling)."""
    out = []
    for v in found:
        dangling = v.name not in mounted
        if any(w not in v.name for w in filters.get("name", [])):
            continue
        if any(dangling != (w.lower() in ("true", "1")) for w in filters.get("dangling", [])):
            continue
        if filters.get("label") and not all(_label_matches(v.labels, w) for w in filters["label"]):
            continue
        out.append(v)
    return out


def containers(images: ImageStore, found: list[Container], filters: dict[str, list[str]]) -> list[Container]:
    """The containers every filter key lets through."""
    ancestors: list[Any] = []
    for ref in filters.get("ancestor", []):
        # (found, never made: a listing makes no busybox image); no such image now:
        # containers made from one of that name still match
        ancestors.append(images.find(ref) or ref)

    def from_ancestor(c: Container) -> bool:
        for a in ancestors:
            if isinstance(a, str):
                if c.image_name in (a, f"{a}:latest"):
                    return True
                continue
            layers = c.record.layers if c.record is not None else []
            if c.image == a.id or (a.layers and layers[:len(a.layers)] == a.layers):
                return True
        return False

    checks = {
        "id": lambda c, v: c.id.startswith(v),
        "name": lambda c, v: _name_matches(c.name, v),
        "status": lambda c, v: c.status == v,
        "label": lambda c, v: _label_matches(c.record.labels if c.record else {}, v),
        "exited": lambda c, v: c.status is Status.EXITED and c.exit_code == int(v),
        "volume": lambda c, v: c.record is not None and v in c.record.volumes,
        "network": lambda c, v: c.record is not None and v in (
            c.record.network.networks if c.record.network.mode == "bridge" else [c.record.network.name]),
        "health": lambda c, v: (c.health or "none") == v,
    }
    out = []
    for c in found:
        if "ancestor" in filters and not from_ancestor(c):
            continue
        if all(_holds(checks[k], c, k, values) for k, values in filters.items() if k != "ancestor"):
            out.append(c)
    return out


def _holds(check, item, key: str, values: list[str]) -> bool:
    """One key's filters: any of them, but every one for labels (moby's MatchKVList)."""
    return all(check(item, v) for v in values) if key == "label" else any(check(item, v) for v in values)


def _reference_matches(img: Image, pattern: str) -> bool:
    for name in img.names:
        repo, _, tag = name.rpartition(":")
        candidates = [name, repo]
        if "/" in repo and repo.startswith("docker.io/library/"):
            candidates += [repo.split("/", 2)[2], f"{repo.split('/', 2)[2]}:{tag}"]
        if any(fnmatch.fnmatchcase(c, pattern) for c in candidates):
            return True
    return False


def images(store: ImageStore, found: list[Image], filters: dict[str, list[str]],
           in_use: set[str]) -> list[Image]:
    """The images every filter key lets through. Dangling: no name, and no container uses it."""
    def created_of(ref: str) -> float:
        return store.get(ref).created

    before = [created_of(r) for r in filters.get("before", [])]
    since = [created_of(r) for r in filters.get("since", [])]
    checks = {
        "dangling": lambda i, v: (not i.names and i.id not in in_use) == (v.lower() in ("true", "1")),
        "reference": lambda i, v: _reference_matches(i, v),
        "label": lambda i, v: _label_matches((i.config or {}).get("Labels") or {}, v),
        "before": lambda i, v: all(i.created < t for t in before),
        "since": lambda i, v: all(i.created > t for t in since),
    }
    return [i for i in found if all(_holds(checks[k], i, k, values) for k, values in filters.items())]


# -- the verbs' listings ------------------------------------------------------------------------
def list_containers(found: list[Container], images: ImageStore, filters: list[str] | None,
                    last: int | None = None) -> list[Container]:
    """`ps`: `found` (every container, oldest first) as `--filter` narrows it; `last`: only
    the N made last."""
    if filters:
        found = containers(images, found, parse_filters(filters, CONTAINER_FILTERS, "ps"))
    if last is not None:
        found = found[-last:] if last > 0 else []
    return found


def list_images(store: ImageStore, filters: list[str], used: set[str]) -> list[Image]:
    """`images --filter`: `used`, the ids of the images containers were made from."""
    return images(store, store.list(), parse_filters(filters, IMAGE_FILTERS, "images"), used)
