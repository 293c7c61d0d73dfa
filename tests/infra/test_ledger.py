"""The ledger (issue 8): files bucket and tables, alert fan-out, file processor, aggregator.

Every property the design names is asserted on the synthesized templates; `tuned` is the
app synthesized with the ledger's settings changed, to show each one reaches its resource.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.infra.conftest import Synthesized, resources, synth

TLS_ONLY = {"Bool": {"aws:SecureTransport": "false"}}
TUNED = {
    "processed_file_expiry_days": 7,
    "rejected_report_expiry_days": 14,
    "aggregator_batch_size": 50,
    "aggregator_batching_window_seconds": 5,
    "aggregator_retry_attempts": 3,
    "aggregator_max_record_age_seconds": 3600,
    "aggregator_parallelization_factor": 4,
    "iterator_age_alarm_seconds": 120,
    "files_timeout_seconds": 600,
    "file_max_bytes": 1024,
    "file_writer_threads": 4,
    "high_balance_threshold": "2500.50",
    "ledger_currency": "USD",
    "alert_email": "ledger@example.com",
}


@pytest.fixture(scope="module")
def tuned(tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    return Synthesized(synth(tmp_path_factory.mktemp("tuned"), **TUNED))


def _by_prefix(template: dict[str, Any], cfn_type: str, prefix: str) -> dict[str, Any]:
    """The one resource of `cfn_type` whose logical id starts with `prefix`."""
    (found,) = (v for k, v in resources(template, cfn_type).items() if k.startswith(prefix))
    return found


def _id(template: dict[str, Any], cfn_type: str, prefix: str) -> str:
    (found,) = (k for k in resources(template, cfn_type) if k.startswith(prefix))
    return found


def _imports(value: Any, producer_id: str) -> bool:
    """Whether `value` imports an output of the producer's logical id."""
    return producer_id in json.dumps(value) and "Fn::ImportValue" in json.dumps(value)


def _function(synthesized: Synthesized, name: str) -> tuple[str, dict[str, Any]]:
    for logical_id, function in resources(
        synthesized.json("Compute"), "AWS::Lambda::Function"
    ).items():
        variables = function["Properties"].get("Environment", {}).get("Variables", {})
        if variables.get("POWERTOOLS_SERVICE_NAME") == f"orders-{name}":
            return logical_id, function["Properties"]
    raise AssertionError(f"no orders-{name} function")


# --- data: the orders stream, the files bucket, the ledger's tables ----------------------


def test_the_orders_table_streams_both_images_and_keeps_its_logical_id(dev: Synthesized) -> None:
    table = dev.json("Data")["Resources"]["OrdersTable315BB997"]
    assert table["Properties"]["StreamSpecification"] == {"StreamViewType": "NEW_AND_OLD_IMAGES"}


