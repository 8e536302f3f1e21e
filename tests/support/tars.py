"""Layer tars made in memory, entry by entry (the layer and registry tests)."""

from __future__ import annotations

import io
import tarfile

REG, DIR, SYM, LNK, CHR, BLK, FIFO = (tarfile.REGTYPE, tarfile.DIRTYPE, tarfile.SYMTYPE, tarfile.LNKTYPE,
                                     tarfile.CHRTYPE, tarfile.BLKTYPE, tarfile.FIFOTYPE)


def tar_bytes(*entries: tuple) -> bytes:
    """entries: (name, type, extra dict) with data=, linkname=, mode=, uid=, gid=, pax= ..."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tf:
        for name, kind, *rest in entries:
            extra = dict(rest[0]) if rest else {}
            ti = tarfile.TarInfo(name)
            ti.type = kind
            ti.mode = extra.pop("mode", 0o755 if kind == DIR else 0o644)
            ti.pax_headers = extra.pop("pax", {})
            data = extra.pop("data", b"" if kind == REG else None)
            for k, v in extra.items():
                setattr(ti, k, v)
            if data is not None:
                ti.size = len(data)
            tf.addfile(ti, io.BytesIO(data) if data is not None else None)
    return buf.getvalue()
