"""The monitor's event loop: selectors with a read and a write callback per file. The
container's stdio (stdio.py), its published ports (network/relay.py) and its healthchecks
(health.py) all run on the one loop of its monitor. Stdlib only."""

from __future__ import annotations

import selectors


class Loop:
    """selectors with a read and a write callback per file."""

    def __init__(self) -> None:
        self.sel = selectors.DefaultSelector()

    def watch(self, f, read=None, write=None) -> None:
        events = (selectors.EVENT_READ if read else 0) | (selectors.EVENT_WRITE if write else 0)
        try:
            key = self.sel.get_key(f)
        except (KeyError, ValueError):
            key = None
        if not events:
            if key is not None:
                self.sel.unregister(f)
            return
        if key is None:
            self.sel.register(f, events, (read, write))
        else:
            self.sel.modify(f, events, (read, write))

    def remove(self, f) -> None:
        try:
            self.sel.unregister(f)
        except (KeyError, ValueError):
            pass

    def run_once(self, timeout: float | None = None) -> None:
        for key, mask in self.sel.select(timeout):
            read, write = key.data
            if mask & selectors.EVENT_READ and read:
                read(key.fileobj)
            # the read may have unregistered it
            if mask & selectors.EVENT_WRITE and write and self._still(key.fileobj, write):
                write(key.fileobj)

    def _still(self, f, cb) -> bool:
        try:
            return self.sel.get_key(f).data[1] is cb
        except (KeyError, ValueError):
            return False

    def close(self) -> None:
        self.sel.close()
