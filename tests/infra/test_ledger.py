"""The ledger (issue 8): files bucket and tables, alert fan-out, file processor, aggregator.

Every property the design names is asserted on the synthesized templates; `tuned` is the
app synthesized with the ledger's settings changed, to show each one reaches its resource.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.infra.conftest import Synthesized, only, resources, synth

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


def test_only_the_files_rule_may_put_undeliverable_events_in_the_files_dlq(
    dev: Synthesized,
) -> None:
    template = dev.json("Queue")
    dlq_id = _id(template, "AWS::SQS::Queue", "FilesDeadLetterQueue")
    (policy,) = (
        p
        for p in resources(template, "AWS::SQS::QueuePolicy").values()
        if p["Properties"]["Queues"] == [{"Ref": dlq_id}]
    )
    _, allow = policy["Properties"]["PolicyDocument"]["Statement"]
    assert allow["Principal"] == {"Service": "events.amazonaws.com"}
    assert allow["Action"] == "sqs:SendMessage"
    source = allow["Condition"]["ArnEquals"]["aws:SourceArn"]["Fn::Join"][1]
    # the rule the compute stack names, by that name (no reference back to compute)
    rule = only(dev.json("Compute"), "AWS::Events::Rule")["Properties"]
    assert source[-1] == f":rule/{rule['Name']}"
    assert rule["Name"] == "Orders-dev-order-files"


# --- compute: the file processor ---------------------------------------------------------


def test_the_rule_forwards_object_created_under_incoming_to_the_file_processor(
    dev: Synthesized,
) -> None:
    template = dev.json("Compute")
    files_id, _ = _function(dev, "files")
    rule = only(template, "AWS::Events::Rule")["Properties"]
    pattern = rule["EventPattern"]
    assert pattern["source"] == ["aws.s3"]
    assert pattern["detail-type"] == ["Object Created"]
    (bucket,) = pattern["detail"]["bucket"]["name"]
    assert _imports(bucket, "ExportsOutputRefOrderFilesBucket")
    assert pattern["detail"]["object"] == {"key": [{"prefix": "incoming/"}]}
    (target,) = rule["Targets"]
    assert target["Arn"] == {"Fn::GetAtt": [files_id, "Arn"]}
    assert _imports(target["DeadLetterConfig"]["Arn"], "FilesDeadLetterQueue")
    assert target["RetryPolicy"] == {"MaximumEventAgeInSeconds": 86400, "MaximumRetryAttempts": 185}
    # EventBridge, from this rule only, may invoke the function
    (permission,) = (
        p["Properties"]
        for p in resources(template, "AWS::Lambda::Permission").values()
        if p["Properties"]["Principal"] == "events.amazonaws.com"
    )
    assert permission["FunctionName"] == {"Fn::GetAtt": [files_id, "Arn"]}
    rule_id = _id(template, "AWS::Events::Rule", "FilesObjectCreatedRule")
    assert permission["SourceArn"] == {"Fn::GetAtt": [rule_id, "Arn"]}


def test_a_failed_file_is_retried_twice_then_kept_with_its_error(dev: Synthesized) -> None:
    files_id, _ = _function(dev, "files")
    config = only(dev.json("Compute"), "AWS::Lambda::EventInvokeConfig")["Properties"]
    assert config["FunctionName"] == {"Ref": files_id}
    assert config["Qualifier"] == "$LATEST"
    assert config["MaximumRetryAttempts"] == 2
    assert config["MaximumEventAgeInSeconds"] == 6 * 3600
    assert _imports(config["DestinationConfig"]["OnFailure"]["Destination"], "FilesDeadLetter")


def test_the_file_processor_gets_its_settings(dev: Synthesized, tuned: Synthesized) -> None:
    _, files = _function(dev, "files")
    env = files["Environment"]["Variables"]
    assert (env["FILE_MAX_BYTES"], env["FILE_WRITER_THREADS"]) == ("268435456", "8")
    assert _imports(env["TRANSACTIONS_TABLE_NAME"], "ExportsOutputRefTransactionsTable")
    assert _imports(env["CUSTOMERS_TABLE_NAME"], "ExportsOutputRefCustomersTable")
    _, files = _function(tuned, "files")
    env = files["Environment"]["Variables"]
    assert (env["FILE_MAX_BYTES"], env["FILE_WRITER_THREADS"]) == ("1024", "4")
    assert env["LEDGER_CURRENCY"] == "USD"
    assert files["Timeout"] == 600


# --- compute: the aggregator -------------------------------------------------------------


def _mappings(synthesized: Synthesized) -> dict[str, dict[str, Any]]:
    template = synthesized.json("Compute")
    aggregator_id, _ = _function(synthesized, "aggregator")
    found = {}
    for logical_id, mapping in resources(template, "AWS::Lambda::EventSourceMapping").items():
        if mapping["Properties"]["FunctionName"] == {"Ref": aggregator_id}:
            found[logical_id.removeprefix("Aggregator").split("Mapping")[0]] = mapping["Properties"]
    assert set(found) == {"Transactions", "Orders"}
    return found


def test_both_streams_feed_the_aggregator_with_bounded_partial_retries(dev: Synthesized) -> None:
    mappings = _mappings(dev)
    assert _imports(mappings["Transactions"]["EventSourceArn"], "TransactionsTable")
    assert _imports(mappings["Orders"]["EventSourceArn"], "OrdersTable")
    for mapping in mappings.values():
        assert "StreamArn" in json.dumps(mapping["EventSourceArn"])
        assert mapping["StartingPosition"] == "TRIM_HORIZON"
        assert mapping["BatchSize"] == 100
        assert mapping["MaximumBatchingWindowInSeconds"] == 1
        assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
        assert mapping["BisectBatchOnFunctionError"] is True
        assert mapping["MaximumRetryAttempts"] == 10
        assert mapping["MaximumRecordAgeInSeconds"] == 6 * 3600
        assert mapping["ParallelizationFactor"] == 2
        destination = mapping["DestinationConfig"]["OnFailure"]["Destination"]
        assert _imports(destination, "AggregatorFailureQueue")


def test_only_orders_carrying_an_amount_reach_the_aggregator(dev: Synthesized) -> None:
    mappings = _mappings(dev)
    assert "FilterCriteria" not in mappings["Transactions"]
    patterns = [json.loads(f["Pattern"]) for f in mappings["Orders"]["FilterCriteria"]["Filters"]]
    # two filters are OR'd: an amount now, or an amount before (removed or dropped since)
    assert patterns == [
        {"dynamodb": {"NewImage": {"amount": {"N": [{"exists": True}]}}}},
        {"dynamodb": {"OldImage": {"amount": {"N": [{"exists": True}]}}}},
    ]


def test_the_aggregator_mappings_follow_the_settings(tuned: Synthesized) -> None:
    for mapping in _mappings(tuned).values():
        assert mapping["BatchSize"] == 50
        assert mapping["MaximumBatchingWindowInSeconds"] == 5
        assert mapping["MaximumRetryAttempts"] == 3
        assert mapping["MaximumRecordAgeInSeconds"] == 3600
        assert mapping["ParallelizationFactor"] == 4
    _, aggregator = _function(tuned, "aggregator")
    env = aggregator["Environment"]["Variables"]
    assert (env["HIGH_BALANCE_THRESHOLD"], env["LEDGER_CURRENCY"]) == ("2500.50", "USD")


def test_the_aggregator_gets_its_tables_and_topic(dev: Synthesized) -> None:
    _, aggregator = _function(dev, "aggregator")
    env = aggregator["Environment"]["Variables"]
    assert _imports(env["TOTALS_TABLE_NAME"], "ExportsOutputRefTotalsTable")
    assert _imports(env["POSTINGS_TABLE_NAME"], "ExportsOutputRefPostingsTable")
    assert _imports(env["HIGH_BALANCE_TOPIC_ARN"], "ExportsOutputRefHighBalanceAlertTopic")
    assert env["HIGH_BALANCE_THRESHOLD"] == "1000000"


def test_ledger_functions_run_outside_the_vpc_and_say_why(dev: Synthesized) -> None:
    template = dev.json("Compute")
    for name in ("files", "aggregator"):
        logical_id, function = _function(dev, name)
        assert "VpcConfig" not in function
        skips = {
            s["id"]: s["comment"]
            for s in template["Resources"][logical_id]["Metadata"]["checkov"]["skip"]
        }
        assert "docs/decisions.md" in skips["CKV_AWS_117"]
        assert "asynchronously" in skips["CKV_AWS_116"] or "stream" in skips["CKV_AWS_116"]
    for name in ("ingest", "process"):  # the API's functions stay in the private subnets
        logical_id, _ = _function(dev, name)
        skips = template["Resources"][logical_id]["Metadata"]["checkov"]["skip"]
        assert "CKV_AWS_117" not in {s["id"] for s in skips}


# --- monitoring ------------------------------------------------------------------------


def _alarms(synthesized: Synthesized) -> dict[str, dict[str, Any]]:
    return {
        k: v["Properties"]
        for k, v in resources(synthesized.json("Compute"), "AWS::CloudWatch::Alarm").items()
    }


def test_every_ledger_dead_letter_and_failure_queue_has_an_alarm(dev: Synthesized) -> None:
    alarms = _alarms(dev)
    for name in (
        "FilesDeadLetterQueue",
        "AggregatorFailureQueue",
        "CreditCollectionDeadLetterQueue",
        "CustomerNotifyDeadLetterQueue",
        "AlertSubscriptionDeadLetterQueue",
    ):
        (alarm,) = (a for k, a in alarms.items() if k.startswith(f"Monitoring{name}NotEmpty"))
        assert alarm["MetricName"] == "ApproximateNumberOfMessagesVisible"
        assert alarm["Statistic"] == "Maximum"
        assert alarm["Threshold"] == 1  # dlq_alarm_threshold
        (dimension,) = alarm["Dimensions"]
        assert dimension["Name"] == "QueueName"
        assert _imports(dimension["Value"], name)


def test_file_failures_and_a_lagging_aggregator_alarm(dev: Synthesized, tuned: Synthesized) -> None:
    alarms = _alarms(dev)
    files_id, _ = _function(dev, "files")
    aggregator_id, _ = _function(dev, "aggregator")
    (failed,) = (a for k, a in alarms.items() if k.startswith("MonitoringFilesFailed"))
    assert (failed["Namespace"], failed["MetricName"]) == ("Orders-dev", "FilesFailed")
    assert failed["Dimensions"] == [{"Name": "service", "Value": "orders-files"}]
    assert failed["Statistic"] == "Sum"
    (errors,) = (a for k, a in alarms.items() if k.startswith("MonitoringFilesErrors"))
    assert errors["Dimensions"] == [{"Name": "FunctionName", "Value": {"Ref": files_id}}]
    (age,) = (a for k, a in alarms.items() if k.startswith("MonitoringAggregatorIteratorAge"))
    assert (age["Namespace"], age["MetricName"], age["Statistic"]) == (
        "AWS/Lambda",
        "IteratorAge",
        "Maximum",
    )
    assert age["Dimensions"] == [{"Name": "FunctionName", "Value": {"Ref": aggregator_id}}]
    assert age["Threshold"] == 300_000  # iterator_age_alarm_seconds, in milliseconds
    (tuned_age,) = (
        a for k, a in _alarms(tuned).items() if k.startswith("MonitoringAggregatorIteratorAge")
    )
    assert tuned_age["Threshold"] == 120_000


def test_the_dashboard_gains_the_ledger_rows(dev: Synthesized) -> None:
    dashboard = only(dev.json("Compute"), "AWS::CloudWatch::Dashboard")
    parts = dashboard["Properties"]["DashboardBody"]["Fn::Join"][1]
    body = json.loads("".join(p if isinstance(p, str) else "<token>" for p in parts))
    titles = [widget["properties"].get("title") for widget in body["widgets"]]
    for title in (
        "Files in (files)",
        "Ledger totals and alerts (aggregator)",
        "Ledger functions: errors, throttles; aggregator iterator age",
        "Alert queues (CreditCollection, CustomerNotify)",
        "Ledger dead-letter queues",
    ):
        assert title in titles
    assert titles[-1] == "Alarms"  # still last, with every alarm
    (alarms_widget,) = (w for w in body["widgets"] if w["properties"].get("title") == "Alarms")
    assert len(alarms_widget["properties"]["alarms"]) == len(_alarms(dev))
