"""Driving the ledger on the local cloud the way a partner, a client and a consumer would:
files into the bucket, orders through the front door, alerts out of the two queues.

Shared by tests/e2e/test_ledger.py and the throughput figure (ledger_throughput.py).
Nothing here imports the ledger's runtime: amounts, line rules and expected totals are
worked out independently, with Decimal.
"""

from __future__ import annotations

import csv
import io
import json
import re
import time
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from boto3.dynamodb.types import TypeDeserializer
from botocore.exceptions import ClientError

from local_cloud.cloud import LocalCloud
from tests.polling import wait_for

CURRENCY = "IDR"
THRESHOLD = Decimal("1000000")
COLUMNS = (
    "transaction_id",
    "customer_id",
    "amount",
    "currency",
    "occurred_at",
    "customer_name",
    "customer_email",
)
ALERT_QUEUES = ("CreditCollectionQueueUrl", "CustomerNotifyQueueUrl")
ALERT_EMAIL = "ledger-alerts@example.com"  # subscribed to the alerts in the ledger's assembly
FAILURE_QUEUES = (
    "FilesDeadLetterQueueUrl",
    "AggregatorFailureQueueUrl",
    "OrdersDeadLetterQueueUrl",
    "CreditCollectionDeadLetterQueueUrl",
    "CustomerNotifyDeadLetterQueueUrl",
    "AlertSubscriptionDeadLetterQueueUrl",
)
_AMOUNT = re.compile(r"-?\d+(\.\d{1,2})?")
_deserializer = TypeDeserializer()


def tag() -> str:
    """A prefix no other test uses: every test owns its customers and transactions."""
    return uuid.uuid4().hex[:8]


# -- files --------------------------------------------------------------------------------
def csv_file(rows: Iterable[Mapping[str, object]], columns: Iterable[str] = COLUMNS) -> bytes:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(columns), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue().encode()


def jsonl_file(rows: Iterable[Mapping[str, object]]) -> bytes:
    return "".join(json.dumps(dict(row)) + "\n" for row in rows).encode()


def line(transaction_id: str, customer_id: str, amount: str, **extra: str) -> dict[str, str]:
    return {
        "transaction_id": transaction_id,
        "customer_id": customer_id,
        "amount": amount,
        "currency": CURRENCY,
        "occurred_at": "2025-02-01T10:00:00+07:00",
        **extra,
    }


def line_refusal(row: Mapping[str, str]) -> str | None:
    """Why the ledger must refuse a line (this test's own reading of the file format), or
    None; the word returned is one the runtime's reason must contain."""
    if not _AMOUNT.fullmatch(row.get("amount") or ""):
        return "amount"
    if row.get("currency") != CURRENCY:
        return "currency"
    try:
        occurred = datetime.fromisoformat((row.get("occurred_at") or "").replace("Z", "+00:00"))
    except ValueError:
        return "occurred_at"
    if occurred.tzinfo is None:
        return "occurred_at"
    return None


@dataclass
class Expected:
    """What the ledger must hold: per source its customer and amount, the latest wins."""

    sources: dict[str, tuple[str, Decimal]] = field(default_factory=dict)

    def add_lines(self, rows: Iterable[Mapping[str, str]]) -> list[tuple[int, str]]:
        """Count a file's valid lines; returns (line number, refusal) of the others
        (the header is line 1)."""
        refused = []
        for number, row in enumerate(rows, start=2):
            refusal = line_refusal(row)
            if refusal is None:
                self.sources["tx#" + row["transaction_id"]] = (
                    row["customer_id"],
                    Decimal(row["amount"]),
                )
            else:
                refused.append((number, refusal))
        return refused

    def add_order(self, order: Mapping[str, Any]) -> None:
        if "amount" in order:
            source = f"order#{order['order_id']}#{order['item']}"
            self.sources[source] = (order["customer_id"], Decimal(str(order["amount"])))

    def totals(self) -> dict[str, Decimal]:
        found: dict[str, Decimal] = {}
        for customer, amount in self.sources.values():
            found[customer] = found.get(customer, Decimal(0)) + amount
        return found

    def counts(self) -> dict[str, int]:
        found: dict[str, int] = {}
        for customer, _ in self.sources.values():
            found[customer] = found.get(customer, 0) + 1
        return found


# -- the queues a consumer reads ----------------------------------------------------------
@dataclass
class Inbox:
    """A consumer of one queue: receives, keeps and deletes every message (a peek would
    show only the first ten: the emulation hands the same ones back)."""

    sqs: Any
    url: str
    messages: list[dict[str, Any]] = field(default_factory=list)

    def drain(self) -> list[dict[str, Any]]:
        while True:
            batch = self.sqs.receive_message(
                QueueUrl=self.url, MaxNumberOfMessages=10, VisibilityTimeout=60
            ).get("Messages", [])
            if not batch:
                return self.messages
            for message in batch:
                # amounts as the exact decimals the JSON spells
                self.messages.append(json.loads(message["Body"], parse_float=Decimal))
                self.sqs.delete_message(QueueUrl=self.url, ReceiptHandle=message["ReceiptHandle"])

    def alerts_for(self, customer_id: str) -> list[dict[str, Any]]:
        return [m for m in self.drain() if m.get("customer_id") == customer_id]


