"""Properties of the ledger: totals equal the sum of current amounts under any
interleaving of duplicate, redelivered and re-ordered stream records and of re-uploaded
files; one alert per upward crossing.

Bounded and deterministic: few examples (``derandomize``), small histories, moto.
"""

import random
from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import boto3
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lambdas.aggregator import handler as aggregator_handler
from lambdas.files import handler as files_handler
from tests.unit.conftest import REGION
from tests.unit.events import FakeContext
from tests.unit.ledger_support import (
    BUCKET,
    ORDERS,
    POSTINGS,
    TOTALS,
    TRANSACTIONS,
    FilesWorld,
    LedgerWorld,
    by_key,
    csv_text,
    files_world,
    ledger_world,
    moto_stream_records,
    stream_record,
    tx_image,
)
from tests.unit.ledger_support import CUSTOMERS as CUSTOMERS_TABLE

PROPERTY = settings(
    max_examples=20,
    deadline=None,
    derandomize=True,
    database=None,
    # the moto world is function-scoped on purpose: it is reset for every example
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
CUSTOMERS = ["c1", "c2", "c3"]
SOURCES = ["tx:a", "tx:b", "tx:c", "order:o1", "order:o2"]
FIRST_SEQUENCE = 10**20  # real sequence numbers are 21+ digits: compared as numbers

amounts = st.integers(-50_000, 150_000).map(lambda cents: Decimal(cents).scaleb(-2))
# what a source counts after one change: (customer, amount), or nothing
states = st.none() | st.tuples(st.sampled_from(CUSTOMERS), amounts)
histories = st.lists(st.tuples(st.sampled_from(SOURCES), states), min_size=1, max_size=12)


@pytest.fixture
def world(aws: None, monkeypatch: pytest.MonkeyPatch) -> LedgerWorld:
    return ledger_world(monkeypatch, threshold="1000")


def reset(world: LedgerWorld) -> None:
    client = boto3.client("dynamodb", region_name=REGION)
    for table, key in ((TOTALS, "customer_id"), (POSTINGS, "source")):
        for item in by_key(table, key):
            client.delete_item(TableName=table, Key={key: {"S": item}})
    world.alerts()


def image(source: str, state: tuple[str, Decimal] | None) -> tuple[dict[str, Any], Any]:
    kind, name = source.split(":")
    if kind == "tx":
        keys: dict[str, Any] = {"transaction_id": name}
        new = None if state is None else tx_image(name, state[0], str(state[1]))
        return keys, new
    keys = {"order_id": name, "item": "Kopi"}
    if state is None:  # an order version without an amount counts nothing
        return keys, {**keys, "qty": 1}
    return keys, {**keys, "customer_id": state[0], "amount": state[1]}


def records_of(history: list[tuple[str, tuple[str, Decimal] | None]]) -> list[dict[str, Any]]:
    """The stream records the history produces, in commit order, with NEW and OLD images."""
    current: dict[str, dict[str, Any] | None] = {}
    records = []
    for index, (source, state) in enumerate(history):
        keys, new = image(source, state)
        old = current.get(source)
        if state is None and source.startswith("tx") and old is None:
            continue  # removing what does not exist writes no record
        records.append(
            stream_record(
                keys,
                sequence=FIRST_SEQUENCE + index,
                new=new,
                old=old,
                table=TRANSACTIONS if source.startswith("tx") else ORDERS,
            )
        )
        current[source] = new
    return records


def expected_totals(history: list[tuple[str, tuple[str, Decimal] | None]]) -> dict[str, Decimal]:
    final: dict[str, tuple[str, Decimal] | None] = {}
    for source, state in history:
        final[source] = state
    totals: dict[str, Decimal] = defaultdict(Decimal)
    for state in final.values():
        if state is not None:
            totals[state[0]] += state[1]
    return dict(totals)


def deliver(records: list[dict[str, Any]], batch_sizes: list[int]) -> None:
    position, index = 0, 0
    while position < len(records):
        size = batch_sizes[index % len(batch_sizes)]
        batch = records[position : position + size]
        response = aggregator_handler.lambda_handler({"Records": batch}, FakeContext())
        assert response["batchItemFailures"] == []
        position, index = position + size, index + 1


def assert_ledger(world: LedgerWorld, expected: dict[str, Decimal]) -> None:
    totals = world.totals()
    for customer in CUSTOMERS:
        got = Decimal(totals[customer]["total"]) if customer in totals else Decimal(0)
        assert got == expected.get(customer, Decimal(0)), customer
    # every alert id is <customer>#<n>, n = 1..crossings, each published once
    alerts = world.alerts()
    ids = [alert["alert_id"] for alert in alerts]
    assert len(ids) == len(set(ids))
    for customer, item in totals.items():
        assert sorted(i for i in ids if i.startswith(f"{customer}#")) == sorted(
            f"{customer}#{n}" for n in range(1, int(item["crossings"]) + 1)
        )
        assert "pending_alert" not in item


@PROPERTY
@given(
    history=histories,
    duplicates=st.lists(st.integers(0, 100), max_size=8),
    shuffle=st.randoms(use_true_random=False),
    batch_sizes=st.lists(st.integers(1, 5), min_size=1, max_size=3),
)
def test_totals_are_the_sum_of_current_amounts_under_any_delivery(
    world: LedgerWorld,
    history: list[tuple[str, tuple[str, Decimal] | None]],
    duplicates: list[int],
    shuffle: random.Random,
    batch_sizes: list[int],
) -> None:
    reset(world)
    records = records_of(history)
    # duplicates (a batch retried, a record redelivered) and any order of arrival
    delivery = records + [records[i % len(records)] for i in duplicates if records]
    shuffle.shuffle(delivery)

    deliver(delivery, batch_sizes)

    assert_ledger(world, expected_totals(history))


@PROPERTY
@given(
    steps=st.lists(
        st.tuples(st.sampled_from(["c1", "c2"]), st.integers(-600, 900)), min_size=1, max_size=14
    ),
    repeats=st.lists(st.booleans(), max_size=14),
)
def test_one_alert_per_upward_crossing_in_commit_order(
    world: LedgerWorld, steps: list[tuple[str, int]], repeats: list[bool]
) -> None:
    reset(world)
    records, totals, expected = [], defaultdict(int), []
    crossings: dict[str, int] = defaultdict(int)
    for index, (customer, amount) in enumerate(steps):
        record = stream_record(
            {"transaction_id": f"t{index}"},
            sequence=FIRST_SEQUENCE + index,
            new=tx_image(f"t{index}", customer, str(amount)),
        )
        records.append(record)
        if index < len(repeats) and repeats[index]:
            records.append(record)  # delivered again right away (a retried batch)
        before, totals[customer] = totals[customer], totals[customer] + amount
        if before <= 1000 < totals[customer]:
            crossings[customer] += 1
            expected.append((f"{customer}#{crossings[customer]}", Decimal(totals[customer])))

    deliver(records, [3])

    alerts = world.alerts()
    assert [(a["alert_id"], a["total"]) for a in alerts] == expected
    assert all(a["threshold"] == 1000 and a["currency"] == "IDR" for a in alerts)


# --- files all the way to totals ---------------------------------------------------------------


@dataclass
class Line:
    transaction_id: str
    customer_id: str
    amount: Decimal

    def csv(self) -> str:
        return f"{self.transaction_id},{self.customer_id},{self.amount},IDR,2025-01-31T00:00:00Z,,"


lines = st.builds(
    Line,
    transaction_id=st.sampled_from([f"T{n}" for n in range(8)]),
    customer_id=st.sampled_from(CUSTOMERS),
    amount=amounts,
)
files = st.lists(st.lists(lines, min_size=1, max_size=6), min_size=1, max_size=3)


@pytest.fixture
def both(aws: None, monkeypatch: pytest.MonkeyPatch) -> tuple[FilesWorld, LedgerWorld]:
    return files_world(monkeypatch), ledger_world(monkeypatch, threshold="1000")


def reset_files(files_world_: FilesWorld) -> int:
    """Empty the bucket and the tables; returns where the transactions stream now ends."""
    s3 = files_world_.s3
    versions = s3.list_object_versions(Bucket=BUCKET)
    for entry in versions.get("Versions", []) + versions.get("DeleteMarkers", []):
        s3.delete_object(Bucket=BUCKET, Key=entry["Key"], VersionId=entry["VersionId"])
    client = boto3.client("dynamodb", region_name=REGION)
    for table, key in ((TRANSACTIONS, "transaction_id"), (CUSTOMERS_TABLE, "customer_id")):
        for item in by_key(table, key):
            client.delete_item(TableName=table, Key={key: {"S": item}})
    return len(moto_stream_records(TRANSACTIONS))


@settings(PROPERTY, max_examples=12)  # each example uploads and processes up to 8 files
@given(
    contents=files,
    uploads=st.lists(st.tuples(st.integers(0, 5), st.sampled_from(["a", "b"])), max_size=5),
    duplicates=st.lists(st.integers(0, 200), max_size=10),
    shuffle=st.randoms(use_true_random=False),
)
def test_reuploaded_and_overlapping_files_are_counted_once(
    both: tuple[FilesWorld, LedgerWorld],
    contents: list[list[Line]],
    uploads: list[tuple[int, str]],
    duplicates: list[int],
    shuffle: random.Random,
) -> None:
    files_world_, ledger = both
    reset(ledger)
    start = reset_files(files_world_)
    # every file once, then re-uploads (same name again, or under the other name)
    plan = [(index, "a") for index in range(len(contents))] + [
        (index % len(contents), name) for index, name in uploads
    ]
    for index, name in plan:
        body = csv_text(*(line.csv() for line in contents[index]))
        event = files_world_.upload(f"incoming/{name}{index}.csv", body)
        files_handler.lambda_handler(event, FakeContext())
    records = moto_stream_records(TRANSACTIONS)[start:]
    delivery = records + [records[i % len(records)] for i in duplicates]
    shuffle.shuffle(delivery)

    deliver(delivery, [4])

    expected: dict[str, Decimal] = defaultdict(Decimal)
    for item in by_key(TRANSACTIONS, "transaction_id").values():
        expected[item["customer_id"]] += Decimal(item["amount"])
    assert_ledger(ledger, expected)
