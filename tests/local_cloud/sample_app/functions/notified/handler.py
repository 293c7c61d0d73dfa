"""Asynchronous target (EventBridge rule, SNS, the Invoke API): records each event in the
table; an event that mentions "fail" raises, so its retries end in the on-failure
destination."""

import json
import os

import boto3

_table = boto3.resource("dynamodb").Table(os.environ["TABLE_NAME"])


def _name(event):
    if "detail" in event:  # EventBridge
        return event["detail"].get("object", {}).get("key") or event["id"]
    if "Records" in event:  # SNS
        return "sns#" + event["Records"][0]["Sns"]["MessageId"]
    return str(event.get("name", "direct"))


def main(event, context):
    name = _name(event)
    if "fail" in json.dumps(event):
        raise RuntimeError(f"cannot take {name}")
    _table.put_item(
        Item={
            "pk": f"event#{name}",
            "event": json.dumps(event),
            "request_id": context.aws_request_id,
        }
    )
    return {"took": name}
