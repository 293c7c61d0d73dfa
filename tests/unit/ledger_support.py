"""The ledger's offline AWS (moto) for unit tests: tables, bucket, topic, events.

Plain builders rather than fixtures (tests/unit/conftest.py belongs to the orders API);
each ledger test module wraps them in its own small fixtures. Call them inside moto
(the ``aws`` fixture).
"""

import json
import uuid
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import boto3
import pytest
from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from moto.dynamodb.models import dynamodb_backends

from lambdas.aggregator import handler as aggregator_handler
from lambdas.files import handler as files_handler
from tests.unit.conftest import REGION

BUCKET = "order-files-test"
TRANSACTIONS = "transactions-test"
CUSTOMERS = "customers-test"
TOTALS = "totals-test"
POSTINGS = "postings-test"
ORDERS = "orders-test"
THRESHOLD = "1000000"
ACCOUNT = "123456789012"

_serializer = TypeSerializer()
_deserializer = TypeDeserializer()


def clear_ledger_caches() -> None:
    # Settings and clients are built once per container; each test is a new container.
    for cached in (
        files_handler.get_settings,
        files_handler.get_service,
        aggregator_handler.get_settings,
        aggregator_handler.get_service,
    ):
        cached.cache_clear()


def create_table(name: str, *keys: str, stream: bool = False) -> Any:
    client = boto3.client("dynamodb", region_name=REGION)
    spec: dict[str, Any] = {}
    if stream:
        spec["StreamSpecification"] = {
            "StreamEnabled": True,
            "StreamViewType": "NEW_AND_OLD_IMAGES",
        }
    client.create_table(
        TableName=name,
        KeySchema=[
            {"AttributeName": key, "KeyType": kind}
            for key, kind in zip(keys, ("HASH", "RANGE"), strict=False)
        ],
        AttributeDefinitions=[{"AttributeName": key, "AttributeType": "S"} for key in keys],
        BillingMode="PAY_PER_REQUEST",
        **spec,
    )
    return boto3.resource("dynamodb", region_name=REGION).Table(name)


def scan(name: str) -> list[dict[str, Any]]:
    table = boto3.resource("dynamodb", region_name=REGION).Table(name)
    items: list[dict[str, Any]] = []
    response = table.scan(ConsistentRead=True)
    items.extend(response["Items"])
    while "LastEvaluatedKey" in response:
        response = table.scan(ConsistentRead=True, ExclusiveStartKey=response["LastEvaluatedKey"])
        items.extend(response["Items"])
    return items


def by_key(name: str, key: str) -> dict[str, dict[str, Any]]:
    return {item[key]: item for item in scan(name)}


# --- files ---------------------------------------------------------------------------------


@dataclass
class FilesWorld:
    s3: Any

    def upload(self, key: str, body: bytes | str) -> dict[str, Any]:
        """Put an object; returns the EventBridge event S3 would send for it."""
        data = body.encode("utf-8") if isinstance(body, str) else body
        response = self.s3.put_object(Bucket=BUCKET, Key=key, Body=data)
        return object_created_event(key, len(data), response.get("VersionId"))

    def keys(self, prefix: str = "") -> list[str]:
        response = self.s3.list_objects_v2(Bucket=BUCKET, Prefix=prefix)
        return sorted(entry["Key"] for entry in response.get("Contents", []))

    def text(self, key: str) -> str:
        body: bytes = self.s3.get_object(Bucket=BUCKET, Key=key)["Body"].read()
        return body.decode("utf-8")

    def report(self, key: str) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.text(key).splitlines()]


def files_world(
    monkeypatch: pytest.MonkeyPatch, *, max_bytes: int = 10_000_000, large_file_bytes: int = 0
) -> FilesWorld:
    """The bucket, tables and the file function's environment; ``large_file_bytes``
    (default: ``max_bytes``) is where files stop being the function's."""
    s3 = boto3.client("s3", region_name=REGION)
    s3.create_bucket(Bucket=BUCKET)
    s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
    create_table(TRANSACTIONS, "transaction_id", stream=True)
    create_table(CUSTOMERS, "customer_id")
    monkeypatch.setenv("TRANSACTIONS_TABLE_NAME", TRANSACTIONS)
    monkeypatch.setenv("CUSTOMERS_TABLE_NAME", CUSTOMERS)
    monkeypatch.setenv("LEDGER_CURRENCY", "IDR")
    monkeypatch.setenv("FILE_MAX_BYTES", str(max_bytes))
    monkeypatch.setenv("LARGE_FILE_BYTES", str(large_file_bytes or max_bytes))
    monkeypatch.setenv("FILE_WRITER_THREADS", "4")
    clear_ledger_caches()
    return FilesWorld(s3=s3)


def object_created_event(key: str, size: int, version_id: str | None) -> dict[str, Any]:
    """What EventBridge delivers for an S3 "Object Created" (docs: ev-events.html)."""
    obj: dict[str, Any] = {"key": key, "size": size, "etag": uuid.uuid4().hex, "sequencer": "01"}
    if version_id is not None:
        obj["version-id"] = version_id
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Object Created",
        "source": "aws.s3",
        "account": ACCOUNT,
        "time": "2025-01-31T00:00:00Z",
        "region": REGION,
        "resources": [f"arn:aws:s3:::{BUCKET}"],
        "detail": {
            "version": "0",
            "bucket": {"name": BUCKET},
            "object": obj,
            "request-id": "N4N7GDK58NMKJ12R",
            "requester": ACCOUNT,
            "source-ip-address": "203.0.113.10",
            "reason": "PutObject",
        },
    }


