"""Data and queue stacks: keys, encryption, recovery, DLQ and the derived visibility timeout."""

from __future__ import annotations

from tests.infra.conftest import Synthesized, only, resources


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
    for part, cfn_type in (("Data", "AWS::DynamoDB::Table"), ("Queue", "AWS::SQS::Queue")):
        for resource in resources(dev.json(part), cfn_type).values():
            assert resource["DeletionPolicy"] == "Delete"
        for resource in resources(prod.json(part), cfn_type).values():
            assert resource["DeletionPolicy"] == "Retain"
            assert resource["UpdateReplacePolicy"] == "Retain"
    prod_table = only(prod.json("Data"), "AWS::DynamoDB::Table")["Properties"]
    assert prod_table["DeletionProtectionEnabled"] is True
    dev_table = only(dev.json("Data"), "AWS::DynamoDB::Table")["Properties"]
    assert dev_table.get("DeletionProtectionEnabled", False) is False


def _queues(synthesized: Synthesized) -> tuple[dict, dict, str]:
    queues = resources(synthesized.json("Queue"), "AWS::SQS::Queue")
    ((source_id, source),) = (
        (k, v) for k, v in queues.items() if "RedrivePolicy" in v["Properties"]
    )
    ((dlq_id, dlq),) = ((k, v) for k, v in queues.items() if k != source_id)
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


def test_both_queues_encrypted_and_tls_only(dev: Synthesized) -> None:
    source, dlq, _ = _queues(dev)
    assert source["SqsManagedSseEnabled"] is True
    assert dlq["SqsManagedSseEnabled"] is True
    queue_ids = set(resources(dev.json("Queue"), "AWS::SQS::Queue"))
    policies = resources(dev.json("Queue"), "AWS::SQS::QueuePolicy").values()
    covered = set()
    for policy in policies:
        (statement,) = policy["Properties"]["PolicyDocument"]["Statement"]
        assert statement["Effect"] == "Deny"
        assert statement["Action"] == "sqs:*"
        assert statement["Principal"] == {"AWS": "*"}
        assert statement["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
        covered |= {ref["Ref"] for ref in policy["Properties"]["Queues"]}
    assert covered == queue_ids


def test_outputs_have_fixed_ids(dev: Synthesized) -> None:
    assert "OrdersTableName" in dev.json("Data")["Outputs"]
    outputs = dev.json("Queue")["Outputs"]
    assert "OrdersQueueUrl" in outputs
    assert "OrdersDeadLetterQueueUrl" in outputs
    assert "ApiUrl" in dev.json("Compute")["Outputs"]
