"""The issuer's signing keys (its JWKS), fetched over HTTPS and kept for the container's life.

Keys are refreshed when they are older than the TTL, and early when a token names a key
that is not in the set (the issuer rotated), but at most once per ``min_refresh_seconds``
so tokens with made-up key ids cannot turn the edge into a load generator for the
issuer. When a refresh fails, keys already held stay in use; with none held, the
request is answered 503 rather than 401 (the token may well be good).
"""

import json
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING or __package__:  # tests: imported as lambdas.edge.viewer_request.jwks
    from .tokens import RsaPublicKey
else:  # Lambda: the asset directory is on sys.path
    from tokens import RsaPublicKey

FETCH_TIMEOUT_SECONDS = 2.0  # of the 5 s a viewer-request function may take
MAX_JWKS_BYTES = 256 * 1024
MIN_REFRESH_SECONDS = 30.0

Fetch = Callable[[str], bytes]
Clock = Callable[[], float]


class KeysUnavailable(Exception):
    """No signing keys could be had from the issuer."""


def fetch_url(url: str) -> bytes:
    """GET the JWKS document (HTTPS only; edge_config refuses any other scheme)."""
    if not url.startswith("https://"):
        raise KeysUnavailable("the JWKS URL is not HTTPS")
    # Imported here, not at init: it pulls in http.client, email and ssl, a third of the
    # function's cold start, and only a request carrying a token ever fetches (which then
    # waits on the network far longer than on this import).
    import urllib.request  # noqa: PLC0415

    request = urllib.request.Request(  # noqa: S310 (https only, checked above)
        url, headers={"Accept": "application/json", "User-Agent": "orders-edge"}
    )
    with urllib.request.urlopen(request, timeout=FETCH_TIMEOUT_SECONDS) as answer:  # noqa: S310
        data: bytes = answer.read(MAX_JWKS_BYTES + 1)
    if len(data) > MAX_JWKS_BYTES:
        raise KeysUnavailable("the JWKS document is too large")
    return data


def parse_jwks(data: bytes) -> dict[str, RsaPublicKey]:
    """The RSA signing keys of a JWKS by kid; keys of other kinds are skipped."""
    try:
        document = json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise KeysUnavailable("the JWKS document is not JSON") from error
    entries = document.get("keys") if isinstance(document, dict) else None
    if not isinstance(entries, list):
        raise KeysUnavailable("the JWKS document has no keys")
    keys: dict[str, RsaPublicKey] = {}
    for entry in entries:
        if not isinstance(entry, dict):
            continue
        try:
            key = RsaPublicKey.from_jwk(entry)
        except ValueError:
            continue  # an EC key, an encryption key, ...: not one this edge verifies with
        keys[key.kid] = key
    return keys


class JwksCache:
    """Signing keys by kid, with a TTL and a bounded early refresh for unknown kids."""

    def __init__(
        self,
        url: str,
        *,
        ttl_seconds: float,
        min_refresh_seconds: float = MIN_REFRESH_SECONDS,
        fetch: Fetch = fetch_url,
        clock: Clock = time.monotonic,
    ) -> None:
        self._url = url
        self._ttl = ttl_seconds
        self._min_refresh = min_refresh_seconds
        self._fetch = fetch
        self._clock = clock
        self._keys: dict[str, RsaPublicKey] = {}
        self._fetched_at: float | None = None
        self._attempted_at: float | None = None

    def key(self, kid: str) -> RsaPublicKey | None:
        """The key named ``kid``; None if the issuer does not have it (after a refresh)."""
        now = self._clock()
        stale = self._fetched_at is None or now - self._fetched_at >= self._ttl
        unknown = kid not in self._keys and self._may_refresh_early(now)
        if stale or unknown:
            self._refresh(now)
        return self._keys.get(kid)

    def _may_refresh_early(self, now: float) -> bool:
        return self._attempted_at is None or now - self._attempted_at >= self._min_refresh

    def _refresh(self, now: float) -> None:
        if self._attempted_at is not None and now - self._attempted_at < self._min_refresh:
            if self._keys:
                return  # a refresh just failed: keep the keys held
            raise KeysUnavailable("the issuer's keys could not be fetched recently")
        self._attempted_at = now
        try:
            self._keys = parse_jwks(self._fetch(self._url))
        except (OSError, ValueError, KeysUnavailable) as error:
            if not self._keys:
                raise KeysUnavailable(f"the issuer's keys could not be fetched: {error}") from None
            return  # keep serving with the keys held; retried after min_refresh
        self._fetched_at = now
