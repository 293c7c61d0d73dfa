"""ALB target: echoes the request, queues POSTed bodies.

Its module name is the worker's too, on purpose: each runs in its own environment.
"""

import base64
import json
import os
import sys
import time

import boto3
import sample_shared

_sqs = boto3.client("sqs")


def main(event, context):
    path = event["path"]
    if path.endswith("/sleep"):
        time.sleep(30)
    if path.endswith("/crash"):
        raise RuntimeError("boom")
    if path.endswith("/echo") or event["httpMethod"] != "POST":
        return {
            "statusCode": 200,
            "headers": {"Content-Type": "application/json", "X-Echo": "yes"},
            "body": json.dumps(
                {
                    "event": event,
                    "role": os.environ["ROLE"],
                    "greeting": sample_shared.GREETING,
                    "function_name": context.function_name,
                    "remaining_ms": context.get_remaining_time_in_millis(),
                    "memory": context.memory_limit_in_mb,
                    "request_id": context.aws_request_id,
                    "sys_path": sys.path,
                    "cwd": os.getcwd(),
                }
            ),
        }
    if path.endswith("/binary"):
        return {
            "statusCode": 200,
            "headers": {"Content-Type": "application/octet-stream"},
            "body": base64.b64encode(b"\x00\x01\x02binary").decode(),
            "isBase64Encoded": True,
        }
    body = event["body"]
    if event["isBase64Encoded"]:
        body = base64.b64decode(body).decode()
    sent = _sqs.send_message(QueueUrl=os.environ["QUEUE_URL"], MessageBody=body)
    return {
        "statusCode": 202,
        "headers": {"Content-Type": "application/json"},
        "body": json.dumps({"message_id": sent["MessageId"]}),
    }
