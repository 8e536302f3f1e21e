"""The README's main job: the built-in image, one container, its namespaces beside the host's.

    python -m bocker_magics.lab.demo
"""

from __future__ import annotations

import sys

from ..engine import Engine
from ..engine.kernel.namespaces import ns_inodes, parse_links
from ..errors import BockerError

# The namespaces a container gets its own of; the rest (user, time, cgroup) it shares.
ISOLATED = ("ipc", "mnt", "net", "pid", "pid_for_children", "uts")
LIST_NAMESPACES = "for n in /proc/self/ns/*; do echo ${n##*/} $(readlink $n); done"


def namespace_comparison(engine: Engine, image: str = "busybox") -> tuple[str, list[tuple[str, int, int]]]:
    """Run a container that prints its namespace links; pair them with this process's."""
    # --network none: its own (empty) network namespace, and nothing made on the host's
    result = engine.run(image, LIST_NAMESPACES, remove=True, network="none")
    if result.exit_code:
        raise BockerError(f"the demo container failed ({result.exit_code}): {result.text.strip()}")
    inside = parse_links(result.text)
    host = ns_inodes("self")  # this process: the host's namespaces
    return result.id, [(kind, host[kind], inside[kind]) for kind in host if kind in inside]


def main() -> int:
    try:
        with Engine() as engine:
            img = engine.busybox()
            print(f"Image: {img.id} ({', '.join(img.names)}) — {img.source}")
            cid, rows = namespace_comparison(engine, img.id)
    except BockerError as e:
        print(e, file=sys.stderr)
        return e.exit_code
    print(f"Container {cid}: `readlink /proc/self/ns/*` in it, beside this (host) process's\n")
    print(f"{'NAMESPACE':<20}{'HOST':>14}{'CONTAINER':>14}  ")
    for kind, h, c in rows:
        print(f"{kind:<20}{h:>14}{c:>14}  {'own' if h != c else 'shared'}")
    own = {kind for kind, h, c in rows if h != c}
    missing = set(ISOLATED) - own
    if missing:
        print(f"\nUnexpected: the container shares {', '.join(sorted(missing))} with the host", file=sys.stderr)
        return 1
    print(f"\nThe container has its own {', '.join(sorted(own))} namespaces.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
