"""The aggregator against moto: stream batches in, totals and HighBalanceAlert out."""

from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from orders_core.aggregator.records import LedgerChange, Posting, change_of
from orders_core.aggregator.service import plan
from orders_core.aggregator.settings import AggregatorSettings
from orders_core.aggregator.tables import LedgerTables, StoredPosting, Totals
from orders_core.batch import BatchProcessingError
from orders_core.settings import SettingsError, load_settings

from lambdas.aggregator import handler as aggregator_handler
from lambdas.files import handler as files_handler
from tests.unit.conftest import REGION, Captured
from tests.unit.events import FakeContext
from tests.unit.ledger_support import (
    ORDERS,
    POSTINGS,
    TOTALS,
    TRANSACTIONS,
    LedgerWorld,
    by_key,
    files_world,
    ledger_world,
    moto_stream_records,
    stream_record,
    tx_image,
)

SAMPLE = Path(__file__).parents[2] / "samples" / "transactions.csv"


@pytest.fixture
def world(aws: None, monkeypatch: pytest.MonkeyPatch) -> LedgerWorld:
    return ledger_world(monkeypatch)


def run(*records: dict[str, Any]) -> list[str]:
    """Invoke the aggregator; returns the sequence numbers reported as failed."""
    response = aggregator_handler.lambda_handler({"Records": list(records)}, FakeContext())
    return [failure["itemIdentifier"] for failure in response["batchItemFailures"]]


def aggregator_change(tid: str, customer: str, amount: str, seq: int) -> LedgerChange:
    return change_of(
        keys={"transaction_id": tid},
        new_image={"customer_id": customer, "amount": Decimal(amount)},
        old_image={},
        sequence_number=str(seq),
        ledger_currency="IDR",
    )


def tx(tid: str, customer: str, amount: str, seq: int, old: tuple[str, str] | None = None) -> Any:
    return stream_record(
        {"transaction_id": tid},
        sequence=seq,
        new=tx_image(tid, customer, amount),
        old=None if old is None else tx_image(tid, *old),
    )


def removed(tid: str, old: tuple[str, str], seq: int) -> dict[str, Any]:
    return stream_record({"transaction_id": tid}, sequence=seq, old=tx_image(tid, *old))


def order(
    order_id: str, seq: int, new: dict[str, Any] | None, old: dict[str, Any] | None = None
) -> dict[str, Any]:
    keys = {"order_id": order_id, "item": "Kopi"}
    return stream_record(
        keys,
        sequence=seq,
        new=None if new is None else {**keys, **new},
        old=None if old is None else {**keys, **old},
        table=ORDERS,
    )


# --- totals ----------------------------------------------------------------------------------


def test_transactions_add_up_exactly_per_customer(world: LedgerWorld) -> None:
    failed = run(
        tx("t1", "c1", "250000.10", 1),
        tx("t2", "c1", "-0.20", 2),
        tx("t3", "c2", "0.01", 3),
    )

    assert failed == []
    totals = world.totals()
    assert totals["c1"]["total"] == Decimal("249999.9")
    assert totals["c1"]["count"] == 2
    assert totals["c1"]["currency"] == "IDR"
    assert totals["c2"]["total"] == Decimal("0.01")
    assert by_key(POSTINGS, "source")["tx#t1"] == {
        "source": "tx#t1",
        "seq": "1",
        "customer_id": "c1",
        "amount": Decimal("250000.1"),
        "updated_at": by_key(POSTINGS, "source")["tx#t1"]["updated_at"],
    }


def test_a_new_amount_moves_the_total_by_the_difference(world: LedgerWorld) -> None:
    run(tx("t1", "c1", "100", 1))

    run(tx("t1", "c1", "130.50", 2, old=("c1", "100")))

    assert world.total("c1") == Decimal("130.50")
    assert world.totals()["c1"]["count"] == 1


def test_a_transaction_moved_to_another_customer_leaves_the_first(world: LedgerWorld) -> None:
    run(tx("t1", "c1", "100", 1))

    run(tx("t1", "c2", "100", 2, old=("c1", "100")))

    assert (world.total("c1"), world.total("c2")) == (0, 100)
    assert (world.totals()["c1"]["count"], world.totals()["c2"]["count"]) == (0, 1)


