"""Production readiness: HTTPS and its redirect, access logs, WAF, alarms and their targets."""

from __future__ import annotations

from typing import Any

import pytest

from tests.infra.conftest import Synthesized, only, resources, synth

CERTIFICATE = "arn:aws:acm:us-east-1:111122223333:certificate/0f1e2d3c-aaaa-bbbb-cccc-123456789012"


@pytest.fixture(scope="module")
def hardened(tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    return Synthesized(
        synth(
            tmp_path_factory.mktemp("hardened"),
            stage="prod",
            # the ALB's own HTTPS, so without the edge (tests/infra/test_front.py has it)
            edge_enabled=False,
            certificate_arn=CERTIFICATE,
            waf_enabled=True,
            waf_rate_limit=500,
            alarm_email="oncall@example.com",
            queue_age_alarm_seconds=600,
        )
    )


def _listeners(synthesized: Synthesized) -> dict[int, dict[str, Any]]:
    listeners = resources(synthesized.json("Compute"), "AWS::ElasticLoadBalancingV2::Listener")
    return {v["Properties"]["Port"]: v["Properties"] for v in listeners.values()}


def test_with_a_certificate_https_carries_the_rule_and_http_redirects(
    hardened: Synthesized,
) -> None:
    listeners = _listeners(hardened)
    assert set(listeners) == {80, 443}
    https = listeners[443]
    assert https["Protocol"] == "HTTPS"
    assert https["Certificates"] == [{"CertificateArn": CERTIFICATE}]
    assert https["SslPolicy"].startswith("ELBSecurityPolicy-TLS13")
    (redirect,) = listeners[80]["DefaultActions"]
    assert redirect == {
        "Type": "redirect",
        "RedirectConfig": {"Port": "443", "Protocol": "HTTPS", "StatusCode": "HTTP_301"},
    }
    template = hardened.json("Compute")
    rules = resources(template, "AWS::ElasticLoadBalancingV2::ListenerRule").values()
    (https_id,) = (
        k for k, v in resources(template, "AWS::ElasticLoadBalancingV2::Listener").items()
        if v["Properties"]["Port"] == 443
    )  # fmt: skip
    assert len(rules) == 2  # ingest and status, both on HTTPS
    assert all(rule["Properties"]["ListenerArn"] == {"Ref": https_id} for rule in rules)
    api_url = template["Outputs"]["ApiUrl"]["Value"]["Fn::Join"][1]
    assert api_url[0] == "https://"


def test_without_a_certificate_only_http_80(dev: Synthesized) -> None:
    listeners = _listeners(dev)
    assert set(listeners) == {80}
    assert listeners[80]["Protocol"] == "HTTP"


def _buckets(synthesized: Synthesized) -> dict[str, dict[str, Any]]:
    return resources(synthesized.json("Compute"), "AWS::S3::Bucket")


def test_access_logs_go_to_a_private_encrypted_expiring_bucket(dev: Synthesized) -> None:
    template = dev.json("Compute")
    alb = only(template, "AWS::ElasticLoadBalancingV2::LoadBalancer")["Properties"]
    attributes = {a["Key"]: a["Value"] for a in alb["LoadBalancerAttributes"]}
    assert attributes["access_logs.s3.enabled"] == "true"
    log_bucket_id = attributes["access_logs.s3.bucket"]["Ref"]
    buckets = _buckets(dev)
    assert len(buckets) == 2
    for bucket in buckets.values():
        properties = bucket["Properties"]
        assert properties["BucketEncryption"]["ServerSideEncryptionConfiguration"] == [
            {"ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}
        ]
        assert properties["PublicAccessBlockConfiguration"] == {
            "BlockPublicAcls": True,
            "BlockPublicPolicy": True,
            "IgnorePublicAcls": True,
            "RestrictPublicBuckets": True,
        }
        (rule,) = properties["LifecycleConfiguration"]["Rules"]
        assert rule["ExpirationInDays"] == 90
        assert rule["Status"] == "Enabled"
    # the ALB log bucket's own server access logs go to the other bucket
    (server_logs_id,) = set(buckets) - {log_bucket_id}
    logging = buckets[log_bucket_id]["Properties"]["LoggingConfiguration"]
    assert logging["DestinationBucketName"] == {"Ref": server_logs_id}
    for policy in resources(template, "AWS::S3::BucketPolicy").values():
        statements = policy["Properties"]["PolicyDocument"]["Statement"]
        assert {
            "Action": "s3:*",
            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
            "Effect": "Deny",
            "Principal": {"AWS": "*"},
            "Resource": statements[0]["Resource"],
        } in statements


def test_prod_keeps_its_logs_and_protects_the_alb(dev: Synthesized, prod: Synthesized) -> None:
    for bucket in _buckets(prod).values():
        assert bucket["DeletionPolicy"] == "Retain"
    assert resources(prod.json("Compute"), "Custom::S3AutoDeleteObjects") == {}
    # dev empties its buckets on destroy so `make destroy` succeeds
    assert len(resources(dev.json("Compute"), "Custom::S3AutoDeleteObjects")) == 2


def test_waf_is_off_by_default_and_carries_common_rules_and_rate_limit_when_on(
    dev: Synthesized, hardened: Synthesized
) -> None:
    assert resources(dev.json("Compute"), "AWS::WAFv2::WebACL") == {}
    template = hardened.json("Compute")
    acl = only(template, "AWS::WAFv2::WebACL")["Properties"]
    assert acl["Scope"] == "REGIONAL"
    rules = {rule["Name"]: rule for rule in acl["Rules"]}
    managed = rules["aws-common-rule-set"]["Statement"]["ManagedRuleGroupStatement"]
    assert (managed["VendorName"], managed["Name"]) == ("AWS", "AWSManagedRulesCommonRuleSet")
    assert managed["RuleActionOverrides"] == [
        {"Name": "SizeRestrictions_BODY", "ActionToUse": {"Count": {}}}
    ]
    rate = rules["rate-limit-per-ip"]
    assert rate["Action"] == {"Block": {}}
    assert rate["Statement"]["RateBasedStatement"] == {"Limit": 500, "AggregateKeyType": "IP"}
    association = only(template, "AWS::WAFv2::WebACLAssociation")["Properties"]
    (alb_id,) = resources(template, "AWS::ElasticLoadBalancingV2::LoadBalancer")
    assert association["ResourceArn"] == {"Ref": alb_id}


def _alarms(synthesized: Synthesized) -> dict[str, dict[str, Any]]:
    return {
        k: v["Properties"]
        for k, v in resources(synthesized.json("Compute"), "AWS::CloudWatch::Alarm").items()
    }


def test_every_alarm_notifies_the_topic_on_alarm_and_ok(dev: Synthesized) -> None:
    template = dev.json("Compute")
    (topic_id,) = resources(template, "AWS::SNS::Topic")
    alarms = _alarms(dev)
    # API: DLQ, queue age, 3 x (errors, throttles), ALB 5xx, target 5xx; the ledger: 2 x
    # (errors, throttles), failed files, iterator age, 5 dead-letter/failure queues
    assert len(alarms) == 10 + 11
    for alarm in alarms.values():
        assert alarm["AlarmActions"] == [{"Ref": topic_id}]
        assert alarm["OKActions"] == [{"Ref": topic_id}]
        assert alarm["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
        assert alarm["TreatMissingData"] == "notBreaching"


def test_alarm_thresholds_come_from_settings(dev: Synthesized, hardened: Synthesized) -> None:
    def by_metric(synthesized: Synthesized) -> dict[tuple[str, str], list[float]]:
        found: dict[tuple[str, str], list[float]] = {}
        for alarm in _alarms(synthesized).values():
            key = (alarm["Namespace"], alarm["MetricName"])
            found.setdefault(key, []).append(alarm["Threshold"])
        return found

    defaults = by_metric(dev)
    assert defaults[("AWS/SQS", "ApproximateNumberOfMessagesVisible")] == [1] * 6  # DLQs
    assert defaults[("AWS/SQS", "ApproximateAgeOfOldestMessage")] == [300]
    # ingest, process, status, files, aggregator
    assert defaults[("AWS/Lambda", "Errors")] == [1] * 5
    assert defaults[("AWS/Lambda", "Throttles")] == [1] * 5
    assert defaults[("AWS/Lambda", "IteratorAge")] == [300_000]  # milliseconds
    assert defaults[("Orders-dev", "FilesFailed")] == [1]
    assert defaults[("AWS/ApplicationELB", "HTTPCode_ELB_5XX_Count")] == [5]
    assert defaults[("AWS/ApplicationELB", "HTTPCode_Target_5XX_Count")] == [5]
    assert by_metric(hardened)[("AWS/SQS", "ApproximateAgeOfOldestMessage")] == [600]


def test_dlq_alarm_watches_the_dead_letter_queue(dev: Synthesized) -> None:
    (dlq_alarm,) = (
        alarm
        for logical_id, alarm in _alarms(dev).items()
        if logical_id.startswith("MonitoringDeadLetterQueueNotEmpty")
    )
    (dimension,) = dlq_alarm["Dimensions"]
    assert dimension["Name"] == "QueueName"
    assert "OrdersDeadLetterQueue" in dimension["Value"]["Fn::ImportValue"]


def test_topic_is_encrypted_with_a_key_cloudwatch_may_use(hardened: Synthesized) -> None:
    template = hardened.json("Compute")
    topic = only(template, "AWS::SNS::Topic")["Properties"]
    (key_id,) = resources(template, "AWS::KMS::Key")
    assert topic["KmsMasterKeyId"] == {"Fn::GetAtt": [key_id, "Arn"]}
    key = template["Resources"][key_id]["Properties"]
    assert key["EnableKeyRotation"] is True
    principals = [s.get("Principal", {}) for s in key["KeyPolicy"]["Statement"]]
    assert {"Service": "cloudwatch.amazonaws.com"} in principals
    subscription = only(template, "AWS::SNS::Subscription")["Properties"]
    assert (subscription["Protocol"], subscription["Endpoint"]) == ("email", "oncall@example.com")


def test_one_dashboard(dev: Synthesized) -> None:
    only(dev.json("Compute"), "AWS::CloudWatch::Dashboard")
