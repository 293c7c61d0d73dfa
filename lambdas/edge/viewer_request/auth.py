"""Bearer-token authentication (RFC 6750) against the configured OIDC issuer.

401 with ``WWW-Authenticate: Bearer ...`` when the token is missing, malformed, badly
signed, expired, or from another issuer; 403 when a valid token is for another audience
or lacks the required scope; 503 when the issuer's keys cannot be had at all.
"""

import time
from collections.abc import Callable, Mapping
from http import HTTPStatus
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING or __package__:  # tests: imported as lambdas.edge.viewer_request.auth
    from .cf_event import single_header
    from .edge_config import AuthConfig
    from .jwks import JwksCache, KeysUnavailable
    from .refusal import Refused
    from .tokens import TokenForbidden, TokenRejected, check_claims, parse, verify_signature
else:  # Lambda: the asset directory is on sys.path
    from cf_event import single_header
    from edge_config import AuthConfig
    from jwks import JwksCache, KeysUnavailable
    from refusal import Refused
    from tokens import TokenForbidden, TokenRejected, check_claims, parse, verify_signature

REALM = "orders"
RETRY_AFTER_SECONDS = 5


class Authenticator:
    """Turns a request's Authorization header into the caller's subject, or refuses it."""

    def __init__(
        self, config: AuthConfig, keys: JwksCache, clock: Callable[[], float] = time.time
    ) -> None:
        self._config = config
        self._keys = keys
        self._clock = clock

    def subject(self, headers: Mapping[str, Any]) -> str:
        token = _bearer_token(headers)
        config = self._config
        try:
            parsed = parse(token)
            if parsed.alg not in config.algorithms:
                raise TokenRejected("the token's algorithm is not accepted")
            key = self._keys.key(parsed.kid)
            if key is None:
                raise TokenRejected("the token's signing key is unknown")
            verify_signature(parsed, key, config.algorithms)
            return check_claims(
                parsed.claims,
                issuer=config.issuer,
                audience=config.audience,
                required_scope=config.required_scope,
                now=self._clock(),
                leeway=config.leeway_seconds,
            )
        except TokenRejected as rejected:
            raise _unauthorized("invalid_token", str(rejected)) from None
        except TokenForbidden as forbidden:
            raise _forbidden(forbidden.code, str(forbidden), config.required_scope) from None
        except KeysUnavailable:
            raise Refused(
                HTTPStatus.SERVICE_UNAVAILABLE,
                "auth_unavailable",
                "the token cannot be checked right now; retry later",
                headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
            ) from None


def _bearer_token(headers: Mapping[str, Any]) -> str:
    if "authorization" not in headers:
        # RFC 6750 3.1: no error code when the request carried no credentials at all.
        raise Refused(
            HTTPStatus.UNAUTHORIZED,
            "unauthorized",
            "send a bearer token: Authorization: Bearer <token>",
            headers={"WWW-Authenticate": f'Bearer realm="{REALM}"'},
        )
    value = single_header(headers, "authorization") or ""
    scheme, _, token = value.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token or " " in token:
        raise _unauthorized("invalid_request", "the Authorization header is not one bearer token")
    return token


def _unauthorized(error: str, message: str) -> Refused:
    code = "unauthorized" if error == "invalid_request" else error
    return Refused(
        HTTPStatus.UNAUTHORIZED,
        code,
        message,
        headers={
            "WWW-Authenticate": (
                f'Bearer realm="{REALM}", error="{error}", error_description="{message}"'
            )
        },
    )


def _forbidden(code: str, message: str, scope: str | None) -> Refused:
    challenge = f'Bearer realm="{REALM}", error="insufficient_scope"'
    if code == "insufficient_scope" and scope:
        challenge += f', scope="{scope}"'
    return Refused(HTTPStatus.FORBIDDEN, code, message, headers={"WWW-Authenticate": challenge})
