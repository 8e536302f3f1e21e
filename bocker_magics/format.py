"""How every face writes numbers for people: sizes, times, durations, counts, long values and
progress. The CLI's renderers, the terminal progress bar and every view use these, so a size
reads the same everywhere (binary units: KiB, MiB, GiB, as the kernel's limits are set).

Stdlib only and cheap to import: the CLI imports it on every command.
"""

from __future__ import annotations

import time

ELLIPSIS = "…"
_UNITS = ("B", "KiB", "MiB", "GiB", "TiB")


def size(n: int | float | None) -> str:
    """Bytes in binary units: '512 B', '1.5 KiB', '64.0 MiB'; None is '-'."""
    if n is None or n != n:  # None or NaN (a missing value in a frame)
        return "-"
    value = float(n)
    for unit in _UNITS:
        if abs(value) < 1024 or unit == _UNITS[-1]:
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} {_UNITS[-1]}"  # not reached


def local_time(ts: float | None) -> str:
    """Seconds since the epoch as this machine's local date-time; None or 0 is '-'."""
    return "-" if not ts else time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(ts))


def duration(seconds: float | None) -> str:
    """'0.042 s', '3.2 s', '2 min 05 s', '1 h 02 min'."""
    if seconds is None:
        return "-"
    if seconds < 10:
        return f"{seconds:.3f} s"
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(int(round(seconds)), 60)
    if minutes < 60:
        return f"{minutes} min {secs:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def count(n: int, word: str, plural: str | None = None) -> str:
    """'1 process', '2 processes', '0 layers'."""
    if n == 1:
        return f"1 {word}"
    return f"{n} {plural or (word + 'es' if word.endswith(('s', 'x', 'ch', 'sh')) else word + 's')}"


def shorten(text: str, width: int) -> str:
    """A long value cut to `width` characters with an ellipsis. A digest keeps its first 12
    hex digits (what `docker images` shows), so two shortened digests still tell apart."""
    if len(text) <= width:
        return text
    head, sep, digest = text.partition("sha256:")
    if sep and len(digest) > 12:
        text = f"{head}{sep}{digest[:12]}{ELLIPSIS}"
        if len(text) <= width:
            return text
    return text[: max(width - 1, 1)] + ELLIPSIS


def bar(fraction: float, width: int = 30) -> str:
    """'[=========>          ]': Docker's progress bar, `fraction` of the way."""
    fraction = min(max(fraction, 0.0), 1.0)
    filled = "=" * int(fraction * width)
    if 0 < len(filled) < width:
        filled = filled[:-1] + ">"
    return f"[{filled:<{width}}]"


def transferred(done: int, total: int | None) -> str:
    """'1.5 MiB of 3.0 MiB' (or '1.5 MiB' when the total is unknown)."""
    return size(done) + (f" of {size(total)}" if total else "")
