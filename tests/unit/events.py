"""Builders for the events Lambda hands the functions, and a fake Lambda context.

Shapes follow what ALB and the SQS event source mapping really send (see
docs.aws.amazon.com/lambda/latest/dg/services-alb.html and with-sqs.html).
"""

import base64
import hashlib
import json
import uuid
from dataclasses import dataclass, field
from typing import Any

TARGET_GROUP_ARN = (
    "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/orders-ingest/0123456789abcdef"
)
QUEUE_ARN = "arn:aws:sqs:us-east-1:123456789012:orders"
TRACE_ID = "Root=1-67891233-abcdef012345678912345678"


def alb_event(
    body: str | bytes | None = None,
    *,
    method: str = "POST",
    path: str = "/lambda/api",
    content_type: str | None = "application/json",
    headers: dict[str, str] | None = None,
    base64_encode: bool = False,
    multi_value_headers: bool = False,
) -> dict[str, Any]:
    """An ALB target-group event; ``bytes`` bodies are always base64-encoded, as ALB does."""
    all_headers = {
        "accept": "*/*",
        "host": "orders-alb-123.us-east-1.elb.amazonaws.com",
        "user-agent": "curl/8.5.0",
        "x-amzn-trace-id": TRACE_ID,
        "x-forwarded-for": "203.0.113.10",
        "x-forwarded-port": "80",
        "x-forwarded-proto": "http",
    }
    if content_type is not None:
        all_headers["content-type"] = content_type
    all_headers.update(headers or {})
    if isinstance(body, bytes):
        base64_encode = True
        text = base64.b64encode(body).decode("ascii")
    elif body is not None and base64_encode:
        text = base64.b64encode(body.encode("utf-8")).decode("ascii")
    else:
        text = body or ""
    event: dict[str, Any] = {
        "requestContext": {"elb": {"targetGroupArn": TARGET_GROUP_ARN}},
        "httpMethod": method,
        "path": path,
        "body": text,
        "isBase64Encoded": base64_encode,
    }
    if multi_value_headers:
        event["multiValueQueryStringParameters"] = {}
        event["multiValueHeaders"] = {name: [value] for name, value in all_headers.items()}
    else:
        event["queryStringParameters"] = {}
        event["headers"] = all_headers
    return event


def get_event(
    url: str, *, method: str = "GET", multi_value_headers: bool = False
) -> dict[str, Any]:
    """An ALB event for a request line such as ``/lambda/api/orders/1?version=...``.

    The path and the query values stay percent-encoded, as ALB passes them.
    """
    path, _, query = url.partition("?")
    event = alb_event(
        None, method=method, path=path, content_type=None, multi_value_headers=multi_value_headers
    )
    pairs = [part.partition("=") for part in query.split("&") if part]
    if multi_value_headers:
        grouped: dict[str, list[str]] = {}
        for name, _, value in pairs:
            grouped.setdefault(name, []).append(value)
        event["multiValueQueryStringParameters"] = grouped
    else:
        event["queryStringParameters"] = {name: value for name, _, value in pairs}
    return event


def json_event(payload: Any, **kwargs: Any) -> dict[str, Any]:
    return alb_event(json.dumps(payload), **kwargs)


def sqs_record(
    body: str, *, message_id: str | None = None, receive_count: int = 1
) -> dict[str, Any]:
    return {
        "messageId": message_id or str(uuid.uuid4()),
        "receiptHandle": "AQEB" + uuid.uuid4().hex,
        "body": body,
        "attributes": {
            "ApproximateReceiveCount": str(receive_count),
            "SentTimestamp": "1735689600000",
            "SenderId": "AROAEXAMPLE:orders-ingest",
            "ApproximateFirstReceiveTimestamp": "1735689600001",
        },
        "messageAttributes": {},
        "md5OfBody": hashlib.md5(body.encode("utf-8")).hexdigest(),  # SQS's own checksum
        "eventSource": "aws:sqs",
        "eventSourceARN": QUEUE_ARN,
        "awsRegion": "us-east-1",
    }


def sqs_event(*records: dict[str, Any]) -> dict[str, Any]:
    return {"Records": list(records)}


@dataclass
class FakeClock:
    """Time that passes only when the code under test sleeps."""

    remaining_ms: int = 30_000
    sleeps: list[float] = field(default_factory=list)

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.remaining_ms -= int(seconds * 1000)


@dataclass
class FakeContext:
    """The parts of the Lambda context Powertools and the handlers read."""

    function_name: str = "orders-test"
    memory_limit_in_mb: int = 256
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:orders-test"
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    clock: FakeClock = field(default_factory=FakeClock)

    def get_remaining_time_in_millis(self) -> int:
        return self.clock.remaining_ms