def test_a_removed_transaction_counts_nothing_but_its_tombstone_remembers(
    world: LedgerWorld,
) -> None:
    run(tx("t1", "c1", "100", 1))

    run(removed("t1", ("c1", "100"), 2), tx("t1", "c1", "100", 1))  # then a stale redelivery

    assert world.total("c1") == 0
    assert by_key(POSTINGS, "source")["tx#t1"]["seq"] == "2"
    assert "amount" not in by_key(POSTINGS, "source")["tx#t1"]


def test_an_identical_new_version_moves_only_the_sequence(world: LedgerWorld) -> None:
    run(tx("t1", "c1", "100", 1))
    rev = world.totals()["c1"]["rev"]

    run(tx("t1", "c1", "100", 2, old=("c1", "100")))  # e.g. the same line in another file

    assert world.totals()["c1"]["rev"] == rev
    assert by_key(POSTINGS, "source")["tx#t1"]["seq"] == "2"


def test_orders_count_by_their_current_version_and_stop_when_the_amount_goes(
    world: LedgerWorld,
) -> None:
    run(order("o1", 10, {"customer_id": "c1", "amount": Decimal(50)}))
    run(
        order(
            "o1",
            11,
            {"customer_id": "c1", "amount": Decimal(80)},
            {"customer_id": "c1", "amount": Decimal(50)},
        )
    )
    assert world.total("c1") == 80  # the difference, never the sum

    run(order("o1", 12, {"qty": 2}, {"customer_id": "c1", "amount": Decimal(80)}))

    assert world.total("c1") == 0
    assert "order#o1#Kopi" in by_key(POSTINGS, "source")


def test_an_invalid_amount_counts_nothing_and_is_logged_and_counted(
    world: LedgerWorld, captured: Captured
) -> None:
    run(tx("t1", "c1", "100", 1))

    bad = tx("t1", "c1", "1", 2, old=("c1", "100"))
    bad["dynamodb"]["NewImage"]["amount"] = {"N": "1.001"}
    assert run(bad) == []

    assert world.total("c1") == 0
    assert captured.metric_total("LedgerRecordsInvalid") == 1
    assert any(
        line["message"].startswith("ledger source counts nothing") for line in captured.logs()
    )


# --- exactly once ----------------------------------------------------------------------------


def test_a_batch_delivered_twice_moves_no_total_twice(
    world: LedgerWorld, captured: Captured
) -> None:
    batch = [
        tx("t1", "c1", "10", 1),
        tx("t2", "c1", "20", 2),
        tx("t1", "c1", "15", 3, ("c1", "10")),
    ]
    run(*batch)
    before = world.totals()

    run(*batch)

    assert world.totals() == before
    assert world.total("c1") == 35
    assert captured.metric_total("LedgerRecordsSkipped") == 3


def test_an_older_record_after_a_newer_one_is_skipped(world: LedgerWorld) -> None:
    run(tx("t1", "c1", "15", 5))

    run(tx("t1", "c1", "10", 4))

    assert world.total("c1") == 15


def test_a_concurrent_change_to_the_same_total_is_re_read_not_lost(
    world: LedgerWorld, monkeypatch: pytest.MonkeyPatch, captured: Captured
) -> None:
    run(tx("t1", "c1", "10", 1))
    service = aggregator_handler.get_service()
    real_commit = LedgerTables.commit
    calls = {"n": 0}

    def commit_after_another_shard(self: LedgerTables, **kwargs: Any) -> None:
        calls["n"] += 1
        if calls["n"] == 1:  # another shard commits t9 between this read and this write
            service.apply(aggregator_change("t9", "c1", "5", 1), remaining_ms=lambda: 30_000)
        real_commit(self, **kwargs)

    monkeypatch.setattr(LedgerTables, "commit", commit_after_another_shard)
    run(tx("t2", "c1", "20", 2))

    assert world.total("c1") == 35
    assert captured.metric_total("LedgerConflictRetries") == 1


