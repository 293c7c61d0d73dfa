"""Customers upsert rules: first/last seen, latest name and e-mail win, nothing twice."""

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from orders_core.dynamo import Backoff, RetriesExhausted
from orders_core.files.model import Transaction
from orders_core.files.tables import CustomerProfile, CustomersTable, profile_from_item

from tests.unit.conftest import REGION
from tests.unit.ledger_support import CUSTOMERS, by_key, create_table

BACKOFF = Backoff(remaining_ms=lambda: 60_000, sleep=lambda _: None)


def tx(tid: str, when: str, name: str | None = None, email: str | None = None) -> Transaction:
    return Transaction.parse(
        {
            "transaction_id": tid,
            "customer_id": "c1",
            "amount": 1,
            "currency": "IDR",
            "occurred_at": f"2025-01-{when}T00:00:00Z",
            "customer_name": name,
            "customer_email": email,
        },
        "IDR",
    )


class CountingClient:
    """The moto client, counting the writes that succeed; ``interleave`` runs once before
    the next update (another writer getting there first)."""

    def __init__(self) -> None:
        self._real = boto3.client("dynamodb", region_name=REGION)
        self.writes = 0
        self.attempts = 0
        self.interleave: Any = None

    def batch_write_item(self, **kwargs: Any) -> dict[str, Any]:
        return dict(self._real.batch_write_item(**kwargs))

    def update_item(self, **kwargs: Any) -> dict[str, Any]:
        self.attempts += 1
        if self.interleave is not None:
            interleave, self.interleave = self.interleave, None
            interleave()
        response = dict(self._real.update_item(**kwargs))
        self.writes += 1
        return response


@pytest.fixture
def customers(aws: None) -> tuple[CustomersTable, CountingClient]:
    create_table(CUSTOMERS, "customer_id")
    client = CountingClient()
    return CustomersTable(client, CUSTOMERS), client


def stored() -> dict[str, Any]:
    return by_key(CUSTOMERS, "customer_id")["c1"]


def test_a_new_customer_is_written_once_with_everything_known(
    customers: tuple[CustomersTable, CountingClient],
) -> None:
    table, client = customers
    profile = CustomerProfile.of(tx("t1", "05", "Budi", "b@example.com"))

    assert table.upsert(profile, BACKOFF) is True
    assert client.attempts == 1
    assert stored() == {
        "customer_id": "c1",
        "first_seen": "2025-01-05T00:00:00.000000Z",
        "last_seen": "2025-01-05T00:00:00.000000Z",
        "name": "Budi",
        "name_version": "2025-01-05T00:00:00.000000Z#t1",
        "email": "b@example.com",
        "email_version": "2025-01-05T00:00:00.000000Z#t1",
    }


def test_later_lines_move_last_seen_and_the_name_earlier_ones_only_first_seen(
    customers: tuple[CustomersTable, CountingClient],
) -> None:
    table, _ = customers
    table.upsert(CustomerProfile.of(tx("t1", "05", "Budi", "b@example.com")), BACKOFF)

    table.upsert(CustomerProfile.of(tx("t2", "09", "Budi S.")), BACKOFF)  # later, no e-mail
    table.upsert(CustomerProfile.of(tx("t0", "01", "B.", "old@example.com")), BACKOFF)  # earlier

    item = stored()
    assert (item["first_seen"], item["last_seen"]) == (
        "2025-01-01T00:00:00.000000Z",
        "2025-01-09T00:00:00.000000Z",
    )
    assert item["name"] == "Budi S."  # the latest line with a name
    assert item["email"] == "b@example.com"  # the latest line with an e-mail


def test_reprocessing_changes_nothing_and_writes_nothing(
    customers: tuple[CustomersTable, CountingClient],
) -> None:
    table, client = customers
    profile = CustomerProfile.of(tx("t1", "05", "Budi")).merge(CustomerProfile.of(tx("t2", "07")))
    table.upsert(profile, BACKOFF)
    before, writes = stored(), client.writes

    assert table.upsert(profile, BACKOFF) is False
    assert table.upsert(CustomerProfile.of(tx("t2", "07")), BACKOFF) is False

    assert stored() == before
    assert client.writes == writes  # the one failed conditional write changed nothing


