"""A large file through the ledger on the local cloud: the e2e check, and the bench's figure.

    from tests.e2e.ledger_throughput import measure_file_throughput
    figure = measure_file_throughput(Path("cdk.out"), lines=100_000)
    print(figure.line())   # or figure.as_dict()

Both boot the app's assembly on a LocalCloud of their own (its stream backlog dies with it)
with the stream mappings paused, and upload a generated CSV of ``lines`` valid lines under
incoming/ of the files bucket, timed from the end of the upload to the object reaching
processed/ (S3 -> EventBridge -> the files function: streaming, validation, BatchWriteItem
on its writer threads, customer upserts, the move).

``run_large_file`` (tests/e2e/test_ledger_large_file.py) then resumes the mappings and
waits for the aggregator's first postings: every line was written and the file's stream
reaches the aggregator. ``measure_file_throughput`` (``make bench``) also measures, with
the mappings still paused:

1. raw BatchWriteItem: as many items of the same shape, 25 per call, from this process
   on as many threads as the function writes with (its ``FILE_WRITER_THREADS``), into a
   scratch table keyed and streamed like the transactions table;
2. then the mappings resume and, for ``aggregator_window_s``, the aggregator works
   through the file's stream: its records per second (postings written), for the
   totals' lag behind a large file.

Both go through the same emulation (moto behind the fault injector, no faults).
No assertion on time anywhere: the figures are printed.
"""

from __future__ import annotations

import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from local_cloud.cloud import LocalCloud
from tests.e2e.ledger import CURRENCY, csv_file, line
from tests.polling import wait_for

BATCH = 25
DEFAULT_WRITER_THREADS = 8


@dataclass(frozen=True)
class FileThroughput:
    lines: int
    lines_accepted: int
    file_bytes: int
    file_seconds: float
    raw_items: int
    raw_seconds: float
    raw_threads: int
    aggregated: int
    aggregator_seconds: float

    @property
    def lines_per_s(self) -> float:
        return self.lines / self.file_seconds

    @property
    def raw_items_per_s(self) -> float:
        return self.raw_items / self.raw_seconds

    @property
    def aggregated_per_s(self) -> float:
        return self.aggregated / self.aggregator_seconds

    @property
    def ratio(self) -> float:
        """The file path's rate as a fraction of the raw write rate."""
        return self.lines_per_s / self.raw_items_per_s

    def as_dict(self) -> dict[str, Any]:
        return {
            **asdict(self),
            "lines_per_s": round(self.lines_per_s),
            "raw_items_per_s": round(self.raw_items_per_s),
            "ratio": round(self.ratio, 2),
            "aggregated_per_s": round(self.aggregated_per_s),
        }

    def line(self) -> str:
        return (
            f"ledger file path on the local cloud: {self.lines} lines "
            f"({self.file_bytes / 1e6:.1f} MB) in {self.file_seconds:.1f} s = "
            f"{self.lines_per_s:,.0f} lines/s; raw BatchWriteItem (25 items, "
            f"{self.raw_threads} threads) {self.raw_items} items in {self.raw_seconds:.1f} s = "
            f"{self.raw_items_per_s:,.0f} items/s; ratio {self.ratio:.2f}; then the "
            f"aggregator: {self.aggregated} records in {self.aggregator_seconds:.0f} s = "
            f"{self.aggregated_per_s:,.0f} records/s"
        )


@dataclass(frozen=True)
class LargeFileRun:
    lines: int
    lines_accepted: int
    file_bytes: int
    file_seconds: float
    aggregated: int  # postings when the aggregator was first seen working through the file

    def line(self) -> str:
        return (
            f"ledger file path on the local cloud: {self.lines} lines "
            f"({self.file_bytes / 1e6:.1f} MB) in {self.file_seconds:.1f} s = "
            f"{self.lines / self.file_seconds:,.0f} lines/s, {self.lines_accepted} written; "
            f"then the aggregator's first {self.aggregated} postings"
        )


def large_file(lines: int, customers: int, prefix: str) -> bytes:
    """A CSV of ``lines`` valid transactions spread over ``customers`` customers."""
    rows = (
        line(
            f"{prefix}-{n:07d}",
            f"{prefix}-c{n % customers:05d}",
            f"{(n % 99_999) + 1}.{n % 100:02d}",
            customer_name=f"Customer {n % customers}",
            customer_email=f"c{n % customers}@example.com",
        )
        for n in range(lines)
    )
    return csv_file(rows)


def _writer_threads(cloud: LocalCloud) -> int:
    lambda_ = cloud.client("lambda")
    for name in (spec.name for spec in cloud.functions.specs.values()):
        variables = lambda_.get_function_configuration(FunctionName=name)
        found = variables.get("Environment", {}).get("Variables", {})
        if "FILE_WRITER_THREADS" in found:
            return int(found["FILE_WRITER_THREADS"])
    return DEFAULT_WRITER_THREADS