def csv_text(*rows: str, header: str | None = None) -> str:
    head = (
        header
        or "transaction_id,customer_id,amount,currency,occurred_at,customer_name,customer_email"
    )
    return "\n".join([head, *rows]) + "\n"


# --- aggregator ----------------------------------------------------------------------------


@dataclass
class LedgerWorld:
    sqs: Any
    queue_url: str
    topic_arn: str

    def totals(self) -> dict[str, dict[str, Any]]:
        return by_key(TOTALS, "customer_id")

    def total(self, customer_id: str) -> Decimal:
        item = self.totals().get(customer_id)
        return Decimal(0) if item is None else Decimal(item["total"])

    def alerts(self) -> list[dict[str, Any]]:
        """Drain the subscribed queue: every alert published since the last call."""
        bodies: list[dict[str, Any]] = []
        while True:
            response = self.sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=10)
            messages = response.get("Messages", [])
            if not messages:
                return bodies
            for message in messages:
                bodies.append(json.loads(message["Body"], parse_float=Decimal))
                self.sqs.delete_message(
                    QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"]
                )


def ledger_world(monkeypatch: pytest.MonkeyPatch, *, threshold: str = THRESHOLD) -> LedgerWorld:
    create_table(TOTALS, "customer_id")
    create_table(POSTINGS, "source")
    sns = boto3.client("sns", region_name=REGION)
    sqs = boto3.client("sqs", region_name=REGION)
    topic_arn = sns.create_topic(Name="HighBalanceAlert")["TopicArn"]
    queue_url = sqs.create_queue(QueueName="CreditCollection")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    sns.subscribe(
        TopicArn=topic_arn,
        Protocol="sqs",
        Endpoint=queue_arn,
        Attributes={"RawMessageDelivery": "true"},
    )
    monkeypatch.setenv("TOTALS_TABLE_NAME", TOTALS)
    monkeypatch.setenv("POSTINGS_TABLE_NAME", POSTINGS)
    monkeypatch.setenv("LEDGER_CURRENCY", "IDR")
    monkeypatch.setenv("HIGH_BALANCE_THRESHOLD", threshold)
    monkeypatch.setenv("HIGH_BALANCE_TOPIC_ARN", topic_arn)
    clear_ledger_caches()
    return LedgerWorld(sqs=sqs, queue_url=queue_url, topic_arn=topic_arn)


def stream_record(
    keys: dict[str, Any],
    *,
    sequence: int,
    new: dict[str, Any] | None = None,
    old: dict[str, Any] | None = None,
    table: str = TRANSACTIONS,
) -> dict[str, Any]:
    """A DynamoDB stream record as Lambda delivers it (NEW_AND_OLD_IMAGES)."""
    event_name = "MODIFY" if new and old else ("INSERT" if new else "REMOVE")
    dynamodb: dict[str, Any] = {
        "ApproximateCreationDateTime": 1735689600,
        "Keys": {name: _serializer.serialize(value) for name, value in keys.items()},
        "SequenceNumber": str(sequence),
        "SizeBytes": 100,
        "StreamViewType": "NEW_AND_OLD_IMAGES",
    }
    if new:
        dynamodb["NewImage"] = {name: _serializer.serialize(v) for name, v in new.items()}
    if old:
        dynamodb["OldImage"] = {name: _serializer.serialize(v) for name, v in old.items()}
    return {
        "eventID": uuid.uuid4().hex,
        "eventName": event_name,
        "eventVersion": "1.1",
        "eventSource": "aws:dynamodb",
        "awsRegion": REGION,
        "dynamodb": dynamodb,
        "eventSourceARN": (
            f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{table}/stream/2025-01-01T00:00:00.000"
        ),
    }


def tx_image(transaction_id: str, customer_id: str, amount: str, **extra: Any) -> dict[str, Any]:
    return {
        "transaction_id": transaction_id,
        "customer_id": customer_id,
        "amount": Decimal(amount),
        "currency": "IDR",
        "occurred_at": "2025-01-31T00:00:00.000000Z",
        "source_file": "incoming/a.csv",
        **extra,
    }


def moto_stream_records(table: str) -> list[dict[str, Any]]:
    """Every record moto's stream of ``table`` holds, in the shape Lambda delivers.

    Read from moto's backend: its DynamoDB Streams API does not answer in-process here.
    """
    backend = dynamodb_backends[ACCOUNT][REGION]
    moto_table = backend.get_table(table)
    arn = f"{moto_table.table_arn}/stream/{moto_table.latest_stream_label}"
    records: list[dict[str, Any]] = []
    for stored in moto_table.stream_shard.items:
        record = json.loads(json.dumps(stored.to_json(), default=str))
        record["dynamodb"].pop("ApproximateCreationDateTime", None)
        record["eventSourceARN"] = arn
        records.append(record)
    return records


def plain(image: dict[str, Any]) -> dict[str, Any]:
    return {name: _deserializer.deserialize(value) for name, value in image.items()}