def test_a_failing_record_is_reported_by_its_sequence_number(
    world: LedgerWorld, monkeypatch: pytest.MonkeyPatch, captured: Captured
) -> None:
    real_client = boto3.client("dynamodb", region_name=REGION)

    class Client:
        def __getattr__(self, name: str) -> Any:
            return getattr(real_client, name)

        def transact_write_items(self, **kwargs: Any) -> Any:
            item = kwargs["TransactItems"][0]["Put"]["Item"]
            if item["source"]["S"] == "tx#poison":
                raise ClientError({"Error": {"Code": "ValidationException"}}, "TransactWriteItems")
            return real_client.transact_write_items(**kwargs)

    service = aggregator_handler.get_service()
    monkeypatch.setattr(
        service, "_tables", LedgerTables(Client(), postings_table=POSTINGS, totals_table=TOTALS)
    )

    failed = run(tx("t1", "c1", "1", 7), tx("poison", "c1", "2", 8), tx("t3", "c1", "3", 9))

    assert failed == ["8"]
    assert world.total("c1") == 4
    assert captured.metric_total("LedgerRecordsFailed") == 1


def test_a_batch_whose_every_record_fails_raises_and_counts_each(
    world: LedgerWorld, monkeypatch: pytest.MonkeyPatch, captured: Captured
) -> None:
    class Client:
        def __getattr__(self, name: str) -> Any:
            return getattr(boto3.client("dynamodb", region_name=REGION), name)

        def transact_write_items(self, **kwargs: Any) -> Any:
            raise ClientError({"Error": {"Code": "ValidationException"}}, "TransactWriteItems")

    service = aggregator_handler.get_service()
    monkeypatch.setattr(
        service, "_tables", LedgerTables(Client(), postings_table=POSTINGS, totals_table=TOTALS)
    )

    with pytest.raises(BatchProcessingError, match=r"All records failed processing\. 2 individual"):
        run(tx("p1", "c1", "1", 7), tx("p2", "c1", "2", 8))

    assert world.total("c1") == 0
    assert captured.metric_total("LedgerRecordsFailed") == 2
    failures = [line for line in captured.logs() if line["message"].startswith("ledger record")]
    assert [line["sequence"] for line in failures] == ["7", "8"]


def test_throttled_transactions_back_off_and_succeed(
    world: LedgerWorld, monkeypatch: pytest.MonkeyPatch, captured: Captured
) -> None:
    real_client = boto3.client("dynamodb", region_name=REGION)
    failures = ["ThrottlingError", "ThrottlingError"]

    class Client:
        def __getattr__(self, name: str) -> Any:
            return getattr(real_client, name)

        def transact_write_items(self, **kwargs: Any) -> Any:
            if failures:
                code = failures.pop()
                raise ClientError(
                    {
                        "Error": {"Code": "TransactionCanceledException", "Message": "throttled"},
                        "CancellationReasons": [{"Code": code}, {"Code": "None"}],
                    },
                    "TransactWriteItems",
                )
            return real_client.transact_write_items(**kwargs)

    service = aggregator_handler.get_service()
    monkeypatch.setattr(
        service, "_tables", LedgerTables(Client(), postings_table=POSTINGS, totals_table=TOTALS)
    )
    monkeypatch.setattr(service, "_sleep", lambda _: None)

    assert run(tx("t1", "c1", "1", 1)) == []
    assert world.total("c1") == 1
    assert captured.metric_total("LedgerThrottleRetries") == 2


# --- alerts ----------------------------------------------------------------------------------


def test_one_alert_per_upward_crossing_not_per_transaction(world: LedgerWorld) -> None:
    run(tx("t1", "c1", "999999.99", 1))
    assert world.alerts() == []

    run(tx("t2", "c1", "0.01", 2))  # exactly the threshold: not above it
    assert world.alerts() == []

    run(tx("t3", "c1", "0.01", 3), tx("t4", "c1", "500", 4))
    alerts = world.alerts()
    assert alerts == [
        {
            "alert_id": "c1#1",
            "customer_id": "c1",
            "total": Decimal("1000000.01"),
            "threshold": Decimal("1000000.00"),
            "currency": "IDR",
            "source": "tx#t3",
        }
    ]

    run(tx("t5", "c1", "-600", 5))  # falls to 999900.01
    run(tx("t6", "c1", "100", 6))  # 1000000.01 again: a second crossing
    assert [alert["alert_id"] for alert in world.alerts()] == ["c1#2"]
    totals = world.totals()["c1"]
    assert (totals["crossings"], totals["above"]) == (2, True)
    assert "pending_alert" not in totals


