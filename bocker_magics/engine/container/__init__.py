"""Containers: the record and status, create (the bundle), launch (the hand-off to the
shim), attach, exec, signals and removal; containers.py lists the verbs.

Loaded on first use (PEP 562): `Status` alone imports nothing else.
"""

from __future__ import annotations

from ..._lazy import lazy_exports

_EXPORTS = {
    "Containers": "containers",
    "Container": "record", "ContainerRecord": "record", "RunResult": "record",
    "Status": "status", "STATUSES": "status",
    "Interrupts": "attach", "interrupts_from": "attach", "Output": "attach",
}
__all__ = sorted(_EXPORTS)

__getattr__ = lazy_exports(__name__, _EXPORTS)
