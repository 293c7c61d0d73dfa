"""Fault injection on the wire: a WSGI middleware in front of moto's server app.

A fraction of DynamoDB write calls gets the throttling error real DynamoDB sends (HTTP 400,
``ProvisionedThroughputExceededException`` in the AWS JSON 1.0 error shape), before moto sees
the request, so the write does not happen and clients (boto3 retries, handlers, the event
source mapping) react exactly as they would in AWS.

Besides the random rate, writes whose request body contains a chosen text can be made to
fail every time (a hot key, an item the table keeps refusing): the records behind them
exhaust their receives and reach the dead-letter queue, and clearing the match is "the
fix" after which a redrive stores them. Both are changed at run time through
``GET``/``POST`` on ``CONTROL_PATH`` of the AWS port (``python -m local_cloud faults``).
"""

from __future__ import annotations

import io
import json
import random
import threading
import urllib.request
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
CONTROL_PATH = "/_local_cloud/faults"
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


def _check_rate(rate: Any) -> float:
    if isinstance(rate, bool) or not isinstance(rate, int | float) or not 0.0 <= rate <= 1.0:
        raise ValueError(f"fault rate must be between 0 and 1, got {rate!r}")
    return float(rate)


class FaultInjector:
    """Fails `rate` (0..1) of DynamoDB write calls, and every write matching `match`."""

    def __init__(self, app: WSGIApp, rate: float, seed: int | None = None) -> None:
        self.app = app
        self.rate = _check_rate(rate)
        self.match: str | None = None
        self._random = random.Random(seed)  # noqa: S311 - fault injection, not cryptography
        self._lock = threading.Lock()
        self.injected = 0

    def _should_fail(self, body: bytes) -> bool:
        with self._lock:
            hit = bool(self.match and self.match.encode() in body) or (
                self.rate > 0.0 and self._random.random() < self.rate
            )
            self.injected += hit
            return hit

    def state(self) -> dict[str, Any]:
        return {"rate": self.rate, "match": self.match, "injected": self.injected}

    def __call__(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        if environ.get("PATH_INFO") == CONTROL_PATH:
            return self._control(environ, start_response)
        if dynamodb_write_operation(environ):
            # Read the body (to match on it) and hand moto an unread copy.
            length = int(environ.get("CONTENT_LENGTH") or 0)
            body = environ["wsgi.input"].read(length) if length else b""
            environ["wsgi.input"] = io.BytesIO(body)
            if self._should_fail(body):
                status, headers, error = throttling_response()
                start_response(status, headers)
                return [error]
        return self.app(environ, start_response)

    def _control(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        """GET: the current faults. POST {"rate": 0..1, "match": "text" | null}: change them."""
        status = "200 OK"
        if environ.get("REQUEST_METHOD") == "POST":
            length = int(environ.get("CONTENT_LENGTH") or 0)
            try:
                change = json.loads(environ["wsgi.input"].read(length) or b"{}")
                if not isinstance(change, dict):
                    raise ValueError("send a JSON object")
                rate = _check_rate(change["rate"]) if "rate" in change else self.rate
                match = change.get("match", self.match)
                if match is not None and (not isinstance(match, str) or not match):
                    raise ValueError("match must be a non-empty string or null")
                with self._lock:
                    self.rate, self.match = rate, match
            except ValueError as exc:
                status = "400 Bad Request"
                payload = json.dumps({"error": str(exc)}).encode()
                start_response(status, [("Content-Type", "application/json")])
                return [payload]
        payload = json.dumps(self.state()).encode()
        start_response(status, [("Content-Type", "application/json")])
        return [payload]


def request_faults(aws_url: str, change: dict[str, Any] | None = None) -> dict[str, Any]:
    """GET (no change) or POST the fault state of the emulation at `aws_url`."""
    data = json.dumps(change).encode() if change is not None else None
    request = urllib.request.Request(  # noqa: S310 - the caller's own local emulation
        aws_url + CONTROL_PATH,
        data=data,
        method="POST" if data is not None else "GET",
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
        state: dict[str, Any] = json.loads(response.read())
    return state
