"""The edge function loads the Lambda way (asset directory on sys.path, module `handler`),
needs nothing beyond the standard library, and refuses to run without its config file."""

from __future__ import annotations

import ast
import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from lambdas.edge.viewer_request import handler
from lambdas.edge.viewer_request.edge_config import CONFIG_FILE, ConfigError, parse_config
from tests.unit.edge_support import ISSUER, JWKS_URL, cf_event, cf_request

ASSET = Path(handler.__file__).resolve().parent
NO_AUTH: dict[str, Any] = {"version": 1, "auth": None}
AUTH: dict[str, Any] = {
    "issuer": ISSUER,
    "audience": "orders-api",
    "jwks_url": JWKS_URL,
    "algorithms": ["RS256"],
    "required_scope": None,
    "jwks_cache_seconds": 600,
    "leeway_seconds": 60,
}
WITH_AUTH: dict[str, Any] = {"version": 1, "auth": AUTH}


def _package(tmp_path: Path, config: dict[str, Any] | None) -> Path:
    """The asset as the construct packages it: the modules (no __init__.py) + the config."""
    code = tmp_path / "code"
    shutil.copytree(ASSET, code, ignore=shutil.ignore_patterns("__pycache__", "__init__.py"))
    if config is not None:
        (code / CONFIG_FILE).write_text(json.dumps(config))
    return code


def _invoke_the_lambda_way(code: Path, request: dict[str, Any]) -> subprocess.CompletedProcess[str]:
    script = (
        "import json, sys\n"
        f"sys.path.insert(0, {str(code)!r})\n"
        "import handler\n"
        "print(json.dumps(handler.lambda_handler(json.loads(sys.stdin.read()), None)))\n"
    )
    # -I: no PYTHONPATH, no user site, no current directory: only the asset and the stdlib
    return subprocess.run(
        [sys.executable, "-I", "-c", script],
        input=json.dumps(cf_event(request)),
        capture_output=True,
        text=True,
        cwd=code,
        check=False,
    )


def test_the_packaged_function_runs_the_lambda_way(tmp_path: Path) -> None:
    code = _package(tmp_path, NO_AUTH)
    passed = _invoke_the_lambda_way(code, cf_request("POST", "/lambda/api"))
    assert passed.returncode == 0, passed.stderr
    request = json.loads(passed.stdout)
    assert request["uri"] == "/lambda/api"
    assert request["headers"]["x-request-id"][0]["value"]
    refused = _invoke_the_lambda_way(code, cf_request("GET", "/lambda/api"))
    answer = json.loads(refused.stdout.splitlines()[-1])
    assert answer["status"] == "405"


def test_with_auth_configured_the_packaged_function_asks_for_a_token(tmp_path: Path) -> None:
    code = _package(tmp_path, WITH_AUTH)
    result = _invoke_the_lambda_way(code, cf_request("POST", "/lambda/api"))
    answer = json.loads(result.stdout.splitlines()[-1])
    assert answer["status"] == "401"
    assert answer["headers"]["www-authenticate"][0]["value"] == 'Bearer realm="orders"'


def test_without_its_config_file_the_function_fails_closed(tmp_path: Path) -> None:
    code = _package(tmp_path, None)
    result = _invoke_the_lambda_way(code, cf_request("POST", "/lambda/api"))
    assert result.returncode != 0
    assert "ConfigError" in result.stderr


def test_in_tests_the_handler_reads_the_config_beside_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / CONFIG_FILE
    config.write_text(json.dumps(NO_AUTH))
    monkeypatch.setattr(handler, "CONFIG_PATH", config)
    handler.get_gate.cache_clear()
    try:
        answer = handler.lambda_handler(cf_event(cf_request("PUT", "/lambda/api")), None)
        assert answer["status"] == "405"
        assert handler.get_gate() is handler.get_gate()  # one gate (and key cache) per container
    finally:
        handler.get_gate.cache_clear()


def test_the_asset_imports_only_the_standard_library_and_its_siblings() -> None:
    siblings = {path.stem for path in ASSET.glob("*.py")}
    for module in ASSET.glob("*.py"):
        for node in ast.walk(ast.parse(module.read_text())):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                assert top in sys.stdlib_module_names or top in siblings, (module.name, name)


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"version": 2}, "version"),
        ({"auth": "yes"}, "auth"),
        ({"auth": {**AUTH, "algorithms": ["none"]}}, "algorithms"),
        ({"auth": {**AUTH, "algorithms": []}}, "algorithms"),
        ({"auth": {**AUTH, "jwks_url": "http://x/jwks"}}, "https"),
        ({"auth": {**AUTH, "issuer": " "}}, "issuer"),
        ({"auth": {**AUTH, "required_scope": "a b"}}, "required_scope"),
        ({"auth": {**AUTH, "leeway_seconds": -1}}, "leeway_seconds"),
        ({"auth": {**AUTH, "jwks_cache_seconds": True}}, "jwks_cache_seconds"),
    ],
)
def test_a_malformed_config_is_refused(change: dict[str, Any], problem: str) -> None:
    with pytest.raises(ConfigError, match=problem):
        parse_config({**WITH_AUTH, **change})


def test_a_well_formed_config_is_read() -> None:
    assert parse_config(NO_AUTH).auth is None
    auth = parse_config(WITH_AUTH).auth
    assert auth is not None
    assert auth.algorithms == frozenset({"RS256"})
    assert auth.required_scope is None