def test_removing_a_refund_can_cross_too(world: LedgerWorld) -> None:
    run(tx("t1", "c1", "1000100", 1), tx("r1", "c1", "-200", 2))  # above, then below
    assert [alert["alert_id"] for alert in world.alerts()] == ["c1#1"]

    run(removed("r1", ("c1", "-200"), 3))  # the refund is withdrawn: above again

    assert [(a["alert_id"], a["source"], a["total"]) for a in world.alerts()] == [
        ("c1#2", "tx#r1", Decimal("1000100.00"))
    ]


def test_an_alert_that_failed_to_publish_is_published_by_the_retry(
    world: LedgerWorld, monkeypatch: pytest.MonkeyPatch, captured: Captured
) -> None:
    service = aggregator_handler.get_service()
    real_publish = service._publisher.publish
    outage = {"on": True}

    def publish(alert: Any) -> None:
        if outage["on"]:
            raise ClientError({"Error": {"Code": "InternalError"}}, "Publish")
        real_publish(alert)

    monkeypatch.setattr(service._publisher, "publish", publish)
    record = tx("t1", "c1", "2000000", 1)

    assert run(record, tx("t2", "c2", "1", 2)) == ["1"]  # committed, the alert still pending
    assert world.total("c1") == 2_000_000
    assert world.totals()["c1"]["pending_alert"]["alert_id"] == "c1#1"
    assert world.alerts() == []

    outage["on"] = False
    assert run(record) == []  # the stream retries the record: a skip that publishes first

    assert [alert["alert_id"] for alert in world.alerts()] == ["c1#1"]
    assert "pending_alert" not in world.totals()["c1"]
    assert world.total("c1") == 2_000_000
    assert run(record) == []
    assert world.alerts() == []  # once


