"""A stack's logs as Compose prints them: every container's lines, prefixed `SERVICE-N`,
merged as they come from a reader thread per container."""

from __future__ import annotations

from ...errors import BockerError
from .labels import ServiceContainer


class StackLogs:
    """Mixed into Stack: it needs the engine and `_pick`."""

    def log_lines(self, services: list[str] | None = None, *, tail: int | None = None, follow: bool = False,
                  started: list[ServiceContainer] | None = None):
        """Every container's log as Compose prints it: (prefix, stream, line) with the prefix
        `SERVICE-N`, lines of all the containers merged as they come; following: until every
        one has stopped."""
        import queue
        import threading

        chosen = started if started is not None else self._pick(services)
        if not chosen:
            return
        width = max(len(f"{sc.service}-{sc.number}") for sc in chosen)
        lines: queue.Queue = queue.Queue()
        done = object()
        stop = threading.Event()

        def read(sc: ServiceContainer) -> None:
            prefix = f"{sc.service}-{sc.number}".ljust(width)
            partial: dict[str, bytes] = {}
            try:
                for r in self.engine.log_records(sc.container.id, tail=tail, follow=follow):
                    if stop.is_set():
                        break
                    data = partial.pop(r.stream, b"") + r.text(False)
                    *whole, rest = data.split(b"\n")
                    for line in whole:
                        lines.put((prefix, r.stream, line))
                    if rest:
                        partial[r.stream] = rest
                for stream, rest in partial.items():
                    lines.put((prefix, stream, rest))
            except BockerError:
                pass  # removed while we read it
            finally:
                lines.put(done)

        threads = [threading.Thread(target=read, args=(sc,), daemon=True) for sc in chosen]
        for t in threads:
            t.start()
        remaining = len(threads)
        try:
            while remaining:
                try:
                    item = lines.get(timeout=0.2)
                except queue.Empty:
                    continue
                if item is done:
                    remaining -= 1
                else:
                    yield item
        finally:
            stop.set()
