"""The file processor against moto: S3 event in, transactions + customers + report out."""

import threading
from decimal import Decimal
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from orders_core.dynamo import RetriesExhausted
from orders_core.files.bucket import FilesBucket, ObjectRef
from orders_core.files.event import InvalidEvent, ObjectCreatedEvent
from orders_core.files.service import FileService
from orders_core.files.settings import FilesSettings
from orders_core.files.tables import CustomersTable, TransactionsTable
from orders_core.retry import RetryPolicy
from orders_core.settings import SettingsError, load_settings

from lambdas.files import handler as files_handler
from tests.unit.conftest import REGION, Captured
from tests.unit.events import FakeClock, FakeContext
from tests.unit.ledger_support import (
    BUCKET,
    CUSTOMERS,
    TRANSACTIONS,
    FilesWorld,
    by_key,
    csv_text,
    files_world,
    object_created_event,
)

SAMPLE = Path(__file__).parents[2] / "samples" / "transactions.csv"


@pytest.fixture
def world(aws: None, monkeypatch: pytest.MonkeyPatch) -> FilesWorld:
    return files_world(monkeypatch)


def run(event: dict[str, Any], context: FakeContext | None = None) -> dict[str, Any]:
    result: dict[str, Any] = files_handler.lambda_handler(event, context or FakeContext())
    return result


def snapshot() -> tuple[dict[str, Any], dict[str, Any]]:
    return by_key(TRANSACTIONS, "transaction_id"), by_key(CUSTOMERS, "customer_id")


# --- the sample file -------------------------------------------------------------------------


def test_the_sample_file_is_processed_reported_and_moved(world: FilesWorld) -> None:
    event = world.upload("incoming/2025/transactions.csv", SAMPLE.read_bytes())

    result = run(event)

    assert result == {
        "key": "incoming/2025/transactions.csv",
        "status": "processed",
        "lines": 9,
        "accepted": 6,
        "rejected": 3,
    }
    transactions, customers = snapshot()
    assert sorted(transactions) == ["T-1001", "T-1002", "T-1003", "T-1004", "T-1008", "T-1009"]
    assert transactions["T-1004"] == {
        "transaction_id": "T-1004",
        "customer_id": "C-001",
        "amount": Decimal("-50000"),
        "currency": "IDR",
        "occurred_at": "2025-01-31T05:00:00.000000Z",
        "customer_name": "Budi Santoso",
        "customer_email": "budi@example.com",
        "source_file": "incoming/2025/transactions.csv",
    }
    assert customers["C-001"] == {
        "customer_id": "C-001",
        "first_seen": "2025-01-31T02:15:00.000000Z",
        "last_seen": "2025-01-31T08:45:00.000000Z",
        "name": "Budi S.",
        "name_version": "2025-01-31T08:45:00.000000Z#T-1008",
        "email": "budi.s@example.com",
        "email_version": "2025-01-31T08:45:00.000000Z#T-1008",
    }
    assert world.report("rejected/2025/transactions.csv.jsonl") == [
        {"line": 6, "reason": "amount must have at most 2 decimal places"},
        {"line": 7, "reason": "currency must be IDR, the ledger currency"},
        {"line": 8, "reason": "occurred_at needs a UTC offset such as Z or +07:00"},
    ]
    assert world.keys("incoming/") == []
    assert world.keys("processed/") == ["processed/2025/transactions.csv"]
    assert world.text("processed/2025/transactions.csv") == SAMPLE.read_text()


def test_metrics_and_one_structured_log_line_per_file(
    world: FilesWorld, captured: Captured
) -> None:
    run(world.upload("incoming/t.csv", SAMPLE.read_bytes()))

    assert captured.metric_total("FilesProcessed") == 1
    assert captured.metric_total("FileLinesRead") == 9
    assert captured.metric_total("FileLinesAccepted") == 6
    assert captured.metric_total("FileLinesRejected") == 3
    [line] = [entry for entry in captured.logs() if entry["message"] == "file processed"]
    assert (line["key"], line["lines"], line["rejected"]) == ("incoming/t.csv", 9, 3)


# --- idempotency -----------------------------------------------------------------------------


def test_the_same_file_twice_changes_no_item(world: FilesWorld) -> None:
    run(world.upload("incoming/t.csv", SAMPLE.read_bytes()))
    before = snapshot()
    report = world.text("rejected/t.csv.jsonl")

    run(world.upload("incoming/t.csv", SAMPLE.read_bytes()))

    assert snapshot() == before
    assert world.text("rejected/t.csv.jsonl") == report


