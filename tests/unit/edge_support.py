"""Test helpers for the edge function: CloudFront events, an OIDC issuer with real RSA keys.

Tokens are signed with `cryptography` (an independent RSA implementation), so the edge's
pure-Python verification is checked against the real thing, not against itself.
"""

from __future__ import annotations

import base64
import json
import time
from dataclasses import dataclass, field
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from lambdas.edge.viewer_request.edge_config import AuthConfig
from lambdas.edge.viewer_request.jwks import JwksCache

ISSUER = "https://issuer.example.com/"
AUDIENCE = "orders-api"
JWKS_URL = "https://issuer.example.com/.well-known/jwks.json"
SCOPE = "orders/write"
HASHES: dict[str, type[hashes.SHA256 | hashes.SHA384 | hashes.SHA512]] = {
    "RS256": hashes.SHA256,
    "RS384": hashes.SHA384,
    "RS512": hashes.SHA512,
}


def cf_request(
    method: str = "POST",
    uri: str = "/lambda/api",
    headers: dict[str, str] | None = None,
    querystring: str = "",
) -> dict[str, Any]:
    """A CloudFront viewer-request `request` object, headers in CloudFront's shape."""
    if headers is None:
        headers = {"Content-Type": "application/json", "Content-Length": "42"}
    return {
        "clientIp": "203.0.113.10",
        "method": method,
        "uri": uri,
        "querystring": querystring,
        "headers": {
            name.lower(): [{"key": name, "value": value}] for name, value in headers.items()
        },
    }


def cf_event(request: dict[str, Any]) -> dict[str, Any]:
    return {
        "Records": [
            {
                "cf": {
                    "config": {
                        "distributionDomainName": "d111111abcdef8.cloudfront.net",
                        "distributionId": "EDFDVBD6EXAMPLE",
                        "eventType": "viewer-request",
                        "requestId": "4TyzHTaYWb1GX1qTfsHhEqV6HUDd_BzoBZnwfnvQc_1oF26ClkoUSEQ==",
                    },
                    "request": request,
                }
            }
        ]
    }


def header(answer: dict[str, Any], name: str) -> str | None:
    entries = answer.get("headers", {}).get(name.lower())
    return None if entries is None else entries[0]["value"]


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_json(value: Any) -> str:
    return b64url(json.dumps(value).encode("utf-8"))


@dataclass
class SigningKey:
    kid: str
    private: rsa.RSAPrivateKey

    @classmethod
    def generate(cls, kid: str, bits: int = 2048) -> SigningKey:
        return cls(kid, rsa.generate_private_key(public_exponent=65537, key_size=bits))

    def jwk(self, **extra: Any) -> dict[str, Any]:
        numbers = self.private.public_key().public_numbers()
        return {
            "kty": "RSA",
            "use": "sig",
            "kid": self.kid,
            "n": b64url(numbers.n.to_bytes((numbers.n.bit_length() + 7) // 8, "big")),
            "e": b64url(numbers.e.to_bytes(3, "big")),
            **extra,
        }

    def sign(self, claims: dict[str, Any], *, alg: str = "RS256", **header: Any) -> str:
        head = {"alg": alg, "typ": "JWT", "kid": self.kid, **header}
        signing_input = f"{b64url_json(head)}.{b64url_json(claims)}".encode("ascii")
        signature = self.private.sign(signing_input, padding.PKCS1v15(), HASHES[alg]())
        return f"{signing_input.decode('ascii')}.{b64url(signature)}"


def claims(**overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    values = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": "user-123",
        "iat": now - 10,
        "nbf": now - 10,
        "exp": now + 300,
        "scope": f"openid {SCOPE}",
    }
    # A callable override is resolved against the same `now` when the token is made, so
    # a parametrized "two minutes from now" stays two minutes ahead however long the run.
    values.update(
        {name: value(now) if callable(value) else value for name, value in overrides.items()}
    )
    return {name: value for name, value in values.items() if value is not None}


def auth_config(**overrides: Any) -> AuthConfig:
    values: dict[str, Any] = {
        "issuer": ISSUER,
        "audience": AUDIENCE,
        "jwks_url": JWKS_URL,
        "algorithms": frozenset({"RS256", "RS384", "RS512"}),
        "required_scope": SCOPE,
        "jwks_cache_seconds": 600,
        "leeway_seconds": 30,
    }
    values.update(overrides)
    return AuthConfig(**values)


@dataclass
class FakeIssuer:
    """The issuer's JWKS endpoint: counts fetches, can rotate keys or go down."""

    keys: list[SigningKey]
    fetches: int = 0
    down: bool = False
    extra_entries: list[dict[str, Any]] = field(default_factory=list)

    def fetch(self, url: str) -> bytes:
        assert url == JWKS_URL
        self.fetches += 1
        if self.down:
            raise OSError("connection refused")
        entries = [key.jwk() for key in self.keys] + self.extra_entries
        return json.dumps({"keys": entries}).encode("utf-8")


@dataclass
class FakeClock:
    now: float = 1_000.0

    def __call__(self) -> float:
        return self.now


def key_cache(issuer: FakeIssuer, clock: FakeClock, **options: Any) -> JwksCache:
    return JwksCache(
        JWKS_URL,
        ttl_seconds=options.pop("ttl_seconds", 600),
        fetch=issuer.fetch,
        clock=clock,
        **options,
    )
