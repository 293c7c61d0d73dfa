"""The ledger end to end on the local cloud: files and orders in, totals and alerts out.

Files go into the bucket under incoming/ (S3 -> EventBridge -> the files function),
orders through the front door (ingest -> SQS -> process -> the orders table); the
aggregator reads both tables' streams; alerts are read from CreditCollection and
CustomerNotify as a consumer would. Expected figures are worked out here, independently
of the runtime (tests/e2e/ledger.py). One cloud per module; every test owns its customers.

The last tests repeat the guarantees with 30% of DynamoDB writes throttled (set live
through the emulation's fault control) and print their counts. A 50,000-line file goes
through in test_ledger_large_file.py, on a cloud of its own.
"""

from __future__ import annotations

import csv
import io
import json
import random
import time
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from local_cloud.cloud import LocalCloud
from local_cloud.operations.queues import peek_messages
from tests.e2e.conftest import ROOT, boot, post
from tests.e2e.ledger import (
    ALERT_EMAIL,
    ALERT_QUEUES,
    CURRENCY,
    THRESHOLD,
    Expected,
    Ledger,
    MetricsCursor,
    csv_file,
    jsonl_file,
    line,
    tag,
)
from tests.polling import wait_for

pytestmark = pytest.mark.e2e

API = "/lambda/api"
SAMPLE = ROOT / "samples" / "transactions.csv"
FAULT_RATE = 0.3
# As tests/e2e/test_guarantees.py: a record process fails comes back after the queue's
# visibility timeout (181 s as deployed); shortened through the emulation's API, as an
# operator could, and still far above a batch's duration.
VISIBILITY_TIMEOUT_S = 20


@pytest.fixture(scope="module")
def cloud(ledger_assembly: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCloud]:
    # Lambda's waits between asynchronous retries (1 and 2 minutes) made short.
    logs = tmp_path_factory.mktemp("ledger-logs")
    with boot(ledger_assembly, logs, async_retry_scale=0.01) as running:
        yield running


@pytest.fixture(scope="module")
def ledger(cloud: LocalCloud) -> Ledger:
    return Ledger(cloud)


def order_with(customer_id: str, amount: str, **fields: Any) -> dict[str, Any]:
    return {
        "order_id": "o-" + tag(),
        "item": "Kopi Susu",
        "qty": 1,
        "customer_id": customer_id,
        "amount": amount,
        **fields,
    }


def accepted(cloud: LocalCloud, body: Any) -> None:
    status, _, answer = post(cloud, API, body)
    assert status == 202, answer


def sample_rows() -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(SAMPLE.read_text())))


