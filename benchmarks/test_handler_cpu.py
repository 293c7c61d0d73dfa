"""Handler CPU per order (ingest) and per record (process, aggregator), AWS calls faked.

Run by benchmarks/handler_cpu.py under pytest-benchmark (not part of `make test`: the
suite's testpaths is tests/). Each handler is called the way Lambda calls it, decorators
and all, logs and EMF metrics written (to pytest's captured output), with the AWS clients
replaced by fakes that answer at once; its floor is what every invocation costs before a
handler runs: parsing the event's JSON (Lambda's runtime does it), per order or record.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from boto3.dynamodb.types import TypeSerializer

os.environ.update(
    AWS_DEFAULT_REGION="us-east-1",
    POWERTOOLS_SERVICE_NAME="orders-benchmark",
    POWERTOOLS_METRICS_NAMESPACE="Benchmark",
    POWERTOOLS_LOG_LEVEL="INFO",
    POWERTOOLS_TRACE_DISABLED="true",
    ORDERS_QUEUE_URL="https://sqs.us-east-1.amazonaws.com/123456789012/orders",
    ORDERS_TABLE_NAME="orders",
    ORDERS_MAX_RECEIVE_COUNT="5",
    EDGE_ENABLED="0",
    TOTALS_TABLE_NAME="totals",
    POSTINGS_TABLE_NAME="postings",
    LEDGER_CURRENCY="IDR",
    HIGH_BALANCE_THRESHOLD="1000000000",
    HIGH_BALANCE_TOPIC_ARN="arn:aws:sns:us-east-1:123456789012:alerts",
)

from orders_core.aggregator.service import LedgerService, SnsAlertPublisher
from orders_core.aggregator.tables import LedgerTables
from orders_core.ingest.queue import OrdersQueue
from orders_core.ingest.service import IngestService
from orders_core.model import AcceptedOrder, Order, Stamp
from orders_core.process.service import ProcessService
from orders_core.process.table import OrdersTable
from orders_core.versioning import format_accepted_at

from lambdas.aggregator import handler as aggregator_handler
from lambdas.ingest import handler as ingest_handler
from lambdas.process import handler as process_handler
from tests.unit.events import FakeContext, json_event, sqs_event, sqs_record

RECORDS = 10  # a full batch, as the mapping delivers under load
ORDER = {"order_id": "123", "item": "Kopi Susu", "qty": 2, "note": "less sugar"}


class FakeSqs:
    def send_message(self, **_: Any) -> dict[str, Any]:
        return {"MessageId": str(uuid.uuid4())}

    def send_message_batch(self, **kwargs: Any) -> dict[str, Any]:
        return {"Successful": [{"Id": e["Id"], "MessageId": e["Id"]} for e in kwargs["Entries"]]}


class FakeDynamoDb:
    """Every write succeeds; no posting or totals item exists yet."""

    def put_item(self, **_: Any) -> dict[str, Any]:
        return {}

    def batch_get_item(self, **_: Any) -> dict[str, Any]:
        return {"Responses": {}}

    def transact_write_items(self, **_: Any) -> dict[str, Any]:
        return {}

    def update_item(self, **_: Any) -> dict[str, Any]:
        return {}


class FakeSns:
    def publish(self, **_: Any) -> dict[str, Any]:
        return {"MessageId": str(uuid.uuid4())}


def _message(index: int) -> str:
    stamp = Stamp.create(
        accepted_at=format_accepted_at(1_735_689_600_000_000_000 + index),
        request_id=str(uuid.uuid4()),
        position=0,
    )
    order = Order.parse({**ORDER, "order_id": f"order-{index}"})
    return AcceptedOrder(order=order, stamp=stamp).to_message_body()


def _stream_record(index: int) -> dict[str, Any]:
    serialize = TypeSerializer().serialize
    image = {
        "transaction_id": f"tx-{index}",
        "customer_id": f"customer-{index % 3}",
        "amount": Decimal("12500.50"),
        "currency": "IDR",
        "occurred_at": "2025-01-31T00:00:00.000000Z",
    }
    return {
        "eventID": uuid.uuid4().hex,
        "eventName": "INSERT",
        "eventVersion": "1.1",
        "eventSource": "aws:dynamodb",
        "awsRegion": "us-east-1",
        "dynamodb": {
            "Keys": {"transaction_id": serialize(f"tx-{index}")},
            "NewImage": {name: serialize(value) for name, value in image.items()},
            "SequenceNumber": str(100_000 + index),
            "SizeBytes": 200,
            "StreamViewType": "NEW_AND_OLD_IMAGES",
        },
        "eventSourceARN": "arn:aws:dynamodb:us-east-1:123456789012:table/transactions/stream/x",
    }


@pytest.fixture(autouse=True)
def fakes(monkeypatch: pytest.MonkeyPatch) -> None:
    """Services built once, as per container, on fake clients."""
    ingest = IngestService(OrdersQueue(FakeSqs(), os.environ["ORDERS_QUEUE_URL"]))
    process = ProcessService(
        OrdersTable(FakeDynamoDb(), "orders"), max_receive_count=5, ledger_currency="IDR"
    )
    tables = LedgerTables(FakeDynamoDb(), postings_table="postings", totals_table="totals")
    ledger = LedgerService(
        tables,
        SnsAlertPublisher(FakeSns(), os.environ["HIGH_BALANCE_TOPIC_ARN"]),
        threshold=Decimal(os.environ["HIGH_BALANCE_THRESHOLD"]),
        currency="IDR",
    )
    monkeypatch.setattr(ingest_handler, "get_service", lambda: ingest)
    monkeypatch.setattr(process_handler, "get_service", lambda: process)
    monkeypatch.setattr(aggregator_handler, "get_service", lambda: ledger)


def _per_call(benchmark: Any, target: Callable[[], Any], per: int, **info: Any) -> None:
    benchmark.extra_info.update(per=per, **info)
    benchmark.pedantic(target, rounds=200, iterations=1, warmup_rounds=20)


def test_ingest_handler(benchmark: Any) -> None:
    event = json_event(ORDER)

    def call() -> None:
        answer = ingest_handler.lambda_handler(event, FakeContext())
        assert answer["statusCode"] == 202

    _per_call(benchmark, call, per=1, function="ingest", unit="order")


def test_ingest_floor(benchmark: Any) -> None:
    text = json.dumps(json_event(ORDER))
    _per_call(benchmark, lambda: json.loads(text), per=1, function="ingest", unit="order")


def test_process_handler(benchmark: Any) -> None:
    event = sqs_event(*(sqs_record(_message(n)) for n in range(RECORDS)))

    def call() -> None:
        answer = process_handler.lambda_handler(event, FakeContext())
        assert answer["batchItemFailures"] == []

    _per_call(benchmark, call, per=RECORDS, function="process", unit="record")


def test_process_floor(benchmark: Any) -> None:
    text = json.dumps(sqs_event(*(sqs_record(_message(n)) for n in range(RECORDS))))
    _per_call(benchmark, lambda: json.loads(text), per=RECORDS, function="process", unit="record")


def test_aggregator_handler(benchmark: Any) -> None:
    event = {"Records": [_stream_record(n) for n in range(RECORDS)]}

    def call() -> None:
        answer = aggregator_handler.lambda_handler(event, FakeContext())
        assert answer["batchItemFailures"] == []

    _per_call(benchmark, call, per=RECORDS, function="aggregator", unit="record")


def test_aggregator_floor(benchmark: Any) -> None:
    text = json.dumps({"Records": [_stream_record(n) for n in range(RECORDS)]})
    _per_call(
        benchmark, lambda: json.loads(text), per=RECORDS, function="aggregator", unit="record"
    )
