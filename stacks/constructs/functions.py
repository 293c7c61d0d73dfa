"""The one factory for the app's Python functions, and the layers they all use.

Every function gets the same treatment: its own role (logs to its own group, the VPC's
ENI actions, the data actions its spec lists on exact ARNs; active tracing adds X-Ray's
two calls), an explicit log group with the configured retention, the runtime and
architecture set once, the shared layer and the pinned Powertools layer, the private
subnets and the Lambda security group, and the Powertools variables.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from aws_cdk import Duration
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_ssm as ssm
from constructs import Construct

from stacks.common import ASSET_EXCLUDES, LAMBDAS_DIR, acknowledge, checkov_skip, log_group
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
    "max_concurrency for process, the WAF rate limit for ingest; a reservation would "
    "take from the account pool and turn bursts into 503s",
    "CKV_AWS_173": "the variables hold a queue URL, a table name and Powertools "
    "settings, no secrets; Lambda encrypts them at rest with its AWS-managed key",
}


@dataclass(frozen=True)
class FunctionSpec:
    """What differs between functions; `PythonFunctions.build` does the rest."""

    contract: FunctionContract
    timeout_seconds: int
    memory_mb: int
    environment: dict[str, str] = field(default_factory=dict)
    statements: tuple[iam.PolicyStatement, ...] = ()


class PythonFunctions(Capability):
    """The shared layers, and `build`, which makes a function in a capability's scope."""

    def __init__(
        self, scope: Construct, construct_id: str, *, settings: Settings, network: NetworkStack
    ) -> None:
        super().__init__(scope, construct_id)
        self._settings = settings
        self._network = network
        self.layers = self._build_layers()

    def _build_layers(self) -> list[lambda_.ILayerVersion]:
        shared = lambda_.LayerVersion(
            self,
            "SharedLayer",
            code=lambda_.Code.from_asset(str(LAMBDAS_DIR / "shared"), exclude=ASSET_EXCLUDES),
            compatible_runtimes=[RUNTIME],
            compatible_architectures=[ARCHITECTURE],
            description="orders_core: the order model and helpers both functions share",
        )
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
        return [powertools, shared]

    def build(self, scope: Construct, spec: FunctionSpec) -> lambda_.Function:
        """The function `lambdas/<name>`, with its role and log group, made in `scope`."""
        settings = self._settings
        name = spec.contract.name
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
                        # Lambda creates the function's ENIs with the role; these EC2
                        # actions do not support resource-level permissions.
                        iam.PolicyStatement(
                            actions=[
                                "ec2:CreateNetworkInterface",
                                "ec2:DescribeNetworkInterfaces",
                                "ec2:DescribeSubnets",
                                "ec2:DeleteNetworkInterface",
                                "ec2:AssignPrivateIpAddresses",
                                "ec2:UnassignPrivateIpAddresses",
                            ],
                            resources=["*"],
                        ),
                        *spec.statements,
                    ]
                )
            },
        )
        star_reason = (
            "only for actions without resource-level permissions: the VPC ENI actions "
            "Lambda performs with the role, and X-Ray's PutTraceSegments/"
            "PutTelemetryRecords (added by active tracing); every data action is on one ARN"
        )
        acknowledge(role, "AwsSolutions-IAM5[Resource::*]", star_reason)
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
            layers=self.layers,
            role=role,
            log_group=logs,
            timeout=Duration.seconds(spec.timeout_seconds),
            memory_size=spec.memory_mb,
            vpc=self._network.vpc,
            vpc_subnets=self._network.private_subnets,
            security_groups=[self._network.lambda_security_group],
            tracing=lambda_.Tracing.ACTIVE,
            environment={
                **spec.environment,
                Env.SERVICE_NAME: spec.contract.service_name,
                Env.METRICS_NAMESPACE: settings.metrics_namespace,
                Env.LOG_LEVEL: settings.log_level,
            },
        )
        acknowledge(
            function,
            "Serverless-LambdaDLQ",
            "never invoked asynchronously: the ALB and the SQS mapping both invoke "
            "synchronously, and the orders queue's own DLQ catches what process cannot store",
        )
        for check, reason in CHECKOV_FUNCTION_REASONS.items():
            checkov_skip(function, check, reason)
        return function