# -- the sample file ----------------------------------------------------------------------
def test_the_sample_file_becomes_exact_totals_one_alert_per_queue_and_a_report(ledger, cloud):
    expected = Expected()
    refused = expected.add_lines(sample_rows())
    # the sample's figures, worked out by hand: the independent reading above agrees
    assert expected.totals() == {
        "C-001": Decimal("1100000.50"),  # 250000.00 + 600000.50 - 50000.00 + 300000.00
        "C-002": Decimal("75000"),  # T-1005 has three decimal places
        "C-003": Decimal("42000"),  # T-1006 is in USD, T-1007 has no UTC offset
    }
    assert refused == [(6, "amount"), (7, "currency"), (8, "occurred_at")]

    ledger.upload_and_wait("transactions.csv", SAMPLE.read_bytes())
    ledger.wait_for_totals(expected.totals())
    ledger.settle()

    totals = ledger.totals()
    for customer, total in expected.totals().items():
        assert totals[customer]["total"] == total  # Decimal: exact, to the cent
        assert totals[customer]["currency"] == CURRENCY
        assert totals[customer]["count"] == expected.counts()[customer]
    transactions = {i["transaction_id"]: i for i in ledger.items("TransactionsTableName")}
    assert {f"T-100{n}" for n in (1, 2, 3, 4, 8, 9)} <= transactions.keys()
    assert not {"T-1005", "T-1006", "T-1007"} & transactions.keys()
    customers = {c["customer_id"]: c for c in ledger.items("CustomersTableName")}
    assert customers["C-001"]["name"] == "Budi S."  # the latest line with a name wins
    assert customers["C-001"]["first_seen"] == "2025-01-31T02:15:00.000000Z"

    # one alert in each queue: C-001 crossed once, whichever of its lines crossed it
    alerts = ledger.alerts("C-001")
    assert [len(alerts[queue]) for queue in ALERT_QUEUES] == [1, 1]
    (alert,) = alerts["CreditCollectionQueueUrl"]
    assert alerts["CustomerNotifyQueueUrl"] == [alert]
    assert alert["alert_id"] == "C-001#1"
    assert (alert["threshold"], alert["currency"]) == (THRESHOLD, CURRENCY)
    assert alert["source"] in {"tx#T-1001", "tx#T-1003", "tx#T-1008"}
    assert alert["total"] > THRESHOLD
    assert ledger.alerts("C-002") == ledger.alerts("C-003") == {q: [] for q in ALERT_QUEUES}

    # and an e-mail to alert_email
    email_log = cloud.log_dir / "email.log"

    def sent() -> list[dict[str, Any]]:
        logged = email_log.read_text().splitlines() if email_log.exists() else []
        return [m for m in map(json.loads, logged) if "C-001#1" in m["message"]]

    mails = wait_for(sent)
    assert [(m["endpoint"], m["subject"]) for m in mails] == [(ALERT_EMAIL, "HighBalanceAlert")]
    assert json.loads(mails[0]["message"], parse_float=Decimal) == alert

    # the refused lines, reported with their numbers and reasons; the file moved on
    report = ledger.report("transactions.csv")
    assert [entry["line"] for entry in report] == [6, 7, 8]
    for entry, (_, word) in zip(report, refused, strict=True):
        assert word in entry["reason"]
    listing = ledger.s3.list_objects_v2(Bucket=ledger.bucket, Prefix="incoming/")
    assert listing.get("KeyCount", 0) == 0


def test_a_reupload_changes_no_item_and_sends_no_second_alert(ledger):
    expected = Expected()
    expected.add_lines(sample_rows())
    ledger.upload_and_wait("transactions.csv", SAMPLE.read_bytes())  # idempotent if done
    ledger.wait_for_totals(expected.totals())
    ledger.settle()
    tables = ("TransactionsTableName", "CustomersTableName", "TotalsTableName", "PostingsTableName")
    samples = {"C-001", "C-002", "C-003"}

    def snapshot() -> dict[str, list[dict[str, Any]]]:
        return {
            table: sorted(
                (
                    i
                    for i in ledger.items(table)
                    if not str(i.get("customer_id")).startswith("settle-")
                ),
                key=lambda i: json.dumps(i, sort_keys=True, default=str),
            )
            for table in tables
        }

    before = snapshot()
    alerts_before = {c: ledger.alerts(c) for c in samples}

    ledger.upload_and_wait("transactions.csv", SAMPLE.read_bytes())
    ledger.settle()

    assert snapshot() == before  # not one attribute of one item, updated_at included
    assert {c: ledger.alerts(c) for c in samples} == alerts_before
    assert [len(alerts_before["C-001"][q]) for q in ALERT_QUEUES] == [1, 1]


# -- overlaps, refunds, crossings -----------------------------------------------------------
def test_an_overlapping_file_counts_each_transaction_once(ledger):
    t = tag()
    customer = f"{t}-overlap"
    first = [line(f"{t}-{n}", customer, f"{n}000.1{n}") for n in range(1, 5)]
    second = first[2:] + [line(f"{t}-{n}", customer, f"{n}000.1{n}") for n in range(5, 7)]
    expected = Expected()
    expected.add_lines(first)
    expected.add_lines(second)

    ledger.upload_and_wait(f"{t}-first.csv", csv_file(first))
    ledger.upload_and_wait(f"{t}-second.jsonl", jsonl_file(second))  # the other format
    ledger.wait_for_totals(expected.totals())
    ledger.settle()

    (total,) = ledger.totals_of([customer]).values()
    assert total == sum(Decimal(row["amount"]) for row in first + second[2:])
    assert total == Decimal("21000.81")  # 1000.11 + 2000.12 + ... + 6000.16
    assert ledger.totals()[customer]["count"] == 6
    postings = [p for p in ledger.items("PostingsTableName") if p["source"].startswith(f"tx#{t}")]
    assert len(postings) == 6


