"""A container's output as a cell shows it: stdout to stdout and stderr to stderr (as %%bash
does), decoded as it comes, and capped: past `max_lines` lines the cell gets one line saying
where the whole output is, and nothing more (the result and the container's log keep it all).

    out = CellOutput(max_lines=1000, see_all="%bocker logs web")
    engine.run(..., on_output=out.write)      # today's engine: write(chunk)
    out.write(chunk, stream="stderr")         # an engine that keeps the streams apart
    out.close()                               # the last partial characters

`follow_logs` is `%bocker logs -f`: a container's log as it grows, until it exits.
"""

from __future__ import annotations

import codecs
import sys
import time
from collections.abc import Callable, Iterator
from typing import Any, TextIO

STREAMS = ("stdout", "stderr")


class CellOutput:
    def __init__(self, max_lines: int | None = 1000, see_all: str | Callable[[], str] = "",
                 stdout: TextIO | None = None, stderr: TextIO | None = None) -> None:
        self.max_lines = max_lines or None
        # a single line can be huge (no newline ever): bytes are capped too
        self.max_chars = None if self.max_lines is None else 200 * self.max_lines
        self.see_all = see_all
        self._out = {"stdout": stdout, "stderr": stderr}
        self._decoders = {s: codecs.getincrementaldecoder("utf-8")(errors="replace") for s in STREAMS}
        self.lines = 0
        self.chars = 0
        self.capped = False
        self._last = ""  # the last character shown

    def _stream(self, name: str) -> TextIO:
        given = self._out.get(name)
        return given if given is not None else (sys.stderr if name == "stderr" else sys.stdout)

    def write(self, chunk: bytes, stream: str = "stdout") -> None:
        """The engine's on_output: a chunk of the container's stdout (or stderr)."""
        name = stream if stream in STREAMS else "stdout"
        self._show(name, self._decoders[name].decode(chunk))

    __call__ = write

    def _show(self, name: str, text: str) -> None:
        if not text or self.capped:
            return
        if self.max_lines is not None:
            cut = _cut(text, self.max_lines - self.lines, self.max_chars - self.chars)
            if cut is not None:
                text, self.capped = text[:cut], True
        if text:
            self.lines += text.count("\n")
            self.chars += len(text)
            self._last = text[-1]
            out = self._stream(name)
            out.write(text)
            out.flush()
        if self.capped:
            self._note()

    def _note(self) -> None:
        see = self.see_all() if callable(self.see_all) else self.see_all
        tail = f": {see} shows all of it" if see else ""
        out = self._stream("stdout")
        out.write(("\n" if self._last not in ("", "\n") else "")
                  + f"… the rest of the output is not shown here ({self.lines} lines shown){tail}\n")
        out.flush()

    def close(self) -> None:
        """The last undecoded bytes of each stream (a character split at the end)."""
        for name in STREAMS:
            self._show(name, self._decoders[name].decode(b"", final=True))


def _cut(text: str, room_lines: int, room_chars: int) -> int | None:
    """Where to cut `text` so the cell keeps to its room (None: it all fits); a cut is after a
    newline where one is in the room."""
    if room_lines <= 0 or room_chars <= 0:
        return 0
    limit, end = len(text), -1
    for _ in range(room_lines):
        end = text.find("\n", end + 1)
        if end < 0:
            break
    if end >= 0 and end + 1 < len(text):
        limit = end + 1  # the room's last line ends here
    if limit > room_chars:
        newline = text.rfind("\n", 0, room_chars)
        limit = newline + 1 if newline >= 0 else room_chars
    return None if limit >= len(text) else limit


# -- logs -f --------------------------------------------------------------------------------
POLL_SECONDS = 0.2


def follow_logs(engine: Any, ref: str, poll: float = POLL_SECONDS) -> Iterator[bytes]:
    """A container's log from its start, as it grows, until the container exits.

    The one place `%bocker logs -f` reads the engine: an engine that follows by itself
    (`engine.logs(ref, follow=True)` or `engine.logs_follow(ref)`, chunks of bytes) is used;
    until then the log is polled through `engine.logs(ref)` while
    `engine.container(ref).running` (a GeneratorExit or an interrupt ends it)."""
    import inspect

    if "follow" in inspect.signature(engine.logs).parameters:
        yield from engine.logs(ref, follow=True)
        return
    native = getattr(engine, "logs_follow", None)
    if native is not None:
        yield from native(ref)
        return
    sent = 0
    while True:
        running = engine.container(ref).running  # read before the log: nothing written after is missed
        data = engine.logs(ref)
        if len(data) > sent:
            yield data[sent:]
            sent = len(data)
        if not running:
            return
        time.sleep(poll)