def _file_path(cloud: LocalCloud, body: bytes, name: str) -> float:
    s3 = cloud.client("s3")
    bucket = cloud.outputs["OrderFilesBucketName"]
    s3.put_object(Bucket=bucket, Key="incoming/" + name, Body=body)
    started = time.monotonic()

    def processed() -> bool:
        found = s3.list_objects_v2(Bucket=bucket, Prefix="processed/" + name)
        return bool(found.get("KeyCount"))

    wait_for(processed, timeout=1800, interval=0.1)
    return time.monotonic() - started


def _transaction_items(count: int, prefix: str) -> list[dict[str, Any]]:
    return [
        {
            "transaction_id": {"S": f"{prefix}-{n:07d}"},
            "customer_id": {"S": f"{prefix}-c{n % 1000:05d}"},
            "amount": {"N": f"{(n % 99_999) + 1}.{n % 100:02d}"},
            "currency": {"S": CURRENCY},
            "occurred_at": {"S": "2025-02-01T03:00:00.000000Z"},
            "source_file": {"S": "incoming/raw.csv"},
            "customer_name": {"S": f"Customer {n % 1000}"},
            "customer_email": {"S": f"c{n % 1000}@example.com"},
        }
        for n in range(count)
    ]


def _raw_batch_writes(cloud: LocalCloud, items: list[dict[str, Any]], threads: int) -> float:
    dynamodb = cloud.client("dynamodb")
    table = "raw-batch-write-" + uuid.uuid4().hex[:8]
    dynamodb.create_table(
        TableName=table,
        KeySchema=[{"AttributeName": "transaction_id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "transaction_id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
    )
    batches = [items[i : i + BATCH] for i in range(0, len(items), BATCH)]
    clients = [cloud.client("dynamodb") for _ in range(threads)]

    def write(worker: int) -> None:
        client = clients[worker]
        for batch in batches[worker::threads]:
            requests = [{"PutRequest": {"Item": item}} for item in batch]
            while requests:
                answer = client.batch_write_item(RequestItems={table: requests})
                requests = answer.get("UnprocessedItems", {}).get(table, [])

    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=threads) as pool:
        list(pool.map(write, range(threads)))
    seconds = time.monotonic() - started
    dynamodb.delete_table(TableName=table)
    return seconds


def _postings(cloud: LocalCloud) -> int:
    dynamodb = cloud.client("dynamodb")
    pages = dynamodb.get_paginator("scan").paginate(
        TableName=cloud.outputs["PostingsTableName"], Select="COUNT"
    )
    return sum(int(page["Count"]) for page in pages)


def _file_written(cloud: LocalCloud, body: bytes, prefix: str) -> tuple[float, int]:
    """The file path's seconds, and how many transactions the table then holds."""
    file_seconds = _file_path(cloud, body, f"large-{prefix}.csv")
    accepted = cloud.client("dynamodb").describe_table(
        TableName=cloud.outputs["TransactionsTableName"]
    )["Table"]["ItemCount"]
    return file_seconds, int(accepted)


def run_large_file(
    assembly: Path,
    *,
    lines: int,
    customers: int = 1_000,
    log_dir: Path | None = None,
    aggregator_timeout_s: float = 120.0,
) -> LargeFileRun:
    """Boot the assembly, put one large file through, wait for the aggregator to start on it."""
    prefix = uuid.uuid4().hex[:6]
    body = large_file(lines, customers, prefix)
    with LocalCloud(assembly, http_port=0, aws_port=0, edge_port=0, log_dir=log_dir) as cloud:
        cloud.pause_mappings()
        file_seconds, accepted = _file_written(cloud, body, prefix)
        before = _postings(cloud)
        cloud.resume_mappings()
        wait_for(lambda: _postings(cloud) > before, timeout=aggregator_timeout_s, interval=0.5)
        aggregated = _postings(cloud) - before
    return LargeFileRun(
        lines=lines,
        lines_accepted=accepted,
        file_bytes=len(body),
        file_seconds=file_seconds,
        aggregated=aggregated,
    )


def measure_file_throughput(
    assembly: Path,
    *,
    lines: int = 100_000,
    customers: int = 1_000,
    raw_items: int | None = None,
    aggregator_window_s: float = 15.0,
    log_dir: Path | None = None,
) -> FileThroughput:
    """Boot the assembly, time the file path and raw BatchWriteItem (see the module doc)."""
    prefix = uuid.uuid4().hex[:6]
    body = large_file(lines, customers, prefix)
    raw = _transaction_items(lines if raw_items is None else raw_items, "raw-" + prefix)
    with LocalCloud(assembly, http_port=0, aws_port=0, edge_port=0, log_dir=log_dir) as cloud:
        cloud.pause_mappings()
        file_seconds, accepted = _file_written(cloud, body, prefix)
        threads = _writer_threads(cloud)
        raw_seconds = _raw_batch_writes(cloud, raw, threads)
        before = _postings(cloud)
        cloud.resume_mappings()
        time.sleep(aggregator_window_s)
        aggregated = _postings(cloud) - before
    return FileThroughput(
        lines=lines,
        lines_accepted=accepted,
        file_bytes=len(body),
        file_seconds=file_seconds,
        raw_items=len(raw),
        raw_seconds=raw_seconds,
        raw_threads=threads,
        aggregated=aggregated,
        aggregator_seconds=aggregator_window_s,
    )
