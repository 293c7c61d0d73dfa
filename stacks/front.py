"""The API's front: CloudFront with a Lambda@Edge viewer-request function before the ALB.

`EdgeFront` takes plain arguments (the ALB, its security group, a few values) so the
compute stack can build it when the edge is on. What it makes:

- a CloudFront distribution, HTTPS to viewers (CloudFront's certificate, or a custom
  domain with an ACM certificate from us-east-1), whose only origin is the ALB through a
  CloudFront VPC origin, so the ALB can be internal;
- no caching (CachingDisabled) except, optionally, a short TTL for status reads; errors
  are never cached; POST is never cached by CloudFront in any case;
- an origin request policy that forwards only what the API reads, and a response
  headers policy adding HSTS, nosniff, Referrer-Policy, a restrictive CSP and DENY framing;
- the viewer-request function (lambdas/edge/viewer_request) in us-east-1, in a stack of
  its own when the app lives elsewhere (`cloudfront.experimental.EdgeFunction`), with its
  configuration written into its package at synth (Lambda@Edge has no environment);
- standard access logs to an S3 bucket;
- the ALB security group's only way in: CloudFront's origin-facing prefix list, whose
  per-region id a small custom resource looks up at deploy time (synth stays offline).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aws_cdk import (
    ArnFormat,
    CustomResource,
    Duration,
    Environment,
    RemovalPolicy,
    Stack,
    Stage,
    Token,
)
from aws_cdk import aws_certificatemanager as acm
from aws_cdk import aws_cloudfront as cloudfront
from aws_cdk import aws_cloudfront_origins as origins
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_elasticloadbalancingv2 as elbv2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from constructs import Construct

from stacks.common import (
    ASSET_EXCLUDES,
    LAMBDAS_DIR,
    acknowledge,
    checkov_skip,
    deploy_time_function,
)
from stacks.contract import API_PATH, STATUS_PATH

VIEWER_REQUEST_DIR = LAMBDAS_DIR / "edge" / "viewer_request"
PREFIX_LIST_DIR = LAMBDAS_DIR / "edge" / "prefix_list"
EDGE_CONFIG_FILE = "edge_config.json"  # lambdas/edge/viewer_request/edge_config.CONFIG_FILE
EDGE_CONFIG_VERSION = 1
EDGE_REGION = "us-east-1"
# Lambda@Edge: Python runs (the newest runtime it takes), x86_64 only, and at viewer
# events at most 128 MB and 5 s.
EDGE_RUNTIME = lambda_.Runtime.PYTHON_3_14
EDGE_ARCHITECTURE = lambda_.Architecture.X86_64
EDGE_MEMORY_MB = 128
EDGE_TIMEOUT = Duration.seconds(5)
ORIGIN_FACING_PREFIX_LIST = "com.amazonaws.global.cloudfront.origin-facing"
STATUS_PATH_PATTERN = f"{STATUS_PATH}/*"
# Headers only the edge function sets (lambdas/edge/viewer_request/gate.py, tied by
# tests/infra/test_front.py): the functions' correlation id, the authenticated caller,
# and the viewer's address, which the ALB's web ACL counts requests by.
REQUEST_ID_HEADER = "x-request-id"
SUBJECT_HEADER = "x-auth-subject"
VIEWER_IP_HEADER = "x-viewer-ip"
# What the API reads from a request besides the body: its content type (ingest), the
# query string (status: ?version=), and the headers only the edge function sets (the
# viewer's address is read by the ALB's web ACL, when there is one).
FORWARDED_HEADERS = ("content-type", REQUEST_ID_HEADER, SUBJECT_HEADER, VIEWER_IP_HEADER)
# The security headers; the edge function sets the same on the answers it generates
# (lambdas/edge/viewer_request/refusal.SECURITY_HEADERS, kept equal by a test).
HSTS_MAX_AGE = Duration.days(730)
CONTENT_SECURITY_POLICY = "default-src 'none'; frame-ancestors 'none'"
# CloudFront keeps these error answers 10 s unless told otherwise; a 404 for an order
# not stored yet, or a 503, must never be served again from the cache.
UNCACHED_ERRORS = (400, 403, 404, 405, 414, 416, 500, 501, 502, 503, 504)
SUPPORTED_ALGORITHMS = frozenset({"RS256", "RS384", "RS512"})
CHECKOV_EDGE_FUNCTION_REASONS = {
    "CKV_AWS_115": "Lambda@Edge takes no reserved concurrency; it runs in every edge "
    "region and shares each region's pool",
    "CKV_AWS_116": "Lambda@Edge takes no dead-letter queue; CloudFront invokes it "
    "synchronously and answers 5xx if it fails",
    "CKV_AWS_117": "Lambda@Edge cannot run in a VPC; it runs at CloudFront's edge",
}
CHECKOV_LOOKUP_FUNCTION_REASONS = {
    "CKV_AWS_115": "runs once per deployment; a concurrency reservation would waste quota",
    "CKV_AWS_116": "invoked synchronously by CloudFormation during deploys; never async",
    "CKV_AWS_117": "a deploy-time helper calling the EC2 API; the VPC has no NAT to reach it",
}


@dataclass(frozen=True)
class EdgeAuth:
    """Bearer-token authentication at the edge: a JWT from the user's OIDC issuer."""

    issuer: str
    audience: str
    jwks_url: str
    algorithms: tuple[str, ...] = ("RS256",)
    required_scope: str | None = None
    jwks_cache_seconds: int = 600
    leeway_seconds: int = 60

    def problems(self) -> list[str]:
        found = []
        if not self.issuer.strip() or not self.audience.strip():
            found.append("issuer and audience must be set")
        if not self.jwks_url.startswith("https://"):
            found.append(f"jwks_url={self.jwks_url!r} must be an https:// URL")
        if not self.algorithms or not set(self.algorithms) <= SUPPORTED_ALGORITHMS:
            found.append(f"algorithms must be some of {sorted(SUPPORTED_ALGORITHMS)}")
        if self.required_scope is not None and (
            not self.required_scope or " " in self.required_scope
        ):
            found.append("required_scope must be one scope name")
        if self.jwks_cache_seconds < 1 or self.leeway_seconds < 0:
            found.append("jwks_cache_seconds must be >= 1 and leeway_seconds >= 0")
        return found

    def to_config(self) -> dict[str, Any]:
        return {
            "issuer": self.issuer,
            "audience": self.audience,
            "jwks_url": self.jwks_url,
            "algorithms": sorted(set(self.algorithms)),
            "required_scope": self.required_scope,
            "jwks_cache_seconds": self.jwks_cache_seconds,
            "leeway_seconds": self.leeway_seconds,
        }


