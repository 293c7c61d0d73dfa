"""DynamoDB stream consumer: appends each record's key and sequence number, in the order it
sees them, to one log item of the Things table; a record whose new image has "poison" is
reported as failed, one with "explode" fails the whole batch."""

import os

import boto3

_table = boto3.resource("dynamodb").Table(os.environ["TABLE_NAME"])


def main(event, context):
    if any("explode" in r["dynamodb"].get("NewImage", {}) for r in event["Records"]):
        raise RuntimeError("whole batch fails")
    failures = []
    seen = []
    for record in event["Records"]:
        if "poison" in record["dynamodb"].get("NewImage", {}):
            failures.append({"itemIdentifier": record["dynamodb"]["SequenceNumber"]})
            break  # the rest of the batch is retried from the failed record
        key = record["dynamodb"]["Keys"]["pk"]["S"]
        seen.append(f"{key}|{record['dynamodb']['SequenceNumber']}|{record['eventName']}")
        _table.put_item(Item={"pk": f"stream#{key}", "record": str(record)})
    if seen:
        _table.update_item(
            Key={"pk": "stream-log"},
            UpdateExpression="SET entries = list_append(if_not_exists(entries, :none), :new), "
            "batches = list_append(if_not_exists(batches, :none), :size)",
            ExpressionAttributeValues={":none": [], ":new": seen, ":size": [len(event["Records"])]},
        )
    return {"batchItemFailures": failures}
