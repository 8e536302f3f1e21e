"""The exit command: a program the monitor starts once its container's end is recorded in
state.json and its cgroup, lease and ports are gone, as conmon's `--exit-command` (podman
runs `podman container cleanup` that way). The engine says what (Launch.exit_command: the
removal of a detached `--rm` container, engine/container/autoremove.py); the runtime only
starts it, in a session of its own, and does not wait: it outlives the monitor.

Stdlib only (the monitor is a `python -I -S` process).
"""

from __future__ import annotations

import os


def start_exit_command(argv: list[str] | None) -> int | None:
    """Start `argv` (its output to /dev/null, its errors to ours: the container's
    monitor.log); its pid, or None when there is none or it could not start."""
    if not argv:
        return None
    actions = [(os.POSIX_SPAWN_OPEN, 0, "/dev/null", os.O_RDONLY, 0),
               (os.POSIX_SPAWN_OPEN, 1, "/dev/null", os.O_WRONLY, 0)]
    try:
        return os.posix_spawn(argv[0], argv, os.environ, file_actions=actions, setsid=True)
    except OSError as e:
        os.write(2, f"exit command {argv[0]} could not start: {e.strerror}\n".encode())
        return None
