"""TLS for registries as Docker and podman set it up: certs.d directories.

    /etc/docker/certs.d/HOST[:PORT]/ca.crt          a CA the registry's certificate is signed by
    /etc/docker/certs.d/HOST[:PORT]/client.cert     a client certificate (mutual TLS) ...
    /etc/docker/certs.d/HOST[:PORT]/client.key      ... and its key (same base name)

(/etc/containers/certs.d/ as podman reads, or the directories BOCKER_CERTS_D / the engine
config's "certs-d" names.) Every `*.crt` is added to the system's CAs; each `NAME.cert` needs
its `NAME.key`. One SSL context per registry client, made once.

A certificate that does not verify becomes one line that names the registry, what failed
(unknown CA, expired, wrong name, a client certificate asked for or refused) and what to do.
"""

from __future__ import annotations

import os
import ssl
import threading
from dataclasses import dataclass, field
from pathlib import Path

from ...errors import InvalidArgument, RegistryError


@dataclass
class RegistryCerts:
    registry: str
    dirs: list[Path] = field(default_factory=list)       # the HOST[:PORT] dirs that exist
    cas: list[Path] = field(default_factory=list)
    pairs: list[tuple[Path, Path]] = field(default_factory=list)  # (cert, key)
    searched: list[Path] = field(default_factory=list)   # where a HOST[:PORT] dir was looked for

    @property
    def suggested_dir(self) -> Path:
        return self.dirs[0] if self.dirs else (self.searched[0] if self.searched else
                                               Path("/etc/docker/certs.d") / self.registry)


def find_certs(registry: str, certs_d: list[str]) -> RegistryCerts:
    """The certs.d files of `registry` (host[:port]) under each of `certs_d`, in order."""
    found = RegistryCerts(registry)
    for base in certs_d:
        d = Path(base) / registry
        found.searched.append(d)
        if not d.is_dir():
            continue
        found.dirs.append(d)
        try:
            names = sorted(p.name for p in d.iterdir())
        except OSError as e:
            raise InvalidArgument(f"Could not read {d}: {e.strerror}") from None
        for name in names:
            path = d / name
            if name.endswith(".crt"):
                found.cas.append(path)
            elif name.endswith(".cert"):
                key = d / (name[:-5] + ".key")
                if not key.exists():
                    raise InvalidArgument(f"{path} has no key beside it: put its key in {key}")
                found.pairs.append((path, key))
            elif name.endswith(".key") and not (d / (name[:-4] + ".cert")).exists():
                raise InvalidArgument(f"{path} has no certificate beside it: put it in {d / (name[:-4] + '.cert')}")
    return found


_CONTEXTS: dict[tuple, ssl.SSLContext] = {}
_CONTEXTS_LOCK = threading.Lock()


def _files_key(paths) -> tuple:
    """What a context was made from, as the files now stand (a changed or replaced file, a new
    system bundle: another key, so a new context)."""
    out = []
    for p in paths:
        try:
            st = os.stat(p)
        except OSError:
            return ()  # gone or unreadable: make_context says which, in one line
        out.append((str(p), st.st_ino, st.st_size, st.st_mtime_ns))
    return tuple(out)


def make_context(certs: RegistryCerts, verify: bool) -> ssl.SSLContext:
    """The system's CAs plus the registry's, its client certificate if any; no verification
    when not `verify` (an insecure registry: its client certificate is still given).

    Kept for the process while its files are unchanged: reading the system's CA bundle is a
    noticeable share of a pull's CPU (bench_pull, benchmarks/README.md); the bocker server
    pulls for every command, so from its second pull of a registry on, none is read again."""
    system = ssl.get_default_verify_paths()
    files = [*certs.cas, *(p for pair in certs.pairs[:1] for p in pair)]
    key = (verify, _files_key(files), _files_key([f for f in (system.cafile, system.capath) if f]))
    if files and not key[1]:
        return _new_context(certs, verify)
    with _CONTEXTS_LOCK:
        ctx = _CONTEXTS.get(key)
    if ctx is None:
        ctx = _new_context(certs, verify)
        with _CONTEXTS_LOCK:
            if len(_CONTEXTS) >= 64:
                _CONTEXTS.clear()
            _CONTEXTS[key] = ctx
    return ctx


