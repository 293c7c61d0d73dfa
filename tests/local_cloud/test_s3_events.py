"""S3 -> EventBridge -> rule -> Lambda, as the sample app declares it: the bucket's
NotificationConfiguration applied after the deploy, S3's event shape, the rule's prefix
pattern, the asynchronous invoke with its retries and on-failure destination."""

from __future__ import annotations

import json
from typing import Any

from local_cloud.operations.queues import peek_messages
from tests.local_cloud.conftest import wait_for


def items(cloud) -> dict[str, dict[str, Any]]:
    table = cloud.outputs["ThingsTableName"]
    found = cloud.client("dynamodb").scan(TableName=table, ConsistentRead=True)["Items"]
    return {item["pk"]["S"]: item for item in found}


def test_the_template_notification_configuration_is_applied(cloud):
    # (moto's GetBucketNotificationConfiguration never shows EventBridgeConfiguration:
    # the uploads below show it is on)
    bucket = cloud.outputs["UploadsBucketName"]
    assert cloud.client("s3").get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"
    (patch,) = [d for d in cloud.differences if d.subject.startswith("Sample-Data/Uploads")]
    assert "NotificationConfiguration applied through the S3 API" in patch.detail


def test_an_upload_under_the_prefix_runs_the_function_with_s3s_eventbridge_event(cloud):
    bucket = cloud.outputs["UploadsBucketName"]
    cloud.client("s3").put_object(Bucket=bucket, Key="incoming/a.csv", Body=b"id\n1\n")

    item = wait_for(lambda: items(cloud).get("event#incoming/a.csv"))
    event = json.loads(item["event"]["S"])

    assert event["source"] == "aws.s3"
    assert event["detail-type"] == "Object Created"
    assert event["resources"] == [f"arn:aws:s3:::{bucket}"]
    assert event["time"].endswith("Z")
    assert "T" in event["time"]
    detail = event["detail"]
    assert detail["bucket"] == {"name": bucket}
    assert detail["object"]["key"] == "incoming/a.csv"
    assert detail["object"]["size"] == 5
    assert len(detail["object"]["etag"]) == 32
    assert detail["object"]["version-id"]  # the bucket is versioned
    assert detail["reason"] == "PutObject"


def test_uploads_outside_the_prefix_match_no_rule(cloud):
    bucket = cloud.outputs["UploadsBucketName"]
    s3 = cloud.client("s3")
    s3.put_object(Bucket=bucket, Key="elsewhere/b.csv", Body=b"x")
    s3.put_object(Bucket=bucket, Key="incoming/c.csv", Body=b"x")

    wait_for(lambda: "event#incoming/c.csv" in items(cloud))
    assert "event#elsewhere/b.csv" not in items(cloud)
    assert len({json.loads(i["event"]["S"]).get("id") for i in items(cloud).values()}) > 1


def test_events_keep_their_own_ids_and_increasing_sequencers(cloud):
    bucket = cloud.outputs["UploadsBucketName"]
    s3 = cloud.client("s3")
    for name in ("d1", "d2"):
        s3.put_object(Bucket=bucket, Key=f"incoming/{name}.csv", Body=b"x")
    found = wait_for(
        lambda: (
            all(f"event#incoming/{n}.csv" in items(cloud) for n in ("d1", "d2")) and items(cloud)
        )
    )
    first, second = (
        json.loads(found[f"event#incoming/{n}.csv"]["event"]["S"]) for n in ("d1", "d2")
    )
    assert first["id"] != second["id"]
    assert int(first["detail"]["object"]["sequencer"], 16) < int(
        second["detail"]["object"]["sequencer"], 16
    )


def test_a_failing_upload_ends_in_the_on_failure_destination_with_key_and_error(cloud):
    bucket = cloud.outputs["UploadsBucketName"]
    cloud.client("s3").put_object(Bucket=bucket, Key="incoming/fail-1.csv", Body=b"x")
    sqs = cloud.client("sqs")

    def record() -> dict[str, Any] | None:
        for message in peek_messages(sqs, cloud.outputs["AsyncFailuresUrl"]):
            body = json.loads(message["Body"])
            key = body["requestPayload"].get("detail", {}).get("object", {}).get("key")
            if key == "incoming/fail-1.csv":
                return dict(body)
        return None

    found = wait_for(record)
    assert found["requestContext"]["condition"] == "RetriesExhausted"
    assert found["requestContext"]["approximateInvokeCount"] == 3
    assert found["requestPayload"]["detail"]["bucket"]["name"] == bucket
    assert found["responsePayload"]["errorMessage"] == "cannot take incoming/fail-1.csv"


def test_a_target_eventbridge_cannot_invoke_goes_to_its_dead_letter_queue(cloud):
    events = cloud.client("events")
    sqs = cloud.client("sqs")
    dlq_url = cloud.outputs["RuleDlqUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    missing = f"arn:aws:lambda:{cloud.region}:123456789012:function:not-deployed"
    events.put_rule(Name="to-nowhere", EventPattern=json.dumps({"source": ["test.dlq"]}))
    events.put_targets(
        Rule="to-nowhere",
        Targets=[{"Id": "gone", "Arn": missing, "DeadLetterConfig": {"Arn": dlq_arn}}],
    )

    events.put_events(
        Entries=[{"Source": "test.dlq", "DetailType": "probe", "Detail": json.dumps({"n": 1})}]
    )

    (letter,) = wait_for(lambda: peek_messages(sqs, dlq_url))
    attributes = {k: v["StringValue"] for k, v in letter["MessageAttributes"].items()}
    assert attributes["TARGET_ARN"] == missing
    assert attributes["RULE_ARN"].endswith(":rule/to-nowhere")
    assert attributes["ERROR_CODE"] == "ResourceNotFoundException"
    assert json.loads(letter["Body"])["detail"] == {"n": 1}