@pytest.mark.parametrize(
    ("prefix", "key", "stream"),
    [
        ("TransactionsTable", "transaction_id", "NEW_AND_OLD_IMAGES"),
        ("CustomersTable", "customer_id", None),
        ("TotalsTable", "customer_id", None),
        ("PostingsTable", "source", None),
    ],
)
def test_ledger_tables_are_kept_like_the_orders_table(
    dev: Synthesized, prod: Synthesized, prefix: str, key: str, stream: str | None
) -> None:
    table = _by_prefix(dev.json("Data"), "AWS::DynamoDB::Table", prefix)["Properties"]
    assert table["KeySchema"] == [{"AttributeName": key, "KeyType": "HASH"}]
    assert table["AttributeDefinitions"] == [{"AttributeName": key, "AttributeType": "S"}]
    assert table["BillingMode"] == "PAY_PER_REQUEST"
    assert table["SSESpecification"] == {"SSEEnabled": True}
    assert table["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    assert table.get("StreamSpecification") == ({"StreamViewType": stream} if stream else None)
    in_prod = _by_prefix(prod.json("Data"), "AWS::DynamoDB::Table", prefix)
    assert in_prod["DeletionPolicy"] == "Retain"
    assert in_prod["Properties"]["DeletionProtectionEnabled"] is True


def test_the_files_bucket_is_private_encrypted_versioned_and_logged(dev: Synthesized) -> None:
    template = dev.json("Data")
    bucket = _by_prefix(template, "AWS::S3::Bucket", "OrderFilesBucket")["Properties"]
    assert bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"] == [
        {"ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}
    ]
    assert bucket["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True,
        "BlockPublicPolicy": True,
        "IgnorePublicAcls": True,
        "RestrictPublicBuckets": True,
    }
    assert bucket["OwnershipControls"] == {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]}
    assert bucket["VersioningConfiguration"] == {"Status": "Enabled"}
    logs_id = _id(template, "AWS::S3::Bucket", "OrderFilesAccessLogs")
    assert bucket["LoggingConfiguration"] == {
        "DestinationBucketName": {"Ref": logs_id},
        "LogFilePrefix": "order-files/",
    }
    access_logs = template["Resources"][logs_id]["Properties"]
    assert "LoggingConfiguration" not in access_logs  # the destination itself
    (rule,) = access_logs["LifecycleConfiguration"]["Rules"]
    assert rule["ExpirationInDays"] == 90  # access_log_expiry_days
    # both buckets refuse anything but TLS
    for bucket_id in (_id(template, "AWS::S3::Bucket", "OrderFilesBucket"), logs_id):
        (policy,) = (
            p
            for p in resources(template, "AWS::S3::BucketPolicy").values()
            if p["Properties"]["Bucket"] == {"Ref": bucket_id}
        )
        statements = policy["Properties"]["PolicyDocument"]["Statement"]
        assert any(s["Effect"] == "Deny" and s.get("Condition") == TLS_ONLY for s in statements)


def _lifecycle(synthesized: Synthesized) -> dict[str, dict[str, Any]]:
    bucket = _by_prefix(synthesized.json("Data"), "AWS::S3::Bucket", "OrderFilesBucket")
    return {rule["Id"]: rule for rule in bucket["Properties"]["LifecycleConfiguration"]["Rules"]}


def test_processed_files_and_reports_expire_after_their_settings(
    dev: Synthesized, tuned: Synthesized
) -> None:
    rules = _lifecycle(dev)
    assert rules["expire-processed-files"] == {
        "Id": "expire-processed-files",
        "Prefix": "processed/",
        "ExpirationInDays": 30,
        "Status": "Enabled",
    }
    assert rules["expire-rejected-reports"]["Prefix"] == "rejected/"
    assert rules["expire-rejected-reports"]["ExpirationInDays"] == 90
    assert rules["expire-old-versions"]["NoncurrentVersionExpiration"] == {"NoncurrentDays": 30}
    assert rules["expire-old-versions"]["AbortIncompleteMultipartUpload"] == {
        "DaysAfterInitiation": 7
    }
    assert rules["remove-expired-delete-markers"]["ExpiredObjectDeleteMarker"] is True
    # nothing under incoming/ expires: a file waits there until it is processed
    assert not any(rule.get("Prefix") == "incoming/" for rule in rules.values())
    tuned_rules = _lifecycle(tuned)
    assert tuned_rules["expire-processed-files"]["ExpirationInDays"] == 7
    assert tuned_rules["expire-rejected-reports"]["ExpirationInDays"] == 14


def test_new_files_are_announced_to_eventbridge_without_a_custom_resource(
    dev: Synthesized,
) -> None:
    bucket = _by_prefix(dev.json("Data"), "AWS::S3::Bucket", "OrderFilesBucket")["Properties"]
    assert bucket["NotificationConfiguration"] == {
        "EventBridgeConfiguration": {"EventBridgeEnabled": True}
    }
    for part in dev.stacks:
        assert resources(dev.json(part), "Custom::S3BucketNotifications") == {}


# --- queue: HighBalanceAlert, its subscribers, the failure queues ------------------------


