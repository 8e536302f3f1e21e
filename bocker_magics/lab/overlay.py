"""The article's overlayfs experiment (2.3.5): lower, upper, work and merged dirs.

    demo = OverlayDemo()        # a scratch dir of its own, with the article's files
    demo.mount()                # mount -t overlay overlay -o lowerdir=…,upperdir=…,workdir=… merged
    demo.read("in_both")        # what the merged view shows (the upper's copy)
    demo.diff()                 # a LayerDiff of upper over lower: what the container changed
    demo.close()                # umount, remove the scratch dir

The files follow the article: in_lower only in lower, in_upper only in upper, in_both in
both with different content.
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import tempfile
from pathlib import Path

from ..engine.kernel import linux


def mounts_of(path: str | os.PathLike[str]) -> list[str]:
    """Lines of /proc/self/mounts whose mount point is at or under path."""
    path = os.path.realpath(path)
    with open("/proc/self/mounts") as f:
        return [l.strip() for l in f if l.split()[1] == path or l.split()[1].startswith(path + "/")]


class OverlayDemo:
    def __init__(self, base: str | os.PathLike[str] | None = None) -> None:
        self.base = Path(tempfile.mkdtemp(prefix="bocker-lab-overlay-", dir=base))
        self.lower, self.upper, self.work, self.merged = (self.base / d for d in ("lower", "upper", "work", "merged"))
        for d in (self.lower, self.upper, self.work, self.merged):
            d.mkdir()
        (self.lower / "in_lower").write_text("I am in lower\n")
        (self.lower / "in_both").write_text("in_both, the lower's copy\n")
        (self.upper / "in_upper").write_text("I am in upper\n")
        (self.upper / "in_both").write_text("in_both, the upper's copy\n")
        self.mounted = False

    @property
    def options(self) -> str:
        return f"lowerdir={self.lower},upperdir={self.upper},workdir={self.work}"

    @property
    def command(self) -> str:
        return f"mount -t overlay overlay -o {self.options} {self.merged}"

    def mount(self) -> str:
        linux.mount("overlay", str(self.merged), "overlay", 0, self.options)
        self.mounted = True
        return "\n".join(mounts_of(self.merged))

    def read(self, name: str, layer: str = "merged") -> str:
        return (getattr(self, layer) / name).read_text()

    def tree(self) -> str:
        """`tree .` of the scratch dir, as the article prints it: lower, merged, upper, work."""
        return tree(self.base)

    def ls_l(self, relative: str) -> str:
        """`ls -l PATH` (relative to the scratch dir), the real command's line."""
        out = subprocess.run(["ls", "-l", relative], cwd=self.base, capture_output=True, text=True, check=True)
        return out.stdout.strip()

    def listing(self) -> dict[str, list[str]]:
        """Each dir's entries: what `ls` shows in lower, upper and merged."""
        return {d: sorted(os.listdir(getattr(self, d))) for d in ("lower", "upper", "merged")}

    def listing_frame(self):
        import pandas as pd

        names = sorted({n for v in self.listing().values() for n in v})
        rows = []
        for n in names:
            row = {"file": n}
            for d in ("lower", "upper", "merged"):
                p = getattr(self, d) / n
                row[d] = describe(p) if os.path.lexists(p) else ""
            rows.append(row)
        return pd.DataFrame(rows).set_index("file")

    def diff(self, title: str = ""):
        from ..views import LayerDiff

        return LayerDiff.of_dirs(self.upper, [self.lower], title=title)

    def close(self) -> None:
        if self.mounted or mounts_of(self.merged):
            linux.umount2(str(self.merged), 0)
            self.mounted = False
        shutil.rmtree(self.base, ignore_errors=True)

    def __enter__(self) -> OverlayDemo:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def describe(path: Path) -> str:
    """`ls -l`'s view of one entry: a whiteout is a character device 0/0."""
    st = os.lstat(path)
    if stat.S_ISCHR(st.st_mode):  # as `ls -l` shows it: c--------- ... 0, 0
        return f"{stat.filemode(st.st_mode)} {os.major(st.st_rdev)}, {os.minor(st.st_rdev)}" + (
            " (whiteout)" if st.st_rdev == 0 else "")
    if stat.S_ISDIR(st.st_mode):
        return "dir"
    if stat.S_ISREG(st.st_mode):
        text = path.read_bytes()[:60].decode(errors="replace").strip()
        return f"file: {text!r}"
    return stat.filemode(st.st_mode)


def is_whiteout(path: str | os.PathLike[str]) -> bool:
    st = os.lstat(path)
    return stat.S_ISCHR(st.st_mode) and st.st_rdev == 0


def tree(base: str | os.PathLike[str]) -> str:
    """A `tree .` of base: directories first level by level, sorted, with the same branch marks."""
    base = Path(base)
    lines = ["."]

    def walk(d: Path, prefix: str) -> None:
        try:
            entries = sorted(os.listdir(d))
        except OSError:
            return
        for i, name in enumerate(entries):
            last = i == len(entries) - 1
            lines.append(f"{prefix}{'`-- ' if last else '|-- '}{name}")
            p = d / name
            if p.is_dir() and not p.is_symlink():
                walk(p, prefix + ("    " if last else "|   "))

    walk(base, "")
    return "\n".join(lines)


class LayerOrder:
    """Article 2.3.3: with several lowerdirs, the one written first is nearest to merged.

    Two lower dirs both hold `same` (different content) and one file each; mounted as
    lowerdir=A:B, merged shows A's `same`; as lowerdir=B:A, B's. Read-only overlays (no upper).
    """

    def __init__(self) -> None:
        self.base = Path(tempfile.mkdtemp(prefix="bocker-lab-overlay-order-"))
        self.a, self.b, self.merged = self.base / "lowerA", self.base / "lowerB", self.base / "merged"
        for d in (self.a, self.b, self.merged):
            d.mkdir()
        (self.a / "same").write_text("from lowerA\n")
        (self.b / "same").write_text("from lowerB\n")
        (self.a / "only_in_A").write_text("A\n")
        (self.b / "only_in_B").write_text("B\n")
        self.mounted = False

    def command(self, order: tuple[str, str]) -> str:
        return f"mount -t overlay overlay -o lowerdir={':'.join(order)} merged"

    def mount(self, order: tuple[str, str]) -> dict[str, str]:
        """Mount with lowerdir=order[0]:order[1] (names relative to the scratch dir); what merged holds."""
        if self.mounted:
            linux.umount2(str(self.merged), 0)
            self.mounted = False
        lowers = ":".join(str(self.base / d) for d in order)
        linux.mount("overlay", str(self.merged), "overlay", linux.MS_RDONLY, f"lowerdir={lowers}")
        self.mounted = True
        return {n: (self.merged / n).read_text().strip() for n in sorted(os.listdir(self.merged))}

    def close(self) -> None:
        if self.mounted or mounts_of(self.merged):
            linux.umount2(str(self.merged), 0)
            self.mounted = False
        shutil.rmtree(self.base, ignore_errors=True)
