"""Lambda Layers as the seed describes them: one shared layer for every function, Lambda's
limits checked at synth (at most 5 layers; code plus layers at most 250 MB unzipped,
measured from the staged assets), and the layer version shared with listed accounts."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from aws_cdk import App, Environment, Stack
from aws_cdk import aws_lambda as lambda_

from app import build_app
from stacks.constructs import functions as functions_module
from stacks.constructs.capability import CapabilityStack
from stacks.constructs.functions import (
    MAX_UNZIPPED_BYTES,
    FunctionSpec,
    LayerLimitError,
    PythonFunctions,
    SizedLayer,
    check_layer_limits,
    staged_asset_dir,
    unzipped_bytes,
)
from stacks.contract import FILES
from stacks.network_stack import NetworkStack
from stacks.settings import settings_from_mapping
from tests.infra.conftest import ROOT, Synthesized, asset_dirs, cdk_context, resources

PUBLIC_ARN = "arn:aws:lambda:us-east-1:017000801446:layer:Example:{}"


def _source_bytes(directory: Path) -> int:
    """What an asset of `directory` carries: every file but interpreter caches."""
    return sum(
        path.stat().st_size
        for path in directory.rglob("*")
        if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc"
    )


def test_every_function_uses_the_one_shared_layer_and_powertools(dev: Synthesized) -> None:
    template = dev.json("Compute")
    (shared_id,) = resources(template, "AWS::Lambda::LayerVersion")
    functions = [
        f["Properties"]
        for f in resources(template, "AWS::Lambda::Function").values()
        if f["Properties"].get("Handler") == "handler.lambda_handler"
    ]
    assert len(functions) >= 2  # every Python function of the app (test_assets counts them)
    powertools = {"Ref": _powertools_parameter(template)}
    for function in functions:
        # Powertools (its public SSM parameter) first, then the shared layer
        assert function["Layers"] == [powertools, {"Ref": shared_id}]


def _powertools_parameter(template: dict[str, Any]) -> str:
    (parameter,) = (
        name
        for name, value in template["Parameters"].items()
        if str(value.get("Default", "")).startswith("/aws/service/powertools/")
    )
    return parameter


def test_sizes_are_measured_from_the_staged_asset_directories(synth_with) -> None:
    # a fresh assembly (other tests import handlers from the session's assets, which
    # leaves interpreter caches there): its staged shared layer is the source tree
    dev = synth_with()
    (layer,) = resources(dev.json("Compute"), "AWS::Lambda::LayerVersion").values()
    staged = asset_dirs(dev, "Compute")[layer["Properties"]["Content"]["S3Key"]]
    assert unzipped_bytes(staged) == _source_bytes(ROOT / "lambdas" / "shared")
    compute = dev.stacks["Compute"]
    shared = compute.node.find_child("Functions").node.find_child("SharedLayer")
    assert staged_asset_dir(shared) == staged


def test_limits_name_the_function() -> None:
    some = lambda_.LayerVersion.from_layer_version_arn(
        Stack(App(), "Any"), "Layer", PUBLIC_ARN.format(1)
    )
    layers = [SizedLayer(some, "a", 1)] * 5
    check_layer_limits("orders-x (lambdas/x)", 10, layers)  # 5 layers: fine
    with pytest.raises(LayerLimitError, match=r"^function orders-x \(lambdas/x\) has 6 layers"):
        check_layer_limits("orders-x (lambdas/x)", 10, [*layers, layers[0]])
    check_layer_limits("orders-x (lambdas/x)", MAX_UNZIPPED_BYTES - 5, layers)  # exactly 250 MB
    with pytest.raises(LayerLimitError, match=r"orders-x \(lambdas/x\) is 262,144,001 bytes"):
        check_layer_limits("orders-x (lambdas/x)", MAX_UNZIPPED_BYTES - 4, layers)


def test_synth_fails_naming_the_function_whose_code_and_layers_exceed_250_mb(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a Powertools layer declared so large that ingest's code and layers make
    # 250 MB plus one byte (ingest is the first function built)
    code = _source_bytes(ROOT / "lambdas" / "ingest")
    shared = _source_bytes(ROOT / "lambdas" / "shared")
    monkeypatch.setattr(
        functions_module, "POWERTOOLS_LAYER_UNZIPPED_BYTES", MAX_UNZIPPED_BYTES - code - shared + 1
    )

    # When the app is built, Then it fails naming ingest and what its bytes are made of
    app = App(context=cdk_context(), outdir=str(tmp_path))
    with pytest.raises(LayerLimitError) as caught:
        build_app(app)
    message = str(caught.value)
    assert message.startswith("function orders-ingest (lambdas/ingest) is 262,144,001 bytes")
    assert f"code {code:,}" in message
    assert f"shared layer {shared:,}" in message


def test_a_function_with_a_sixth_layer_fails_by_name(tmp_path: Path) -> None:
    settings = settings_from_mapping(cdk_context())
    app = App(outdir=str(tmp_path))
    network = NetworkStack(app, "Network", settings=settings)
    stack = CapabilityStack(app, "Compute", env=Environment(region="us-east-1"))
    functions = PythonFunctions(stack, "Functions", settings=settings, network=network)

    def spec(extra: int) -> FunctionSpec:
        layers = tuple(
            SizedLayer(
                lambda_.LayerVersion.from_layer_version_arn(
                    stack, f"Extra{extra}x{i}", PUBLIC_ARN.format(i + 1)
                ),
                f"extra {i}",
                1024,
            )
            for i in range(extra)
        )
        return FunctionSpec(contract=FILES, timeout_seconds=60, memory_mb=512, extra_layers=layers)

    functions.build(stack, spec(3))  # Powertools, shared and 3 more: Lambda's 5
    with pytest.raises(LayerLimitError, match=r"orders-files \(lambdas/files\) has 6 layers"):
        functions.build(CapabilityStack(app, "Other"), spec(4))


def test_the_layer_version_is_shared_with_the_listed_accounts(synth_with) -> None:
    shared = synth_with(layer_share_account_ids=["111122223333", "444455556666"])
    template = shared.json("Compute")
    (layer_id,) = resources(template, "AWS::Lambda::LayerVersion")
    permissions = [
        p["Properties"] for p in resources(template, "AWS::Lambda::LayerVersionPermission").values()
    ]
    assert sorted(p["Principal"] for p in permissions) == ["111122223333", "444455556666"]
    for permission in permissions:
        assert permission["Action"] == "lambda:GetLayerVersion"
        assert permission["LayerVersionArn"] == {"Ref": layer_id}


def test_no_account_no_permission(dev: Synthesized) -> None:
    assert resources(dev.json("Compute"), "AWS::Lambda::LayerVersionPermission") == {}
