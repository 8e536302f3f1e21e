"""A layer's streams: reading one while hashing it, decompressing it (gzip, zstd, or plain,
found by its magic bytes), and writing one compressed with a fixed header (the same tar gives
the same blob)."""

from __future__ import annotations

import hashlib
import io
import zlib
from typing import BinaryIO

from ...errors import LayerError

_CHUNK = 1 << 20


# == decompression ==========================================================================
class HashingReader(io.RawIOBase):
    """Reads through `raw`, keeping the sha256 and the count of what passed."""

    def __init__(self, raw: BinaryIO) -> None:
        self.raw = raw
        self.sha = hashlib.sha256()
        self.count = 0

    def readable(self) -> bool:
        return True

    def readinto(self, b) -> int:  # type: ignore[override]
        data = self.raw.read(len(b))
        n = len(data)
        b[:n] = data
        self.sha.update(data)
        self.count += n
        return n

    def read(self, n: int = -1) -> bytes:
        data = self.raw.read(n)
        self.sha.update(data)
        self.count += len(data)
        return data

    @property
    def digest(self) -> str:
        return "sha256:" + self.sha.hexdigest()


class Decompressed(io.RawIOBase):
    """The uncompressed bytes of a layer blob (gzip, zstd or plain tar, told by its magic),
    with the sha256 of what came out: the layer's diff_id."""

    def __init__(self, raw: BinaryIO) -> None:
        self.raw = raw
        self.sha = hashlib.sha256()
        self.count = 0
        self._buf = b""
        self._eof = False
        head = raw.read(4)
        if head[:2] == b"\x1f\x8b":
            self._z: zlib._Decompress | None = zlib.decompressobj(31)
            self._pending = head
            self._read = self._gunzip
        elif head == b"\x28\xb5\x2f\xfd":
            self._pending = head
            self._read = self._unzstd
        else:
            self._z = None
            self._pending = head
            self._read = self._plain

    def readable(self) -> bool:
        return True

    def _plain(self, n: int) -> bytes:
        if self._pending:
            data, self._pending = self._pending, b""
            return data
        return self.raw.read(n)

    def _gunzip(self, n: int) -> bytes:
        while True:
            if self._pending:
                data, self._pending = self._pending, b""
            else:
                data = self.raw.read(max(n, 1 << 16))
            if not data:
                if self._z is not None and not self._z.eof and self._z.unconsumed_tail == b"":
                    if self._started:
                        raise LayerError("The layer's gzip stream ends early: the blob is truncated")
                return b""
            self._started = True
            out = self._z.decompress(data)
            while self._z.eof and self._z.unused_data:  # another gzip member follows
                rest = self._z.unused_data
                self._z = zlib.decompressobj(31)
                out += self._z.decompress(rest)
            if out:
                return out

    _started = False

    def _unzstd(self, n: int) -> bytes:
        # in-process (PyPI zstandard), streamed like gzip: frames one after another, a
        # truncated stream is an error, never a short layer
        while True:
            if self._zstd is None:
                import zstandard  # only when a zstd layer comes in
                self._zstd_mod = zstandard
                self._zstd = zstandard.ZstdDecompressor().decompressobj()
            if self._pending:
                data, self._pending = self._pending, b""
            else:
                data = self.raw.read(max(n, 1 << 16))
            if not data:
                if self._started and not self._zstd.eof:
                    raise LayerError("The layer's zstd stream ends early: the blob is truncated")
                return b""
            self._started = True
            try:
                out = self._zstd.decompress(data)
                while self._zstd.eof and self._zstd.unused_data:  # another frame follows
                    rest = self._zstd.unused_data
                    self._zstd = self._zstd_mod.ZstdDecompressor().decompressobj()
                    out += self._zstd.decompress(rest)
            except self._zstd_mod.ZstdError as e:
                raise LayerError(f"The layer's zstd stream is corrupt ({e})") from None
            if out:
                return out

    _zstd = None

    def read(self, n: int = -1) -> bytes:
        if n is None or n < 0:
            chunks = []
            while chunk := self.read(_CHUNK):
                chunks.append(chunk)
            return b"".join(chunks)
        if self._at >= len(self._buf) and not self._eof:
            try:
                self._buf, self._at = self._read(n), 0
            except zlib.error as e:
                raise LayerError(f"The layer's gzip stream is corrupt ({e})") from None
            if not self._buf:
                self._eof = True
            self.sha.update(self._buf)
            self.count += len(self._buf)
        # an offset into what was decompressed, not `buf = buf[n:]`: a chunk of several MB
        # (text inflates) read 10 KB at a time by tarfile would be copied again on every read
        if self._at == 0 and n >= len(self._buf):
            data = self._buf
        else:
            data = self._buf[self._at:self._at + n]
        self._at += len(data)
        return data

    _at = 0

    def readinto(self, b) -> int:  # type: ignore[override]
        data = self.read(len(b))
        b[:len(data)] = data
        return len(data)

    def drain(self) -> None:
        """Read to the end, so the digests cover the whole blob (tar padding included)."""
        while self.read(_CHUNK):
            pass

    @property
    def digest(self) -> str:
        return "sha256:" + self.sha.hexdigest()


class _HashingWriter:
    def __init__(self, out: BinaryIO) -> None:
        self.out = out
        self.sha = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes) -> int:
        self.sha.update(data)
        self.size += len(data)
        self.out.write(data)
        return len(data)

    def flush(self) -> None:
        self.out.flush()


class _GzipWriter:
    """gzip with a fixed header (no name, no time): the same tar gives the same blob."""

    def __init__(self, out: _HashingWriter, level: int = 6) -> None:
        self.out = out
        self.z = zlib.compressobj(level, zlib.DEFLATED, 31)
        self.raw = _HashingWriter(io.BytesIO())  # only for the diff_id

    def write(self, data: bytes) -> int:
        self.raw.sha.update(data)
        self.raw.size += len(data)
        out = self.z.compress(data)
        if out:
            self.out.write(out)
        return len(data)

    def close(self) -> None:
        self.out.write(self.z.flush())


class _ZstdWriter(_GzipWriter):
    """zstd (level 3, one frame, no content size: it is streamed), the same tar giving the same blob."""

    def __init__(self, out: _HashingWriter, level: int = 3) -> None:
        import zstandard
        self.out = out
        self.z = zstandard.ZstdCompressor(level=level).compressobj()  # type: ignore[assignment]
        self.raw = _HashingWriter(io.BytesIO())

    def close(self) -> None:
        self.out.write(self.z.flush())
