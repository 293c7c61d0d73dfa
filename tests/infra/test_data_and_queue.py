"""Data and queue stacks: keys, encryption, recovery, DLQ and the derived visibility timeout."""

from __future__ import annotations

from tests.infra.conftest import Synthesized, resources


def test_table_keys_billing_encryption_and_recovery(dev: Synthesized) -> None:
    dev.template("Data").has_resource_properties(
        "AWS::DynamoDB::Table",
        {
            "KeySchema": [
                {"AttributeName": "order_id", "KeyType": "HASH"},
                {"AttributeName": "item", "KeyType": "RANGE"},
            ],
            "AttributeDefinitions": [
                {"AttributeName": "order_id", "AttributeType": "S"},
                {"AttributeName": "item", "AttributeType": "S"},
            ],
            "BillingMode": "PAY_PER_REQUEST",
            "SSESpecification": {"SSEEnabled": True},
            "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True},
        },
    )


def test_stateful_resources_are_destroyable_in_dev_and_retained_in_prod(
    dev: Synthesized, prod: Synthesized
) -> None:
    stateful = (
        ("Data", "AWS::DynamoDB::Table"),
        ("Data", "AWS::S3::Bucket"),
        ("Queue", "AWS::SQS::Queue"),
    )
    for part, cfn_type in stateful:
        assert resources(dev.json(part), cfn_type)
        for resource in resources(dev.json(part), cfn_type).values():
            assert resource["DeletionPolicy"] == "Delete"
        for resource in resources(prod.json(part), cfn_type).values():
            assert resource["DeletionPolicy"] == "Retain"
            assert resource["UpdateReplacePolicy"] == "Retain"
    # every table (orders and the ledger's) is deletion-protected in prod only
    for table in resources(prod.json("Data"), "AWS::DynamoDB::Table").values():
        assert table["Properties"]["DeletionProtectionEnabled"] is True
    for table in resources(dev.json("Data"), "AWS::DynamoDB::Table").values():
        assert table["Properties"].get("DeletionProtectionEnabled", False) is False


def _queues(synthesized: Synthesized) -> tuple[dict, dict, str]:
    """The orders queue, its DLQ, and the DLQ's logical id."""
    queues = resources(synthesized.json("Queue"), "AWS::SQS::Queue")
    (source,) = (v for k, v in queues.items() if k.startswith("OrdersQueue"))
    ((dlq_id, dlq),) = ((k, v) for k, v in queues.items() if k.startswith("OrdersDeadLetterQueue"))
    return source["Properties"], dlq["Properties"], dlq_id


def test_queue_redrives_to_the_dlq_after_five_receives(dev: Synthesized) -> None:
    source, dlq, dlq_id = _queues(dev)
    assert source["RedrivePolicy"] == {
        "deadLetterTargetArn": {"Fn::GetAtt": [dlq_id, "Arn"]},
        "maxReceiveCount": 5,
    }
    # a redriven message keeps its first enqueue time: the DLQ must keep it longer
    assert dlq["MessageRetentionPeriod"] > source["MessageRetentionPeriod"]


def test_visibility_timeout_is_derived_from_the_consumer(dev: Synthesized, synth_with) -> None:
    source, _, _ = _queues(dev)
    assert source["VisibilityTimeout"] == 6 * 30 + 1  # 6 x process timeout + window
    other = synth_with(process_timeout_seconds=60, batching_window_seconds=5)
    source, _, _ = _queues(other)
    assert source["VisibilityTimeout"] == 6 * 60 + 5


def test_every_queue_encrypted_and_tls_only(dev: Synthesized) -> None:
    queues = resources(dev.json("Queue"), "AWS::SQS::Queue")
    assert all(queue["Properties"]["SqsManagedSseEnabled"] is True for queue in queues.values())
    policies = resources(dev.json("Queue"), "AWS::SQS::QueuePolicy").values()
    covered = set()
    for policy in policies:
        deny, *allows = policy["Properties"]["PolicyDocument"]["Statement"]
        assert deny["Effect"] == "Deny"
        assert deny["Action"] == "sqs:*"
        assert deny["Principal"] == {"AWS": "*"}
        assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
        # anything else lets one AWS service send, for one source only
        for allow in allows:
            assert allow["Effect"] == "Allow"
            assert allow["Action"] == "sqs:SendMessage"
            assert set(allow["Principal"]) == {"Service"}
            assert set(allow["Condition"]) == {"ArnEquals"}
        covered |= {ref["Ref"] for ref in policy["Properties"]["Queues"]}
    assert covered == set(queues)


def test_outputs_have_fixed_ids(dev: Synthesized) -> None:
    assert {
        "OrdersTableName",
        "OrderFilesBucketName",
        "TransactionsTableName",
        "CustomersTableName",
        "TotalsTableName",
        "PostingsTableName",
    } <= set(dev.json("Data")["Outputs"])
    assert {
        "OrdersQueueUrl",
        "OrdersDeadLetterQueueUrl",
        "HighBalanceAlertTopicArn",
        "CreditCollectionQueueUrl",
        "CustomerNotifyQueueUrl",
        "CreditCollectionDeadLetterQueueUrl",
        "CustomerNotifyDeadLetterQueueUrl",
        "AlertSubscriptionDeadLetterQueueUrl",
        "FilesDeadLetterQueueUrl",
        "AggregatorFailureQueueUrl",
    } <= set(dev.json("Queue")["Outputs"])
    assert "ApiUrl" in dev.json("Compute")["Outputs"]
