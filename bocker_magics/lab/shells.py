"""Live shells for the article's two-terminal experiments (2.1.4.1: shell A and shell B).

    a, b = LiveShell("A"), LiveShell("B")
    a.run("ipcmk -Q")            # -> the output, as the terminal would show it
    b.enter("unshare -iu /bin/bash")   # a nested shell, like typing it in a terminal
    b.pid                        # the pid of the innermost shell (`echo $$`)
    ShellPair(a, b)              # the transcript of both, side by side (static HTML)

Each shell is a real `bash` reading commands from a pipe; it is started with
subprocess (fork+exec in one step, no Python in the child), so it is safe in a threaded
Jupyter kernel. `close()` leaves every nested shell and reaps the process.
"""

from __future__ import annotations

import html
import os
import select
import subprocess
import time
import uuid
from dataclasses import dataclass, field

BASH = ["bash", "--norc", "--noprofile"]


class ShellError(RuntimeError):
    pass


@dataclass
class Entry:
    command: str
    output: str


@dataclass
class LiveShell:
    name: str
    prompt: str = "#"
    transcript: list[Entry] = field(default_factory=list)

    def __post_init__(self) -> None:
        env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C", "TERM": "dumb", "PS1": "", "PS2": ""}
        self.proc = subprocess.Popen(BASH, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, env=env, start_new_session=True)
        self.depth = 0  # nested shells entered
        self.pids = [self.proc.pid]

    # -- talking to it -------------------------------------------------------------------------
    def _send(self, text: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(text.encode())
        self.proc.stdin.flush()

    def _read_until(self, marker: str, timeout: float) -> str:
        assert self.proc.stdout is not None
        fd = self.proc.stdout.fileno()
        buf = b""
        deadline = time.monotonic() + timeout
        token = marker.encode()
        while token not in buf:
            left = deadline - time.monotonic()
            if left <= 0:
                got = buf.decode(errors="replace")
                raise ShellError(f"shell {self.name}: no answer within {timeout:g}s; got {got!r}")
            ready, _, _ = select.select([fd], [], [], left)
            if ready:
                chunk = os.read(fd, 65536)
                if not chunk:
                    raise ShellError(f"shell {self.name} ended; output so far: {buf.decode(errors='replace')!r}")
                buf += chunk
        return buf.decode(errors="replace")

    def _exchange(self, line: str, timeout: float) -> tuple[str, int]:
        marker = f"__end_{uuid.uuid4().hex}__"
        self._send(f"{line}\necho; echo {marker} $?\n")
        text = self._read_until(marker, timeout)
        before, _, after = text.partition(marker)
        # the rest of the marker line: " <status>\n"
        rest = after
        while "\n" not in rest:
            rest += self._read_until("\n", timeout)
        status = int(rest.split()[0])
        out = before[:-1] if before.endswith("\n") else before  # the `echo` we added
        return out, status

    def run(self, command: str, timeout: float = 20, check: bool = True) -> str:
        """Run one command line in the innermost shell; its output (stdout and stderr)."""
        out, status = self._exchange(command, timeout)
        self.transcript.append(Entry(command, out))
        if check and status != 0:
            raise ShellError(f"shell {self.name}: `{command}` exited with {status}: {out.strip()}")
        self.status = status
        return out

    def enter(self, command: str, timeout: float = 20) -> int:
        """Start a nested shell (unshare …/bin/bash, nsenter … /bin/bash) as a terminal
        user would; commands then go to it. Returns its pid."""
        self._send(command + "\n")
        self.depth += 1
        out, _ = self._exchange("echo $$", timeout)
        pid = int(out.split()[-1])
        self.pids.append(pid)
        self.transcript.append(Entry(command, ""))
        return pid

    def leave(self, timeout: float = 20) -> None:
        """`exit` the innermost nested shell."""
        if self.depth == 0:
            raise ShellError(f"shell {self.name}: no nested shell to leave")
        self._send("exit\n")
        self.depth -= 1
        self.pids.pop()
        self._exchange("true", timeout)
        self.transcript.append(Entry("exit", ""))

    @property
    def pid(self) -> int:
        """The innermost shell's pid (what `echo $$` prints there)."""
        return self.pids[-1]

    def close(self) -> None:
        if self.proc.poll() is None:
            try:
                self._send("exit\n" * (self.depth + 1))
                self.proc.stdin.close()
            except OSError:
                pass
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, 9)
                self.proc.wait()
        for f in (self.proc.stdin, self.proc.stdout):
            try:
                f.close()
            except OSError:
                pass

    def __enter__(self) -> LiveShell:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- showing it ----------------------------------------------------------------------------
    def html(self, since: int = 0) -> str:
        lines = []
        for e in self.transcript[since:]:
            lines.append(f"<b>{html.escape(self.prompt)} {html.escape(e.command)}</b>")
            if e.output.strip():
                lines.append(html.escape(e.output.rstrip("\n")))
        return "\n".join(lines)

    def text(self, since: int = 0) -> str:
        out = []
        for e in self.transcript[since:]:
            out.append(f"{self.prompt} {e.command}")
            if e.output.strip():
                out.append(e.output.rstrip("\n"))
        return "\n".join(out)


class ShellPair:
    """Two shells' transcripts side by side (a two-column table: static HTML, no JS)."""

    def __init__(self, a: LiveShell, b: LiveShell, since: tuple[int, int] = (0, 0), title: str = "") -> None:
        self.a, self.b, self.since, self.title = a, b, since, title

    def mark(self) -> tuple[int, int]:
        """Where the transcripts are now: ShellPair(a, b, since=mark) shows only what follows."""
        return len(self.a.transcript), len(self.b.transcript)

    def _repr_html_(self) -> str:
        style = "text-align:left;vertical-align:top;font-family:monospace;white-space:pre;padding:4px 12px"
        cap = f"<caption>{html.escape(self.title)}</caption>" if self.title else ""
        return (f"<table class=\"tex2jax_ignore mathjax_ignore\">{cap}<thead><tr>"
                f"<th>shell {html.escape(self.a.name)} (pid {self.a.pid})</th>"
                f"<th>shell {html.escape(self.b.name)} (pid {self.b.pid})</th></tr></thead><tbody><tr>"
                f"<td style=\"{style}\">{self.a.html(self.since[0])}</td>"
                f"<td style=\"{style}\">{self.b.html(self.since[1])}</td></tr></tbody></table>")

    def __repr__(self) -> str:
        return (f"--- shell {self.a.name} ---\n{self.a.text(self.since[0])}\n"
                f"--- shell {self.b.name} ---\n{self.b.text(self.since[1])}")
