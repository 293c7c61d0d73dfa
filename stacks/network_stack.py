"""Network: a two-AZ VPC with no NAT, its security groups and VPC endpoints."""

from __future__ import annotations

from aws_cdk import Stack
from aws_cdk import aws_ec2 as ec2
from constructs import Construct

from stacks.common import acknowledge, checkov_skip, log_group, stack_props
from stacks.settings import Settings

HTTP_PORT = 80
HTTPS_PORT = 443


class NetworkStack(Stack):
    """VPC (2 public + 2 isolated private subnets), security groups, endpoints.

    The private subnets have no NAT gateway (the fixed ~$33/month/AZ a NAT costs buys
    nothing here): the Lambdas reach SQS through an interface endpoint and DynamoDB
    through a gateway endpoint, and nothing else.
    """

    def __init__(self, scope: Construct, construct_id: str, *, settings: Settings) -> None:
        super().__init__(scope, construct_id, **stack_props(settings, "Network"))
        self._settings = settings
        self.vpc = self._build_vpc()
        self.alb_security_group = self._build_alb_security_group()
        self.endpoint_security_group = ec2.SecurityGroup(
            self,
            "EndpointSecurityGroup",
            vpc=self.vpc,
            description="Interface VPC endpoints: HTTPS from the Lambdas only",
            allow_all_outbound=False,
        )
        self.lambda_security_group = self._build_lambda_security_group()
        self._build_endpoints()

    @property
    def private_subnets(self) -> ec2.SubnetSelection:
        return ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_ISOLATED)

    @property
    def public_subnets(self) -> ec2.SubnetSelection:
        return ec2.SubnetSelection(subnet_type=ec2.SubnetType.PUBLIC)

    def _build_vpc(self) -> ec2.Vpc:
        vpc = ec2.Vpc(
            self,
            "Vpc",
            ip_addresses=ec2.IpAddresses.cidr(self._settings.vpc_cidr),
            max_azs=2,
            nat_gateways=0,
            # Every subnet gets its own route table: the public ones route 0.0.0.0/0
            # to the internet gateway, the private ones only to the gateway endpoint.
            subnet_configuration=[
                ec2.SubnetConfiguration(
                    name="public", subnet_type=ec2.SubnetType.PUBLIC, cidr_mask=24
                ),
                ec2.SubnetConfiguration(
                    name="private", subnet_type=ec2.SubnetType.PRIVATE_ISOLATED, cidr_mask=24
                ),
            ],
            restrict_default_security_group=True,
        )
        flow_log_group = log_group(self, "FlowLogs", self._settings)
        vpc.add_flow_log(
            "FlowLog",
            destination=ec2.FlowLogDestination.to_cloud_watch_logs(flow_log_group),
            # Rejected flows are the signal (probes, a misrouted call); logging every
            # accepted ALB flow too would multiply the log bill for little insight.
            traffic_type=ec2.FlowLogTrafficType.REJECT,
        )
        return vpc

    def _build_alb_security_group(self) -> ec2.SecurityGroup:
        group = ec2.SecurityGroup(
            self,
            "AlbSecurityGroup",
            vpc=self.vpc,
            # Kept as it is with the edge on too: a new description replaces the group,
            # and compute imports its id (CloudFormation refuses to change an export in use).
            description="Load balancer: HTTP/HTTPS from the allowed CIDRs",
            # An ALB invokes Lambda targets through the Lambda API, not the VPC, so it
            # needs no egress at all.
            allow_all_outbound=False,
        )
        if self._settings.edge_on:
            # Only CloudFront's origin-facing servers, one rule the compute stack's edge
            # front adds (stacks/front.py): allowed_cidrs do not apply.
            return group
        for cidr in self._settings.allowed_cidrs:
            for port in (HTTP_PORT, HTTPS_PORT):
                group.add_ingress_rule(
                    ec2.Peer.ipv4(cidr), ec2.Port.tcp(port), f"from {cidr} on {port}"
                )
        if "0.0.0.0/0" in self._settings.allowed_cidrs:
            acknowledge(
                group,
                "AwsSolutions-EC23",
                "a public order API: allowed_cidrs includes 0.0.0.0/0 on purpose, only on "
                "ports 80/443; narrow it with -c allowed_cidrs=... for a private API",
            )
            checkov_skip(
                group,
                "CKV_AWS_260",
                "a public order API on purpose (allowed_cidrs); 80 only redirects to 443 "
                "when a certificate is set",
            )
        return group

    def _build_lambda_security_group(self) -> ec2.SecurityGroup:
        group = ec2.SecurityGroup(
            self,
            "LambdaSecurityGroup",
            vpc=self.vpc,
            description="Lambdas: no ingress; HTTPS out to the SQS and DynamoDB endpoints",
            allow_all_outbound=False,
        )
        group.add_egress_rule(
            self.endpoint_security_group,
            ec2.Port.tcp(HTTPS_PORT),
            "HTTPS to the interface endpoints (SQS)",
        )
        # DynamoDB's gateway endpoint is a route to DynamoDB's public prefix list, whose
        # id differs per region and cannot be looked up in an environment-agnostic
        # template. The private subnets route nowhere else, so the route tables, not
        # this rule, are the boundary; the rule still limits egress to HTTPS.
        group.add_egress_rule(
            ec2.Peer.any_ipv4(),
            ec2.Port.tcp(HTTPS_PORT),
            "HTTPS to DynamoDB through the gateway endpoint (the only route out)",
        )
        self.endpoint_security_group.add_ingress_rule(
            group, ec2.Port.tcp(HTTPS_PORT), "HTTPS from the Lambdas"
        )
        return group

    def _build_endpoints(self) -> None:
        self.sqs_endpoint = self.vpc.add_interface_endpoint(
            "SqsEndpoint",
            service=ec2.InterfaceVpcEndpointAwsService.SQS,
            subnets=self.private_subnets,
            security_groups=[self.endpoint_security_group],
            private_dns_enabled=True,
            open=False,
        )
        self.dynamodb_endpoint = self.vpc.add_gateway_endpoint(
            "DynamoDbEndpoint",
            service=ec2.GatewayVpcEndpointAwsService.DYNAMODB,
            subnets=[self.private_subnets],
        )
