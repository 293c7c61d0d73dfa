"""JSON Web Tokens signed with RSA (RS256/RS384/RS512), verified in pure Python.

Lambda@Edge takes no layers and the viewer-request package must stay small, so there is
no PyJWT/cryptography here: RSASSA-PKCS1-v1_5 verification is one modular
exponentiation and a byte comparison against the expected encoding (RFC 8017 8.2.2).
Only asymmetric algorithms are offered: an HMAC secret would have to be baked into the
code, and ``none`` is never accepted (RFC 8725 2.1, 3.1).
"""

import base64
import binascii
import hashlib
import hmac
import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

# DER DigestInfo prefixes (RFC 8017 9.2, note 1) for each algorithm's hash.
_DIGEST_INFO = {
    "RS256": ("sha256", bytes.fromhex("3031300d060960864801650304020105000420")),
    "RS384": ("sha384", bytes.fromhex("3041300d060960864801650304020205000430")),
    "RS512": ("sha512", bytes.fromhex("3051300d060960864801650304020305000440")),
}
ALGORITHMS = frozenset(_DIGEST_INFO)
MIN_KEY_BITS = 2048
MAX_TOKEN_CHARS = 16 * 1024
MAX_SUBJECT_CHARS = 255  # OpenID Connect Core 2: sub is at most 255 ASCII characters
_BASE64URL = re.compile(r"^[A-Za-z0-9_-]*$")
_PRINTABLE_ASCII = re.compile(r"^[\x21-\x7e](?:[\x20-\x7e]*[\x21-\x7e])?$")


class TokenRejected(Exception):
    """A token that proves nothing: answered 401 ``invalid_token``."""


class TokenForbidden(Exception):
    """A valid token that does not grant this API: answered 403 (``code`` says why)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class RsaPublicKey:
    kid: str
    n: int
    e: int
    alg: str | None = None

    @classmethod
    def from_jwk(cls, jwk: Mapping[str, Any]) -> "RsaPublicKey":
        """An RSA signing key from its JWK (RFC 7517/7518); ValueError if it is not one."""
        if jwk.get("kty") != "RSA" or jwk.get("use", "sig") != "sig":
            raise ValueError("not an RSA signing key")
        operations = jwk.get("key_ops")
        if operations is not None and "verify" not in operations:
            raise ValueError("the key is not for verifying")
        kid, alg = jwk.get("kid"), jwk.get("alg")
        if not isinstance(kid, str) or not kid:
            raise ValueError("the key has no kid")
        if alg is not None and alg not in ALGORITHMS:
            raise ValueError("the key is for another algorithm")
        n = int.from_bytes(b64url_decode(_text(jwk.get("n"))), "big")
        e = int.from_bytes(b64url_decode(_text(jwk.get("e"))), "big")
        if n.bit_length() < MIN_KEY_BITS or e < 3 or e % 2 == 0:
            raise ValueError("the key is too small or malformed")
        return cls(kid=kid, n=n, e=e, alg=alg)

    @property
    def size_bytes(self) -> int:
        return (self.n.bit_length() + 7) // 8


@dataclass(frozen=True)
class UnverifiedToken:
    header: dict[str, Any]
    claims: dict[str, Any]
    signing_input: bytes
    signature: bytes

    @property
    def alg(self) -> str:
        return str(self.header.get("alg"))

    @property
    def kid(self) -> str:
        kid = self.header.get("kid")
        if not isinstance(kid, str) or not kid:
            raise TokenRejected("the token names no signing key")
        return kid


def parse(token: str) -> UnverifiedToken:
    """Split and decode a compact JWS; nothing in it is trusted yet."""
    if len(token) > MAX_TOKEN_CHARS:
        raise TokenRejected("the token is too long")
    parts = token.split(".")
    if len(parts) != 3:
        raise TokenRejected("the token is not a signed JWT")
    header_part, claims_part, signature_part = parts
    try:
        header = _json_object(b64url_decode(header_part))
        claims = _json_object(b64url_decode(claims_part))
        signature = b64url_decode(signature_part)
    except ValueError:
        raise TokenRejected("the token is malformed") from None
    if "crit" in header:  # RFC 7515 4.1.11: extensions this code does not understand
        raise TokenRejected("the token uses unsupported extensions")
    return UnverifiedToken(
        header=header,
        claims=claims,
        signing_input=f"{header_part}.{claims_part}".encode("ascii"),
        signature=signature,
    )


def verify_signature(token: UnverifiedToken, key: RsaPublicKey, allowed: frozenset[str]) -> None:
    """RSASSA-PKCS1-v1_5 verification with the token's (allowed) algorithm."""
    alg = token.alg
    if alg not in allowed or alg not in ALGORITHMS:
        raise TokenRejected("the token's algorithm is not accepted")
    if key.alg is not None and key.alg != alg:
        raise TokenRejected("the signing key is for another algorithm")
    hash_name, digest_info = _DIGEST_INFO[alg]
    size = key.size_bytes
    if len(token.signature) != size:
        raise TokenRejected("the token's signature is invalid")
    signature = int.from_bytes(token.signature, "big")
    if signature >= key.n:
        raise TokenRejected("the token's signature is invalid")
    encoded = pow(signature, key.e, key.n).to_bytes(size, "big")
    digest = hashlib.new(hash_name, token.signing_input).digest()
    suffix = digest_info + digest
    expected = b"\x00\x01" + b"\xff" * (size - len(suffix) - 3) + b"\x00" + suffix
    if not hmac.compare_digest(encoded, expected):
        raise TokenRejected("the token's signature is invalid")