def test_an_alert_is_published_once_when_another_change_reads_it_before_its_publication(
    world: LedgerWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Two invocations on one customer (the orders and transactions streams, or two batches
    # of one shard): the second reads the pending alert between the first's commit and
    # its publication. The first publishes it; the second must not publish it too.
    service = aggregator_handler.get_service()
    real_publish = service._publisher.publish
    calls = {"n": 0}

    def publish(alert: Any) -> None:
        calls["n"] += 1
        if calls["n"] == 1:  # another change to c1 lands between this commit and publish
            service.apply(aggregator_change("t9", "c1", "5", 1), remaining_ms=lambda: 30_000)
        real_publish(alert)

    monkeypatch.setattr(service._publisher, "publish", publish)
    assert run(tx("t1", "c1", "2000000", 1)) == []

    assert [alert["alert_id"] for alert in world.alerts()] == ["c1#1"]
    assert world.total("c1") == Decimal("2000005")
    assert "pending_alert" not in world.totals()["c1"]


def test_a_pending_alert_whose_record_never_returns_is_published_by_a_later_change(
    world: LedgerWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    service = aggregator_handler.get_service()
    real_publish = service._publisher.publish
    outage = {"on": True}

    def publish(alert: Any) -> None:
        if outage["on"]:
            raise ClientError({"Error": {"Code": "InternalError"}}, "Publish")
        real_publish(alert)

    monkeypatch.setattr(service._publisher, "publish", publish)
    # committed, then its record is given up (its retries spent elsewhere)
    assert run(tx("t1", "c1", "2000000", 1), tx("t0", "c2", "1", 2)) == ["1"]
    outage["on"] = False
    committed = world.totals()["c1"]["pending_alert"]["committed_at"]

    # within Lambda's longest timeout its committer may still publish it: left alone
    assert run(tx("t2", "c1", "1", 3)) == []
    assert world.alerts() == []
    # past it, nobody else will: the next change publishes it first
    later = datetime.fromisoformat(committed.replace("Z", "+00:00")) + timedelta(seconds=901)
    monkeypatch.setattr(service, "_clock", lambda: later.isoformat().replace("+00:00", "Z"))
    assert run(tx("t3", "c1", "1", 4)) == []
    assert [alert["alert_id"] for alert in world.alerts()] == ["c1#1"]
    assert "pending_alert" not in world.totals()["c1"]


def test_a_new_crossing_while_an_alert_still_waits_publishes_both_in_order(
    world: LedgerWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    service = aggregator_handler.get_service()
    real_publish = service._publisher.publish
    outage = {"on": True}

    def publish(alert: Any) -> None:
        if outage["on"]:
            raise ClientError({"Error": {"Code": "InternalError"}}, "Publish")
        real_publish(alert)

    monkeypatch.setattr(service._publisher, "publish", publish)
    assert run(tx("t1", "c1", "2000000", 1), tx("t0", "c2", "1", 2)) == ["1"]
    outage["on"] = False
    assert run(tx("r1", "c1", "-1500000", 3)) == []  # below again, c1#1 still waits
    assert world.alerts() == []

    assert run(tx("t4", "c1", "1000000", 4)) == []  # crosses again: c1#2 takes the outbox

    assert [alert["alert_id"] for alert in world.alerts()] == ["c1#1", "c1#2"]
    assert "pending_alert" not in world.totals()["c1"]


# --- the pure plan ---------------------------------------------------------------------------


def test_plan_is_pure_and_moves_both_customers_of_a_reassignment() -> None:
    stored = StoredPosting("tx#t1", 1, Posting("c1", Decimal("40.00")))
    totals = {"c1": Totals("c1", total=Decimal("100.00"), count=2, above=True, rev=3)}
    change = aggregator_change("t1", "c2", "40", 2)

    planned = plan(change, stored, totals, threshold=Decimal(50), currency="IDR")

    after = {c.after.customer_id: c.after for c in planned.changes}
    assert (after["c1"].total, after["c1"].count, after["c1"].rev) == (Decimal("60.00"), 1, 4)
    assert (after["c2"].total, after["c2"].count, after["c2"].rev) == (Decimal("40.00"), 1, 1)
    assert after["c1"].pending_alert is None
    assert planned.posting == StoredPosting("tx#t1", 2, Posting("c2", Decimal("40.00")))


# --- settings and the sample file ------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("HIGH_BALANCE_THRESHOLD", "1e6", "HIGH_BALANCE_THRESHOLD"),
        ("HIGH_BALANCE_THRESHOLD", "1000000.005", "HIGH_BALANCE_THRESHOLD"),
        ("LEDGER_CURRENCY", "idr", "LEDGER_CURRENCY"),
        ("HIGH_BALANCE_TOPIC_ARN", "", "HIGH_BALANCE_TOPIC_ARN"),
    ],
)
def test_settings_fail_loudly_naming_the_variable(
    world: LedgerWorld, monkeypatch: pytest.MonkeyPatch, name: str, value: str, message: str
) -> None:
    monkeypatch.setenv(name, value)

    with pytest.raises(SettingsError, match=message):
        run(tx("t1", "c1", "1", 1))
    assert world.totals() == {}


def test_the_threshold_setting_is_exact() -> None:
    settings = load_settings(
        AggregatorSettings,
        {
            "POWERTOOLS_SERVICE_NAME": "orders-aggregator",
            "POWERTOOLS_METRICS_NAMESPACE": "Orders",
            "TOTALS_TABLE_NAME": "t",
            "POSTINGS_TABLE_NAME": "p",
            "LEDGER_CURRENCY": "IDR",
            "HIGH_BALANCE_THRESHOLD": "1000000.10",
            "HIGH_BALANCE_TOPIC_ARN": "arn:aws:sns:us-east-1:123456789012:HighBalanceAlert",
        },
    )

    assert settings.high_balance_threshold == Decimal("1000000.10")


def test_the_sample_file_moves_totals_and_crosses_the_threshold_once(
    world: LedgerWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    files = files_world(monkeypatch)
    monkeypatch.setenv("HIGH_BALANCE_THRESHOLD", "1000000")
    event = files.upload("incoming/transactions.csv", SAMPLE.read_bytes())
    files_handler.lambda_handler(event, FakeContext())

    records = moto_stream_records(TRANSACTIONS)
    assert run(*records) == []
    assert run(*records) == []  # the whole stream again: nothing moves twice

    assert {cid: item["total"] for cid, item in world.totals().items()} == {
        "C-001": Decimal("1100000.5"),  # 250000 + 600000.50 - 50000 (refund) + 300000
        "C-002": Decimal("75000"),
        "C-003": Decimal("42000"),
    }
    # Writer threads commit the lines in any order, so which of C-001's positive lines
    # crosses (and the total at that moment) varies; that it crosses once does not.
    [alert] = world.alerts()
    assert alert["alert_id"] == "C-001#1"
    assert alert["source"] in {"tx#T-1001", "tx#T-1003", "tx#T-1008"}
    assert alert["total"] > Decimal(1_000_000)
