"""A blob as a file: read from the registry, verified against its digest when read to the end,
resumed with Range when the connection drops (where the registry allows)."""

from __future__ import annotations

import hashlib
import http.client
import io
import json
import re
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ...errors import DigestMismatch, RegistryError

if TYPE_CHECKING:
    from .registry import RegistryClient


def _message(data: bytes) -> str:
    try:
        errors = json.loads(data).get("errors") or []
        return "; ".join(f"{e.get('code')}: {e.get('message')}" for e in errors) or data[:200].decode(errors="replace")
    except (ValueError, AttributeError):
        return data[:200].decode(errors="replace").strip() or "no message"


def _size(descriptor: dict[str, Any]) -> int:
    size = descriptor.get("size")
    if not isinstance(size, int) or isinstance(size, bool) or size < 0:
        raise RegistryError(f"The descriptor of {descriptor.get('digest')} has no valid size")
    return size


class BlobReader(io.RawIOBase):
    """A blob as a stream: resumed with Range after a dropped connection, its size and digest
    checked as it is read; reading to its end raises DigestMismatch if the bytes are wrong."""

    def __init__(self, client: RegistryClient, repo: str, digest: str, size: int,
                 progress: Callable[[int], None] | None) -> None:
        self.client, self.repo, self.digest, self.size = client, repo, digest, size
        self.progress = progress
        self.sha = hashlib.sha256()
        self.count = 0
        self.resp: http.client.HTTPResponse | None = None
        self.failures = 0
        self.verified = False

    def readable(self) -> bool:
        return True

    def _open(self) -> None:
        headers = {"Range": f"bytes={self.count}-"} if self.count else {}
        resp = self.client.request("GET", f"/v2/{self.repo}/blobs/{self.digest}",
                                   scope=f"repository:{self.repo}:pull", headers=headers,
                                   expect=(200, 206), what=f"blob {self.digest[:19]} of {self.repo}")
        if self.count and resp.status == 206:
            m = re.match(r"bytes (\d+)-", resp.getheader("Content-Range") or "")
            if not m or int(m.group(1)) != self.count:
                resp.close()
                raise RegistryError(f"{self.client.registry} resumed {self.digest[:19]} at the wrong offset")
        elif self.count:  # no Range support: read again from the start, skipping what we have
            skip = self.count
            while skip:
                chunk = resp.read(min(skip, 1 << 20))
                if not chunk:
                    raise http.client.IncompleteRead(b"")
                skip -= len(chunk)
        self.resp = resp

    def read(self, n: int = -1) -> bytes:
        if n is None or n < 0:
            n = 1 << 20
        while True:
            if self.count >= self.size and self.resp is None:
                self._verify()
                return b""
            try:
                if self.resp is None:
                    self._open()
                assert self.resp is not None
                data = self.resp.read(min(n, self.size - self.count + 1) or 1)
                if not data and self.count < self.size:
                    raise http.client.IncompleteRead(b"", self.size - self.count)
            except (OSError, http.client.HTTPException) as e:
                self._close_resp(broken=True)
                self.failures += 1
                if self.failures >= self.client.retries:
                    raise RegistryError(f"Lost the connection to {self.client.registry} while reading "
                                        f"{self.digest[:19]} ({e}); gave up after {self.failures} tries") from None
                time.sleep(self.client.backoff * 2 ** (self.failures - 1))
                continue
            if not data:
                self._close_resp()
                self._verify()
                return b""
            self.failures = 0
            self.count += len(data)
            if self.count > self.size:
                self._close_resp(broken=True)
                raise DigestMismatch(f"The blob {self.digest[:19]} is larger than its {self.size} bytes: refused")
            self.sha.update(data)
            if self.progress:
                self.progress(self.count)
            if self.count == self.size:
                # the last byte: finish this response so the connection can be reused
                self.resp.read()  # type: ignore[union-attr]
                self._close_resp()
            return data

    def readinto(self, b) -> int:  # type: ignore[override]
        data = self.read(len(b))
        b[:len(data)] = data
        return len(data)

    def read_all(self) -> bytes:
        chunks = []
        while chunk := self.read(1 << 20):
            chunks.append(chunk)
        return b"".join(chunks)

    def _close_resp(self, broken: bool = False) -> None:
        if self.resp is not None:
            if broken or not self.resp.isclosed():
                self.resp.close()
                if broken:  # what is left unread would be read as the next response
                    self.client._drop(*getattr(self.resp, "bocker_conn", ("", "")))
            self.resp = None

    def _verify(self) -> None:
        if self.verified:
            return
        if self.count != self.size:
            raise DigestMismatch(f"The blob {self.digest[:19]} has {self.count} bytes, not {self.size}: refused")
        got = "sha256:" + self.sha.hexdigest()
        if got != self.digest:
            raise DigestMismatch(f"The blob {self.digest[:19]}… has the digest {got[:19]}…: refused "
                                 "(corrupt or tampered with)")
        self.verified = True

    def close(self) -> None:
        self._close_resp(broken=self.count < self.size)
        super().close()

    def __enter__(self) -> BlobReader:
        return self