def test_the_alert_topic_is_encrypted_with_the_aws_managed_key_and_tls_only(
    dev: Synthesized,
) -> None:
    template = dev.json("Queue")
    topic_id = _id(template, "AWS::SNS::Topic", "HighBalanceAlertTopic")
    topic = template["Resources"][topic_id]["Properties"]
    assert topic["TopicName"] == "Orders-dev-HighBalanceAlert"
    assert topic["KmsMasterKeyId"] == "alias/aws/sns"
    (policy,) = resources(template, "AWS::SNS::TopicPolicy").values()
    assert policy["Properties"]["Topics"] == [{"Ref": topic_id}]
    (statement,) = policy["Properties"]["PolicyDocument"]["Statement"]
    assert (statement["Effect"], statement["Condition"]) == ("Deny", TLS_ONLY)


def test_alert_queues_subscribe_raw_with_their_own_dlqs_and_a_subscription_dlq(
    dev: Synthesized,
) -> None:
    template = dev.json("Queue")
    topic_id = _id(template, "AWS::SNS::Topic", "HighBalanceAlertTopic")
    subscription_dlq = _id(template, "AWS::SQS::Queue", "AlertSubscriptionDeadLetterQueue")
    subscriptions = resources(template, "AWS::SNS::Subscription").values()
    assert len(subscriptions) == 2  # no e-mail unless alert_email is set
    endpoints = set()
    for subscription in subscriptions:
        properties = subscription["Properties"]
        assert properties["Protocol"] == "sqs"
        assert properties["TopicArn"] == {"Ref": topic_id}
        assert properties["RawMessageDelivery"] is True
        # what SNS cannot deliver is kept, not dropped
        assert properties["RedrivePolicy"] == {
            "deadLetterTargetArn": {"Fn::GetAtt": [subscription_dlq, "Arn"]}
        }
        endpoints.add(properties["Endpoint"]["Fn::GetAtt"][0])
    for name in ("CreditCollection", "CustomerNotify"):
        queue_id = _id(template, "AWS::SQS::Queue", f"{name}Queue")
        assert queue_id in endpoints
        queue = template["Resources"][queue_id]["Properties"]
        assert queue["QueueName"] == f"Orders-dev-{name}"
        assert queue["SqsManagedSseEnabled"] is True
        assert queue["MessageRetentionPeriod"] == 7 * 86400
        dlq_id = _id(template, "AWS::SQS::Queue", f"{name}DeadLetterQueue")
        assert queue["RedrivePolicy"] == {
            "deadLetterTargetArn": {"Fn::GetAtt": [dlq_id, "Arn"]},
            "maxReceiveCount": 5,
        }
        dlq = template["Resources"][dlq_id]["Properties"]
        assert dlq["MessageRetentionPeriod"] == 14 * 86400
    # SNS may send to the two queues and the subscription DLQ, from this topic only
    for queue_id in (*endpoints, subscription_dlq):
        (policy,) = (
            p
            for p in resources(template, "AWS::SQS::QueuePolicy").values()
            if p["Properties"]["Queues"] == [{"Ref": queue_id}]
        )
        _, allow = policy["Properties"]["PolicyDocument"]["Statement"]
        assert allow["Principal"] == {"Service": "sns.amazonaws.com"}
        assert allow["Condition"] == {"ArnEquals": {"aws:SourceArn": {"Ref": topic_id}}}


def test_alert_email_subscribes_when_set(tuned: Synthesized) -> None:
    emails = [
        s["Properties"]
        for s in resources(tuned.json("Queue"), "AWS::SNS::Subscription").values()
        if s["Properties"]["Protocol"] == "email"
    ]
    assert [e["Endpoint"] for e in emails] == ["ledger@example.com"]


def test_failure_queues_keep_messages_fourteen_days(dev: Synthesized) -> None:
    template = dev.json("Queue")
    for prefix in ("FilesDeadLetterQueue", "AggregatorFailureQueue", "AlertSubscription"):
        queue = _by_prefix(template, "AWS::SQS::Queue", prefix)["Properties"]
        assert queue["MessageRetentionPeriod"] == 14 * 86400
        assert queue["SqsManagedSseEnabled"] is True
        assert "RedrivePolicy" not in queue
