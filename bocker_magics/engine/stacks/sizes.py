"""Compose's sizes (mem_limit: 512m, 1g, 1024k, or bytes), read with the engine's one size
parser (units.py)."""

from __future__ import annotations

from ...errors import InvalidArgument


def parse_size(text: str | int, where: str = "mem_limit") -> int:
    if isinstance(text, int):
        return text
    from ..units import parse_size as _parse
    try:
        return _parse(str(text))
    except ValueError:
        raise InvalidArgument(f"{where} '{text}' is not a size: use a number with b, k, m or g (e.g. 256m)") from None
