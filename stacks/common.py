"""Small helpers every stack uses the same way."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar, Final

import jsii
from aws_cdk import (
    Acknowledgment,
    CfnResource,
    Duration,
    Environment,
    IAspect,
    RemovalPolicy,
    Stack,
    Validations,
)
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct, IConstruct, IValidation

from stacks.settings import Settings

# Where the runtime code lives; stacks refer to it only as asset paths.
LAMBDAS_DIR: Final = Path(__file__).resolve().parent.parent / "lambdas"
# Byte-identical assets give identical hashes: keep interpreter caches out. Everything
# else ships, `__init__.py` too, so the layer is exactly the package the tests import
# (tests/infra/test_assets.py imports each handler from the synthesized assets alone).
ASSET_EXCLUDES: Final = ["__pycache__", "*.pyc"]


def stack_props(settings: Settings, part: str) -> dict[str, Any]:
    """Name and environment of one of the app's stacks.

    The region is pinned (ALB access logging needs it for the log-delivery
    principal); the account is left to deploy time, so synth needs no credentials
    and CDK never looks up availability zones.
    """
    return {
        "stack_name": settings.stack_name(part),
        "env": Environment(region=settings.region),
        "description": f"{settings.app_name} order ingest ({settings.stage}): {part.lower()}",
    }


def stateful_removal(settings: Settings) -> RemovalPolicy:
    """Stateful resources outlive their stack in prod and go away with it in dev."""
    return RemovalPolicy.RETAIN if settings.is_prod else RemovalPolicy.DESTROY


def log_group(scope: Construct, construct_id: str, settings: Settings) -> logs.LogGroup:
    """A log group with the configured retention (never the default: keep forever)."""
    group = logs.LogGroup(
        scope,
        construct_id,
        retention=settings.log_retention,
        removal_policy=stateful_removal(settings),
    )
    checkov_skip(
        group,
        "CKV_AWS_158",
        "CloudWatch Logs encrypts every log group at rest; the logs hold order ids and "
        "request metadata, no secrets, so a customer key would add cost, not protection",
    )
    return group


def deploy_time_function(
    scope: Construct,
    construct_id: str,
    *,
    description: str,
    role_description: str,
    policy_name: str,
    statements: Sequence[iam.PolicyStatement],
    runtime: lambda_.Runtime,
    code_dir: Path,
    log_group: logs.ILogGroup,
    why_no_dlq: str,
    why_no_tracing: str,
    checkov_reasons: Mapping[str, str],
    wildcard_reason: str | None = None,
) -> lambda_.Function:
    """A function CloudFormation calls during deploys, as a custom resource's handler.

    Its own role (``<construct_id>Role``): writing to its log group plus ``statements``,
    nothing else. 128 MB, 30 s, ARM64. The findings that do not apply to a function run
    once per deployment (a DLQ, tracing, checkov's concurrency/DLQ/VPC checks) are
    explained with the caller's reasons; ``wildcard_reason`` explains a statement on
    ``*`` (an API without resource-level permissions) to nag and checkov.
    """
    role = iam.Role(
        scope,
        f"{construct_id}Role",
        assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
        description=role_description,
        inline_policies={
            policy_name: iam.PolicyDocument(
                statements=[
                    iam.PolicyStatement(
                        actions=["logs:CreateLogStream", "logs:PutLogEvents"],
                        resources=[log_group.log_group_arn],
                    ),
                    *statements,
                ]
            )
        },
    )
    if wildcard_reason is not None:
        acknowledge(role, "AwsSolutions-IAM5[Resource::*]", wildcard_reason)
        acknowledge(role, "Serverless-LambdaStarPermissions", wildcard_reason)
        checkov_skip(role, "CKV_AWS_111", wildcard_reason)
    function = lambda_.Function(
        scope,
        construct_id,
        description=description,
        runtime=runtime,
        architecture=lambda_.Architecture.ARM_64,
        handler="handler.lambda_handler",
        code=lambda_.Code.from_asset(str(code_dir), exclude=ASSET_EXCLUDES),
        role=role,
        log_group=log_group,
        memory_size=128,
        timeout=Duration.seconds(30),
    )
    acknowledge(function, "Serverless-LambdaDLQ", why_no_dlq)
    acknowledge(function, "Serverless-LambdaTracing", why_no_tracing)
    for check, reason in checkov_reasons.items():
        checkov_skip(function, check, reason)
    return function


def acknowledge(construct: IConstruct, rule: str, reason: str) -> None:
    """Acknowledge one cdk-nag finding on one construct, with the reason it stands.

    `rule` is the id nag prints, e.g. `AwsSolutions-IAM5[Resource::*]`.
    """
    Validations.of(construct).acknowledge(
        Acknowledgment(id=f"{rule.split('-', 1)[0]}::{rule}", reason=reason)
    )


def acknowledge_wildcard_resources(role: IConstruct, reasons: Mapping[str, str]) -> None:
    """Acknowledge nag's AwsSolutions-IAM5 for the role's resources ending with a key of
    `reasons` (e.g. a prefix, `/incoming/*`), each with its reason.

    nag names such a finding after the resource as the template writes it, and an ARN
    from another stack is an `Fn::ImportValue` whose export name CDK makes up only when
    it resolves references, after construction. So the acknowledgments are added by a
    validation of the role, which CDK runs after that and before nag's plugins.
    """
    role.node.add_validation(_WildcardAcknowledgments(role, dict(reasons)))


@jsii.implements(IValidation)
class _WildcardAcknowledgments:
    def __init__(self, role: IConstruct, reasons: dict[str, str]) -> None:
        self._role = role
        self._reasons = reasons

    def validate(self) -> list[str]:
        resource = self._role.node.default_child
        if not isinstance(resource, iam.CfnRole):
            return [f"{self._role.node.path} has no CfnRole to acknowledge findings on"]
        stack = Stack.of(resource)
        unused = set(self._reasons)
        for policy in stack.resolve(resource.policies) or []:
            for statement in policy["policyDocument"]["Statement"]:
                found = statement["Resource"]
                for arn in found if isinstance(found, list) else [found]:
                    flat = _flatten_reference(arn)
                    for suffix, reason in self._reasons.items():
                        if flat.endswith(suffix):
                            unused.discard(suffix)
                            rule = f"AwsSolutions-IAM5[Resource::{flat}]"
                            Validations.of(self._role).acknowledge(
                                Acknowledgment(id=f"AwsSolutions::{rule}", reason=reason)
                            )
        # an acknowledgment for a resource the role no longer has is a stale reason
        return [f"{self._role.node.path}: no resource ends with {s!r}" for s in sorted(unused)]


def _flatten_reference(node: Any) -> str:
    """A resource as cdk-nag names it in a finding (its utils/flatten-cfn-reference)."""
    if isinstance(node, str):
        return node.replace("${", "<").replace("}", ">")
    for intrinsic, render in _FLATTEN.items():
        if isinstance(node, dict) and intrinsic in node:
            return render(node[intrinsic])
    return json.dumps(node, separators=(",", ":"))


_FLATTEN: Final[Mapping[str, Callable[[Any], str]]] = {
    "Fn::Join": lambda args: str(args[0]).join(_flatten_reference(item) for item in args[1]),
    "Fn::Sub": _flatten_reference,
    "Fn::GetAtt": lambda args: f"<{_flatten_reference(args[0])}.{_flatten_reference(args[1])}>",
    "Fn::ImportValue": _flatten_reference,
    "Ref": lambda arg: f"<{_flatten_reference(arg)}>",
}


@jsii.implements(IAspect)
class DropRedundantRoleDependencies:
    """Drop a function's `DependsOn` its own role: `Role: !GetAtt` already orders them.

    CDK makes a function depend on its whole role construct (the role and its default
    policy) and cfn-lint rightly reports the role half as redundant (W3005). The
    policy dependency stays: nothing else orders the function after its policy.
    """

    def visit(self, node: IConstruct) -> None:
        if not isinstance(node, CfnResource) or node.cfn_resource_type != "AWS::Lambda::Function":
            return
        for dependency in node.obtain_dependencies():  # L1 dependencies (custom providers)
            if (
                isinstance(dependency, CfnResource)
                and dependency.cfn_resource_type == "AWS::IAM::Role"
            ):
                node.remove_resource_dependency(dependency)
        stack = Stack.of(node)  # L2 functions depend on their whole role construct
        kept: list[str] = []
        dropped = False
        for construct in node.node.dependencies:
            for resource in construct.node.find_all():
                if not isinstance(resource, CfnResource) or Stack.of(resource) is not stack:
                    continue  # other stacks are ordered by stack dependencies instead
                if resource.cfn_resource_type == "AWS::IAM::Role":
                    dropped = True
                else:
                    kept.append(stack.get_logical_id(resource))
        if dropped:
            node.add_override("DependsOn", sorted(set(kept)))


def checkov_skip(construct: IConstruct, check: str, reason: str) -> None:
    """Record, in the template, why one checkov check does not apply to one resource.

    checkov reads `Metadata.checkov.skip` from CloudFormation templates; every entry
    is also explained in docs/security.md (a test keeps the two in step).
    """
    resource = construct if isinstance(construct, CfnResource) else construct.node.default_child
    if not isinstance(resource, CfnResource):
        raise TypeError(f"{construct.node.path} has no CloudFormation resource to annotate")
    metadata = resource.get_metadata("checkov") or {"skip": []}
    metadata["skip"].append({"id": check, "comment": reason})
    resource.add_metadata("checkov", metadata)


@jsii.implements(IAspect)
class ExplainCdkProviderFunctions:
    """checkov findings on CDK's own deploy-time provider functions, explained once.

    CDK adds Node.js custom-resource providers (restricting the default security group,
    emptying dev buckets on destroy). They run only during a deployment, outside the
    VPC, invoked synchronously by CloudFormation.
    """

    REASONS: ClassVar[dict[str, str]] = {
        "CKV_AWS_116": "invoked synchronously by CloudFormation during deploys; never async",
        "CKV_AWS_117": "a deploy-time helper calling AWS APIs; the VPC has no NAT to reach them",
        "CKV_AWS_115": "runs once per deployment; a concurrency reservation would waste quota",
    }

    def visit(self, node: IConstruct) -> None:
        if (
            isinstance(node, CfnResource)
            and node.cfn_resource_type == "AWS::Lambda::Function"
            and "CustomResourceProvider" in node.node.path
        ):
            for check, reason in self.REASONS.items():
                checkov_skip(node, check, reason)