# -- the ledger as a whole ----------------------------------------------------------------
class Ledger:
    def __init__(self, cloud: LocalCloud) -> None:
        self.cloud = cloud
        self.bucket = cloud.outputs["OrderFilesBucketName"]
        self.s3 = cloud.client("s3")
        self.dynamodb = cloud.client("dynamodb")
        self.sqs = cloud.client("sqs")
        self.inboxes = {name: Inbox(self.sqs, cloud.outputs[name]) for name in ALERT_QUEUES}

    # files
    def upload(self, name: str, body: bytes) -> None:
        self.s3.put_object(Bucket=self.bucket, Key="incoming/" + name, Body=body)

    def processed_versions(self, name: str) -> int:
        key = "processed/" + name
        found = self.s3.list_object_versions(Bucket=self.bucket, Prefix=key)
        return sum(1 for v in found.get("Versions", []) if v["Key"] == key)

    def upload_and_wait(self, name: str, body: bytes, timeout: float = 120.0) -> None:
        """Upload, then wait until the processor moved this upload to ``processed/``."""
        before = self.processed_versions(name)
        self.upload(name, body)
        wait_for(lambda: self.processed_versions(name) > before, timeout=timeout, interval=0.5)

    def report(self, name: str) -> list[dict[str, Any]] | None:
        try:
            body = self.s3.get_object(Bucket=self.bucket, Key=f"rejected/{name}.jsonl")["Body"]
        except ClientError as exc:
            if exc.response["Error"]["Code"] in {"NoSuchKey", "404"}:
                return None
            raise
        return [json.loads(text) for text in body.read().decode().splitlines()]

    # tables
    def items(self, output: str) -> list[dict[str, Any]]:
        """Every item of a table (consistent reads), numbers as exact Decimals."""
        found: list[dict[str, Any]] = []
        for page in self.dynamodb.get_paginator("scan").paginate(
            TableName=self.cloud.outputs[output], ConsistentRead=True
        ):
            found += [
                {k: _deserializer.deserialize(v) for k, v in item.items()} for item in page["Items"]
            ]
        return found

    def totals(self) -> dict[str, dict[str, Any]]:
        return {item["customer_id"]: item for item in self.items("TotalsTableName")}

    def totals_of(self, customers: Iterable[str]) -> dict[str, Decimal]:
        wanted = set(customers)
        return {c: t["total"] for c, t in self.totals().items() if c in wanted}

    def wait_for_totals(self, expected: Mapping[str, Decimal], timeout: float = 120.0) -> None:
        wait_for(lambda: self.totals_of(expected) == dict(expected), timeout=timeout, interval=0.5)

    def settle(self, timeout: float = 120.0) -> None:
        """Wait until the aggregator has applied everything written so far.

        A marker is written behind it in each table the aggregator reads (one stream
        shard each, read in order), and its totals item waited for: whatever was in a
        stream before the marker has been applied, and its alerts published, by then.
        """
        marker = "settle-" + tag()
        amount = {"N": "0"}
        self._put(
            "TransactionsTableName",
            {
                "transaction_id": {"S": marker},
                "customer_id": {"S": marker + "-tx"},
                "amount": amount,
                "currency": {"S": CURRENCY},
            },
        )
        self._put(
            "OrdersTableName",
            {
                "order_id": {"S": marker},
                "item": {"S": "marker"},
                "customer_id": {"S": marker + "-order"},
                "amount": amount,
            },
        )
        wanted = {marker + "-tx", marker + "-order"}
        wait_for(lambda: wanted <= self.totals().keys(), timeout=timeout, interval=0.5)

    def _put(self, output: str, item: dict[str, Any]) -> None:
        """A write that outlasts injected throttling (the tests' own writes retry too)."""
        for attempt in range(50):
            try:
                self.dynamodb.put_item(TableName=self.cloud.outputs[output], Item=item)
                return
            except ClientError as exc:
                if exc.response["Error"]["Code"] != "ProvisionedThroughputExceededException":
                    raise
                time.sleep(min(0.05 * 2**attempt, 1.0))
        raise AssertionError(f"could not write to {output}")

    # queues
    def alerts(self, customer_id: str) -> dict[str, list[dict[str, Any]]]:
        """The alerts each queue received for a customer so far, by queue output."""
        return {name: inbox.alerts_for(customer_id) for name, inbox in self.inboxes.items()}

    def failure_depths(self) -> dict[str, int]:
        depths = {}
        for name in FAILURE_QUEUES:
            attributes = self.sqs.get_queue_attributes(
                QueueUrl=self.cloud.outputs[name],
                AttributeNames=[
                    "ApproximateNumberOfMessages",
                    "ApproximateNumberOfMessagesNotVisible",
                ],
            )["Attributes"]
            depths[name] = int(attributes["ApproximateNumberOfMessages"]) + int(
                attributes["ApproximateNumberOfMessagesNotVisible"]
            )
        return depths


# -- what the functions counted -----------------------------------------------------------
class MetricsCursor:
    """Sums the functions' EMF counters written to their logs after it was made."""

    def __init__(self, log_dir: Path) -> None:
        self.log_dir = log_dir
        self.offsets = {path: path.stat().st_size for path in log_dir.glob("*.log")}

    def counts(self, *names: str) -> dict[str, int]:
        totals = dict.fromkeys(names, 0)
        for path in self.log_dir.glob("*.log"):
            with path.open("rb") as log:
                log.seek(self.offsets.get(path, 0))
                for raw in log:
                    if not raw.startswith(b'{"_aws"'):
                        continue
                    record = json.loads(raw)
                    if "reason" in record:
                        continue  # the by-reason copy of a count already in the totals
                    for name in names:
                        value = record.get(name, 0)
                        totals[name] += int(sum(value) if isinstance(value, list) else value)
        return totals