def test_overlapping_files_keep_one_item_per_transaction_and_merge_customers(
    world: FilesWorld,
) -> None:
    first = csv_text(
        "a1,c1,100,IDR,2025-01-02T00:00:00Z,Old Name,old@example.com",
        "a2,c1,200,IDR,2025-01-03T00:00:00Z,,",
    )
    second = csv_text(
        "a2,c1,200,IDR,2025-01-03T00:00:00Z,,",
        "a3,c1,300,IDR,2025-01-01T00:00:00Z,Older Name,",  # earlier: its name must not win
    )

    run(world.upload("incoming/second.csv", second))
    run(world.upload("incoming/first.csv", first))
    transactions, customers = snapshot()

    assert {tid: item["amount"] for tid, item in transactions.items()} == {
        "a1": 100,
        "a2": 200,
        "a3": 300,
    }
    assert customers["c1"]["first_seen"] == "2025-01-01T00:00:00.000000Z"
    assert customers["c1"]["last_seen"] == "2025-01-03T00:00:00.000000Z"
    assert (customers["c1"]["name"], customers["c1"]["email"]) == ("Old Name", "old@example.com")


def test_a_transaction_twice_in_one_file_keeps_its_last_line(world: FilesWorld) -> None:
    rows = [f"x{n},c{n % 7},{n},IDR,2025-01-01T00:00:00Z,," for n in range(60)]
    rows.insert(30, "x5,c5,999.99,IDR,2025-01-01T00:00:00Z,,")  # same id, later line
    rows.insert(31, "x5,c5,5.55,IDR,2025-01-01T00:00:00Z,,")  # ... and the last one wins

    run(world.upload("incoming/dup.csv", csv_text(*rows)))

    transactions, _ = snapshot()
    assert len(transactions) == 60
    assert transactions["x5"]["amount"] == Decimal("5.55")


def test_a_stale_report_is_removed_when_a_reupload_has_no_rejects(world: FilesWorld) -> None:
    run(world.upload("incoming/t.csv", csv_text("a1,c1,1.001,IDR,2025-01-01T00:00:00Z,,")))
    assert world.keys("rejected/") == ["rejected/t.csv.jsonl"]

    run(world.upload("incoming/t.csv", csv_text("a1,c1,1.00,IDR,2025-01-01T00:00:00Z,,")))

    assert world.keys("rejected/") == []
    assert snapshot()[0]["a1"]["amount"] == 1


# --- unreadable files ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "line", "reason"),
    [
        (b"PK\x03\x04\x00\x00binary", 0, "the file is binary, not text (it contains NUL bytes)"),
        (b"transaction_id;amount\n1;2\n", 1, "the header row lacks transaction_id, customer_id"),
        ("transaction_id,customer_id\nJosé".encode("latin-1"), 0, "the file is not UTF-8 text"),
    ],
)
def test_an_unreadable_file_is_one_report_entry_and_writes_nothing(
    world: FilesWorld, captured: Captured, body: bytes, line: int, reason: str
) -> None:
    result = run(world.upload("incoming/bad.csv", body))

    assert result["status"] == "unreadable"
    [entry] = world.report("rejected/bad.csv.jsonl")
    assert entry["line"] == line
    assert entry["reason"].startswith(reason)
    assert snapshot() == ({}, {})
    assert world.keys("processed/") == ["processed/bad.csv"]
    assert captured.metric_total("FilesUnreadable") == 1


def test_a_file_over_the_size_limit_is_not_read(aws: None, monkeypatch: pytest.MonkeyPatch) -> None:
    world = files_world(monkeypatch, max_bytes=100)

    run(world.upload("incoming/big.csv", SAMPLE.read_bytes()))

    size = len(SAMPLE.read_bytes())
    assert world.report("rejected/big.csv.jsonl") == [
        {"line": 0, "reason": f"the file is {size} bytes, over the limit of 100"}
    ]
    assert snapshot() == ({}, {})


# --- which object ----------------------------------------------------------------------------


def test_an_older_version_is_skipped_the_newer_upload_has_its_own_event(world: FilesWorld) -> None:
    old_event = world.upload("incoming/t.csv", csv_text("a1,c1,1,IDR,2025-01-01T00:00:00Z,,"))
    new_event = world.upload("incoming/t.csv", csv_text("a1,c1,2,IDR,2025-01-01T00:00:00Z,,"))

    assert run(old_event)["status"] == "skipped"
    assert snapshot() == ({}, {})
    assert run(new_event)["status"] == "processed"
    assert snapshot()[0]["a1"]["amount"] == 2


