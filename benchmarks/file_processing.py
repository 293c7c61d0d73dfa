"""How fast the file path goes, next to the raw write rates of the same DynamoDB, same run.

    .venv/bin/python benchmarks/file_processing.py --lines 50000

Measured against moto in-process (``measure_in_process``) until the local cloud runs the
ledger (S3 -> EventBridge -> the files function); the parts take the clients and a
``process`` callable, so the local-cloud measurement is ``measure`` with the cloud's
clients and a callable that uploads to ``incoming/`` and waits for the object to reach
``processed/``. Figures: (1) parsing alone (reader + model, no writes); (2) raw
BatchWriteItem of ready-made items, 25 per call, one thread, to a table configured like
the transactions table (stream on); (2b) raw conditional UpdateItem, one per customer
(what the customer upserts cost); (3) the whole file path (S3 stream, parse, batch writes
on writer threads, customer upserts, report, move).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
for _path in (str(ROOT), str(ROOT / "lambdas" / "shared" / "python")):
    if _path not in sys.path:  # run as a script, or imported by `python -m benchmarks`
        sys.path.insert(0, _path)
os.environ.update(
    AWS_DEFAULT_REGION="us-east-1",
    AWS_ACCESS_KEY_ID="benchmark",
    AWS_SECRET_ACCESS_KEY="benchmark",  # noqa: S106 - moto's fake credentials
    POWERTOOLS_SERVICE_NAME="orders-files",
    POWERTOOLS_METRICS_NAMESPACE="Benchmark",
    POWERTOOLS_LOG_LEVEL="WARNING",
)

import boto3  # noqa: E402
from moto import mock_aws  # noqa: E402
from orders_core.dynamo import client_config  # noqa: E402
from orders_core.files.bucket import FilesBucket, ObjectRef  # noqa: E402
from orders_core.files.reader import open_transactions  # noqa: E402
from orders_core.files.service import FileService  # noqa: E402
from orders_core.files.tables import (  # noqa: E402
    CustomersTable,
    TransactionsTable,
    transaction_item,
)

from benchmarks.report import Figure, Row, Section  # noqa: E402

HEADER = "transaction_id,customer_id,amount,currency,occurred_at,customer_name,customer_email\n"
KEY = "incoming/x.csv"


@dataclass(frozen=True)
class FileFigures:
    lines: int
    customers: int
    threads: int
    parse_s: float
    raw_items_per_s: float  # BatchWriteItem, 25 per call, one thread
    raw_updates_per_s: float  # conditional UpdateItem, one thread
    file_s: float
    accepted: int
    calls: dict[str, int]

    @property
    def file_lines_per_s(self) -> float:
        return self.lines / self.file_s

    @property
    def floor_s(self) -> float:
        """The file path's own DynamoDB calls at the raw rates: the emulator's share."""
        return (
            self.calls.get("BatchWriteItem", 0) * 25 / self.raw_items_per_s
            + self.calls.get("UpdateItem", 0) / self.raw_updates_per_s
        )


def make_file(lines: int, customers: int) -> bytes:
    rows = [HEADER]
    for n in range(lines):
        customer = n % customers
        rows.append(
            f"tx-{n:09d},cust-{customer:06d},{n % 100_000}.{n % 100:02d},IDR,"
            f"2025-01-{1 + n % 28:02d}T{n % 24:02d}:00:00+07:00,Customer {customer},"
            f"c{customer}@example.com\n"
        )
    return "".join(rows).encode()


def create_table(client: Any, name: str, key: str, *, stream: bool = False) -> None:
    extra: dict[str, Any] = {}
    if stream:  # as deployed: the emulator then records every write in the stream
        extra["StreamSpecification"] = {
            "StreamEnabled": True,
            "StreamViewType": "NEW_AND_OLD_IMAGES",
        }
    client.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": key, "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": key, "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
        **extra,
    )


def raw_batch_write_rate(dynamodb: Any, table: str, items: list[dict[str, Any]]) -> float:
    """Items per second written by BatchWriteItem, 25 per call, one thread."""
    started = time.perf_counter()
    for start in range(0, len(items), 25):
        requests = [{"PutRequest": {"Item": item}} for item in items[start : start + 25]]
        dynamodb.batch_write_item(RequestItems={table: requests})
    return len(items) / (time.perf_counter() - started)


def raw_update_rate(dynamodb: Any, table: str, customers: int) -> float:
    """Conditional UpdateItem calls per second, one thread (what a customer upsert is)."""
    started = time.perf_counter()
    for customer in range(customers):
        dynamodb.update_item(
            TableName=table,
            Key={"customer_id": {"S": f"cust-{customer:06d}"}},
            UpdateExpression="SET #n = :n, #f = :f",
            ConditionExpression="attribute_not_exists(customer_id)",
            ExpressionAttributeNames={"#n": "name", "#f": "first_seen"},
            ExpressionAttributeValues={":n": {"S": "x"}, ":f": {"S": "2025"}},
        )
    return customers / (time.perf_counter() - started)


def count_calls(dynamodb: Any) -> dict[str, int]:
    """A live count of the client's DynamoDB calls by operation."""
    calls: dict[str, int] = {}

    def count_call(event_name: str, **_: Any) -> None:
        operation = event_name.rsplit(".", 1)[-1]
        calls[operation] = calls.get(operation, 0) + 1

    dynamodb.meta.events.register("before-call.dynamodb.*", count_call)
    return calls