def check_claims(
    claims: Mapping[str, Any],
    *,
    issuer: str,
    audience: str,
    required_scope: str | None,
    now: float,
    leeway: float,
) -> str:
    """The subject of a token whose signature was verified; raises if it must not pass."""
    if claims.get("iss") != issuer:
        raise TokenRejected("the token is from another issuer")
    expires = _number(claims, "exp", required=True)
    if expires is not None and now >= expires + leeway:
        raise TokenRejected("the token has expired")
    not_before = _number(claims, "nbf")
    if not_before is not None and now + leeway < not_before:
        raise TokenRejected("the token is not valid yet")
    issued = _number(claims, "iat")
    if issued is not None and issued > now + leeway:
        raise TokenRejected("the token was issued in the future")
    subject = claims.get("sub")
    if not isinstance(subject, str) or len(subject) > MAX_SUBJECT_CHARS:
        raise TokenRejected("the token has no usable subject")
    if not _PRINTABLE_ASCII.match(subject):
        raise TokenRejected("the token has no usable subject")
    if audience not in _strings(claims.get("aud")):
        raise TokenForbidden("wrong_audience", "the token is not meant for this API")
    if required_scope and required_scope not in granted_scopes(claims):
        raise TokenForbidden("insufficient_scope", f"the token lacks the scope {required_scope}")
    return subject


def granted_scopes(claims: Mapping[str, Any]) -> frozenset[str]:
    """OAuth's space-separated ``scope`` (RFC 9068), or ``scp`` as some issuers send it."""
    granted: set[str] = set()
    for name in ("scope", "scp"):
        value = claims.get(name)
        if isinstance(value, str):
            granted.update(value.split())
        else:
            granted.update(_strings(value))
    return frozenset(granted)


def b64url_decode(text: str) -> bytes:
    """Unpadded base64url (RFC 7515 2); ValueError on anything else."""
    if not _BASE64URL.match(text) or len(text) % 4 == 1:
        raise ValueError("not base64url")
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except binascii.Error as error:
        raise ValueError("not base64url") from error


def _text(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError("expected a string")
    return value


def _json_object(data: bytes) -> dict[str, Any]:
    def no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        keys = [key for key, _ in pairs]
        if len(keys) != len(set(keys)):
            raise ValueError("duplicate member")  # two readings of one claim: refuse
        return dict(pairs)

    try:
        value = json.loads(data.decode("utf-8"), object_pairs_hook=no_duplicates)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ValueError("not JSON") from error
    if not isinstance(value, dict):
        raise ValueError("not a JSON object")
    return value


def _number(claims: Mapping[str, Any], name: str, *, required: bool = False) -> float | None:
    value = claims.get(name)
    if value is None and not required:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TokenRejected(f"the token's {name} claim is missing or not a number")
    if not math.isfinite(value):
        raise TokenRejected(f"the token's {name} claim is not a finite number")
    return float(value)


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [item for item in value if isinstance(item, str)]
    return []
