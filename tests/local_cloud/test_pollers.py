"""SQS event source mapping rules: the event Lambda builds, which messages stay."""

from __future__ import annotations

import base64

import pytest

from local_cloud.services.environments import InvokeResult
from local_cloud.services.pollers import _latest_copies, build_sqs_event, failed_message_ids

ARN = "arn:aws:sqs:us-east-1:123456789012:q"


def test_sqs_event_matches_lambda():
    message = {
        "MessageId": "m1",
        "ReceiptHandle": "rh",
        "Body": "hello",
        "MD5OfBody": "5d41402abc4b2a76b9719d911017c592",
        "Attributes": {"ApproximateReceiveCount": "2", "SentTimestamp": "1"},
        "MessageAttributes": {
            "kind": {"StringValue": "x", "DataType": "String"},
            "blob": {"BinaryValue": b"\x00\x01", "DataType": "Binary"},
        },
        "MD5OfMessageAttributes": "abc",
    }

    (record,) = build_sqs_event([message], ARN, "us-east-1")["Records"]

    assert record["messageId"] == "m1"
    assert record["receiptHandle"] == "rh"
    assert record["body"] == "hello"
    assert record["attributes"]["ApproximateReceiveCount"] == "2"
    assert record["md5OfBody"] == "5d41402abc4b2a76b9719d911017c592"
    assert record["eventSource"] == "aws:sqs"
    assert record["eventSourceARN"] == ARN
    assert record["awsRegion"] == "us-east-1"
    assert record["messageAttributes"]["kind"] == {
        "stringValue": "x",
        "stringListValues": [],
        "binaryListValues": [],
        "dataType": "String",
    }
    assert base64.b64decode(record["messageAttributes"]["blob"]["binaryValue"]) == b"\x00\x01"


IDS = ["a", "b", "c"]


@pytest.mark.parametrize(
    ("result", "report", "expected"),
    [
        (InvokeResult(payload=None), True, set()),
        (InvokeResult(payload={}), True, set()),
        (InvokeResult(payload={"batchItemFailures": []}), True, set()),
        (InvokeResult(payload={"batchItemFailures": [{"itemIdentifier": "b"}]}), True, {"b"}),
        # reported failures are ignored when the mapping does not ask for them
        (InvokeResult(payload={"batchItemFailures": [{"itemIdentifier": "b"}]}), False, set()),
        # malformed reports fail the whole batch
        (InvokeResult(payload={"batchItemFailures": [{"itemIdentifier": "zzz"}]}), True, set(IDS)),
        (InvokeResult(payload={"batchItemFailures": [{}]}), True, set(IDS)),
        (InvokeResult(payload={"batchItemFailures": "b"}), True, set(IDS)),
        (InvokeResult(payload="ok"), True, set(IDS)),
        # an error or a timeout fails the whole batch
        (InvokeResult(error={"errorType": "ValueError"}), True, set(IDS)),
        (InvokeResult(error={"errorType": "Sandbox.Timedout"}), False, set(IDS)),
    ],
)
def test_which_messages_stay(result, report, expected):
    assert failed_message_ids(result, IDS, report) == expected


def test_a_message_redelivered_while_gathering_keeps_only_its_newest_receipt():
    first = {"MessageId": "m", "ReceiptHandle": "old"}
    other = {"MessageId": "n", "ReceiptHandle": "n1"}
    again = {"MessageId": "m", "ReceiptHandle": "new"}
    assert _latest_copies([first, other, again]) == [again, other]
