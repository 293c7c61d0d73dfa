"""Offline AWS for unit tests: moto's queue and table, a clean environment per test."""

import io
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import boto3
import botocore.loaders
import botocore.session
import pytest
from moto import mock_aws
from orders_core.observability import logger

from lambdas.ingest import handler as ingest_handler
from lambdas.process import handler as process_handler
from lambdas.status import handler as status_handler

REGION = "us-east-1"
TABLE_NAME = "orders-test"
LEDGER_CURRENCY = "IDR"  # what the compute stack sets by default


def _clear_handler_caches() -> None:
    # Settings and clients are built once per container; each test is a new container.
    for cached in (
        ingest_handler.get_settings,
        ingest_handler.get_service,
        process_handler.get_settings,
        process_handler.get_service,
        status_handler.get_settings,
        status_handler.get_service,
    ):
        cached.cache_clear()


@pytest.fixture(autouse=True)
def aws_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """The variables the compute stack sets, fake credentials, and no real endpoint."""
    for name in (
        "AWS_PROFILE",
        "AWS_ENDPOINT_URL",
        "ORDERS_QUEUE_URL",
        "ORDERS_TABLE_NAME",
        "LEDGER_CURRENCY",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_REGION", REGION)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "testing")
    monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", "orders-test")
    monkeypatch.setenv("POWERTOOLS_METRICS_NAMESPACE", "OrdersTest")
    monkeypatch.setenv("POWERTOOLS_LOG_LEVEL", "INFO")
    # The stack says whether the edge is in front; off unless a test turns it on.
    monkeypatch.setenv("EDGE_ENABLED", "false")
    # No X-Ray daemon here (test_tracing.py covers tracing left on).
    monkeypatch.setenv("POWERTOOLS_TRACE_DISABLED", "true")
    _clear_handler_caches()


# moto gives every test a new default session, and a new botocore session reads its JSON
# (endpoint rules, service models) again: about 40 ms per client, most of this tier's
# time. The sessions stay new per test; the parsed JSON, which nothing writes, is shared.
_BOTOCORE_DATA = botocore.loaders.create_loader()


@pytest.fixture
def aws() -> Iterator[None]:
    with mock_aws():
        session = botocore.session.get_session()
        session.register_component("data_loader", _BOTOCORE_DATA)
        boto3.setup_default_session(botocore_session=session)
        yield


@dataclass
class QueueProbe:
    """The moto orders queue, seen from the test."""

    url: str
    client: Any

    def drain(self) -> list[dict[str, Any]]:
        """Receive and delete every message; returns the parsed bodies."""
        bodies: list[dict[str, Any]] = []
        while True:
            response = self.client.receive_message(
                QueueUrl=self.url, MaxNumberOfMessages=10, VisibilityTimeout=30
            )
            messages = response.get("Messages", [])
            if not messages:
                return bodies
            for message in messages:
                bodies.append({"message_id": message["MessageId"], "body": message["Body"]})
                self.client.delete_message(
                    QueueUrl=self.url, ReceiptHandle=message["ReceiptHandle"]
                )

    def drain_json(self) -> list[dict[str, Any]]:
        return [json.loads(message["body"]) for message in self.drain()]


@pytest.fixture
def orders_queue(aws: None, monkeypatch: pytest.MonkeyPatch) -> QueueProbe:
    client = boto3.client("sqs", region_name=REGION)
    dlq_url = client.create_queue(QueueName="orders-dlq")["QueueUrl"]
    dlq_arn = client.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    url = client.create_queue(
        QueueName="orders",
        Attributes={
            "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "3"})
        },
    )["QueueUrl"]
    monkeypatch.setenv("ORDERS_QUEUE_URL", url)
    monkeypatch.setenv("LEDGER_CURRENCY", LEDGER_CURRENCY)
    return QueueProbe(url=url, client=client)


@dataclass
class TableProbe:
    """The moto orders table, seen from the test."""

    name: str
    resource_table: Any

    def get(self, order_id: str, item: str) -> dict[str, Any] | None:
        response = self.resource_table.get_item(
            Key={"order_id": order_id, "item": item}, ConsistentRead=True
        )
        found: dict[str, Any] | None = response.get("Item")
        return found

    def count(self) -> int:
        return int(self.resource_table.scan(Select="COUNT")["Count"])


@pytest.fixture
def orders_table(aws: None, monkeypatch: pytest.MonkeyPatch) -> TableProbe:
    dynamodb = boto3.resource("dynamodb", region_name=REGION)
    table = dynamodb.create_table(
        TableName=TABLE_NAME,
        KeySchema=[
            {"AttributeName": "order_id", "KeyType": "HASH"},
            {"AttributeName": "item", "KeyType": "RANGE"},
        ],
        AttributeDefinitions=[
            {"AttributeName": "order_id", "AttributeType": "S"},
            {"AttributeName": "item", "AttributeType": "S"},
        ],
        BillingMode="PAY_PER_REQUEST",
    )
    monkeypatch.setenv("ORDERS_TABLE_NAME", TABLE_NAME)
    monkeypatch.setenv("ORDERS_MAX_RECEIVE_COUNT", "5")
    monkeypatch.setenv("LEDGER_CURRENCY", LEDGER_CURRENCY)
    return TableProbe(name=TABLE_NAME, resource_table=table)


@dataclass
class Captured:
    """Structured log lines and EMF metric records written during a test."""

    log_stream: io.StringIO
    capsys: pytest.CaptureFixture[str]
    emf_records: list[dict[str, Any]] = field(default_factory=list)

    def logs(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.log_stream.getvalue().splitlines() if line]

    def metrics(self) -> list[dict[str, Any]]:
        # readouterr() consumes what it returns: keep every record seen so far.
        lines = self.capsys.readouterr().out.splitlines()
        self.emf_records.extend(r for r in map(_json_or_none, lines) if r and "_aws" in r)
        return list(self.emf_records)

    def metric_total(self, name: str, **dimensions: str) -> float:
        """Sum of a metric over EMF records having exactly these extra dimensions."""
        total = 0.0
        for record in self.metrics():
            names = set(record["_aws"]["CloudWatchMetrics"][0]["Dimensions"][0]) - {"service"}
            if (
                name in record
                and names == set(dimensions)
                and all(record.get(key) == value for key, value in dimensions.items())
            ):
                total += sum(record[name])
        return total


def _json_or_none(line: str) -> dict[str, Any] | None:
    try:
        parsed = json.loads(line)
    except ValueError:
        return None
    return parsed if isinstance(parsed, dict) else None


@pytest.fixture
def captured(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Captured:
    # Powertools' handler keeps the stdout it saw at import; point it at a buffer instead.
    stream = io.StringIO()
    monkeypatch.setattr(logger.registered_handler, "stream", stream)
    return Captured(log_stream=stream, capsys=capsys)