def test_a_concurrent_writer_is_merged_not_overwritten(
    customers: tuple[CustomersTable, CountingClient],
) -> None:
    table, client = customers
    table.upsert(CustomerProfile.of(tx("t1", "05", "Budi")), BACKOFF)
    # Another file's upsert lands between this one's read and write.
    client.interleave = lambda: table.upsert(CustomerProfile.of(tx("t9", "20", "Late")), BACKOFF)

    table.upsert(CustomerProfile.of(tx("t0", "01", "Early")), BACKOFF)

    item = stored()
    assert (item["first_seen"][:10], item["last_seen"][:10], item["name"]) == (
        "2025-01-01",
        "2025-01-20",
        "Late",
    )


def test_endless_conflicts_give_up_for_a_retry_of_the_file(
    customers: tuple[CustomersTable, CountingClient],
) -> None:
    table, client = customers
    table.upsert(CustomerProfile.of(tx("t1", "05")), BACKOFF)
    real = client.update_item
    counter = iter(range(6, 99))

    def always_someone_first(**kwargs: Any) -> dict[str, Any]:
        table_client = boto3.client("dynamodb", region_name=REGION)
        table_client.update_item(
            TableName=CUSTOMERS,
            Key={"customer_id": {"S": "c1"}},
            UpdateExpression="SET last_seen = :v",
            ExpressionAttributeValues={":v": {"S": f"2025-02-{next(counter):02d}"}},
        )
        return real(**kwargs)

    client.update_item = always_someone_first  # type: ignore[method-assign]

    with pytest.raises(RetriesExhausted, match="ConditionalCheckFailed"):
        table.upsert(CustomerProfile.of(tx("t0", "01")), BACKOFF)


# --- properties ----------------------------------------------------------------------------

lines = st.lists(
    st.tuples(
        st.sampled_from(["t1", "t2", "t3", "t4"]),
        st.sampled_from(["01", "02", "03"]),
        st.sampled_from([None, "Ana", "Budi"]),
        st.sampled_from([None, "a@example.com", "b@example.com"]),
    ),
    min_size=1,
    max_size=8,
)


@settings(
    max_examples=40,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(files=st.lists(lines, min_size=1, max_size=4), order=st.randoms(use_true_random=False))
def test_the_customer_is_the_same_whatever_order_files_come_in_and_repeat(
    customers: tuple[CustomersTable, CountingClient],
    files: list[list[tuple[str, str, str | None, str | None]]],
    order: Any,
) -> None:
    table, client = customers
    boto3.client("dynamodb", region_name=REGION).delete_item(
        TableName=CUSTOMERS, Key={"customer_id": {"S": "c1"}}
    )

    def profiles(rows: list[tuple[str, str, str | None, str | None]]) -> Iterator[CustomerProfile]:
        for tid, day, name, email in rows:
            yield CustomerProfile.of(tx(tid, day, name, email))

    expected: CustomerProfile | None = None
    for rows in files:
        for profile in profiles(rows):
            expected = profile if expected is None else expected.merge(profile)
    deliveries = [*files, *files[: len(files) // 2 + 1]]  # some files uploaded twice
    order.shuffle(deliveries)

    for rows in deliveries:
        merged: CustomerProfile | None = None
        for profile in profiles(rows):  # one chunk per file, as the processor folds them
            merged = profile if merged is None else merged.merge(profile)
        assert merged is not None
        table.upsert(merged, BACKOFF)
    writes = client.writes
    for rows in files:  # everything again, line by line: nothing may change
        for profile in profiles(rows):
            assert table.upsert(profile, BACKOFF) is False
    item = stored()

    assert client.writes == writes
    assert profile_from_item("c1", {k: {"S": v} for k, v in item.items()}) == expected
