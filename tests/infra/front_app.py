"""A small app around `EdgeFront`, built the way the compute stack builds its ALB.

Until the lead wires the edge into app.py, this is what tests/infra/test_front.py and
the checkov/cfn-lint runs synthesize: a VPC with public and isolated subnets, an
internal ALB on HTTP:80 with a fixed-response default action, its security group, and
the front. Same aspects and cdk-nag packs as app.py, so an unacknowledged finding fails.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from aws_cdk import App, Aspects, Environment, RemovalPolicy, Stack, Validations
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_elasticloadbalancingv2 as elbv2
from aws_cdk import aws_logs as logs
from cdk_nag import AwsSolutionsChecks, ServerlessChecks

from stacks.common import (
    DropRedundantRoleDependencies,
    ExplainCdkProviderFunctions,
    acknowledge,
    checkov_skip,
)
from stacks.front import EdgeFront

ROOT = Path(__file__).resolve().parents[2]
# The stand-in ALB and its listener belong to the compute stack, not to the front.
STAND_IN_TYPES = frozenset(
    {"AWS::ElasticLoadBalancingV2::LoadBalancer", "AWS::ElasticLoadBalancingV2::Listener"}
)
NOT_FOUND_BODY = json.dumps({"error": {"code": "not_found", "message": "no route for this path"}})


def cdk_context() -> dict[str, Any]:
    """cdk.json's feature flags, as the CLI would pass them."""
    context: dict[str, Any] = json.loads((ROOT / "cdk.json").read_text())["context"]
    return context


class NetworkAndAlb(Stack):
    """Stands in for the network stack: the VPC and the ALB's security group."""

    def __init__(self, scope: App, construct_id: str, *, region: str) -> None:
        super().__init__(scope, construct_id, env=Environment(region=region))
        self.vpc = ec2.Vpc(
            self,
            "Vpc",
            max_azs=2,
            nat_gateways=0,
            subnet_configuration=[
                ec2.SubnetConfiguration(name="public", subnet_type=ec2.SubnetType.PUBLIC),
                ec2.SubnetConfiguration(
                    name="private", subnet_type=ec2.SubnetType.PRIVATE_ISOLATED
                ),
            ],
            restrict_default_security_group=True,
        )
        flow_logs = logs.LogGroup(self, "FlowLogs", retention=logs.RetentionDays.ONE_MONTH)
        checkov_skip(flow_logs, "CKV_AWS_158", "test stand-in for the network stack's flow logs")
        self.vpc.add_flow_log(
            "FlowLog",
            destination=ec2.FlowLogDestination.to_cloud_watch_logs(flow_logs),
            traffic_type=ec2.FlowLogTrafficType.REJECT,
        )
        self.alb_security_group = ec2.SecurityGroup(
            self,
            "AlbSecurityGroup",
            vpc=self.vpc,
            description="Load balancer: from CloudFront only",
            allow_all_outbound=False,
        )


class FrontStack(Stack):
    """Stands in for the compute stack: the internal ALB and the front before it."""

    def __init__(
        self,
        scope: App,
        construct_id: str,
        *,
        region: str,
        network: NetworkAndAlb,
        **front: Any,
    ) -> None:
        super().__init__(scope, construct_id, env=Environment(region=region))
        self.load_balancer = elbv2.ApplicationLoadBalancer(
            self,
            "LoadBalancer",
            vpc=network.vpc,
            internet_facing=False,
            vpc_subnets=ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_ISOLATED),
            security_group=network.alb_security_group,
            drop_invalid_header_fields=True,
        )
        acknowledge(
            self.load_balancer,
            "AwsSolutions-ELB2",
            "test stand-in for the compute stack's ALB, which logs to its own bucket",
        )
        checkov_skip(self.load_balancer, "CKV_AWS_91", "test stand-in; the real ALB logs")
        listener = self.load_balancer.add_listener(
            "Http",
            port=80,
            protocol=elbv2.ApplicationProtocol.HTTP,
            open=False,
            default_action=elbv2.ListenerAction.fixed_response(
                404, content_type="application/json", message_body=NOT_FOUND_BODY
            ),
        )
        for check in ("CKV_AWS_2", "CKV_AWS_103"):
            checkov_skip(listener, check, "internal ALB behind the VPC origin; test stand-in")
        options: dict[str, Any] = {
            "name": f"Orders-{region}",
            "removal_policy": RemovalPolicy.DESTROY,
            "log_retention": logs.RetentionDays.ONE_MONTH,
            "access_log_expiry_days": 90,
            **front,
        }
        self.front = EdgeFront(
            self,
            "Front",
            load_balancer=self.load_balancer,
            load_balancer_security_group=network.alb_security_group,
            **options,
        )


def build_front_app(outdir: Path, *, region: str, **front: Any) -> tuple[App, FrontStack]:
    app = App(context=cdk_context(), outdir=str(outdir))
    network = NetworkAndAlb(app, "FrontTest-Network", region=region)
    stack = FrontStack(app, "FrontTest-Compute", region=region, network=network, **front)
    Aspects.of(app).add(DropRedundantRoleDependencies())
    Aspects.of(app).add(ExplainCdkProviderFunctions())
    Validations.of(app).add_plugins(AwsSolutionsChecks(app), ServerlessChecks(app))
    return app, stack


class SynthesizedFront:
    """A synthesized front test app: templates by stack id, and the assembly on disk."""

    def __init__(self, outdir: Path, *, region: str, **front: Any) -> None:
        self.outdir = outdir
        self.app, self.stack = build_front_app(outdir, region=region, **front)
        self.assembly = self.app.synth()  # runs cdk-nag; raises on an unacknowledged finding
        self.templates: dict[str, dict[str, Any]] = {
            artifact.stack_name: artifact.template for artifact in self.assembly.stacks
        }

    @property
    def compute(self) -> dict[str, Any]:
        return self.templates["FrontTest-Compute"]

    @property
    def network(self) -> dict[str, Any]:
        return self.templates["FrontTest-Network"]

    @property
    def function_template(self) -> dict[str, Any]:
        """The template holding the edge function: its own us-east-1 stack, or compute."""
        return self.templates.get("FrontTest-Compute-Edge", self.compute)

    def checkov_skips(self) -> set[tuple[str, str]]:
        """(check, resource type) of every skip the front writes (stand-ins left out)."""
        found = set()
        for name, template in self.templates.items():
            if name == "FrontTest-Network":
                continue  # the stand-in for the network stack
            for resource in template["Resources"].values():
                if resource["Type"] in STAND_IN_TYPES:
                    continue
                for skip in resource.get("Metadata", {}).get("checkov", {}).get("skip", []):
                    assert skip["comment"], "every skip carries its reason"
                    found.add((skip["id"], resource["Type"]))
        return found
