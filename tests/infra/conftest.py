"""Synthesize the app in-process (no CLI, no credentials, no Docker) once per stage."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aws_cdk import App, Stack
from aws_cdk.assertions import Template

from app import build_app
from stacks.compute_stack import ComputeStack
from stacks.front import EdgeAuth

ROOT = Path(__file__).resolve().parents[2]


def cdk_context(**overrides: Any) -> dict[str, Any]:
    """cdk.json's context, as the CLI would pass it, plus `-c`-style overrides."""
    context: dict[str, Any] = json.loads((ROOT / "cdk.json").read_text())["context"]
    return {**context, **overrides}


def synth(tmp_path: Path, **overrides: Any) -> App:
    app = App(context=cdk_context(**overrides), outdir=str(tmp_path))
    build_app(app)
    app.synth()  # runs cdk-nag; raises on an unacknowledged finding
    return app


class Synthesized:
    def __init__(self, app: App) -> None:
        self.app = app
        self.assembly = app.synth()  # the one already made (CDK keeps it)
        self.stacks = {
            child.stack_name.rsplit("-", 1)[-1]: child
            for child in app.node.children
            if isinstance(child, Stack)
        }
        self._templates: dict[str, Template] = {}

    def template(self, part: str) -> Template:
        if part not in self._templates:
            self._templates[part] = Template.from_stack(self.stacks[part])
        return self._templates[part]

    def json(self, part: str) -> dict[str, Any]:
        return self.template(part).to_json()  # type: ignore[no-any-return]


@pytest.fixture(scope="session")
def dev(tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    return Synthesized(synth(tmp_path_factory.mktemp("dev")))


@pytest.fixture(scope="session")
def prod(tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    return Synthesized(synth(tmp_path_factory.mktemp("prod"), stage="prod"))


@pytest.fixture
def synth_with(tmp_path: Path) -> Iterator[Callable[..., Synthesized]]:
    return lambda **overrides: Synthesized(synth(tmp_path, **overrides))


def resources(template: dict[str, Any], cfn_type: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in template["Resources"].items() if v["Type"] == cfn_type}


def only(template: dict[str, Any], cfn_type: str) -> dict[str, Any]:
    found = list(resources(template, cfn_type).values())
    assert len(found) == 1, f"expected one {cfn_type}, found {len(found)}"
    return found[0]


def asset_dirs(synthesized: Synthesized, part: str) -> dict[str, Path]:
    """A stack's file assets: S3 object key -> the staged directory in the assembly."""
    outdir = Path(synthesized.app.outdir)
    manifest = json.loads(
        (outdir / f"{synthesized.stacks[part].artifact_id}.assets.json").read_text()
    )
    found = {}
    for asset in manifest["files"].values():
        for destination in asset["destinations"].values():
            found[destination["objectKey"]] = outdir / asset["source"]["path"]
    return found


@dataclass(frozen=True)
class PythonFunction:
    """A Python function of the synthesized app, with the directories Lambda would load."""

    logical_id: str
    properties: dict[str, Any]
    code: Path  # its code asset directory
    layer: Path  # the shared layer asset's python/ (Lambda's /opt/python)
    source: Path  # lambdas/<name>: the directory whose handler.py the code asset carries

    @property
    def environment(self) -> dict[str, Any]:
        return dict(self.properties["Environment"]["Variables"])


def python_functions(synthesized: Synthesized) -> dict[str, PythonFunction]:
    """The app's Python functions (not CDK's Node.js providers), by source directory name."""
    template = synthesized.json("Compute")
    assets = asset_dirs(synthesized, "Compute")
    layers = resources(template, "AWS::Lambda::LayerVersion")
    sources = [d for d in sorted((ROOT / "lambdas").iterdir()) if (d / "handler.py").is_file()]
    found = {}
    for logical_id, function in resources(template, "AWS::Lambda::Function").items():
        properties = function["Properties"]
        if not properties.get("Runtime", "").startswith("python"):
            continue
        code = assets[properties["Code"]["S3Key"]]
        local = [layers[ref["Ref"]] for ref in properties["Layers"] if ref.get("Ref") in layers]
        (shared,) = local  # the one layer the app builds; the other is Powertools' public one
        shipped = (code / "handler.py").read_bytes()
        (source,) = [d for d in sources if (d / "handler.py").read_bytes() == shipped]
        found[source.name] = PythonFunction(
            logical_id=logical_id,
            properties=properties,
            code=code,
            layer=assets[shared["Properties"]["Content"]["S3Key"]] / "python",
            source=source,
        )
    return found


# The edge front, as the app builds it: prod in us-east-1 (the edge is on by default in
# prod, and the edge function sits beside the distribution), and prod in eu-west-1 with
# every edge option set (the edge function gets a us-east-1 stack of its own).
FRONT_AUTH = EdgeAuth(
    issuer="https://issuer.example.com/",
    audience="orders-api",
    jwks_url="https://issuer.example.com/.well-known/jwks.json",
    algorithms=("RS256", "RS512"),
    required_scope="orders/write",
)
FRONT_CERTIFICATE = (
    "arn:aws:acm:us-east-1:111122223333:certificate/0f1e2d3c-aaaa-bbbb-cccc-123456789012"
)
EDGE_OPTIONS: dict[str, Any] = {
    "region": "eu-west-1",
    "edge_auth_issuer": FRONT_AUTH.issuer,
    "edge_auth_audience": FRONT_AUTH.audience,
    "edge_auth_jwks_url": FRONT_AUTH.jwks_url,
    "edge_auth_algorithms": list(FRONT_AUTH.algorithms),
    "edge_auth_required_scope": FRONT_AUTH.required_scope,
    "status_cache_seconds": 5,
    "edge_domain_names": ["api.example.com"],
    "edge_certificate_arn": FRONT_CERTIFICATE,
    "waf_enabled": True,
}


class Front:
    """An edge-on synth of the app, as tests/infra/test_front.py reads it."""

    def __init__(self, synthesized: Synthesized) -> None:
        self.synthesized = synthesized
        self.outdir = Path(synthesized.app.outdir)
        self.assembly = synthesized.assembly
        self.templates: dict[str, dict[str, Any]] = {
            artifact.stack_name: artifact.template for artifact in self.assembly.stacks
        }
        stack = synthesized.stacks["Compute"]
        assert isinstance(stack, ComputeStack)
        self.stack = stack

    @property
    def compute(self) -> dict[str, Any]:
        return self.synthesized.json("Compute")

    @property
    def network(self) -> dict[str, Any]:
        return self.synthesized.json("Network")

    @property
    def function_template(self) -> dict[str, Any]:
        """The template holding the edge function: its own us-east-1 stack, or compute."""
        if "Edge" in self.synthesized.stacks:
            return self.synthesized.json("Edge")
        return self.compute


@pytest.fixture(scope="session")
def front_us_east_1(prod: Synthesized) -> Front:
    return Front(prod)


@pytest.fixture(scope="session")
def front_eu_west_1(tmp_path_factory: pytest.TempPathFactory) -> Front:
    return Front(
        Synthesized(synth(tmp_path_factory.mktemp("edge-euw1"), stage="prod", **EDGE_OPTIONS))
    )