def test_a_redelivered_event_after_the_move_is_skipped(world: FilesWorld) -> None:
    event = world.upload("incoming/t.csv", SAMPLE.read_bytes())
    run(event)
    before = snapshot()

    assert run(event)["status"] == "skipped"
    assert snapshot() == before


def test_a_reupload_landing_during_processing_stays_for_its_own_event(
    world: FilesWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = world.upload("incoming/t.csv", csv_text("a1,c1,1,IDR,2025-01-01T00:00:00Z,,"))
    second = csv_text("a1,c1,2,IDR,2025-01-01T00:00:00Z,,")
    real_open = FilesBucket.open

    def open_then_reupload(bucket: FilesBucket, ref: Any) -> Any:
        opened = real_open(bucket, ref)
        world.s3.put_object(Bucket=BUCKET, Key="incoming/t.csv", Body=second)
        return opened

    monkeypatch.setattr(FilesBucket, "open", open_then_reupload)
    run(first)

    assert world.keys("incoming/") == ["incoming/t.csv"]  # the re-upload, untouched
    assert world.text("incoming/t.csv") == second
    assert world.text("processed/t.csv") != second


def test_a_url_encoded_key_is_found(world: FilesWorld) -> None:
    world.upload("incoming/my file+1.csv", SAMPLE.read_bytes())
    event = object_created_event("incoming/my+file%2B1.csv", 10, None)

    assert run(event)["status"] == "processed"
    assert world.keys("processed/") == ["processed/my file+1.csv"]


@pytest.mark.parametrize("key", ["processed/t.csv", "incoming/", "incoming/2025/"])
def test_objects_that_are_not_files_under_incoming_are_ignored(world: FilesWorld, key: str) -> None:
    event = world.upload(key, SAMPLE.read_bytes() if key.endswith(".csv") else b"")

    assert run(event)["status"] == "skipped"
    assert snapshot() == ({}, {})
    assert world.keys() == [key]  # not moved, no report


def test_json_lines_files_work_the_same(world: FilesWorld) -> None:
    body = (
        '{"transaction_id": "j1", "customer_id": "c1", "amount": 10.5, "currency": "IDR",'
        ' "occurred_at": "2025-01-31T00:00:00Z"}\n'
        '{"transaction_id": "j2", "customer_id": "c1", "amount": 10.555}\n'
    )

    result = run(world.upload("incoming/t.ndjson", body))

    assert (result["accepted"], result["rejected"]) == (1, 1)
    assert snapshot()[0]["j1"]["amount"] == Decimal("10.5")


# --- failures that may succeed later ---------------------------------------------------------


class ThrottledDynamoDb:
    """The moto client; BatchWriteItem leaves half of each batch unprocessed ``rounds`` times,
    then (with ``forever``) throttles every call."""

    def __init__(self, rounds: int, *, forever: bool = False) -> None:
        self._real = boto3.client("dynamodb", region_name=REGION)
        self.rounds = rounds
        self.forever = forever
        self.calls = 0
        self._lock = threading.Lock()  # writer threads call concurrently

    def batch_write_item(self, **kwargs: Any) -> dict[str, Any]:
        with self._lock:
            return self._batch_write_item(**kwargs)

    def _batch_write_item(self, **kwargs: Any) -> dict[str, Any]:
        self.calls += 1
        if self.forever:
            raise ClientError(
                {"Error": {"Code": "ProvisionedThroughputExceededException", "Message": "slow"}},
                "BatchWriteItem",
            )
        [(table, requests)] = kwargs["RequestItems"].items()
        if self.rounds > 0 and len(requests) > 1:
            self.rounds -= 1
            half = len(requests) // 2
            self._real.batch_write_item(RequestItems={table: requests[:half]})
            return {"UnprocessedItems": {table: requests[half:]}}
        return dict(self._real.batch_write_item(**kwargs))

    def update_item(self, **kwargs: Any) -> dict[str, Any]:
        return dict(self._real.update_item(**kwargs))


def throttled_service(client: ThrottledDynamoDb, clock: FakeClock) -> FileService:
    return FileService(
        FilesBucket(boto3.client("s3", region_name=REGION)),
        TransactionsTable(client, TRANSACTIONS),
        CustomersTable(client, CUSTOMERS),
        ledger_currency="IDR",
        max_bytes=10_000_000,
        writer_threads=3,
        policy=RetryPolicy(base_delay_s=0.05, max_delay_s=2.0, max_attempts=12),
        sleep=clock.sleep,
        jitter=lambda: 1.0,
    )


def test_unprocessed_items_are_retried_until_every_line_is_written(
    world: FilesWorld, monkeypatch: pytest.MonkeyPatch, captured: Captured
) -> None:
    rows = [f"u{n},c{n % 5},{n}.25,IDR,2025-01-01T00:00:00Z,," for n in range(200)]
    client, clock = ThrottledDynamoDb(rounds=30), FakeClock(remaining_ms=900_000)
    monkeypatch.setattr(files_handler, "get_service", lambda: throttled_service(client, clock))

    run(world.upload("incoming/t.csv", csv_text(*rows)), FakeContext(clock=clock))

    transactions, _ = snapshot()
    assert len(transactions) == 200
    assert sum(Decimal(item["amount"]) for item in transactions.values()) == Decimal(
        sum(range(200))
    ) + Decimal("50.00")
    assert client.rounds == 0
    assert clock.sleeps  # backed off between attempts
    assert captured.metric_total("FileWriteRetries") >= 30


def test_a_table_that_keeps_throttling_fails_the_file_for_lambda_to_retry(
    world: FilesWorld, monkeypatch: pytest.MonkeyPatch, captured: Captured
) -> None:
    client, clock = ThrottledDynamoDb(rounds=0, forever=True), FakeClock(remaining_ms=60_000)
    monkeypatch.setattr(files_handler, "get_service", lambda: throttled_service(client, clock))
    event = world.upload("incoming/t.csv", SAMPLE.read_bytes())

    with pytest.raises(RetriesExhausted):
        run(event, FakeContext(clock=clock))

    assert world.keys("incoming/") == ["incoming/t.csv"]  # still there for the retry
    assert world.keys("processed/") == world.keys("rejected/") == []
    assert captured.metric_total("FilesFailed") == 1
    # each batch job (at most one per writer thread here) gives up after 12 attempts
    assert 12 <= client.calls <= 12 * 3


def test_a_missing_variable_fails_before_the_file_is_touched(
    world: FilesWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CUSTOMERS_TABLE_NAME")
    event = world.upload("incoming/t.csv", SAMPLE.read_bytes())

    with pytest.raises(SettingsError, match="CUSTOMERS_TABLE_NAME"):
        run(event)
    assert world.keys("incoming/") == ["incoming/t.csv"]


@pytest.mark.parametrize(
    ("name", "value"),
    [("FILE_MAX_BYTES", "0"), ("FILE_MAX_BYTES", "lots"), ("LEDGER_CURRENCY", "Rupiah")],
)
def test_a_bad_setting_is_named(
    world: FilesWorld, monkeypatch: pytest.MonkeyPatch, name: str, value: str
) -> None:
    monkeypatch.setenv(name, value)

    with pytest.raises(SettingsError, match=name):
        run(world.upload("incoming/t.csv", SAMPLE.read_bytes()))


def test_writer_threads_default_to_eight(
    world: FilesWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("FILE_WRITER_THREADS")

    assert load_settings(FilesSettings).writer_threads == 8


def test_the_object_created_event_names_the_object_or_is_refused() -> None:
    event = object_created_event("incoming/a.csv", 10, "v1")
    assert ObjectCreatedEvent.parse(event) == ObjectRef(BUCKET, "incoming/a.csv", "v1")
    unversioned = object_created_event("incoming/a.csv", 10, None)
    assert ObjectCreatedEvent.parse(unversioned) == ObjectRef(BUCKET, "incoming/a.csv", None)

    refusals = {
        "not an S3 EventBridge event: 1 error(s)": [None, [], {**event, "detail": None}],
        "not an S3 EventBridge event: 3 error(s)": [
            {},
            {**event, "detail": {"bucket": {"name": 5}, "object": {"key": 5, "version-id": 5}}},
        ],
        "not an S3 EventBridge event: 2 error(s)": [
            {**event, "detail": {}},
            {**event, "detail": {"bucket": {"name": ""}, "object": {"key": ""}}},
        ],
        "unexpected event aws.s3 / Object Deleted": [{**event, "detail-type": "Object Deleted"}],
    }
    for message, events in refusals.items():
        for refused in events:
            with pytest.raises(InvalidEvent) as raised:
                ObjectCreatedEvent.parse(refused)
            assert str(raised.value) == message
