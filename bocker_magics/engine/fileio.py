"""The one atomic write: every state file, spec, credentials file and cached program.

A reader sees the old content or the new, never half: write beside the file, fsync (unless
the caller can lose the write, never the file), rename over it. The temp file carries the
writer's pid (gc tells a crash's leftovers from a live writer's) and a random part (two
writers in one process never share one). Only `os`: the shim, pid 1 and bocker-runc write
with it.
"""

from __future__ import annotations

import os


def atomic_write(path: str | os.PathLike[str], data: bytes, *, fsync: bool = True, mode: int = 0o644) -> None:
    """Replace `path` with `data` at once; a failure leaves `path` as it was and no temp file."""
    path = os.fspath(path)
    tmp = f"{path}.{os.getpid()}.{os.urandom(4).hex()}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, mode)
    try:
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
            if fsync:
                os.fsync(fd)
        finally:
            os.close(fd)
        os.rename(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
