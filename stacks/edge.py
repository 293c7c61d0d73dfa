"""What guards and records the load balancer: access-log buckets and the optional WAF.

(Not the CloudFront edge: that is stacks/front.py.)
"""

from __future__ import annotations

from typing import Any

from aws_cdk import Duration
from aws_cdk import aws_elasticloadbalancingv2 as elbv2
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_wafv2 as wafv2
from constructs import Construct

from stacks.common import acknowledge, checkov_skip, stateful_removal
from stacks.settings import Settings


class AccessLogs(Construct):
    """ALB access logs in an encrypted, TLS-only, private bucket with lifecycle expiry.

    The log bucket's own S3 server access logs go to a second bucket of the same kind.
    ELB log delivery only supports S3-managed keys (SSE-S3), not KMS.
    """

    def __init__(self, scope: Construct, construct_id: str, *, settings: Settings) -> None:
        super().__init__(scope, construct_id)
        self._settings = settings
        server_logs = self._build_bucket("ServerAccessLogs")
        acknowledge(
            server_logs,
            "AwsSolutions-S1",
            "this bucket receives the access-log bucket's server access logs; logging it "
            "in turn would only recurse",
        )
        checkov_skip(
            server_logs,
            "CKV_AWS_18",
            "the server-access-log destination itself; logging it would only recurse",
        )
        self.bucket = self._build_bucket(
            "AlbAccessLogs",
            server_access_logs_bucket=server_logs,
            server_access_logs_prefix="alb-access-logs/",
        )

    def _build_bucket(self, construct_id: str, **extra: Any) -> s3.Bucket:
        settings = self._settings
        return s3.Bucket(
            self,
            construct_id,
            encryption=s3.BucketEncryption.S3_MANAGED,
            enforce_ssl=True,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            # Versioned so a log cannot be silently overwritten; old versions expire fast.
            versioned=True,
            lifecycle_rules=[
                s3.LifecycleRule(
                    expiration=Duration.days(settings.access_log_expiry_days),
                    noncurrent_version_expiration=Duration.days(1),
                    abort_incomplete_multipart_upload_after=Duration.days(1),
                )
            ],
            removal_policy=stateful_removal(settings),
            # Dev buckets empty themselves on destroy; prod logs are evidence and stay.
            auto_delete_objects=not settings.is_prod,
            **extra,
        )


class WebAcl(Construct):
    """AWS WAF on the ALB: the AWS managed common rule set and a per-IP rate limit."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        settings: Settings,
        load_balancer: elbv2.IApplicationLoadBalancer,
        forwarded_ip_header: str | None = None,
    ) -> None:
        """With `forwarded_ip_header` (the edge in front: every request comes from one of
        CloudFront's addresses), the rate limit counts by the viewer address that header
        holds instead of by the connecting address."""
        super().__init__(scope, construct_id)
        metric_prefix = settings.name_prefix
        self.acl = wafv2.CfnWebACL(
            self,
            "Acl",
            scope="REGIONAL",
            default_action=wafv2.CfnWebACL.DefaultActionProperty(allow={}),
            visibility_config=_visibility(f"{metric_prefix}-web-acl"),
            rules=[
                _managed_rule_group(
                    "aws-common-rule-set",
                    0,
                    "AWSManagedRulesCommonRuleSet",
                    f"{metric_prefix}-common",
                    # The rule set blocks bodies over 8 KB; the API takes up to 256 KiB
                    # and answers 413 itself past that, so only count.
                    count_only=("SizeRestrictions_BODY",),
                ),
                _managed_rule_group(
                    "aws-known-bad-inputs",
                    1,
                    "AWSManagedRulesKnownBadInputsRuleSet",
                    f"{metric_prefix}-known-bad-inputs",
                ),
                wafv2.CfnWebACL.RuleProperty(
                    name="rate-limit-per-ip",
                    priority=2,
                    action=wafv2.CfnWebACL.RuleActionProperty(block={}),
                    statement=wafv2.CfnWebACL.StatementProperty(
                        rate_based_statement=_rate_limit(
                            settings.waf_rate_limit, forwarded_ip_header
                        )
                    ),
                    visibility_config=_visibility(f"{metric_prefix}-rate-limit"),
                ),
            ],
        )
        wafv2.CfnWebACLAssociation(
            self,
            "Association",
            resource_arn=load_balancer.load_balancer_arn,
            web_acl_arn=self.acl.attr_arn,
        )


def _rate_limit(
    limit: int, forwarded_ip_header: str | None
) -> wafv2.CfnWebACL.RateBasedStatementProperty:
    if forwarded_ip_header is None:
        return wafv2.CfnWebACL.RateBasedStatementProperty(limit=limit, aggregate_key_type="IP")
    return wafv2.CfnWebACL.RateBasedStatementProperty(
        limit=limit,
        aggregate_key_type="FORWARDED_IP",
        # The edge function sets this header itself (a viewer cannot choose it). A value
        # that is no IP address never came from the edge: it counts as over the limit.
        forwarded_ip_config=wafv2.CfnWebACL.ForwardedIPConfigurationProperty(
            header_name=forwarded_ip_header, fallback_behavior="MATCH"
        ),
    )


def _managed_rule_group(
    name: str, priority: int, group: str, metric_name: str, count_only: tuple[str, ...] = ()
) -> wafv2.CfnWebACL.RuleProperty:
    """An AWS managed rule group; the rules named in `count_only` count instead of block."""
    overrides = [
        wafv2.CfnWebACL.RuleActionOverrideProperty(
            name=rule, action_to_use=wafv2.CfnWebACL.RuleActionProperty(count={})
        )
        for rule in count_only
    ]
    return wafv2.CfnWebACL.RuleProperty(
        name=name,
        priority=priority,
        override_action=wafv2.CfnWebACL.OverrideActionProperty(none={}),
        statement=wafv2.CfnWebACL.StatementProperty(
            managed_rule_group_statement=wafv2.CfnWebACL.ManagedRuleGroupStatementProperty(
                vendor_name="AWS", name=group, rule_action_overrides=overrides or None
            )
        ),
        visibility_config=_visibility(metric_name),
    )


def _visibility(metric_name: str) -> wafv2.CfnWebACL.VisibilityConfigProperty:
    return wafv2.CfnWebACL.VisibilityConfigProperty(
        cloud_watch_metrics_enabled=True,
        metric_name=metric_name,
        sampled_requests_enabled=True,
    )
