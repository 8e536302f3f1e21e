"""Waiting for a container as Docker's `wait?condition=` does: `not-running` (now, if it is
not running), `next-exit` (its next exit after this call, even one so fast no poll saw it
run: the recorded finish time changes) and `removed` (gone; its last exit code)."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from ..errors import InvalidArgument, NotFound

if TYPE_CHECKING:
    from .engine import Engine

CONDITIONS = ("not-running", "next-exit", "removed")
_LIVE = ("running", "paused", "restarting")


def _live(c) -> bool:
    return c.status in _LIVE or (c.status == "created" and c.state is not None and c.state.phase == "starting")


def wait_condition(engine: Engine, ref: str, condition: str = "not-running", *, timeout: float | None = None,
                   interval: float = 0.02, gone=None, cancelled=None) -> int | None:
    """The exit code once `condition` holds (None on timeout). `gone(id)`: the exit code a
    caller saw for a container removed before a poll saw it exit (an attached --rm run);
    `cancelled()`: true when the caller no longer wants the answer (None is returned)."""
    if condition not in CONDITIONS:
        raise InvalidArgument(f"invalid condition: \"{condition}\" (use not-running, next-exit or removed)")
    c = engine.container(ref)
    cid, first_finish, last_code = c.id, c.finished_at, c.exit_code
    deadline = None if timeout is None else time.monotonic() + timeout
    seen_live = _live(c)
    while True:
        try:
            c = engine.container(cid)
        except NotFound:
            if condition in ("removed", "next-exit", "not-running"):
                code = gone(cid) if gone is not None else None
                return code if code is not None else (last_code if last_code is not None else 0)
            raise
        live = _live(c)
        seen_live = seen_live or live
        if not live and c.exit_code is not None:
            last_code = c.exit_code
        if condition == "not-running" and not live:
            return c.exit_code or 0
        if condition == "next-exit" and not live and (c.finished_at != first_finish or
                                                      (seen_live and c.status != "created")):
            return c.exit_code or 0
        if (deadline is not None and time.monotonic() >= deadline) or (cancelled is not None and cancelled()):
            return None
        time.sleep(interval)
