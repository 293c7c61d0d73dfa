"""Fault injection on the wire: DynamoDB writes throttled with the real error shape."""

from __future__ import annotations

import json
import urllib.error
import zlib
from collections.abc import Iterator

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from local_cloud.aws import session
from local_cloud.services.emulator import Emulator, start_emulator
from local_cloud.services.faults import FaultInjector, request_faults


def call(app, target: str) -> tuple[str, dict[str, str], bytes]:
    seen: dict[str, object] = {}

    def start_response(status, headers):
        seen["status"], seen["headers"] = status, dict(headers)

    environ = {
        "HTTP_X_AMZ_TARGET": target,
        "CONTENT_LENGTH": "2",
        "wsgi.input": __import__("io").BytesIO(b"{}"),
    }
    body = b"".join(app(environ, start_response))
    return str(seen["status"]), seen["headers"], body  # type: ignore[return-value]


def passthrough(environ, start_response):
    start_response("200 OK", [])
    return [b"moto"]


@pytest.mark.parametrize(
    "operation", ["PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems"]
)
def test_every_write_operation_can_be_throttled(operation):
    status, headers, body = call(FaultInjector(passthrough, 1.0), f"DynamoDB_20120810.{operation}")
    assert status.startswith("400")
    error = json.loads(body)
    assert error["__type"].endswith("#ProvisionedThroughputExceededException")
    assert headers["Content-Type"] == "application/x-amz-json-1.0"
    assert headers["x-amz-crc32"] == str(zlib.crc32(body))


@pytest.mark.parametrize(
    "target", ["DynamoDB_20120810.GetItem", "DynamoDB_20120810.Query", "AmazonSQS.SendMessage"]
)
def test_reads_and_other_services_are_never_touched(target):
    assert call(FaultInjector(passthrough, 1.0), target)[2] == b"moto"


def test_rate_zero_never_fails_and_rate_is_roughly_honoured():
    never = FaultInjector(passthrough, 0.0)
    assert all(call(never, "DynamoDB_20120810.PutItem")[2] == b"moto" for _ in range(50))
    some = FaultInjector(passthrough, 0.3, seed=7)
    failed = sum(call(some, "DynamoDB_20120810.PutItem")[0].startswith("400") for _ in range(1000))
    assert 230 < failed < 370


def test_rate_must_be_a_fraction():
    with pytest.raises(ValueError, match="between 0 and 1"):
        FaultInjector(passthrough, 1.5)


@pytest.fixture(scope="module")
def throttling_emulator() -> Iterator[Emulator]:
    emulator = start_emulator(port=0, fault_rate=1.0)
    yield emulator
    emulator.stop()


def test_boto3_sees_the_throttle_on_the_wire(throttling_emulator):
    dynamodb = session("us-east-1").client(
        "dynamodb",
        endpoint_url=throttling_emulator.url,
        config=Config(retries={"mode": "standard", "max_attempts": 2}),
    )
    dynamodb.create_table(
        TableName="t",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )

    with pytest.raises(ClientError) as caught:
        dynamodb.put_item(TableName="t", Item={"pk": {"S": "1"}})

    error = caught.value.response
    assert error["Error"]["Code"] == "ProvisionedThroughputExceededException"
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 400
    # botocore treats it as throttling and retries ("max_attempts" counts retries here)
    assert error["ResponseMetadata"]["RetryAttempts"] == 2
    assert dynamodb.scan(TableName="t")["Count"] == 0  # the write never happened


def test_matching_writes_always_fail_and_others_pass():
    injector = FaultInjector(passthrough, 0.0)
    injector.match = "hot-key"

    def put(body: bytes) -> str:
        seen: dict[str, str] = {}
        environ = {
            "HTTP_X_AMZ_TARGET": "DynamoDB_20120810.PutItem",
            "CONTENT_LENGTH": str(len(body)),
            "wsgi.input": __import__("io").BytesIO(body),
        }
        b"".join(injector(environ, lambda status, headers: seen.setdefault("status", status)))
        return seen["status"]

    assert all(put(b'{"Item": {"item": {"S": "hot-key"}}}').startswith("400") for _ in range(20))
    assert put(b'{"Item": {"item": {"S": "cold"}}}') == "200 OK"
    assert injector.injected == 20


def test_faults_change_at_run_time_through_the_control_path(throttling_emulator):
    url = throttling_emulator.url
    before = request_faults(url)
    assert (before["rate"], before["match"]) == (1.0, None)
    assert request_faults(url, {"rate": 0, "match": "hot"})["match"] == "hot"
    with pytest.raises(urllib.error.HTTPError) as refused:
        request_faults(url, {"rate": 2})
    assert refused.value.code == 400
    # the change is live: with rate 0 only matching writes fail
    dynamodb = session("us-east-1").client(
        "dynamodb", endpoint_url=url, config=Config(retries={"total_max_attempts": 1})
    )
    dynamodb.put_item(TableName="t", Item={"pk": {"S": "cold"}})
    with pytest.raises(ClientError):
        dynamodb.put_item(TableName="t", Item={"pk": {"S": "hot"}})
    after = request_faults(url, {"rate": 1.0, "match": None})
    assert after["injected"] == before["injected"] + 1