def test_a_refund_lowers_a_total_and_only_a_new_crossing_alerts_again(ledger):
    t = tag()
    customer = f"{t}-refund"
    expected = Expected()
    steps = [
        # (lines, alerts expected in each queue afterwards)
        ([("a", "600000.00"), ("b", "500000.00")], 1),  # 1,100,000: crosses
        ([("c", "200000.00")], 1),  # 1,300,000: still above, no alert
        ([("d", "-400000.00")], 1),  # 900,000: below again (a refund)
        ([("e", "100000.00")], 1),  # 1,000,000: at the threshold is not above it
        ([("f", "0.01")], 2),  # 1,000,000.01: crosses again
    ]
    for number, (rows, alerts) in enumerate(steps):
        file_rows = [line(f"{t}-{name}", customer, amount) for name, amount in rows]
        expected.add_lines(file_rows)
        ledger.upload_and_wait(f"{t}-step{number}.csv", csv_file(file_rows))
        ledger.wait_for_totals(expected.totals())
        ledger.settle()
        found = ledger.alerts(customer)
        assert [len(found[queue]) for queue in ALERT_QUEUES] == [alerts, alerts], number

    found = ledger.alerts(customer)
    assert found["CreditCollectionQueueUrl"] == found["CustomerNotifyQueueUrl"]
    first, second = found["CreditCollectionQueueUrl"]
    assert first["alert_id"] == f"{customer}#1"
    assert first["total"] == Decimal("1100000.00")
    assert second == {
        "alert_id": f"{customer}#2",
        "customer_id": customer,
        "total": Decimal("1000000.01"),
        "threshold": THRESHOLD,
        "currency": CURRENCY,
        "source": f"tx#{t}-f",
    }
    assert ledger.totals()[customer]["crossings"] == 2


# -- what is refused ----------------------------------------------------------------------
def test_bad_lines_are_reported_with_their_numbers_and_reasons_and_the_rest_counts(ledger):
    t = tag()
    customer = f"{t}-bad"
    text = "\n".join(
        [
            ",".join(("transaction_id", "customer_id", "amount", "currency", "occurred_at")),
            f"{t}-1,{customer},100.00,IDR,2025-02-01T10:00:00Z",  # 2: fine
            f"{t}-2,{customer},12.345,IDR,2025-02-01T10:00:00Z",  # 3: three places
            f"{t}-3,{customer},abc,IDR,2025-02-01T10:00:00Z",  # 4: not a number
            f"{t}-4,{customer},5,USD,2025-02-01T10:00:00Z",  # 5: another currency
            f"{t}-5,{customer},5,IDR,2025-02-01 10:00:00",  # 6: no UTC offset
            f"{t}-6,{customer},5",  # 7: too few fields
            f"{t}-7,,5,IDR,2025-02-01T10:00:00Z",  # 8: no customer
            "",  # 9: blank lines are skipped
            f"{t}-8,{customer},-20.50,IDR,2025-02-01T11:00:00+07:00",  # 10: fine (a refund)
        ]
    )
    ledger.upload_and_wait(f"{t}-bad.csv", text.encode())
    ledger.wait_for_totals({customer: Decimal("79.50")})

    report = ledger.report(f"{t}-bad.csv")
    assert [entry["line"] for entry in report] == [3, 4, 5, 6, 7, 8]
    for entry, word in zip(
        report, ("decimal", "amount", "currency", "offset", "fields", "customer_id"), strict=True
    ):
        assert word in entry["reason"], entry

    # a corrected upload of the same name leaves no stale report behind
    fixed = "\n".join(text.splitlines()[:2] + text.splitlines()[-1:])
    ledger.upload_and_wait(f"{t}-bad.csv", fixed.encode())
    assert ledger.report(f"{t}-bad.csv") is None
    ledger.settle()
    assert ledger.totals_of([customer]) == {customer: Decimal("79.50")}


