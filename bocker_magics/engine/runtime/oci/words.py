"""runc's words and its logging: the errors bocker-runc's callers read.

runc 1.1's messages (libcontainer/error.go and its verbs'), as tests/host/test_runc_words.py
checks them against runc itself. Its callers match them: podman reads the runtime's stderr and
matches "does not exist", "not running", "executable file not found", "permission denied",
"no such file or directory" (libpod's getOCIRuntimeError: `podman run`'s 127 and 126, its kill
and delete); containerd's shim (go-runc) takes the msg of the last "error" line of --log and
matches "does not exist" (delete) and "container not running" (kill: "process already
finished"); Docker shows them ("OCI runtime create failed: runc create failed: ...").

Stdlib only: os and time (every verb imports this).
"""

from __future__ import annotations

import os
import time

from ....errors import InvalidArgument, StartFailure

NOT_EXIST = "container does not exist"
EXISTS = "container with given ID already exists"
INVALID_ID = "invalid container ID format"
EMPTY_ID = "container id cannot be empty"
NOT_RUNNING = "container not running"
NOT_PAUSED = "container not paused"
START_FAILED = "unable to start container process: "  # what pid 1 reported before it ran the program


class Log:
    """runc's logging (logrus): --log FILE, text (`time="..." level=error msg="..."`) or JSON
    lines ({"level","msg","time"}), else stderr in the same form.

    An error is also printed to stderr as its bare message when a log file is given (podman
    reads stderr, containerd's shim the last "error" line of the file): runc's fatal()."""

    def __init__(self, path: str | None = None, fmt: str = "text", debug: bool = False) -> None:
        self.path, self.fmt, self.debugging = path, fmt, debug
        if fmt not in ("text", "json"):
            self.fmt = "text"  # runc says it in logrus' default form
            raise InvalidArgument(f"invalid log-format: {fmt}")

    def _line(self, level: str, msg: str) -> str:
        stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())  # logrus' default: RFC 3339, seconds
        if self.fmt == "json":
            from .... import _cjson
            return _cjson.dumps({"level": level, "msg": msg, "time": stamp}) + "\n"
        return f'time="{stamp}" level={level} msg={logfmt_value(msg)}\n'

    def write(self, level: str, msg: str) -> None:
        line = self._line(level, msg)
        if self.path:
            try:
                with open(self.path, "a") as f:
                    f.write(line)
            except OSError:
                os.write(2, line.encode())
        else:
            os.write(2, line.encode())

    def error(self, msg: str) -> None:
        self.write("error", msg)
        if self.path:
            os.write(2, (msg + "\n").encode())

    def warning(self, msg: str) -> None:
        self.write("warning", msg)

    def debug(self, msg: str) -> None:
        if self.debugging:
            self.write("debug", msg)


def quote(text: str) -> str:
    """A double-quoted string as Go's %q writes it (strconv.Quote, for what we print)."""
    out = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\t", "\\t")
    return '"' + "".join(c if c >= " " else f"\\x{ord(c):02x}" for c in out) + '"'


def logfmt_value(text: str) -> str:
    """msg= as logrus' text formatter writes it: bare when it is only letters, digits and
    -._/@^+, else quoted."""
    if all(c.isascii() and (c.isalnum() or c in "-._/@^+") for c in text):
        return text
    return quote(text)


def go_strerror(e: OSError) -> str:
    """An errno as Go prints it (syscall.Errno: the C text, lower-case first letter)."""
    text = os.strerror(e.errno) if e.errno else str(e)
    return text[:1].lower() + text[1:]


def parse_signal(text: str) -> int:
    """runc's parseSignal: any number goes to kill(2) as it is; a name with or without SIG."""
    from ...units import signal_number
    word = str(text).strip()
    if word.lstrip("-").isdigit():
        return int(word)
    try:
        return signal_number(word)
    except ValueError:
        raise InvalidArgument(f"unknown signal {quote(str(text))}") from None


def start_failure(report: dict) -> StartFailure:
    """pid 1's (or an exec'd process's) error report in runc's words: a program that was
    not found or can't run as Go's exec.LookPath says it (init.resolve_program's `lookup`),
    the rest as init reported it."""
    lookup = report.get("lookup")
    message = report.get("message") or "the container's init failed"
    if lookup:
        prog = quote(lookup["program"])
        if lookup.get("path"):
            message = f"exec: {prog}: executable file not found in $PATH"
        elif lookup.get("stat"):
            message = f"exec: {prog}: stat {lookup['stat']}: {go_strerror(OSError(lookup['errno'], ''))}"
        else:
            message = f"exec: {prog}: permission denied"
    return StartFailure(START_FAILED + message, report.get("code", 125))
