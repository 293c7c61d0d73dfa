"""The function's configuration: a JSON file the CDK construct writes into the asset.

Lambda@Edge has no environment variables, so stacks/front.py writes ``edge_config.json``
beside this module at synth. The file is required: a package without it fails at its
first request (CloudFront answers 5xx) instead of silently running without the
authentication it was meant to have.

    {"version": 1, "auth": null}
    {"version": 1, "auth": {"issuer": "...", "audience": "...", "jwks_url": "https://...",
      "algorithms": ["RS256"], "required_scope": null, "jwks_cache_seconds": 600,
      "leeway_seconds": 60}}
"""

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING or __package__:  # tests: imported as lambdas.edge.viewer_request.edge_config
    from .tokens import ALGORITHMS
else:  # Lambda: the asset directory is on sys.path
    from tokens import ALGORITHMS

CONFIG_FILE = "edge_config.json"
CONFIG_VERSION = 1


class ConfigError(ValueError):
    """The configuration file is missing or malformed."""


@dataclass(frozen=True)
class AuthConfig:
    issuer: str
    audience: str
    jwks_url: str
    algorithms: frozenset[str]
    required_scope: str | None
    jwks_cache_seconds: int
    leeway_seconds: int


@dataclass(frozen=True)
class EdgeConfig:
    auth: AuthConfig | None


def load_config(path: str | os.PathLike[str]) -> EdgeConfig:
    try:
        with open(path, encoding="utf-8") as config:
            data = json.load(config)
    except (OSError, ValueError) as error:
        raise ConfigError(f"cannot read {os.path.basename(path)}: {error}") from None
    return parse_config(data)


def parse_config(data: Any) -> EdgeConfig:
    if not isinstance(data, dict) or data.get("version") != CONFIG_VERSION:
        raise ConfigError(f"expected an object with version {CONFIG_VERSION}")
    auth = data.get("auth")
    if auth is None:
        return EdgeConfig(auth=None)
    if not isinstance(auth, dict):
        raise ConfigError("auth must be an object or null")
    return EdgeConfig(auth=_auth(auth))


def _auth(auth: Mapping[str, Any]) -> AuthConfig:
    algorithms = auth.get("algorithms")
    if (
        not isinstance(algorithms, list)
        or not algorithms
        or not all(isinstance(alg, str) and alg in ALGORITHMS for alg in algorithms)
    ):
        raise ConfigError(f"algorithms must be a non-empty list of {sorted(ALGORITHMS)}")
    jwks_url = _text(auth, "jwks_url")
    if not jwks_url.startswith("https://"):
        raise ConfigError("jwks_url must be an https:// URL")
    scope = auth.get("required_scope")
    if scope is not None and (not isinstance(scope, str) or not scope or " " in scope):
        raise ConfigError("required_scope must be one scope name or null")
    return AuthConfig(
        issuer=_text(auth, "issuer"),
        audience=_text(auth, "audience"),
        jwks_url=jwks_url,
        algorithms=frozenset(algorithms),
        required_scope=scope,
        jwks_cache_seconds=_whole(auth, "jwks_cache_seconds", 1),
        leeway_seconds=_whole(auth, "leeway_seconds", 0),
    )


def _text(auth: Mapping[str, Any], name: str) -> str:
    value = auth.get(name)
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"{name} must be a non-empty string")
    return value


def _whole(auth: Mapping[str, Any], name: str, low: int) -> int:
    value = auth.get(name)
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise ConfigError(f"{name} must be a whole number >= {low}")
    return value
