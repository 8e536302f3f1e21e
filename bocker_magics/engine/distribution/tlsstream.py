"""HTTPS connections whose TLS runs over memory buffers, the socket read in large pieces.

http.client's HTTPSConnection wraps its socket in an ssl.SSLSocket, and a read of one
decrypts at most one TLS record (16 KB): OpenSSL reads the record's 5-byte header, then its
body, two recv calls a record, each through three Python-level calls (SocketIO.readinto,
SSLSocket.recv_into, SSLSocket.read). A 100 MB blob is ~6,400 records: ~13,000 system calls,
and on loopback each recv that opens the window also runs the registry's transmit work on the
reading thread. Here the socket is read into a 512 KB buffer (one recv for many records),
the bytes go to an ssl.SSLObject through a MemoryBIO, and one readinto fills as much of the
caller's buffer as the records already received give (benchmarks/README.md, bench_pull).

The handshake and the certificate and name checks are the SSLContext's own (wrap_bio, as
wrap_socket): the same exceptions (ssl.SSLCertVerificationError; alerts as ssl.SSLError) come
out, so tls.py's one-line messages hold. Through a proxy the CONNECT tunnel is made on the
plain socket first, as http.client does, and TLS runs end to end through it.
"""

from __future__ import annotations

import http.client
import io
import socket
import ssl

RECV_SIZE = 512 << 10


class TLSStream:
    """What http.client uses of a socket (sendall, makefile('rb'), close) over `sock`, with
    TLS done through memory BIOs. Made by connecting: the handshake happens here."""

    def __init__(self, sock: socket.socket, context: ssl.SSLContext, server_hostname: str | None) -> None:
        self.sock = sock
        self._in, self._out = ssl.MemoryBIO(), ssl.MemoryBIO()
        self._tls = context.wrap_bio(self._in, self._out, server_hostname=server_hostname)
        self._buf = bytearray(RECV_SIZE)
        self._view = memoryview(self._buf)
        self._eof = False
        while True:
            try:
                self._tls.do_handshake()
                break
            except ssl.SSLWantReadError:
                self._flush()
                self._fill()
        self._flush()

    # -- the socket underneath ------------------------------------------------------------
    def _flush(self) -> None:
        if self._out.pending:
            self.sock.sendall(self._out.read())

    def _fill(self) -> None:
        """What the socket has, blocking until something comes (or its timeout)."""
        if self._eof:
            raise ssl.SSLEOFError(ssl.SSL_ERROR_EOF, "EOF occurred in violation of protocol")
        n = self.sock.recv_into(self._buf)
        if n:
            self._in.write(self._view[:n])
        else:
            self._eof = True
            self._in.write_eof()

    # -- what http.client calls -----------------------------------------------------------
    def readinto(self, b) -> int:
        """Decrypted bytes into `b`, as many as the records at hand give; blocks only while
        there are none. 0 at the end of the stream, a close without close_notify included
        (as SSLSocket's suppress_ragged_eofs)."""
        view = memoryview(b).cast("B")
        want = len(view)
        n = 0
        read = self._tls.read
        while n < want:
            try:
                got = read(want - n, view[n:] if n else view)
            except ssl.SSLWantReadError:
                if n:
                    break
                self._flush()  # what reading asked to send (a key update's answer)
                try:
                    self._fill()
                except ssl.SSLEOFError:
                    break
                continue
            except (ssl.SSLZeroReturnError, ssl.SSLEOFError):
                break
            if not got:
                break
            n += got
        self._flush()
        return n

    def sendall(self, data) -> None:
        view = memoryview(data).cast("B")
        while view:
            try:
                n = self._tls.write(view)
            except ssl.SSLWantReadError:  # a renegotiation (TLS 1.2) wants the peer's answer
                self._flush()
                self._fill()
                continue
            view = view[n:]
            self._flush()

    def makefile(self, mode: str = "rb", buffering: int | None = None, **_: object) -> io.BufferedReader:
        if mode != "rb":
            raise ValueError(f"TLSStream.makefile supports only 'rb', not {mode!r}")
        return io.BufferedReader(_Reader(self), buffering or io.DEFAULT_BUFFER_SIZE)

    def close(self) -> None:
        self.sock.close()

    def version(self) -> str | None:
        return self._tls.version()


class _Reader(io.RawIOBase):
    """One response's raw reader (http.client makes a file per response); what was received
    but not yet read stays in the stream, so the next response loses nothing."""

    def __init__(self, stream: TLSStream) -> None:
        self.stream = stream

    def readable(self) -> bool:
        return True

    def readinto(self, b) -> int:  # type: ignore[override]
        return self.stream.readinto(b)


class HTTPSConnection(http.client.HTTPSConnection):
    """http.client's, with a TLSStream where it would wrap an SSLSocket."""

    def connect(self) -> None:
        http.client.HTTPConnection.connect(self)  # TCP, and a proxy's CONNECT when tunnelling
        host = self._tunnel_host or self.host  # type: ignore[attr-defined]
        self.sock = TLSStream(self.sock, self._context, host)  # type: ignore[attr-defined,assignment]
