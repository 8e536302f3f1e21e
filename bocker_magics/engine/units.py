"""Signals and sizes as people spell them, parsed once for every face and the builder.

    signal_number("TERM") == signal_number("SIGTERM") == signal_number("15") == 15
    signal_number("SIGRTMIN+3") == signal.SIGRTMIN + 3
    parse_size("64m") == 64 << 20          # Docker's RAMInBytes: b, k, m, g, t, p; "kib", "1 g"

Each raises ValueError on what it can't read; the caller turns that into its own message
(runc's wording for bocker-runc, Docker's for the CLI, the Dockerfile's line for a build).
Nothing is imported at the top: bocker-runc parses `kill` and `update` on its fast path, and
`signal` (which imports enum) is loaded only when a signal is given by name.
"""

from __future__ import annotations

_SIZE_UNITS = "kmgtp"   # binary multipliers, as Docker's RAMInBytes


def signal_number(text: str | int) -> int:
    """A signal by number (15) or name (TERM, SIGTERM, sigterm, RTMIN+3, SIGRTMAX-1)."""
    if isinstance(text, int) and not isinstance(text, bool):
        text = str(text)
    if not isinstance(text, str):
        raise ValueError(f"not a signal: {text!r}")
    word = text.strip()
    if _digits(word):
        number = int(word)
        if 0 < number <= _rtmax():
            return number
        raise ValueError(f"no signal numbered {number}")
    import signal
    name = word.upper()
    name = name if name.startswith("SIG") else "SIG" + name
    member = signal.Signals.__members__.get(name)
    if member is not None:
        return int(member)
    for base in ("SIGRTMIN", "SIGRTMAX"):  # SIGRTMIN+3, SIGRTMAX-2: within the real-time range
        offset = name[len(base):]
        if name.startswith(base) and offset[:1] in ("+", "-") and _digits(offset[1:]):
            number = int(getattr(signal, base)) + int(offset)
            if signal.SIGRTMIN <= number <= signal.SIGRTMAX:
                return number
    raise ValueError(f"no signal named {text!r}")


def _rtmax() -> int:
    """SIGRTMAX without importing `signal` (and enum) for a number: Linux's is 64."""
    import _signal
    return int(_signal.SIGRTMAX)


def parse_size(text: str) -> int:
    """Bytes from Docker's spelling (its RAMInBytes): 512, 512b, 64k, 64m, 1.5g, 2t, 1p, 64mb,
    64MiB, "1 g". Binary multipliers; a fraction of a byte is dropped."""
    word = text.strip().lower() if isinstance(text, str) else ""
    word = word.removesuffix("b").removesuffix("i")
    multiplier = 1
    if word[-1:] and word[-1] in _SIZE_UNITS:
        multiplier = 1024 ** (_SIZE_UNITS.index(word[-1]) + 1)
        word = word[:-1]
    word = word.removesuffix(" ")
    whole, dot, fraction = word.partition(".")
    if not _digits(whole) or (dot and not _digits(fraction)):
        raise ValueError(f"not a size: {text!r}")
    return int(float(word) * multiplier)


def _digits(text: str) -> bool:
    return text.isascii() and text.isdigit()