def _new_context(certs: RegistryCerts, verify: bool) -> ssl.SSLContext:
    ctx = ssl.create_default_context()
    for ca in certs.cas:
        try:
            ctx.load_verify_locations(cafile=str(ca))
        except (ssl.SSLError, ValueError):
            raise InvalidArgument(f"{ca} is not a PEM certificate: put the registry's CA there in PEM form") from None
        except OSError as e:
            raise InvalidArgument(f"Could not read {ca}: {e.strerror}") from None
    for cert, key in certs.pairs[:1]:
        try:
            ctx.load_cert_chain(str(cert), str(key))
        except ssl.SSLError as e:
            raise InvalidArgument(f"{cert} and {key} are not a PEM certificate and its key ({e.reason}): "
                                  "check the pair") from None
        except OSError as e:
            raise InvalidArgument(f"Could not read {cert} or {key}: {e.strerror}") from None
    if not verify:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    return ctx


def is_tls_failure(e: BaseException) -> bool:
    """An error no retry can mend: a certificate that does not verify, a client certificate
    asked for or refused."""
    if isinstance(e, ssl.SSLCertVerificationError):
        return True
    if isinstance(e, ssl.SSLError):
        text = f"{e.reason or ''} {e}".upper()
        return any(k in text for k in ("CERTIFICATE", "UNKNOWN_CA", "HANDSHAKE_FAILURE", "BAD_CERT"))
    return False


def tls_message(e: BaseException, certs: RegistryCerts, endpoint: str) -> str:
    """One line: the registry, what failed, what to do."""
    reg = certs.registry
    where = certs.suggested_dir
    if isinstance(e, ssl.SSLCertVerificationError):
        code, msg = e.verify_code, (e.verify_message or str(e))
        if code == 10:  # X509_V_ERR_CERT_HAS_EXPIRED
            return (f"The certificate of {reg} has expired ({msg}): the registry must renew it "
                    "(or this machine's clock is wrong)")
        if code == 9:   # X509_V_ERR_CERT_NOT_YET_VALID
            return f"The certificate of {reg} is not valid yet ({msg}): check this machine's clock"
        if code in (62, 64) or "mismatch" in msg.lower():  # hostname / IP address mismatch
            return (f"The certificate of {reg} is not valid for {endpoint} ({msg}): use the name it was "
                    "issued for, or have the registry's certificate list this one")
        if code in (18, 19, 20, 21, 2):  # self-signed / unknown issuer
            have = f" (read {', '.join(str(c) for c in certs.cas)})" if certs.cas else ""
            return (f"The certificate of {reg} is signed by an unknown authority ({msg}){have}: put the "
                    f"registry's CA certificate in {where}/ca.crt, or mark it insecure "
                    "(--insecure or insecure-registries)")
        return f"The certificate of {reg} did not verify ({msg}): check the registry's certificate and {where}"
    text = f"{getattr(e, 'reason', '') or ''} {e}".upper()
    # without one, a registry that wants a client certificate says "certificate required"
    # (TLS 1.3), "bad certificate" (Go's server) or "handshake failure"
    if "CERTIFICATE_REQUIRED" in text or (not certs.pairs and any(
            k in text for k in ("HANDSHAKE_FAILURE", "BAD_CERTIFICATE"))):
        return (f"{reg} asks for a client certificate (mutual TLS): put client.cert and client.key in {where}/")
    if certs.pairs and any(k in text for k in ("UNKNOWN_CA", "BAD_CERTIFICATE", "CERTIFICATE", "HANDSHAKE")):
        cert = certs.pairs[0][0]
        return (f"{reg} refused the client certificate {cert} ({getattr(e, 'reason', None) or e}): "
                "use one signed by a CA the registry trusts")
    return f"TLS with {reg} failed ({getattr(e, 'reason', None) or e}): check the registry's certificate and {where}"


def tls_error(e: BaseException, certs: RegistryCerts, endpoint: str) -> RegistryError:
    return RegistryError(tls_message(e, certs, endpoint))
