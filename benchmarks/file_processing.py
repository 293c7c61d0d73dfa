"""How fast the file processor goes against moto in-process, next to moto's own raw
BatchWriteItem rate measured in the same run (so the ratio, not the absolute figure,
says what the processor costs).

    .venv/bin/python benchmarks/file_processing.py --lines 50000

Measures, in one moto: (1) parsing alone (reader + model, no writes); (2) raw
BatchWriteItem of ready-made items, 25 per call, one thread, to a table configured like
the transactions table (stream on); (2b) raw conditional UpdateItem, one per customer
(what the customer upserts cost); (3) the whole file path (S3 stream, parse, batch
writes on writer threads, customer upserts, report, move).
"""

import argparse
import os
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "lambdas" / "shared" / "python")]
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

HEADER = "transaction_id,customer_id,amount,currency,occurred_at,customer_name,customer_email\n"


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
    if stream:  # as deployed: moto then records every write in the stream, which costs
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=50_000)
    parser.add_argument("--customers", type=int, default=5_000)
    parser.add_argument("--threads", type=int, default=8)
    args = parser.parse_args()
    data = make_file(args.lines, args.customers)

    with mock_aws():
        dynamodb = boto3.client("dynamodb", config=client_config(max_pool_connections=32))
        s3 = boto3.client("s3")
        s3.create_bucket(Bucket="files")
        s3.put_bucket_versioning(Bucket="files", VersioningConfiguration={"Status": "Enabled"})
        for name in ("raw", "transactions"):
            create_table(dynamodb, name, "transaction_id", stream=True)
        create_table(dynamodb, "customers", "customer_id")

        started = time.perf_counter()
        chunks = (data[i : i + 262_144] for i in range(0, len(data), 262_144))
        parsed = [
            r.transaction for r in open_transactions(chunks, key="x.csv", ledger_currency="IDR")
        ]
        parse_s = time.perf_counter() - started

        items = [transaction_item(t, "incoming/x.csv") for t in parsed if t is not None]
        started = time.perf_counter()
        for start in range(0, len(items), 25):
            requests = [{"PutRequest": {"Item": item}} for item in items[start : start + 25]]
            dynamodb.batch_write_item(RequestItems={"raw": requests})
        raw_s = time.perf_counter() - started

        create_table(dynamodb, "raw_customers", "customer_id")
        started = time.perf_counter()
        for customer in range(args.customers):
            dynamodb.update_item(
                TableName="raw_customers",
                Key={"customer_id": {"S": f"cust-{customer:06d}"}},
                UpdateExpression="SET #n = :n, #f = :f",
                ConditionExpression="attribute_not_exists(customer_id)",
                ExpressionAttributeNames={"#n": "name", "#f": "first_seen"},
                ExpressionAttributeValues={":n": {"S": "x"}, ":f": {"S": "2025"}},
            )
        raw_update_s = time.perf_counter() - started

        calls: dict[str, int] = {}

        def count_call(event_name: str, **_: Any) -> None:
            operation = event_name.rsplit(".", 1)[-1]
            calls[operation] = calls.get(operation, 0) + 1

        dynamodb.meta.events.register("before-call.dynamodb.*", count_call)

        version = s3.put_object(Bucket="files", Key="incoming/x.csv", Body=data)["VersionId"]
        service = FileService(
            FilesBucket(s3),
            TransactionsTable(dynamodb, "transactions"),
            CustomersTable(dynamodb, "customers"),
            ledger_currency="IDR",
            max_bytes=len(data) + 1,
            writer_threads=args.threads,
        )
        started = time.perf_counter()
        outcome = service.process(
            ObjectRef("files", "incoming/x.csv", version), remaining_ms=lambda: 900_000
        )
        file_s = time.perf_counter() - started

    lines = args.lines
    print(f"file: {lines} lines, {len(data)} bytes, {args.customers} customers")
    print(f"parse only:            {lines / parse_s:10.0f} lines/s")
    print(f"raw BatchWriteItem:    {len(items) / raw_s:10.0f} items/s (25 per call, 1 thread)")
    print(
        f"file path (processor): {outcome.lines / file_s:10.0f} lines/s "
        f"({args.threads} writer threads, {outcome.accepted} accepted)"
    )
    update_rate = args.customers / raw_update_s
    print(f"raw UpdateItem:        {update_rate:10.0f} calls/s (conditional, 1 thread)")
    print(f"file path / raw write: {(outcome.lines / file_s) / (len(items) / raw_s):10.2f}")
    floor_s = (
        calls.get("BatchWriteItem", 0) * 25 / (len(items) / raw_s)
        + calls.get("UpdateItem", 0) / update_rate
    )
    print(f"file path DynamoDB calls: {calls}")
    print(
        f"emulator floor for those calls at the raw rates: {floor_s:.1f} s; "
        f"the file path took {file_s:.1f} s"
    )


if __name__ == "__main__":
    main()
