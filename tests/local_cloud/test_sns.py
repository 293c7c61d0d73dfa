"""SNS on the sample app: subscriptions made from the template (moto's CloudFormation
cannot), raw delivery to SQS, e-mail to the console and email.log, Lambda through the
runner with SNS's event, undeliverable messages kept by the subscription's DLQ."""

from __future__ import annotations

import json
import logging
from typing import Any

from local_cloud.operations.queues import peek_messages
from tests.local_cloud.conftest import wait_for


def subscriptions(cloud) -> dict[str, dict[str, Any]]:
    sns = cloud.client("sns")
    found = sns.list_subscriptions_by_topic(TopicArn=cloud.outputs["AlertsTopicArn"])
    return {
        s["Protocol"]: sns.get_subscription_attributes(SubscriptionArn=s["SubscriptionArn"])[
            "Attributes"
        ]
        for s in found["Subscriptions"]
    }


def test_the_templates_subscriptions_exist_with_their_attributes(cloud):
    found = subscriptions(cloud)
    assert set(found) == {"sqs", "email", "lambda"}
    assert found["sqs"]["RawMessageDelivery"] == "true"
    undeliverable = cloud.outputs["AlertUndeliverableUrl"].rsplit("/", 1)[-1]
    assert json.loads(found["sqs"]["RedrivePolicy"])["deadLetterTargetArn"].endswith(undeliverable)
    assert found["email"]["Endpoint"] == "ops@example.com"


def test_a_raw_subscription_gets_the_message_as_published(cloud):
    message = json.dumps({"alert": "raw-1"})
    cloud.client("sns").publish(TopicArn=cloud.outputs["AlertsTopicArn"], Message=message)

    inbox = cloud.outputs["AlertInboxUrl"]
    bodies = wait_for(
        lambda: [
            m["Body"] for m in peek_messages(cloud.client("sqs"), inbox) if "raw-1" in m["Body"]
        ]
    )
    assert bodies == [message]  # the message itself, not SNS's JSON envelope


def test_an_email_subscription_is_printed_and_logged(cloud, caplog):
    with caplog.at_level(logging.INFO, logger="local_cloud"):
        cloud.client("sns").publish(
            TopicArn=cloud.outputs["AlertsTopicArn"], Subject="High", Message="mail-1"
        )
        wait_for(lambda: "mail-1" in caplog.text)
    (line,) = [r.getMessage() for r in caplog.records if "mail-1" in r.getMessage()]
    assert "\n" not in line
    assert "to ops@example.com" in line
    assert '"High"' in line
    logged = [json.loads(x) for x in (cloud.log_dir / "email.log").read_text().splitlines()]
    (entry,) = [e for e in logged if e["message"] == "mail-1"]
    assert (entry["endpoint"], entry["protocol"], entry["subject"]) == (
        "ops@example.com",
        "email",
        "High",
    )


def test_a_lambda_subscription_gets_snss_event(cloud):
    published = cloud.client("sns").publish(
        TopicArn=cloud.outputs["AlertsTopicArn"],
        Message="to-function",
        MessageAttributes={"kind": {"DataType": "String", "StringValue": "test"}},
    )
    table = cloud.outputs["ThingsTableName"]
    key = {"pk": {"S": f"event#sns#{published['MessageId']}"}}
    dynamodb = cloud.client("dynamodb")
    item = wait_for(lambda: dynamodb.get_item(TableName=table, Key=key).get("Item"))
    (record,) = json.loads(item["event"]["S"])["Records"]
    assert record["EventSource"] == "aws:sns"
    assert record["Sns"]["Message"] == "to-function"
    assert record["Sns"]["TopicArn"] == cloud.outputs["AlertsTopicArn"]
    assert record["Sns"]["MessageAttributes"] == {"kind": {"Type": "String", "Value": "test"}}
    assert record["Sns"]["Timestamp"].startswith("20")


def test_a_message_sns_cannot_deliver_goes_to_the_subscriptions_dlq(cloud):
    sns, sqs = cloud.client("sns"), cloud.client("sqs")
    topic = sns.create_topic(Name="lonely")["TopicArn"]
    dlq = sqs.create_queue(QueueName="lonely-dlq")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    sns.subscribe(
        TopicArn=topic,
        Protocol="sqs",
        Endpoint=f"arn:aws:sqs:{cloud.region}:123456789012:deleted-queue",
        Attributes={"RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn})},
    )

    sns.publish(TopicArn=topic, Message="kept")

    (letter,) = wait_for(lambda: peek_messages(sqs, dlq))
    assert json.loads(letter["Body"])["Message"] == "kept"
