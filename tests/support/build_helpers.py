"""What the build tests share: a context on disk, and an image's files as data.

    ctx = make_context(tmp_path, "FROM busybox\\n...", {"a.txt": "a\\n", "d/f": ("f\\n", 0o600)})
    files = image_files(engine.store, image)   # {path: FileInfo(type, mode, uid, gid, digest, link)}
"""

from __future__ import annotations

import hashlib
import os
import stat
from dataclasses import dataclass
from pathlib import Path

from bocker_magics.engine.layerview import LayerView

# Six steps, two RUNs and two COPYs: the build the tests, the smoke test against buildah and
# the build benchmarks share (a.txt and b.txt come from the context)
SIX_STEPS = """FROM busybox
RUN echo one > /one
COPY a.txt /a.txt
RUN cat /a.txt /one > /two
COPY b.txt /b.txt
CMD ["cat", "/two"]
"""


def make_context(root: Path, dockerfile: str | None, files: dict | None = None) -> Path:
    """A build context: the Dockerfile and files (text, or (text|bytes, mode)); a name
    ending with / is a directory."""
    root.mkdir(parents=True, exist_ok=True)
    if dockerfile is not None:
        (root / "Dockerfile").write_text(dockerfile)
    for name, value in (files or {}).items():
        path = root / name
        if name.endswith("/"):
            path.mkdir(parents=True, exist_ok=True)
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        data, mode = value if isinstance(value, tuple) else (value, 0o644)
        if isinstance(data, str):
            data = data.encode()
        path.write_bytes(data)
        os.chmod(path, mode)
    return root


@dataclass(frozen=True)
class FileInfo:
    type: str
    mode: int
    uid: int
    gid: int
    digest: str | None = None      # a file's content
    link: str | None = None        # a symlink's target

    def __repr__(self) -> str:
        extra = f" {self.digest[:12]}" if self.digest else (f" -> {self.link}" if self.link else "")
        return f"{self.type} {self.mode:o} {self.uid}:{self.gid}{extra}"


def _type(st: os.stat_result) -> str:
    for test, name in ((stat.S_ISDIR, "dir"), (stat.S_ISREG, "file"), (stat.S_ISLNK, "symlink"),
                       (stat.S_ISFIFO, "fifo"), (stat.S_ISCHR, "char"), (stat.S_ISBLK, "block")):
        if test(st.st_mode):
            return name
    return "other"


def image_files(store, layers: list[str]) -> dict[str, FileInfo]:
    """Every path of the image the layers make (the merged view), with what the comparison
    of two builders looks at: type, mode, owner, content, link target (no times)."""
    view = LayerView([store.layer_dir(d) for d in reversed(layers)])
    out = {}
    for path, node in view.walk("/"):
        st = node.st
        kind = _type(st)
        digest = hashlib.sha256(node.path.read_bytes()).hexdigest() if kind == "file" else None
        out[path] = FileInfo(kind, stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid, digest,
                             os.readlink(node.path) if kind == "symlink" else None)
    return out


def read(store, layers: list[str], path: str) -> bytes | None:
    return LayerView([store.layer_dir(d) for d in reversed(layers)]).read_file(path)


def tree(root: Path, files: dict[str, str | None]) -> Path:
    """Make files (None: a directory; "->target": a symlink)."""
    for rel, content in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if content is None:
            path.mkdir(exist_ok=True)
        elif content.startswith("->"):
            path.symlink_to(content[2:])
        else:
            path.write_text(content)
    return root


def digest_of(root: Path, patterns=(".",), **kwargs) -> str:
    """The build cache's content digest of what a COPY of `patterns` takes from `root`."""
    from bocker_magics.engine.build import content_digest, sources
    return content_digest(sources(root, list(patterns)), **kwargs)
