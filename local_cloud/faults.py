"""Fault injection on the wire: a WSGI middleware in front of moto's server app.

A fraction of DynamoDB write calls gets the throttling error real DynamoDB sends (HTTP 400,
``ProvisionedThroughputExceededException`` in the AWS JSON 1.0 error shape), before moto sees
the request, so the write does not happen and clients (boto3 retries, handlers, the event
source mapping) react exactly as they would in AWS.
"""

from __future__ import annotations

import json
import random
import threading
import uuid
import zlib
from collections.abc import Callable, Iterable
from typing import Any

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]

DYNAMODB_TARGET_PREFIX = "DynamoDB_20120810."
DYNAMODB_WRITE_OPERATIONS = frozenset(
    {"PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems"}
)
THROTTLE_TYPE = "com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException"
THROTTLE_MESSAGE = (
    "The level of configured provisioned throughput for the table was exceeded. "
    "Consider increasing your provisioning level with the UpdateTable API."
)


def dynamodb_write_operation(environ: dict[str, Any]) -> str | None:
    """The DynamoDB write operation a request calls, if it is one."""
    target = str(environ.get("HTTP_X_AMZ_TARGET", ""))
    if not target.startswith(DYNAMODB_TARGET_PREFIX):
        return None
    operation = target.removeprefix(DYNAMODB_TARGET_PREFIX)
    return operation if operation in DYNAMODB_WRITE_OPERATIONS else None


def throttling_response() -> tuple[str, list[tuple[str, str]], bytes]:
    """Status, headers and body of DynamoDB's throttling error."""
    body = json.dumps({"__type": THROTTLE_TYPE, "message": THROTTLE_MESSAGE}).encode()
    headers = [
        ("Content-Type", "application/x-amz-json-1.0"),
        ("Content-Length", str(len(body))),
        ("x-amzn-RequestId", uuid.uuid4().hex.upper()),
        # botocore checks DynamoDB responses against this checksum when present
        ("x-amz-crc32", str(zlib.crc32(body) & 0xFFFFFFFF)),
    ]
    return "400 Bad Request", headers, body


class FaultInjector:
    """Fails `rate` (0..1) of DynamoDB write calls with a throttling error."""

    def __init__(self, app: WSGIApp, rate: float, seed: int | None = None) -> None:
        if not 0.0 <= rate <= 1.0:
            raise ValueError(f"fault rate must be between 0 and 1, got {rate}")
        self.app = app
        self.rate = rate
        self._random = random.Random(seed)  # noqa: S311 - fault injection, not cryptography
        self._lock = threading.Lock()
        self.injected = 0

    def _should_fail(self) -> bool:
        if self.rate <= 0.0:
            return False
        with self._lock:
            hit = self._random.random() < self.rate
            self.injected += hit
            return hit

    def __call__(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        if dynamodb_write_operation(environ) and self._should_fail():
            # Drain the request body so the connection stays usable for keep-alive.
            length = int(environ.get("CONTENT_LENGTH") or 0)
            if length:
                environ["wsgi.input"].read(length)
            status, headers, body = throttling_response()
            start_response(status, headers)
            return [body]
        return self.app(environ, start_response)
