"""The engine's public API: what the faces (cli, magics, bocker-runc) and user code import.

    from bocker_magics.engine import Engine, RunOptions, Limits
    with Engine() as engine:
        r = engine.run("busybox", "echo hi", RunOptions(memory=None, name="hello"))

Loaded on first use (PEP 562): the shim and pid 1 import submodules of this package and
must not pay for the engine's own imports.
"""

from __future__ import annotations

from .._lazy import lazy_exports

_EXPORTS = {
    "Engine": "engine", "SEED_LIMITS": "engine", "MB": "engine",
    "RunOptions": "options", "MountRequest": "options",
    "Limits": "limits", "CgroupStats": "kernel.cgroups",
    "Container": "container", "RunResult": "container", "ExitCodeError": "engine",
    "Status": "container",
    "Image": "images", "Change": "changes",
    "Spec": "spec", "State": "spec",
    # what the command line's verbs check and print with
    "PruneResult": "prune", "check_prune_filters": "prune", "parse_since": "runtime.logfile",
    "image_size": "usage", "container_size": "usage", "default_root": "store",
    "Interrupts": "container", "interrupts_from": "container",
    # what the Docker API service (bocker_magics/api) needs beyond the CLI's verbs
    "wait_condition": "waiting", "Events": "events", "path_stat": "pathstat",
    "untag": "untag", "export": "export",
}
__all__ = sorted(_EXPORTS)

__getattr__ = lazy_exports(__name__, _EXPORTS)