LATIN_1 = "transaction_id,customer_id,amount,currency,occurred_at,customer_name\n" + (
    "u-1,u,5,IDR,2025-02-01T10:00:00Z,Jos\xe9\n"
)


@pytest.mark.parametrize(
    ("body", "line_number", "word"),
    [
        (bytes(range(256)) * 4, 0, "binary"),
        (LATIN_1.encode("latin-1"), 0, "not UTF-8"),  # another encoding
        (b"amount;currency\n5;IDR\n", 1, "header row"),  # no valid header: its line
    ],
    ids=["binary", "latin-1", "no-header"],
)
def test_an_unreadable_file_is_reported_with_one_entry_and_writes_nothing(
    ledger, body, line_number, word
):
    name = f"{tag()}-unreadable.csv"
    ledger.upload_and_wait(name, body)

    (entry,) = ledger.report(name)
    assert entry["line"] == line_number
    assert word in entry["reason"], entry
    written = ledger.items("TransactionsTableName")
    assert not [i for i in written if i.get("source_file") == "incoming/" + name]
    assert "u-1" not in {i["transaction_id"] for i in written}


# -- orders through the front door ---------------------------------------------------------
def test_orders_with_an_amount_count_toward_the_same_customers_total(ledger, cloud):
    t = tag()
    customer = f"{t}-both"
    rows = [line(f"{t}-1", customer, "100000.25")]
    ledger.upload_and_wait(f"{t}-file.csv", csv_file(rows))
    placed = order_with(customer, "250000.50")
    accepted(cloud, placed)
    accepted(cloud, {"order_id": "o-" + tag(), "item": "Teh", "qty": 1})  # counts nothing

    ledger.wait_for_totals({customer: Decimal("350000.75")})
    ledger.settle()
    assert ledger.totals()[customer]["count"] == 2
    # one without the other never reaches the queue
    status, _, body = post(cloud, API, {"order_id": "o-" + tag(), "item": "x", "amount": "5"})
    assert status == 422, body


def test_an_order_resent_with_a_new_amount_moves_the_total_by_the_difference(ledger, cloud):
    t = tag()
    customer = f"{t}-resent"
    ledger.upload_and_wait(f"{t}-file.csv", csv_file([line(f"{t}-1", customer, "700000.00")]))
    placed = order_with(customer, "200000.00")
    accepted(cloud, placed)
    ledger.wait_for_totals({customer: Decimal("900000.00")})

    # the same order (order_id + item), a newer version with a new amount: the difference
    accepted(cloud, {**placed, "amount": "350000.10"})
    ledger.wait_for_totals({customer: Decimal("1050000.10")})
    ledger.settle()

    assert ledger.totals()[customer]["count"] == 2  # still one file line and one order
    found = ledger.alerts(customer)
    assert [len(found[queue]) for queue in ALERT_QUEUES] == [1, 1]
    (alert,) = found["CustomerNotifyQueueUrl"]
    assert alert["source"] == f"order#{placed['order_id']}#{placed['item']}"
    assert alert["total"] == Decimal("1050000.10")


# -- failures -----------------------------------------------------------------------------
def test_a_file_that_keeps_failing_is_retried_then_dead_lettered_with_its_key_and_reason(
    ledger, cloud
):
    t = tag()
    name = f"{t}-hot.csv"
    customer = f"{t}-hot"
    body = csv_file([line(f"{t}-1", customer, "10.00")])
    dlq = cloud.outputs["FilesDeadLetterQueueUrl"]
    cloud.set_faults(match=name)  # every transaction write of this file is throttled
    try:
        ledger.upload(name, body)
        (letter,) = wait_for(
            lambda: [m for m in peek_messages(ledger.sqs, dlq) if name in m["Body"]],
            timeout=180,
            interval=1.0,
        )
    finally:
        cloud.set_faults(match=None)
    record = json.loads(letter["Body"])
    assert record["requestContext"]["condition"] == "RetriesExhausted"
    assert record["requestContext"]["approximateInvokeCount"] == 3  # the first, two retries
    detail = record["requestPayload"]["detail"]
    assert (detail["bucket"]["name"], detail["object"]["key"]) == (
        ledger.bucket,
        "incoming/" + name,
    )
    assert "ProvisionedThroughputExceededException" in json.dumps(record["responsePayload"])
    ledger.sqs.delete_message(QueueUrl=dlq, ReceiptHandle=letter["ReceiptHandle"])

    # after the fix, uploading it again is safe and counts it once
    ledger.upload_and_wait(name, body)
    ledger.wait_for_totals({customer: Decimal("10.00")})


