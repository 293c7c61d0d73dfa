"""The SDK clients make exactly the attempts the handlers' time budgets assume.

A throwaway HTTP server on loopback answers every call with the service's throttling
error and counts the calls: one per PutItem (process retries itself, within its budget),
two per SendMessage (ingest's 503 must come before its timeout).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import boto3
import pytest
from botocore.exceptions import ClientError
from orders_core.ingest.queue import SQS_CLIENT_CONFIG
from orders_core.process.table import DYNAMODB_CLIENT_CONFIG


class Throttler(BaseHTTPRequestHandler):
    calls = 0

    def do_POST(self) -> None:
        type(self).calls += 1
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        body = json.dumps(
            {"__type": "ProvisionedThroughputExceededException", "message": "slow down"}
        ).encode()
        self.send_response(400)
        self.send_header("Content-Type", "application/x-amz-json-1.0")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def throttling_endpoint() -> Iterator[str]:
    Throttler.calls = 0
    server = ThreadingHTTPServer(("127.0.0.1", 0), Throttler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()


def _client(service: str, endpoint: str, config):
    return boto3.client(
        service,
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=config,
    )


def test_dynamodb_client_makes_one_attempt(throttling_endpoint: str) -> None:
    dynamodb = _client("dynamodb", throttling_endpoint, DYNAMODB_CLIENT_CONFIG)
    with pytest.raises(ClientError):
        dynamodb.put_item(TableName="t", Item={"order_id": {"S": "1"}, "item": {"S": "x"}})
    assert Throttler.calls == 1


def test_sqs_client_makes_two_attempts(throttling_endpoint: str) -> None:
    sqs = _client("sqs", throttling_endpoint, SQS_CLIENT_CONFIG)
    with pytest.raises(ClientError):
        sqs.send_message(QueueUrl=f"{throttling_endpoint}/123456789012/q", MessageBody="{}")
    assert Throttler.calls == 2
