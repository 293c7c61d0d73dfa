"""The one factory for the app's Python functions, and the layers they all use.

Every function gets the same treatment: its own role (logs to its own group, the VPC's
ENI actions, the data actions its spec lists on exact ARNs; active tracing adds X-Ray's
two calls), an explicit log group with the configured retention, the runtime and
architecture set once, the shared layer and the pinned Powertools layer, the private
subnets and the Lambda security group (unless its spec says why it runs outside the
VPC), and the Powertools variables.

Lambda's layer limits are checked as each function is built, so synth fails naming the
function: at most 5 layers, and code plus layers at most 250 MB unzipped, measured from
the staged asset directories (the public Powertools layer, which is not an asset, counts
with its declared size, `POWERTOOLS_LAYER_UNZIPPED_BYTES`).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from aws_cdk import Duration, Stage
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_s3_assets as s3_assets
from aws_cdk import aws_ssm as ssm
from constructs import Construct, IConstruct

from stacks.common import (
    ASSET_EXCLUDES,
    LAMBDAS_DIR,
    acknowledge,
    acknowledge_wildcard_resources,
    checkov_skip,
    log_group,
)
from stacks.constructs.capability import Capability
from stacks.contract import Env, FunctionContract
from stacks.network_stack import NetworkStack
from stacks.settings import Settings

# The runtime and architecture, set once for every function and the shared layer.
RUNTIME = lambda_.Runtime.PYTHON_3_14
ARCHITECTURE = lambda_.Architecture.ARM_64
HANDLER = "handler.lambda_handler"
CHECKOV_FUNCTION_REASONS = {
    "CKV_AWS_116": "never invoked asynchronously (ALB and the SQS mapping invoke "
    "synchronously); undeliverable orders land in the queue's DLQ instead",
    "CKV_AWS_115": "concurrency is bounded where it matters: the SQS mapping's "
    "max_concurrency for process, the WAF rate limit for the HTTP functions; a "
    "reservation would take from the account pool and turn bursts into 503s",
    "CKV_AWS_173": "the variables hold a queue URL, a table name and Powertools "
    "settings, no secrets; Lambda encrypts them at rest with its AWS-managed key",
}
SYNC_ONLY = (
    "never invoked asynchronously: the ALB and the SQS mapping both invoke "
    "synchronously, and the orders queue's own DLQ catches what process cannot store"
)
# Lambda's limits on layers (the seed's "Lambda Layers" section; Lambda quotas page).
MAX_LAYERS_PER_FUNCTION: Final = 5
MAX_UNZIPPED_BYTES: Final = 262_144_000  # 250 MB: function code plus all its layers
# The public Powertools layer is not an asset here, so its unzipped size is declared.
# Source: its build (aws-powertools/powertools-lambda-python, layer_v3/docker/Dockerfile)
# is `pip install aws-lambda-powertools[all]` minus boto3/botocore and their
# dependencies, tests and bytecode. Doing the same for 3.37.0, arm64, Python 3.14
# (`pip install --target python --platform manylinux2014_aarch64 --python-version 3.14
# --only-binary=:all: "aws-lambda-powertools[all]==3.37.0"`, then the Dockerfile's
# removals) gave 28,918,119 bytes of files, before the layer's symbol stripping, which
# only shrinks it. Rounded up; measure again when `powertools_version` changes.
POWERTOOLS_LAYER_UNZIPPED_BYTES: Final = 30 * 1024 * 1024


class LayerLimitError(ValueError):
    """A function would break Lambda's layer limits; the message names the function."""


@dataclass(frozen=True)
class SizedLayer:
    """A layer and its unzipped size in bytes (what counts toward the 250 MB)."""

    layer: lambda_.ILayerVersion
    name: str
    unzipped_bytes: int


def check_layer_limits(function: str, code_bytes: int, layers: Sequence[SizedLayer]) -> None:
    """Raise LayerLimitError, naming `function`, if Lambda would refuse this function."""
    check_layer_count(function, layers)
    check_unzipped_size(function, code_bytes, layers)


def check_layer_count(function: str, layers: Sequence[SizedLayer]) -> None:
    """At most 5 layers (checked before CDK's own check, whose message names no function)."""
    if len(layers) > MAX_LAYERS_PER_FUNCTION:
        raise LayerLimitError(
            f"function {function} has {len(layers)} layers "
            f"({', '.join(layer.name for layer in layers)}); Lambda allows at most "
            f"{MAX_LAYERS_PER_FUNCTION}: merge some into the shared layer"
        )


