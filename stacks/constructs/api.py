"""The API's load balancer: listeners, access logs, the optional WAF, and routes to functions.

Anything no rule forwards gets a JSON 404 from the listener itself. Functions are added
with `route`, each with its own rule (path patterns, optionally methods) and priority.
With the edge on, the ALB is internal (private subnets, HTTP:80 only) and CloudFront's
VPC origin is the only way in (stacks/front.py).
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from aws_cdk import aws_elasticloadbalancingv2 as elbv2
from aws_cdk import aws_elasticloadbalancingv2_targets as elbv2_targets
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from stacks.common import checkov_skip
from stacks.constructs.capability import Capability
from stacks.contract import API_PATH
from stacks.edge import AccessLogs, WebAcl
from stacks.front import VIEWER_IP_HEADER
from stacks.network_stack import HTTP_PORT, HTTPS_PORT, NetworkStack
from stacks.settings import Settings

NOT_FOUND_BODY = json.dumps({"error": {"code": "not_found", "message": "no route for this path"}})


class ApiLoadBalancer(Capability):
    """The ALB every HTTP function sits behind."""

    def __init__(
        self, scope: Construct, construct_id: str, *, settings: Settings, network: NetworkStack
    ) -> None:
        super().__init__(scope, construct_id)
        self._settings = settings
        self._network = network
        self.load_balancer = self._build_load_balancer()
        self.listener = self._build_listeners()

    @property
    def url(self) -> str:
        """The API's URL at the load balancer (inside the VPC when the edge is on)."""
        scheme = "https" if self._settings.https else "http"
        return f"{scheme}://{self.load_balancer.load_balancer_dns_name}{API_PATH}"

    def route(
        self,
        construct_id: str,
        function: lambda_.IFunction,
        *,
        priority: int,
        conditions: Sequence[elbv2.ListenerCondition],
    ) -> None:
        """Forward what matches `conditions` to `function` (a lower priority is tried first)."""
        self.listener.add_targets(
            construct_id,
            priority=priority,
            conditions=list(conditions),
            targets=[elbv2_targets.LambdaTarget(function)],
        )
        for child in function.node.children:
            if isinstance(child, lambda_.CfnPermission):
                checkov_skip(
                    child,
                    "CKV_AWS_364",
                    "the ALB's invoke permission cannot name the target group (SourceArn): "
                    "the group registers the function only after the permission exists",
                )

    def _build_load_balancer(self) -> elbv2.ApplicationLoadBalancer:
        settings = self._settings
        # Behind the edge the ALB is reached through CloudFront's VPC origin only.
        internet_facing = settings.alb_internet_facing and not settings.edge_on
        alb = elbv2.ApplicationLoadBalancer(
            self,
            "LoadBalancer",
            vpc=self._network.vpc,
            internet_facing=internet_facing,
            vpc_subnets=(
                self._network.public_subnets if internet_facing else self._network.private_subnets
            ),
            security_group=self._network.alb_security_group,
            drop_invalid_header_fields=True,
            deletion_protection=settings.is_prod,
        )
        alb.log_access_logs(AccessLogs(self, "AccessLogs", settings=settings).bucket, prefix="alb")
        if settings.waf_enabled:
            WebAcl(
                self,
                "WebAcl",
                settings=settings,
                load_balancer=alb,
                forwarded_ip_header=VIEWER_IP_HEADER if settings.edge_on else None,
            )
        return alb

    def _build_listeners(self) -> elbv2.ApplicationListener:
        """The listener that carries the API (HTTPS with a certificate, else HTTP)."""
        settings = self._settings
        alb = self.load_balancer
        # Ingress comes from the network stack's allowed CIDRs (open=False), never from
        # a rule CDK would add for 0.0.0.0/0.
        not_found = elbv2.ListenerAction.fixed_response(
            404, content_type="application/json", message_body=NOT_FOUND_BODY
        )
        if settings.https:
            listener = alb.add_listener(
                "Https",
                port=HTTPS_PORT,
                protocol=elbv2.ApplicationProtocol.HTTPS,
                certificates=[elbv2.ListenerCertificate.from_arn(settings.certificate_arn)],
                ssl_policy=elbv2.SslPolicy.RECOMMENDED_TLS,
                open=False,
                default_action=not_found,
            )
            alb.add_listener(
                "Http",
                port=HTTP_PORT,
                protocol=elbv2.ApplicationProtocol.HTTP,
                open=False,
                default_action=elbv2.ListenerAction.redirect(
                    protocol="HTTPS", port=str(HTTPS_PORT), permanent=True
                ),
            )
            return listener
        listener = alb.add_listener(
            "Http",
            port=HTTP_PORT,
            protocol=elbv2.ApplicationProtocol.HTTP,
            open=False,
            default_action=not_found,
        )
        reason = (
            "an internal ALB behind CloudFront's VPC origin: viewers get HTTPS from "
            "CloudFront, and the hop from the VPC origin stays inside the VPC"
            if settings.edge_on
            else "plain HTTP only until certificate_arn is set; then this listener "
            "becomes a redirect to HTTPS:443 with a TLS 1.3/1.2 policy"
        )
        for check in ("CKV_AWS_2", "CKV_AWS_103"):
            checkov_skip(listener, check, reason)
        return listener