def edge_config_json(auth: EdgeAuth | None) -> str:
    """The viewer-request function's configuration file, byte-stable for equal input."""
    config = {"version": EDGE_CONFIG_VERSION, "auth": auth.to_config() if auth else None}
    return json.dumps(config, sort_keys=True, indent=2) + "\n"


class EdgeFront(Construct):
    """CloudFront + Lambda@Edge in front of an (internal) ALB that only CloudFront reaches."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        name: str,
        load_balancer: elbv2.IApplicationLoadBalancer,
        load_balancer_security_group: ec2.ISecurityGroup,
        removal_policy: RemovalPolicy,
        log_retention: logs.RetentionDays,
        access_log_expiry_days: int,
        origin_port: int = 80,
        status_cache_seconds: int = 0,
        auth: EdgeAuth | None = None,
        domain_names: tuple[str, ...] = (),
        certificate_arn: str = "",
        web_acl_arn: str = "",
        price_class: cloudfront.PriceClass = cloudfront.PriceClass.PRICE_CLASS_100,
        edge_stack_name: str | None = None,
    ) -> None:
        """`name` starts the edge function's name (e.g. ``Orders-prod``); it must be
        unique per account since Lambda@Edge logs are named after the function."""
        super().__init__(scope, construct_id)
        problems = auth.problems() if auth else []
        if bool(domain_names) != bool(certificate_arn):
            problems.append("a custom domain needs both domain_names and certificate_arn")
        if certificate_arn and ":acm:us-east-1:" not in certificate_arn:
            problems.append("CloudFront takes ACM certificates from us-east-1 only")
        if status_cache_seconds < 0:
            problems.append("status_cache_seconds must be >= 0")
        if problems:
            raise ValueError("EdgeFront: " + "; ".join(problems))
        self._name = name
        self._domain_names = domain_names
        self._removal_policy = removal_policy
        self._log_retention = log_retention
        self.function = self._build_viewer_request_function(auth, edge_stack_name)
        self.log_bucket = self._build_log_bucket(access_log_expiry_days)
        self.distribution = self._build_distribution(
            load_balancer=load_balancer,
            origin_port=origin_port,
            status_cache_seconds=status_cache_seconds,
            domain_names=domain_names,
            certificate_arn=certificate_arn,
            web_acl_arn=web_acl_arn,
            price_class=price_class,
        )
        self.prefix_list_id = self._build_prefix_list_lookup()
        # An L1 rule in this stack: adding it through the group would put it in the
        # group's (network) stack, which must not depend on this one.
        self.ingress = ec2.CfnSecurityGroupIngress(
            self,
            "FromCloudFront",
            group_id=load_balancer_security_group.security_group_id,
            ip_protocol="tcp",
            from_port=origin_port,
            to_port=origin_port,
            source_prefix_list_id=self.prefix_list_id,
            # EC2 takes no apostrophes in rule descriptions.
            description="HTTP from CloudFront origin-facing servers only (VPC origin)",
        )

    @property
    def url(self) -> str:
        """The API's URL through CloudFront (the custom domain when there is one)."""
        host = self._domain_names[0] if self._domain_names else None
        return f"https://{host or self.distribution.distribution_domain_name}{API_PATH}"

    # -- the viewer-request function -------------------------------------------------

    def _build_viewer_request_function(
        self, auth: EdgeAuth | None, edge_stack_name: str | None
    ) -> cloudfront.experimental.EdgeFunction:
        host = Stack.of(self)
        if Token.is_unresolved(host.region):
            raise ValueError("EdgeFront needs a stack with an explicit region")
        function_name = f"{self._name}-viewer-request"
        stack_id = None
        role_scope: Construct = self
        if host.region != EDGE_REGION:
            # The EdgeFunction construct puts the function in a us-east-1 stack of this
            # id; made here first so the function's role can live beside it.
            stack_id = edge_stack_name or f"{host.stack_name}-Edge"
            role_scope = self._edge_stack(stack_id)
        role = self._build_edge_role(role_scope, function_name)
        # Lambda@Edge logs to /aws/lambda/us-east-1.<name> in the region of the edge
        # location that ran it. The us-east-1 group is made here with a retention (and
        # named as the function's log group, which also replaces CDK's default group
        # for direct invocations); Lambda creates the other regions' groups on demand.
        log_group = logs.LogGroup(
            role_scope,
            f"{self.node.id}ViewerRequestLogs",
            log_group_name=f"/aws/lambda/{EDGE_REGION}.{function_name}",
            retention=self._log_retention,
            removal_policy=self._removal_policy,
        )
        checkov_skip(
            log_group,
            "CKV_AWS_158",
            "CloudWatch Logs encrypts every log group at rest; the edge logs hold request "
            "lines and refusal codes, never tokens",
        )
        function = cloudfront.experimental.EdgeFunction(
            self,
            "ViewerRequest",
            stack_id=stack_id,
            function_name=function_name,
            description="orders API front door: refuses at the edge, stamps x-request-id",
            runtime=EDGE_RUNTIME,
            architecture=EDGE_ARCHITECTURE,
            handler="handler.lambda_handler",
            code=lambda_.Code.from_asset(
                str(_stage_viewer_request(edge_config_json(auth))), exclude=ASSET_EXCLUDES
            ),
            memory_size=EDGE_MEMORY_MB,
            timeout=EDGE_TIMEOUT,
            role=role,
            log_group=log_group,
        )
        lambda_function = function.node.default_child
        if not isinstance(lambda_function, lambda_.Function):
            raise TypeError("EdgeFunction no longer wraps a lambda_.Function")
        acknowledge(
            lambda_function,
            "Serverless-LambdaDLQ",
            "Lambda@Edge takes no dead-letter queue; CloudFront invokes it synchronously",
        )
        acknowledge(
            lambda_function,
            "Serverless-LambdaTracing",
            "it calls nothing worth tracing (a JWKS fetch once per TTL at most) and its "
            "JSON log line carries the request id; tracing would need X-Ray writes from "
            "every edge region for no insight",
        )
        for check, reason in CHECKOV_EDGE_FUNCTION_REASONS.items():
            checkov_skip(lambda_function, check, reason)
        return function

    def _edge_stack(self, stack_id: str) -> Stack:
        stage = Stage.of(self)
        if stage is None:
            raise ValueError("EdgeFront must be inside an App or Stage")
        existing = stage.node.try_find_child(stack_id)
        if isinstance(existing, Stack):
            return existing
        return Stack(
            stage,
            stack_id,
            stack_name=stack_id,
            env=Environment(region=EDGE_REGION, account=Stack.of(self).account),
            description=f"{self._name}: the Lambda@Edge function (must live in us-east-1)",
        )

    def _build_edge_role(self, scope: Construct, function_name: str) -> iam.Role:
        """Logs only. Lambda@Edge writes to /aws/lambda/us-east-1.<name> in the region
        of the edge location that ran it, creating the group there."""
        stack = Stack.of(scope)
        log_groups = stack.format_arn(
            service="logs",
            region="*",
            resource="log-group",
            resource_name=f"/aws/lambda/{EDGE_REGION}.{function_name}:*",
            arn_format=ArnFormat.COLON_RESOURCE_NAME,
        )
        role = iam.Role(
            scope,
            f"{self.node.id}ViewerRequestRole",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description="orders viewer-request (Lambda@Edge): writes its logs, nothing else",
            inline_policies={
                "logs": iam.PolicyDocument(
                    statements=[
                        iam.PolicyStatement(
                            actions=[
                                "logs:CreateLogGroup",
                                "logs:CreateLogStream",
                                "logs:PutLogEvents",
                            ],
                            resources=[log_groups],
                        )
                    ]
                )
            },
        )
        reason = (
            "Lambda@Edge logs to a group named after the function in every region it runs "
            "in, so the region and the log streams are wildcards; the group name is exact"
        )
        partition = "<AWS::Partition>" if Token.is_unresolved(stack.partition) else stack.partition
        acknowledge(
            role,
            f"AwsSolutions-IAM5[Resource::arn:{partition}:logs:*:<AWS::AccountId>:log-group:"
            f"/aws/lambda/{EDGE_REGION}.{function_name}:*]",
            reason,
        )
        acknowledge(role, "Serverless-LambdaStarPermissions", reason)
        return role

    # -- the distribution ------------------------------------------------------------

    def _build_log_bucket(self, expiry_days: int) -> s3.Bucket:
        bucket = s3.Bucket(
            self,
            "AccessLogs",
            encryption=s3.BucketEncryption.S3_MANAGED,
            enforce_ssl=True,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            # CloudFront's standard logs are delivered through a bucket ACL grant.
            object_ownership=s3.ObjectOwnership.OBJECT_WRITER,
            versioned=True,
            lifecycle_rules=[
                s3.LifecycleRule(
                    expiration=Duration.days(expiry_days),
                    noncurrent_version_expiration=Duration.days(1),
                    abort_incomplete_multipart_upload_after=Duration.days(1),
                )
            ],
            removal_policy=self._removal_policy,
            auto_delete_objects=self._removal_policy == RemovalPolicy.DESTROY,
        )
        acknowledge(
            bucket,
            "AwsSolutions-S1",
            "this bucket receives CloudFront's access logs; logging it in turn would only recurse",
        )
        checkov_skip(
            bucket,
            "CKV_AWS_18",
            "the access-log destination itself; logging it would only recurse",
        )
        return bucket

    def _build_distribution(
        self,
        *,
        load_balancer: elbv2.IApplicationLoadBalancer,
        origin_port: int,
        status_cache_seconds: int,
        domain_names: tuple[str, ...],
        certificate_arn: str,
        web_acl_arn: str,
        price_class: cloudfront.PriceClass,
    ) -> cloudfront.Distribution:
        origin = origins.VpcOrigin.with_application_load_balancer(
            load_balancer,
            # Inside AWS's network from the VPC origin to an internal ALB: HTTP unless
            # the ALB listens with a certificate for its name (origin_port 443).
            protocol_policy=(
                cloudfront.OriginProtocolPolicy.HTTPS_ONLY
                if origin_port == 443
                else cloudfront.OriginProtocolPolicy.HTTP_ONLY
            ),
            http_port=origin_port if origin_port != 443 else 80,
            https_port=443,
            read_timeout=Duration.seconds(30),
        )
        origin_requests = cloudfront.OriginRequestPolicy(
            self,
            "ApiOriginRequests",
            comment="orders API: content type, query string, the headers the edge sets",
            header_behavior=cloudfront.OriginRequestHeaderBehavior.allow_list(*FORWARDED_HEADERS),
            query_string_behavior=cloudfront.OriginRequestQueryStringBehavior.all(),
            cookie_behavior=cloudfront.OriginRequestCookieBehavior.none(),
        )
        security_headers = self._build_security_headers_policy()
        edge_lambdas = [
            cloudfront.EdgeLambda(
                function_version=self.function.current_version,
                event_type=cloudfront.LambdaEdgeEventType.VIEWER_REQUEST,
            )
        ]

        def behavior(cache_policy: cloudfront.ICachePolicy) -> cloudfront.BehaviorOptions:
            return cloudfront.BehaviorOptions(
                origin=origin,
                # Every method reaches the edge function, which answers 405 in JSON.
                allowed_methods=cloudfront.AllowedMethods.ALLOW_ALL,
                cached_methods=cloudfront.CachedMethods.CACHE_GET_HEAD,
                cache_policy=cache_policy,
                origin_request_policy=origin_requests,
                response_headers_policy=security_headers,
                # An API: a POST sent over HTTP must fail, not be redirected as a GET.
                viewer_protocol_policy=cloudfront.ViewerProtocolPolicy.HTTPS_ONLY,
                compress=True,
                edge_lambdas=edge_lambdas,
            )

        status_cache = cloudfront.CachePolicy.CACHING_DISABLED
        if status_cache_seconds > 0:
            status_cache = cloudfront.CachePolicy(
                self,
                "StatusReads",
                comment="orders status reads: a short TTL, keyed on ?version only",
                default_ttl=Duration.seconds(status_cache_seconds),
                max_ttl=Duration.seconds(status_cache_seconds),
                min_ttl=Duration.seconds(0),
                query_string_behavior=cloudfront.CacheQueryStringBehavior.allow_list("version"),
                header_behavior=cloudfront.CacheHeaderBehavior.none(),
                cookie_behavior=cloudfront.CacheCookieBehavior.none(),
                enable_accept_encoding_gzip=True,
                enable_accept_encoding_brotli=True,
            )
        custom_domain = bool(domain_names)
        distribution = cloudfront.Distribution(
            self,
            "Distribution",
            comment=f"{self._name} orders API",
            default_behavior=behavior(cloudfront.CachePolicy.CACHING_DISABLED),
            additional_behaviors={STATUS_PATH_PATTERN: behavior(status_cache)},
            domain_names=list(domain_names) or None,
            certificate=(
                acm.Certificate.from_certificate_arn(self, "Certificate", certificate_arn)
                if custom_domain
                else None
            ),
            minimum_protocol_version=(
                cloudfront.SecurityPolicyProtocol.TLS_V1_2_2021 if custom_domain else None
            ),
            http_version=cloudfront.HttpVersion.HTTP2_AND_3,
            price_class=price_class,
            enable_ipv6=True,
            web_acl_id=web_acl_arn or None,
            error_responses=[
                cloudfront.ErrorResponse(http_status=status, ttl=Duration.seconds(0))
                for status in UNCACHED_ERRORS
            ],
            enable_logging=True,
            log_bucket=self.log_bucket,
            log_file_prefix="cloudfront/",
        )
        self._explain_distribution(distribution, custom_domain, bool(web_acl_arn))
        return distribution

    def _build_security_headers_policy(self) -> cloudfront.ResponseHeadersPolicy:
        return cloudfront.ResponseHeadersPolicy(
            self,
            "SecurityHeaders",
            comment="orders API: HSTS, nosniff, no referrer, a CSP that allows nothing",
            security_headers_behavior=cloudfront.ResponseSecurityHeadersBehavior(
                strict_transport_security=cloudfront.ResponseHeadersStrictTransportSecurity(
                    access_control_max_age=HSTS_MAX_AGE, include_subdomains=True, override=True
                ),
                content_type_options=cloudfront.ResponseHeadersContentTypeOptions(override=True),
                referrer_policy=cloudfront.ResponseHeadersReferrerPolicy(
                    referrer_policy=cloudfront.HeadersReferrerPolicy.NO_REFERRER, override=True
                ),
                content_security_policy=cloudfront.ResponseHeadersContentSecurityPolicy(
                    content_security_policy=CONTENT_SECURITY_POLICY, override=True
                ),
                frame_options=cloudfront.ResponseHeadersFrameOptions(
                    frame_option=cloudfront.HeadersFrameOption.DENY, override=True
                ),
            ),
        )

    def _explain_distribution(
        self, distribution: cloudfront.Distribution, custom_domain: bool, waf: bool
    ) -> None:
        acknowledge(
            distribution,
            "AwsSolutions-CFR1",
            "a public order API for any country; geo restriction is a business choice "
            "the distribution can take later",
        )
        checkov_skip(
            distribution,
            "CKV_AWS_374",
            "a public order API for any country; geo restriction is a business choice",
        )
        checkov_skip(
            distribution,
            "CKV_AWS_305",
            "an API, not a website: there is no root object (the edge answers / with 404)",
        )
        checkov_skip(
            distribution,
            "CKV_AWS_310",
            "one origin, the ALB of this region; failover would need a second region",
        )
        if not waf:
            acknowledge(
                distribution,
                "AwsSolutions-CFR2",
                "WAF on CloudFront is optional (web_acl_arn; a CLOUDFRONT-scope web ACL "
                "lives in us-east-1); the edge function refuses what the API never accepts",
            )
            checkov_skip(
                distribution,
                "CKV_AWS_68",
                "WAF on CloudFront is optional (web_acl_arn); the edge function already "
                "refuses what the API never accepts",
            )
        if not custom_domain:
            reason = (
                "CloudFront's default *.cloudfront.net certificate fixes the viewer policy "
                "at TLSv1; with a custom domain and certificate it is TLSv1.2_2021"
            )
            acknowledge(distribution, "AwsSolutions-CFR4", reason)
            checkov_skip(distribution, "CKV_AWS_174", reason)

    # -- the ALB's security group ----------------------------------------------------

    def _build_prefix_list_lookup(self) -> str:
        """The region's id of CloudFront's origin-facing prefix list, found at deploy time.

        The id differs per region and a context lookup would need credentials at synth;
        this custom resource asks EC2 during the deployment instead.
        """
        log_group = logs.LogGroup(
            self,
            "PrefixListLookupLogs",
            retention=self._log_retention,
            removal_policy=self._removal_policy,
        )
        checkov_skip(
            log_group,
            "CKV_AWS_158",
            "CloudWatch Logs encrypts every log group at rest; a deploy-time lookup's logs "
            "hold no secrets",
        )
        function = deploy_time_function(
            self,
            "PrefixListLookup",
            description="deploy-time: the id of a managed prefix list, by name",
            role_description="finds CloudFront's origin-facing prefix list id at deploy time",
            policy_name="lookup",
            # Describe calls have no resource-level permissions.
            statements=[
                iam.PolicyStatement(actions=["ec2:DescribeManagedPrefixLists"], resources=["*"])
            ],
            runtime=EDGE_RUNTIME,
            code_dir=PREFIX_LIST_DIR,
            log_group=log_group,
            why_no_dlq="invoked synchronously by CloudFormation during deploys; never async",
            why_no_tracing="a deploy-time lookup that runs once per deployment; nothing to trace",
            checkov_reasons=CHECKOV_LOOKUP_FUNCTION_REASONS,
            wildcard_reason=(
                "ec2:DescribeManagedPrefixLists has no resource-level permissions; the role "
                "can do nothing else but write its own logs"
            ),
        )
        lookup = CustomResource(
            self,
            "OriginFacingPrefixList",
            service_token=function.function_arn,
            resource_type="Custom::ManagedPrefixListId",
            properties={"PrefixListName": ORIGIN_FACING_PREFIX_LIST},
        )
        return lookup.get_att_string("PrefixListId")


def _stage_viewer_request(config_json: str) -> Path:
    """The function's package: its modules plus the config file, in a content-named dir.

    Written under the system's temp directory, once per distinct content, so the asset
    hash depends only on the code and the configuration (stable across synths) and the
    source tree is never written to.
    """
    modules = sorted(path for path in VIEWER_REQUEST_DIR.glob("*.py") if path.name != "__init__.py")
    digest = hashlib.sha256()
    for path in modules:
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    digest.update(config_json.encode())
    target = Path(tempfile.gettempdir()) / f"orders-edge-{digest.hexdigest()[:24]}"
    if target.is_dir():
        return target
    building = target.with_name(f"{target.name}.{os.getpid()}")
    shutil.rmtree(building, ignore_errors=True)
    building.mkdir(parents=True)
    for path in modules:
        shutil.copyfile(path, building / path.name)
    (building / EDGE_CONFIG_FILE).write_text(config_json, encoding="utf-8")
    try:
        building.rename(target)
    except OSError:  # another synth staged the same content first
        shutil.rmtree(building, ignore_errors=True)
    return target
