"""`history IMAGE`: a row per step that made the image, newest first, as `docker history`.

An image's history is its OCI config's (`history` in its record: pulled, loaded, made and
built images carry one; a build's has a row per layer and one per config step, marked
`empty_layer`); an image made before history was kept gets a row per layer, made up from
its record, and a row per setting of its config (ENV, CMD ...).
The top row carries the image's id; the rows below it say `<missing>`, as Docker's do for
steps that are not images of their own here.
"""

from __future__ import annotations

import calendar
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .store import read_json
from .usage import tree_size

if TYPE_CHECKING:
    from .images import Image
    from .store import Store


@dataclass
class HistoryRow:
    image: str            # the image's id on the top row, else <missing>
    created: float | None
    created_by: str
    size: int             # bytes of the step's layer (0: a config step)
    comment: str = ""
    empty_layer: bool = False


def _timestamp(text: Any) -> float | None:
    if not isinstance(text, str) or len(text) < 19:
        return None
    try:
        return float(calendar.timegm(time.strptime(text[:19], "%Y-%m-%dT%H:%M:%S")))
    except ValueError:
        return None


def recorded_history(store: Store, img: Image) -> list[dict[str, Any]]:
    """The image's history entries when they are one per layer plus config steps (what the
    OCI spec asks; images.consistent_history), else nothing."""
    from .images import consistent_history
    entries = getattr(img, "history", None)
    if entries is None:  # an Image type without the field: the record may still have it
        try:
            entries = read_json(store.image_file(img.id)).get("history")
        except (OSError, ValueError):
            entries = None
    return consistent_history(entries, len(img.layers))


def config_steps(config: dict[str, Any]) -> list[str]:
    """A config's settings as the Dockerfile steps that make them (ENV, CMD, ...)."""
    import json
    steps = [f"ENV {e}" for e in config.get("Env") or []]
    for key, word in (("User", "USER"), ("WorkingDir", "WORKDIR"), ("StopSignal", "STOPSIGNAL")):
        if config.get(key):
            steps.append(f"{word} {config[key]}")
    for port in config.get("ExposedPorts") or {}:
        steps.append(f"EXPOSE {port}")
    for key, value in (config.get("Labels") or {}).items():
        steps.append(f"LABEL {key}={json.dumps(value)}")
    for key, word in (("Entrypoint", "ENTRYPOINT"), ("Cmd", "CMD")):
        if config.get(key):
            steps.append(f"{word} {json.dumps(config[key])}")
    return steps


def history(store: Store, img: Image) -> list[HistoryRow]:
    """A row per step that made `img`, newest first."""
    entries = recorded_history(store, img)
    rows: list[HistoryRow] = []
    layers = iter(img.layers)
    if entries:
        for e in entries:
            empty = bool(e.get("empty_layer"))
            size = 0 if empty else tree_size(store.layer_dir(next(layers)))
            rows.append(HistoryRow("<missing>", _timestamp(e.get("created")), str(e.get("created_by", "")),
                                   size, str(e.get("comment", "")), empty))
    else:
        # no history kept: a row per layer, the image's source on the one that made it
        for i, digest in enumerate(img.layers):
            top = i == len(img.layers) - 1
            rows.append(HistoryRow("<missing>", img.created if top else None,
                                   img.source if top else "", tree_size(store.layer_dir(digest)),
                                   "" if top else "a layer of the image below"))
        # … and a row per setting of its config (what a build's metadata steps would have been)
        rows += [HistoryRow("<missing>", img.created, step, 0, "from the image's config", True)
                 for step in config_steps(img.config or {})]
        if not rows:
            rows.append(HistoryRow("<missing>", img.created, img.source, 0, "", True))
    rows.reverse()
    rows[0].image = img.id
    return rows