# -- the same under 30% write faults ------------------------------------------------------
@dataclass
class FaultLoad:
    """Files, orders and re-sent orders for 60 customers: 30 whose amounts only ever go up
    and end above the threshold (one crossing each, in any order of application), 30 with
    refunds whose positive amounts together stay below it (never a crossing)."""

    files: list[tuple[str, bytes]]
    orders: list[dict[str, Any]]
    resent: list[dict[str, Any]]
    expected: Expected  # the files' lines; orders are added as they are accepted
    high: set[str]

    @classmethod
    def make(cls, t: str, rng: random.Random) -> FaultLoad:
        high = [f"{t}-hi{n:02d}" for n in range(30)]
        low = [f"{t}-lo{n:02d}" for n in range(30)]
        expected = Expected()
        files: list[tuple[str, bytes]] = []
        counter = 0
        for number in range(6):
            rows = []
            for _ in range(300):
                counter += 1
                if rng.random() < 0.5:
                    customer = rng.choice(high)
                    amount = Decimal(rng.randint(5_000_001, 9_999_999)) / 100  # 50,000.01 ..
                else:
                    customer = rng.choice(low)
                    amount = Decimal(rng.randint(100, 2_000_000)) / 100  # .. 20,000.00
                    if rng.random() < 0.3:
                        amount = -amount  # a refund
                text = f"{amount:.2f}" if rng.random() > 0.02 else f"{amount:.2f}1"  # 2% bad
                rows.append(line(f"{t}-{counter:05d}", customer, text))
            expected.add_lines(rows)
            if number % 2:
                files.append((f"{t}-load{number}.jsonl", jsonl_file(rows)))
            else:
                files.append((f"{t}-load{number}.csv", csv_file(rows)))
        # an overlapping file: 100 lines of the first, as they were
        first_rows = list(csv.DictReader(io.StringIO(files[0][1].decode())))
        files.append((f"{t}-overlap.csv", csv_file(first_rows[:100])))
        # an order alone takes a high customer above the threshold, whatever the files hold
        orders = [order_with(c, "1000000.01") for c in high]
        orders += [order_with(c, f"{rng.randint(1, 500_000) / 100:.2f}") for c in low]
        # re-sent with new amounts: higher for high customers (still only up), any for low
        resent = [{**o, "amount": "1000500.50"} for o in orders[:15]]
        resent += [{**o, "amount": f"{rng.randint(1, 500_000) / 100:.2f}"} for o in orders[30:45]]
        return cls(files, orders, resent, expected, set(high))