def measure(
    *,
    data: bytes,
    lines: int,
    customers: int,
    threads: int,
    dynamodb: Any,
    raw_tables: tuple[str, str],
    process: Callable[[], int],
) -> FileFigures:
    """Parse, raw writes, then ``process()`` (returns accepted lines) on the same DynamoDB."""
    started = time.perf_counter()
    chunks = (data[i : i + 262_144] for i in range(0, len(data), 262_144))
    parsed = [r.transaction for r in open_transactions(chunks, key=KEY, ledger_currency="IDR")]
    parse_s = time.perf_counter() - started
    items = [transaction_item(t, KEY) for t in parsed if t is not None]
    raw_items = raw_batch_write_rate(dynamodb, raw_tables[0], items)
    raw_updates = raw_update_rate(dynamodb, raw_tables[1], customers)
    calls = count_calls(dynamodb)
    started = time.perf_counter()
    accepted = process()
    file_s = time.perf_counter() - started
    return FileFigures(
        lines, customers, threads, parse_s, raw_items, raw_updates, file_s, accepted, calls
    )


def measure_in_process(lines: int, customers: int, threads: int) -> FileFigures:
    """The file path against moto in this process (the local cloud's figure is ``ledger_file``)."""
    data = make_file(lines, customers)
    with mock_aws():
        dynamodb = boto3.client("dynamodb", config=client_config(max_pool_connections=32))
        s3 = boto3.client("s3")
        s3.create_bucket(Bucket="files")
        s3.put_bucket_versioning(Bucket="files", VersioningConfiguration={"Status": "Enabled"})
        for name in ("raw", "transactions"):
            create_table(dynamodb, name, "transaction_id", stream=True)
        for name in ("raw_customers", "customers"):
            create_table(dynamodb, name, "customer_id")
        version = s3.put_object(Bucket="files", Key=KEY, Body=data)["VersionId"]
        service = FileService(
            FilesBucket(s3),
            TransactionsTable(dynamodb, "transactions"),
            CustomersTable(dynamodb, "customers"),
            ledger_currency="IDR",
            max_bytes=len(data) + 1,
            writer_threads=threads,
        )

        def process() -> int:
            outcome = service.process(
                ObjectRef("files", KEY, version), remaining_ms=lambda: 900_000
            )
            return outcome.accepted

        return measure(
            data=data,
            lines=lines,
            customers=customers,
            threads=threads,
            dynamodb=dynamodb,
            raw_tables=("raw", "raw_customers"),
            process=process,
        )


def run(*, lines: int = 5_000, customers: int = 500, threads: int = 8) -> Section:
    figures = measure_in_process(lines, customers, threads)
    where = "moto in-process"
    rows = (
        Row(
            section="file path",
            what=f"files: lines/s, {lines:,} lines, {threads} writer threads ({where})",
            measured=Figure(figures.file_lines_per_s, "lines"),
            floor=Figure(figures.raw_items_per_s, "items"),
            floor_what="raw BatchWriteItem, 25 per call, 1 thread",
        ),
        Row(
            section="file path",
            what=f"files: seconds for the file ({where})",
            measured=Figure(figures.file_s),
            floor=Figure(figures.floor_s),
            floor_what="its own DynamoDB calls at the raw rates",
        ),
    )
    notes = (
        f"Against {where}, the file function's code alone (on the local cloud, S3 -> "
        "EventBridge -> the function end to end, it is the floor of the large-files row "
        f"below). A {lines:,}-line CSV of {customers:,} customers; the raw rates are "
        "measured on the same emulator first (BatchWriteItem to a table with a stream, as "
        "the transactions table has; conditional UpdateItem as the customer upserts), then "
        f"the whole file path (S3 read, parse, writes, {figures.calls.get('UpdateItem', 0):,} "
        "customer upserts, report, move). The second row's floor is the file path's own "
        "calls ("
        + ", ".join(f"{count:,} {name}" for name, count in sorted(figures.calls.items()))
        + ") at those raw rates.",
    )
    return Section("File path", rows, notes)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--lines", type=int, default=50_000)
    parser.add_argument("--customers", type=int, default=5_000)
    parser.add_argument("--threads", type=int, default=8)
    args = parser.parse_args()
    f = measure_in_process(args.lines, args.customers, args.threads)
    print(f"file: {f.lines} lines, {f.customers} customers")
    print(f"parse only:            {f.lines / f.parse_s:10.0f} lines/s")
    print(f"raw BatchWriteItem:    {f.raw_items_per_s:10.0f} items/s (25 per call, 1 thread)")
    print(
        f"file path (processor): {f.file_lines_per_s:10.0f} lines/s "
        f"({f.threads} writer threads, {f.accepted} accepted)"
    )
    print(f"raw UpdateItem:        {f.raw_updates_per_s:10.0f} calls/s (conditional, 1 thread)")
    print(f"file path / raw write: {f.file_lines_per_s / f.raw_items_per_s:10.2f}")
    print(f"file path DynamoDB calls: {f.calls}")
    print(
        f"emulator floor for those calls at the raw rates: {f.floor_s:.1f} s; "
        f"the file path took {f.file_s:.1f} s"
    )


if __name__ == "__main__":
    main()
