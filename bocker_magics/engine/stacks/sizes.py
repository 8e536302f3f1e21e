"""Compose's sizes (mem_limit: 512m, 1g, 1024k, or bytes), read with the engine's one size
parser."""

from __future__ import annotations


def parse_size(text: str | int) -> int:
    if isinstance(text, int):
        return text
    from ...commands import parse_size as _parse
    return _parse(str(text))
