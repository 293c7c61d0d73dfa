"""Small helpers every stack uses the same way."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar, Final

import jsii
from aws_cdk import (
    Acknowledgment,
    CfnResource,
    Environment,
    IAspect,
    RemovalPolicy,
    Stack,
    Validations,
)
from aws_cdk import aws_logs as logs
from constructs import Construct, IConstruct

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


def acknowledge(construct: Construct, rule: str, reason: str) -> None:
    """Acknowledge one cdk-nag finding on one construct, with the reason it stands.

    `rule` is the id nag prints, e.g. `AwsSolutions-IAM5[Resource::*]`.
    """
    Validations.of(construct).acknowledge(
        Acknowledgment(id=f"{rule.split('-', 1)[0]}::{rule}", reason=reason)
    )


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