def check_unzipped_size(function: str, code_bytes: int, layers: Sequence[SizedLayer]) -> None:
    """Code plus layers at most 250 MB unzipped."""
    total = code_bytes + sum(layer.unzipped_bytes for layer in layers)
    if total > MAX_UNZIPPED_BYTES:
        parts = ", ".join(
            [f"code {code_bytes:,}"]
            + [f"{layer.name} {layer.unzipped_bytes:,}" for layer in layers]
        )
        raise LayerLimitError(
            f"function {function} is {total:,} bytes unzipped ({parts}); Lambda allows at "
            f"most {MAX_UNZIPPED_BYTES:,} (250 MB) for code and layers together"
        )


def unzipped_bytes(directory: Path) -> int:
    """The bytes Lambda unpacks from an asset directory: every file's size."""
    if directory.is_file():
        return directory.stat().st_size
    return sum(
        (Path(root) / name).stat().st_size
        for root, _, files in os.walk(directory)
        for name in files
    )


def staged_asset_dir(construct: IConstruct) -> Path:
    """Where the code asset of a function or layer was staged (its `Code` child)."""
    asset = construct.node.try_find_child("Code")
    if not isinstance(asset, s3_assets.Asset):
        raise TypeError(f"{construct.node.path} has no file asset to measure")
    stage = Stage.of(asset)
    if stage is None:
        raise TypeError(f"{construct.node.path} is not in a CDK app")
    return Path(stage.asset_outdir) / asset.asset_path  # absolute if unstaged


def eni_statement() -> iam.PolicyStatement:
    """What Lambda does with a VPC function's role to manage its ENIs.

    These EC2 actions do not support resource-level permissions.
    """
    return iam.PolicyStatement(
        actions=[
            "ec2:CreateNetworkInterface",
            "ec2:DescribeNetworkInterfaces",
            "ec2:DescribeSubnets",
            "ec2:DeleteNetworkInterface",
            "ec2:AssignPrivateIpAddresses",
            "ec2:UnassignPrivateIpAddresses",
        ],
        resources=["*"],
    )


@dataclass(frozen=True)
class FunctionSpec:
    """What differs between functions; `PythonFunctions.build` does the rest."""

    contract: FunctionContract
    timeout_seconds: int
    memory_mb: int
    environment: dict[str, str] = field(default_factory=dict)
    statements: tuple[iam.PolicyStatement, ...] = ()
    # Why the function runs outside the VPC; None (the default): in the private subnets.
    outside_vpc: str | None = None
    # Where a failed invocation ends, in words (nag's LambdaDLQ, checkov's CKV_AWS_116);
    # None: the API's functions, never invoked asynchronously (SYNC_ONLY).
    failures: str | None = None
    # Reasons that replace CHECKOV_FUNCTION_REASONS' for this function.
    checkov_reasons: Mapping[str, str] = field(default_factory=dict)
    # Resources that end in a wildcard on purpose (an S3 prefix): suffix -> why.
    wildcard_resources: Mapping[str, str] = field(default_factory=dict)
    # Layers of its own, after the shared ones (each counts toward Lambda's limits).
    extra_layers: tuple[SizedLayer, ...] = ()


