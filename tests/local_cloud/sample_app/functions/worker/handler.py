"""SQS consumer: stores each message body; a body containing "poison" is reported as failed."""

import json
import os

import boto3
import sample_shared

_table = boto3.resource("dynamodb").Table(os.environ["TABLE_NAME"])


def main(event, context):
    assert os.environ["ROLE"] == "worker"
    failures = []
    for record in event["Records"]:
        if "poison" in record["body"]:
            failures.append({"itemIdentifier": record["messageId"]})
            continue
        if "explode" in record["body"]:
            raise ValueError("whole batch fails")
        item = json.loads(record["body"])
        _table.put_item(
            Item={
                **sample_shared.table_key(str(item["id"])),
                "body": record["body"],
                "receive_count": record["attributes"]["ApproximateReceiveCount"],
                "source": record["eventSource"],
            }
        )
    return {"batchItemFailures": failures}