def test_under_30_percent_write_faults_nothing_is_lost_no_total_is_off_and_no_failure_queued(
    ledger, cloud, capsys
):
    load = FaultLoad.make(tag(), random.Random(8))
    files, orders, resent = load.files, load.orders, load.resent
    expected, high = load.expected, load.high
    customers = {c for c, _ in expected.sources.values()} | {o["customer_id"] for o in orders}
    cursor = MetricsCursor(cloud.log_dir)
    injected_before = cloud.set_faults()["injected"]
    queue = cloud.outputs["OrdersQueueUrl"]
    visibility = ledger.sqs.get_queue_attributes(
        QueueUrl=queue, AttributeNames=["VisibilityTimeout"]
    )["Attributes"]
    ledger.sqs.set_queue_attributes(
        QueueUrl=queue, Attributes={"VisibilityTimeout": str(VISIBILITY_TIMEOUT_S)}
    )
    started = time.monotonic()
    cloud.set_faults(rate=FAULT_RATE)
    try:
        for name, body in files:
            ledger.upload(name, body)
        for start in range(0, len(orders), 10):
            accepted(cloud, orders[start : start + 10])
        for order in orders:
            expected.add_order(order)
        wait_for(
            lambda: all(ledger.processed_versions(n) for n, _ in files), timeout=300, interval=1.0
        )
        ledger.wait_for_totals(expected.totals(), timeout=600)
        # a file processed once, uploaded again; orders re-sent with new amounts
        ledger.upload(*files[1])
        for start in range(0, len(resent), 10):
            accepted(cloud, resent[start : start + 10])
        for order in resent:
            expected.add_order(order)
        ledger.wait_for_totals(expected.totals(), timeout=600)
        wait_for(lambda: ledger.processed_versions(files[1][0]) == 2, timeout=300, interval=1.0)
        ledger.settle(timeout=300)
        seconds = time.monotonic() - started
    finally:
        cloud.set_faults(rate=0.0)
        ledger.sqs.set_queue_attributes(QueueUrl=queue, Attributes=visibility)

    totals = ledger.totals()
    want = expected.totals()
    off = {c for c in customers if totals.get(c, {}).get("total") != want.get(c, Decimal(0))}
    lost = {c for c in customers if c not in totals}
    alerts = {c: ledger.alerts(c) for c in customers}
    per_queue = {q: sum(len(a[q]) for a in alerts.values()) for q in ALERT_QUEUES}
    transactions = {i["transaction_id"] for i in ledger.items("TransactionsTableName")}
    written = {s[3:] for s in expected.sources if s.startswith("tx#")}
    counts = cursor.counts(
        "FileLinesRead", "FileLinesRejected", "FileWriteRetries", "FilesFailed",
        "LedgerRecordsApplied", "LedgerRecordsSkipped", "LedgerThrottleRetries",
        "LedgerConflictRetries", "LedgerRecordsFailed", "HighBalanceAlertsPublished",
        "WriteRetries",
    )  # fmt: skip
    figures = {
        "uploads": len(files) + 1,  # one file twice
        "lines": counts["FileLinesRead"],
        "lines_rejected": counts["FileLinesRejected"],
        "orders": len(orders),
        "orders_resent": len(resent),
        "customers": len(customers),
        "totals_exact": len(customers) - len(off),
        "off_by_a_cent_or_more": len(off),
        "customers_lost": len(lost),
        "transactions_lost": len(written - transactions),
        "alerts_expected": len(high),
        "credit_collection": per_queue["CreditCollectionQueueUrl"],
        "customer_notify": per_queue["CustomerNotifyQueueUrl"],
        "failure_queues": sum(ledger.failure_depths().values()),
        "writes_throttled": cloud.set_faults()["injected"] - injected_before,
        "file_write_retries": counts["FileWriteRetries"],
        "files_failed_and_retried": counts["FilesFailed"],
        "ledger_throttle_retries": counts["LedgerThrottleRetries"],
        "ledger_conflict_retries": counts["LedgerConflictRetries"],
        "ledger_records_applied": counts["LedgerRecordsApplied"],
        "ledger_records_skipped": counts["LedgerRecordsSkipped"],
        "ledger_records_failed": counts["LedgerRecordsFailed"],
        "order_write_retries": counts["WriteRetries"],
        "seconds": round(seconds),
    }
    with capsys.disabled():
        print("\nledger fault run: " + " ".join(f"{k}={v}" for k, v in figures.items()))

    assert not off, {c: (totals.get(c, {}).get("total"), want.get(c)) for c in sorted(off)}
    assert not lost
    assert written <= transactions
    for customer in customers:
        want_alerts = 1 if customer in high else 0
        assert [len(alerts[customer][q]) for q in ALERT_QUEUES] == [want_alerts] * 2, customer
    assert figures["failure_queues"] == 0, ledger.failure_depths()
    # the faults really happened, and were absorbed by retries
    assert figures["writes_throttled"] > 0
    assert figures["file_write_retries"] > 0
    assert figures["ledger_throttle_retries"] > 0