class PythonFunctions(Capability):
    """The shared layers, and `build`, which makes a function in a capability's scope."""

    def __init__(
        self, scope: Construct, construct_id: str, *, settings: Settings, network: NetworkStack
    ) -> None:
        super().__init__(scope, construct_id)
        self._settings = settings
        self._network = network
        self.sized_layers = self._build_layers()
        self.layers = [sized.layer for sized in self.sized_layers]

    def _build_layers(self) -> list[SizedLayer]:
        shared = lambda_.LayerVersion(
            self,
            "SharedLayer",
            code=lambda_.Code.from_asset(str(LAMBDAS_DIR / "shared"), exclude=ASSET_EXCLUDES),
            compatible_runtimes=[RUNTIME],
            compatible_architectures=[ARCHITECTURE],
            description="orders_core: the order model and helpers every function shares",
        )
        # Other accounts may use this layer version (GetLayerVersion), e.g. their own
        # functions on the same orders_core; a new version needs its permission again,
        # which CloudFormation does as it replaces the version.
        for account in self._settings.layer_share_account_ids:
            shared.add_permission(f"ShareWith{account}", account_id=account)
        # The AWS-published Powertools layer, pinned to the version the tests run
        # (requirements-dev.txt) through its public, version-named SSM parameter: the
        # ARN resolves at deploy time in the deploying region, synth needs no lookup.
        powertools_arn = ssm.StringParameter.value_for_string_parameter(
            self,
            f"/aws/service/powertools/python/{ARCHITECTURE.name}/{RUNTIME.name}/"
            f"{self._settings.powertools_version}",
        )
        powertools = lambda_.LayerVersion.from_layer_version_arn(
            self, "PowertoolsLayer", powertools_arn
        )
        return [
            SizedLayer(powertools, "Powertools (declared)", POWERTOOLS_LAYER_UNZIPPED_BYTES),
            SizedLayer(shared, "shared layer", unzipped_bytes(staged_asset_dir(shared))),
        ]

    def build(self, scope: Construct, spec: FunctionSpec) -> lambda_.Function:
        """The function `lambdas/<name>`, with its role and log group, made in `scope`."""
        settings = self._settings
        name = spec.contract.name
        label = f"{spec.contract.service_name} (lambdas/{name})"
        layers = [*self.sized_layers, *spec.extra_layers]
        check_layer_count(label, layers)
        logs = log_group(scope, f"{name.title()}LogGroup", settings)
        role = iam.Role(
            scope,
            f"{name.title()}Role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description=f"orders {name} function: only the calls it makes",
            inline_policies={
                "least-privilege": iam.PolicyDocument(
                    statements=[
                        iam.PolicyStatement(
                            actions=["logs:CreateLogStream", "logs:PutLogEvents"],
                            resources=[logs.log_group_arn],
                        ),
                        *(() if spec.outside_vpc else (eni_statement(),)),
                        *spec.statements,
                    ]
                )
            },
        )
        star_reason = (
            "only for actions without resource-level permissions: the VPC ENI actions "
            "Lambda performs with the role, and X-Ray's PutTraceSegments/"
            "PutTelemetryRecords (added by active tracing); every data action is on one ARN"
            if not spec.outside_vpc
            else "only for X-Ray's PutTraceSegments/PutTelemetryRecords (added by active "
            "tracing), which have no resource-level permissions; every data action is on "
            "exact ARNs"
        )
        acknowledge(role, "AwsSolutions-IAM5[Resource::*]", star_reason)
        if spec.wildcard_resources:
            acknowledge_wildcard_resources(role, spec.wildcard_resources)
        acknowledge(role, "Serverless-LambdaStarPermissions", star_reason)
        checkov_skip(role, "CKV_AWS_111", star_reason)
        function = lambda_.Function(
            scope,
            f"{name.title()}Function",
            description=f"orders {name}",
            runtime=RUNTIME,
            architecture=ARCHITECTURE,
            handler=HANDLER,
            code=lambda_.Code.from_asset(str(LAMBDAS_DIR / name), exclude=ASSET_EXCLUDES),
            layers=[sized.layer for sized in layers],
            role=role,
            log_group=logs,
            timeout=Duration.seconds(spec.timeout_seconds),
            memory_size=spec.memory_mb,
            # the private subnets and the Lambda security group, unless outside the VPC
            vpc=None if spec.outside_vpc else self._network.vpc,
            vpc_subnets=None if spec.outside_vpc else self._network.private_subnets,
            security_groups=None if spec.outside_vpc else [self._network.lambda_security_group],
            tracing=lambda_.Tracing.ACTIVE,
            environment={
                **spec.environment,
                Env.SERVICE_NAME: spec.contract.service_name,
                Env.METRICS_NAMESPACE: settings.metrics_namespace,
                Env.LOG_LEVEL: settings.log_level,
            },
        )
        # the code's size is known once its asset is staged, as the function is made
        check_unzipped_size(label, unzipped_bytes(staged_asset_dir(function)), layers)
        acknowledge(function, "Serverless-LambdaDLQ", spec.failures or SYNC_ONLY)
        reasons = dict(CHECKOV_FUNCTION_REASONS)
        if spec.failures:
            reasons["CKV_AWS_116"] = spec.failures
        reasons.update(spec.checkov_reasons)
        if spec.outside_vpc:
            reasons["CKV_AWS_117"] = spec.outside_vpc
        for check, reason in reasons.items():
            checkov_skip(function, check, reason)
        return function
