"""Bearer-token authentication at the edge, with RSA keys the tests generate."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from lambdas.edge.viewer_request.auth import Authenticator
from lambdas.edge.viewer_request.gate import ViewerRequestGate
from lambdas.edge.viewer_request.jwks import KeysUnavailable, parse_jwks
from lambdas.edge.viewer_request.tokens import (
    RsaPublicKey,
    TokenRejected,
    b64url_decode,
    parse,
    verify_signature,
)
from tests.unit.edge_support import (
    AUDIENCE,
    ISSUER,
    SCOPE,
    FakeClock,
    FakeIssuer,
    SigningKey,
    auth_config,
    b64url_json,
    cf_request,
    claims,
    header,
    key_cache,
)

JSON = {"Content-Type": "application/json", "Content-Length": "42"}


@pytest.fixture(scope="module")
def key() -> SigningKey:
    return SigningKey.generate("key-1")


@pytest.fixture(scope="module")
def other_key() -> SigningKey:
    return SigningKey.generate("key-2")


@pytest.fixture
def issuer(key: SigningKey) -> FakeIssuer:
    return FakeIssuer(keys=[key])


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def _gate(issuer: FakeIssuer, clock: FakeClock, **config: Any) -> ViewerRequestGate:
    authenticator = Authenticator(auth_config(**config), key_cache(issuer, clock))
    return ViewerRequestGate(authenticator, new_request_id=lambda: "rid-1")


def _call(gate: ViewerRequestGate, token: str | None, **kwargs: Any) -> dict[str, Any]:
    headers = dict(JSON)
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    return gate.handle(
        cf_request(kwargs.get("method", "POST"), kwargs.get("uri", "/lambda/api"), headers)
    )


def _refused(answer: dict[str, Any], status: int, code: str) -> str:
    assert answer.get("status") == str(status), answer
    assert json.loads(answer["body"])["error"]["code"] == code
    return header(answer, "www-authenticate") or ""


@pytest.mark.parametrize("alg", ["RS256", "RS384", "RS512"])
def test_a_valid_token_passes_with_its_subject(
    issuer: FakeIssuer, clock: FakeClock, key: SigningKey, alg: str
) -> None:
    answer = _call(_gate(issuer, clock), key.sign(claims(sub="user-42"), alg=alg))
    assert "status" not in answer
    assert answer["headers"]["x-auth-subject"] == [{"key": "x-auth-subject", "value": "user-42"}]
    assert header(answer, "x-request-id") == "rid-1"


def test_a_valid_token_replaces_a_forged_subject(
    issuer: FakeIssuer, clock: FakeClock, key: SigningKey
) -> None:
    request = cf_request("POST", "/lambda/api", {**JSON, "X-Auth-Subject": "admin"})
    request["headers"]["authorization"] = [
        {"key": "Authorization", "value": f"Bearer {key.sign(claims())}"}
    ]
    answer = _gate(issuer, clock).handle(request)
    assert header(answer, "x-auth-subject") == "user-123"


def test_status_reads_need_the_token_too(issuer: FakeIssuer, clock: FakeClock) -> None:
    answer = _call(_gate(issuer, clock), None, method="GET", uri="/lambda/api/orders/1")
    _refused(answer, 401, "unauthorized")


def test_no_token_is_401_with_a_bare_challenge(issuer: FakeIssuer, clock: FakeClock) -> None:
    challenge = _refused(_call(_gate(issuer, clock), None), 401, "unauthorized")
    assert challenge == 'Bearer realm="orders"'  # RFC 6750 3.1: no error without credentials
    assert issuer.fetches == 0


@pytest.mark.parametrize("value", ["Basic dXNlcjpwdw==", "Bearer", "Bearer a b", "token"])
def test_a_malformed_authorization_header_is_401_invalid_request(
    issuer: FakeIssuer, clock: FakeClock, value: str
) -> None:
    request = cf_request("POST", "/lambda/api", {**JSON, "Authorization": value})
    challenge = _refused(_gate(issuer, clock).handle(request), 401, "unauthorized")
    assert 'error="invalid_request"' in challenge


def test_an_expired_token_is_401_and_the_leeway_is_honoured(
    issuer: FakeIssuer, clock: FakeClock, key: SigningKey
) -> None:
    now = int(time.time())
    gate = _gate(issuer, clock, leeway_seconds=30)
    challenge = _refused(_call(gate, key.sign(claims(exp=now - 31))), 401, "invalid_token")
    assert 'error="invalid_token"' in challenge
    assert "expired" in challenge
    assert "status" not in _call(gate, key.sign(claims(exp=now - 20)))  # inside the leeway


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        ({"nbf": lambda now: now + 120}, "not valid yet"),
        ({"iat": lambda now: now + 120}, "future"),
        ({"iss": "https://evil.example.com/"}, "issuer"),
        ({"exp": None}, "exp"),
        ({"exp": "tomorrow"}, "exp"),
        ({"sub": None}, "subject"),
        ({"sub": ""}, "subject"),
        ({"sub": "line\nbreak"}, "subject"),
        ({"sub": "x" * 256}, "subject"),
    ],
)
def test_tokens_that_prove_nothing_are_401(
    issuer: FakeIssuer,
    clock: FakeClock,
    key: SigningKey,
    overrides: dict[str, Any],
    reason: str,
) -> None:
    challenge = _refused(
        _call(_gate(issuer, clock), key.sign(claims(**overrides))), 401, "invalid_token"
    )
    assert reason in challenge


@pytest.mark.parametrize("audience", ["another-api", ["another-api", "third"], None])
def test_a_token_for_another_audience_is_403(
    issuer: FakeIssuer, clock: FakeClock, key: SigningKey, audience: Any
) -> None:
    answer = _call(_gate(issuer, clock), key.sign(claims(aud=audience)))
    challenge = _refused(answer, 403, "wrong_audience")
    assert 'error="insufficient_scope"' in challenge


def test_the_audience_may_be_one_of_several(
    issuer: FakeIssuer, clock: FakeClock, key: SigningKey
) -> None:
    answer = _call(_gate(issuer, clock), key.sign(claims(aud=["other", AUDIENCE])))
    assert "status" not in answer


@pytest.mark.parametrize(
    "scopes", [{"scope": "openid profile"}, {"scope": None}, {"scope": f"{SCOPE}x"}]
)
def test_a_token_without_the_required_scope_is_403(
    issuer: FakeIssuer, clock: FakeClock, key: SigningKey, scopes: dict[str, Any]
) -> None:
    challenge = _refused(
        _call(_gate(issuer, clock), key.sign(claims(**scopes))), 403, "insufficient_scope"
    )
    assert challenge == f'Bearer realm="orders", error="insufficient_scope", scope="{SCOPE}"'


def test_scp_lists_count_as_scopes_and_no_scope_is_needed_when_none_is_required(
    issuer: FakeIssuer, clock: FakeClock, key: SigningKey
) -> None:
    token = key.sign(claims(scope=None, scp=["openid", SCOPE]))
    assert "status" not in _call(_gate(issuer, clock), token)
    unscoped = key.sign(claims(scope=None))
    assert "status" not in _call(_gate(issuer, clock, required_scope=None), unscoped)


def test_a_bad_signature_is_401(
    issuer: FakeIssuer, clock: FakeClock, key: SigningKey, other_key: SigningKey
) -> None:
    # Given a token signed by a key the issuer does not publish, under the issuer's kid
    forged = other_key.sign(claims(), kid=key.kid)
    challenge = _refused(_call(_gate(issuer, clock), forged), 401, "invalid_token")
    assert "signature" in challenge
    # and a genuine token whose claims were edited after signing
    head, _, signature = key.sign(claims()).split(".")
    edited = f"{head}.{b64url_json(claims(sub='admin'))}.{signature}"
    _refused(_call(_gate(issuer, clock), edited), 401, "invalid_token")


@pytest.mark.parametrize("alg", ["none", "HS256", "ES256", "PS256", ""])
def test_algorithms_other_than_rsa_pkcs1_are_refused(
    issuer: FakeIssuer, clock: FakeClock, key: SigningKey, alg: str
) -> None:
    head = b64url_json({"alg": alg, "typ": "JWT", "kid": key.kid})
    unsigned = f"{head}.{b64url_json(claims())}."
    challenge = _refused(_call(_gate(issuer, clock), unsigned), 401, "invalid_token")
    assert "algorithm" in challenge
    # the signature of a real token under a relabelled header does not help either
    _, body, signature = key.sign(claims()).split(".")
    _refused(_call(_gate(issuer, clock), f"{head}.{body}.{signature}"), 401, "invalid_token")


def test_only_the_configured_algorithms_are_accepted(
    issuer: FakeIssuer, clock: FakeClock, key: SigningKey
) -> None:
    gate = _gate(issuer, clock, algorithms=frozenset({"RS256"}))
    assert "status" not in _call(gate, key.sign(claims(), alg="RS256"))
    _refused(_call(gate, key.sign(claims(), alg="RS512")), 401, "invalid_token")


def test_a_key_pinned_to_another_algorithm_is_not_used(clock: FakeClock, key: SigningKey) -> None:
    pinned = FakeIssuer(keys=[], extra_entries=[key.jwk(alg="RS512")])
    _refused(_call(_gate(pinned, clock), key.sign(claims(), alg="RS256")), 401, "invalid_token")
    assert "status" not in _call(_gate(pinned, clock), key.sign(claims(), alg="RS512"))


@pytest.mark.parametrize(
    "token",
    [
        "not-a-jwt",
        "a.b",
        "a.b.c.d",
        "!!!.e30.sig",
        f"{b64url_json([1])}.{b64url_json({})}.AA",
        "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0",
        "x" * 20_000,
    ],
)
def test_malformed_tokens_are_401(issuer: FakeIssuer, clock: FakeClock, token: str) -> None:
    _refused(_call(_gate(issuer, clock), token), 401, "invalid_token")


def test_duplicate_claims_and_critical_extensions_are_refused(
    issuer: FakeIssuer, clock: FakeClock, key: SigningKey
) -> None:
    with pytest.raises(TokenRejected):
        parse("eyJhbGciOiJSUzI1NiIsImFsZyI6Im5vbmUifQ.e30.AA")  # {"alg":"RS256","alg":"none"}
    _refused(_call(_gate(issuer, clock), key.sign(claims(), crit=["exp"])), 401, "invalid_token")


def test_an_unknown_kid_refetches_the_jwks_once(
    issuer: FakeIssuer, clock: FakeClock, key: SigningKey, other_key: SigningKey
) -> None:
    gate = _gate(issuer, clock)
    assert "status" not in _call(gate, key.sign(claims()))
    assert issuer.fetches == 1
    # When the issuer rotates in a new key and a token names it
    issuer.keys.append(other_key)
    clock.now += 31
    assert "status" not in _call(gate, other_key.sign(claims()))
    assert issuer.fetches == 2
    # A kid the issuer does not have: one refetch, then 401, and no refetch storm
    stranger = SigningKey(kid="nobody", private=other_key.private)
    clock.now += 31
    _refused(_call(gate, stranger.sign(claims())), 401, "invalid_token")
    assert issuer.fetches == 3
    for _ in range(5):
        _refused(_call(gate, stranger.sign(claims())), 401, "invalid_token")
    assert issuer.fetches == 3


def test_the_jwks_is_cached_for_its_ttl(
    issuer: FakeIssuer, clock: FakeClock, key: SigningKey
) -> None:
    gate = _gate(issuer, clock)
    for _ in range(5):
        assert "status" not in _call(gate, key.sign(claims()))
    assert issuer.fetches == 1
    clock.now += 599
    _call(gate, key.sign(claims()))
    assert issuer.fetches == 1
    clock.now += 1
    _call(gate, key.sign(claims()))
    assert issuer.fetches == 2


def test_when_the_issuer_is_down_held_keys_keep_working(
    issuer: FakeIssuer, clock: FakeClock, key: SigningKey
) -> None:
    gate = _gate(issuer, clock)
    assert "status" not in _call(gate, key.sign(claims()))
    issuer.down = True
    clock.now += 601  # the keys are stale and the refresh fails
    assert "status" not in _call(gate, key.sign(claims()))


def test_with_no_keys_at_all_the_answer_is_503_not_401(
    issuer: FakeIssuer, clock: FakeClock, key: SigningKey
) -> None:
    issuer.down = True
    gate = _gate(issuer, clock)
    answer = _call(gate, key.sign(claims()))
    assert answer["status"] == "503"
    assert json.loads(answer["body"])["error"]["code"] == "auth_unavailable"
    assert header(answer, "retry-after") == "5"
    _call(gate, key.sign(claims()))
    assert issuer.fetches == 1  # failing fast, not hammering the issuer
    issuer.down = False
    clock.now += 31
    assert "status" not in _call(gate, key.sign(claims()))


def test_path_and_method_are_refused_before_the_token_is_asked_for(
    issuer: FakeIssuer, clock: FakeClock
) -> None:
    gate = _gate(issuer, clock)
    assert _call(gate, None, uri="/elsewhere")["status"] == "404"
    assert _call(gate, None, method="GET")["status"] == "405"
    # and the body rules only after it: an anonymous caller learns nothing about bodies
    request = cf_request("POST", "/lambda/api", {"Content-Type": "text/plain"})
    _refused(gate.handle(request), 401, "unauthorized")


def test_jwks_parsing_skips_keys_it_cannot_use(key: SigningKey) -> None:
    document = {
        "keys": [
            key.jwk(),
            {"kty": "EC", "kid": "ec", "crv": "P-256", "x": "AA", "y": "AA"},
            key.jwk(kid="enc", use="enc"),
            key.jwk(kid="wrapping", key_ops=["wrapKey"]),
            key.jwk(kid="hmac", alg="HS256"),
            {**key.jwk(kid="small"), "n": "AQAB"},
            {**key.jwk(kid=""), "kid": ""},
            "junk",
        ]
    }
    assert set(parse_jwks(json.dumps(document).encode())) == {key.kid}
    with pytest.raises(KeysUnavailable):
        parse_jwks(b"<html>")
    with pytest.raises(KeysUnavailable):
        parse_jwks(b'{"keys": "none"}')


def test_small_keys_are_refused(key: SigningKey) -> None:
    small = SigningKey.generate("small", bits=1024)
    with pytest.raises(ValueError, match="too small"):
        RsaPublicKey.from_jwk(small.jwk())
    # even if one slipped through, a mismatched length never verifies
    token = parse(key.sign(claims()))
    public = small.private.public_key().public_numbers()
    with pytest.raises(TokenRejected):
        verify_signature(token, RsaPublicKey("small", public.n, public.e), frozenset({"RS256"}))


def test_base64url_is_strict() -> None:
    assert b64url_decode("YWJj") == b"abc"
    assert b64url_decode("YWI") == b"ab"
    for text in ("YWJj=", "YW+j", "Y", "YW/j"):
        with pytest.raises(ValueError, match="base64url"):
            b64url_decode(text)


def test_the_issuer_in_the_claims_is_compared_exactly(
    issuer: FakeIssuer, clock: FakeClock, key: SigningKey
) -> None:
    trailing = ISSUER.rstrip("/")
    _refused(_call(_gate(issuer, clock), key.sign(claims(iss=trailing))), 401, "invalid_token")
