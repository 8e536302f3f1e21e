"""`container prune` and `image prune`: remove what nothing uses, and say how much it freed.

    container prune   every container that is not running (exited, failed, dead, created)
    image prune       dangling images (no name, no container); -a: every image no container uses

`--filter label=KEY[=VALUE]` and `until=DURATION|TIME` narrow them, as Docker's.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ..errors import BockerError, InvalidArgument
from .usage import tree_size

if TYPE_CHECKING:
    from .container import Containers
    from .images import ImageStore

PRUNE_FILTERS = ("label", "until")


@dataclass
class PruneResult:
    removed: list[str] = field(default_factory=list)
    reclaimed: int = 0                                  # bytes
    errors: list[str] = field(default_factory=list)     # one line per thing that could not go


def check_prune_filters(items: list[str], verb: str) -> tuple[list[str], float | None]:
    from .filters import parse_filters
    from .runtime.logfile import parse_since
    parsed = parse_filters(items, PRUNE_FILTERS, verb)
    until = None
    for text in parsed.get("until", []):
        try:
            until = parse_since(text)
        except BockerError:
            raise InvalidArgument(f"Invalid filter 'until={text}': give a time or a duration, e.g. until=24h") from None
    return parsed.get("label", []), until


def _labelled(labels: dict[str, str], wanted: list[str]) -> bool:
    from .filters import _label_matches
    return all(_label_matches(labels, w) for w in wanted)


def prune_containers(containers: Containers, filters: list[str] = ()) -> PruneResult:
    labels, until = check_prune_filters(list(filters), "container prune")
    out = PruneResult()
    for c in containers.list():
        if c.status.is_alive:
            continue
        if c.starting:
            continue  # being started right now
        if until is not None and c.created >= until:
            continue
        if labels and not _labelled(c.record.labels if c.record else {}, labels):
            continue
        size = tree_size(containers.store.container_dir(c.id) / "upper")
        try:
            containers.rm(c.id)
        except BockerError as e:
            out.errors.append(f"{c.id}: {e}")
            continue
        out.removed.append(c.id)
        out.reclaimed += size
    return out


def prune_images(containers: Containers, images: ImageStore, all_unused: bool = False,
                 filters: list[str] = ()) -> PruneResult:
    labels, until = check_prune_filters(list(filters), "image prune")
    out = PruneResult()
    used = {c.image for c in containers.list()}
    candidates = []
    for img in images.list():
        if img.id in used or (img.names and not all_unused):
            continue
        if until is not None and img.created >= until:
            continue
        if labels and not _labelled((img.config or {}).get("Labels") or {}, labels):
            continue
        candidates.append(img)
    going = {i.id for i in candidates}
    keep_layers = {d for i in images.list(include_removed=True) if i.id not in going for d in i.layers}
    freed = {d for i in candidates for d in i.layers if d not in keep_layers}
    sizes = {d: tree_size(images.store.layer_dir(d)) for d in freed}
    for img in candidates:
        try:
            images.remove(img, in_use=False)
        except BockerError as e:
            out.errors.append(f"{img.id}: {e}")
            continue
        out.removed.append(img.id)
    gone = {d for d in freed if not images.store.layer_dir(d).exists()}
    out.reclaimed = sum(sizes[d] for d in gone)
    return out
