"""Registry auth: a 401's WWW-Authenticate challenge, then Basic, or a Bearer token fetched
from its realm (anonymously or with the login's credentials) and renewed when it expires.
Mixed into RegistryClient (registry.py)."""

from __future__ import annotations

import base64
import http.client
import json
import re
import time
import urllib.parse
from dataclasses import dataclass

from ...errors import AuthError
from . import tls

from .transport import RETRY_STATUS


def parse_challenge(header: str) -> tuple[str, dict[str, str]]:
    """`Bearer realm="…",service="…",scope="…"` -> ("bearer", {...})."""
    scheme, _, rest = header.strip().partition(" ")
    params = {k.lower(): v for k, v in re.findall(r'([A-Za-z_]+)\s*=\s*"([^"]*)"', rest)}
    for k, v in re.findall(r'([A-Za-z_]+)\s*=\s*([^",\s]+)', rest):
        params.setdefault(k.lower(), v)
    return scheme.lower(), params


@dataclass
class _Token:
    value: str
    expires: float


class TokenAuth:
    """RegistryClient's auth methods."""

    def _auth_header(self, scope: str) -> dict[str, str]:
        with self._lock:
            challenge = self._challenge
            token = self._tokens.get(scope)
        if challenge is None:
            return {}
        kind, params = challenge
        if kind == "basic":
            if self.credentials is None:
                return {}
            return {"Authorization": "Basic " + base64.b64encode(":".join(self.credentials).encode()).decode()}
        if token is None or time.time() >= token.expires:
            token = self._fetch_token(scope)
        return {"Authorization": f"Bearer {token.value}"}

    def _fetch_token(self, scope: str) -> _Token:
        assert self._challenge is not None
        _, params = self._challenge
        realm = params.get("realm")
        if not realm or urllib.parse.urlsplit(realm).scheme not in ("http", "https"):
            raise AuthError(f"{self.registry} asked for a token without a usable realm ({realm!r})")
        query = {k: v for k, v in (("service", params.get("service")), ("scope", scope)) if v}
        url = realm + ("&" if "?" in realm else "?") + urllib.parse.urlencode(query)
        headers = {"Accept": "application/json"}
        if self.credentials is not None:
            headers["Authorization"] = "Basic " + base64.b64encode(":".join(self.credentials).encode()).decode()
        for attempt in range(self.retries):
            try:
                resp = self._exchange("GET", url, headers, None)
                data = resp.read()
            except (OSError, http.client.HTTPException) as e:
                if attempt + 1 == self.retries or tls.is_tls_failure(e):
                    raise self._failure(e, urllib.parse.urlsplit(url).netloc) from None
                time.sleep(self.backoff * 2 ** attempt)
                continue
            if resp.status in RETRY_STATUS and attempt + 1 < self.retries:
                time.sleep(self._retry_after(resp, attempt))
                continue
            break
        if resp.status in (401, 403):
            raise AuthError(f"{self.registry} refused the credentials: 'bocker login {self.registry}' "
                            "with a user that may read it" if self.credentials else
                            f"{self.registry} needs credentials: run 'bocker login {self.registry}'")
        if resp.status != 200:
            raise AuthError(f"The token service of {self.registry} answered {resp.status}")
        try:
            doc = json.loads(data)
            value = doc.get("token") or doc.get("access_token")
            expires_in = float(doc.get("expires_in") or 60)
        except (ValueError, AttributeError, TypeError):
            value = None
        if not value:
            raise AuthError(f"The token service of {self.registry} sent no token")
        token = _Token(value, time.time() + max(expires_in - 5, 1))
        with self._lock:
            self._tokens[scope] = token
        return token
