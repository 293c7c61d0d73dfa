"""The data-path guarantees, proved on the local cloud under faults (README: Guarantees).

1. Fault run: thousands of orders, many versions of each key sent in sequence, with 30% of
   DynamoDB writes throttled on the wire. Every accepted order is stored, each key holds
   its last accepted version, nothing reaches the DLQ. The run prints its counts.
2. Poison run: the same traffic plus messages put on the queue directly: garbage that can
   never be stored, and well-formed orders whose writes keep failing (a hot key). They,
   and only they, end in the DLQ; after the fix (the writes succeed again) `redrive`
   moves them back and the fixable ones are stored, while the garbage returns.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from orders_core.retry import RetryPolicy
from orders_core.versioning import format_accepted_at, make_version

from local_cloud.cloud import LocalCloud
from local_cloud.operations.dlq import dead_letters, redrive
from local_cloud.operations.queues import peek_messages
from tests.e2e.conftest import boot, post, queue_depth, table_items
from tests.polling import wait_for

pytestmark = pytest.mark.e2e

API = "/lambda/api"
FAULT_RATE = 0.3
# Failed records come back after the visibility timeout (181 s as deployed). Shorten it
# through the emulator's API, as an operator could, but keep it well above a batch's
# duration so a record is never received again while its batch still runs.
VISIBILITY_TIMEOUT_S = 20
# The poison run waits for max_receive_count receives twice: a shorter timeout that still
# outlasts its worst batch (checked below) keeps it quicker.
POISON_VISIBILITY_TIMEOUT_S = 12
COUNTED = ("OrdersStored", "StaleSkipped", "WriteRetries", "RecordsFailed")


@dataclass
class Load:
    """Orders sent through the front door: `versions` rounds over `keys` keys."""

    keys: int
    versions: int
    prefix: str = field(default_factory=lambda: uuid.uuid4().hex[:8])
    accepted: int = 0
    rejected: int = 0

    def key(self, n: int) -> tuple[str, str]:
        return (f"{self.prefix}-{n:04d}", f"item-{n % 7}")

    def send(self, cloud: LocalCloud) -> None:
        """Version r of every key only after version r-1 of every key was accepted."""
        with ThreadPoolExecutor(max_workers=8) as pool:
            for revision in range(self.versions):
                orders = [
                    {"order_id": oid, "item": item, "qty": 1 + revision, "revision": revision}
                    for oid, item in map(self.key, range(self.keys))
                ]
                batches = [orders[i : i + 10] for i in range(0, len(orders), 10)]
                for status, _, body in pool.map(lambda b: post(cloud, API, b), batches):
                    if status == 202:
                        self.accepted += len(body["results"])
                    else:
                        self.rejected += 1

    def latest(self, cloud: LocalCloud) -> dict[tuple[str, str], Any]:
        return {
            (i["order_id"], i["item"]): i["revision"]
            for i in table_items(cloud)
            if i["order_id"].startswith(self.prefix)
        }

    def all_at_last_version(self, cloud: LocalCloud) -> bool:
        stored = self.latest(cloud)
        return len(stored) == self.keys and all(r == self.versions - 1 for r in stored.values())


def process_counts(cloud: LocalCloud) -> dict[str, int]:
    """Sum the process function's EMF counters from its log (totals, not by-reason)."""
    assert cloud.log_dir is not None
    counts = dict.fromkeys(COUNTED, 0)
    for path in cloud.log_dir.glob("*Process*.log"):
        for line in path.read_text().splitlines():
            if not line.startswith('{"_aws"'):
                continue
            record = json.loads(line)
            if "reason" in record:
                continue  # the by-reason copy of a count already in the totals
            for name in COUNTED:
                counts[name] += int(sum(record.get(name, [])))
    return counts


def dlq_bodies(cloud: LocalCloud) -> list[str]:
    dlq = cloud.outputs["OrdersDeadLetterQueueUrl"]
    return sorted(message["Body"] for message in peek_messages(cloud.client("sqs"), dlq))


def dlq_holds(cloud: LocalCloud, expected: list[str]) -> bool:
    """The DLQ holds exactly these bodies (depth first: cheap, and keeps polling light)."""
    dlq = cloud.outputs["OrdersDeadLetterQueueUrl"]
    return queue_depth(cloud, dlq) == len(expected) and dlq_bodies(cloud) == sorted(expected)


def drained(cloud: LocalCloud) -> bool:
    return queue_depth(cloud, cloud.outputs["OrdersQueueUrl"]) == 0


def report(title: str, load: Load, cloud: LocalCloud, **extra: int) -> dict[str, int]:
    stored = load.latest(cloud)
    figures = {
        "accepted": load.accepted,
        "rejected_requests": load.rejected,
        "keys": load.keys,
        "keys_stored": len(stored),
        "lost": load.keys - len(stored),
        "stale_overwrites": sum(r != load.versions - 1 for r in stored.values()),
        **{name.lower(): value for name, value in process_counts(cloud).items()},
        "dlq": queue_depth(cloud, cloud.outputs["OrdersDeadLetterQueueUrl"]),
        **extra,
    }
    print(f"\n{title}: " + " ".join(f"{k}={v}" for k, v in figures.items()))
    return figures


@pytest.fixture
def faulty(app_assembly: Path, tmp_path: Path) -> Iterator[LocalCloud]:
    with boot(app_assembly, tmp_path / "logs", fault_rate=FAULT_RATE) as running:
        running.client("sqs").set_queue_attributes(
            QueueUrl=running.outputs["OrdersQueueUrl"],
            Attributes={"VisibilityTimeout": str(VISIBILITY_TIMEOUT_S)},
        )
        yield running


def test_the_test_visibility_timeout_outlasts_a_worst_case_batch() -> None:
    # A batch whose every write keeps failing retries each record until its attempts run
    # out: if that took longer than the visibility timeout, records would be received
    # again mid-batch and could reach the DLQ without being poison.
    policy = RetryPolicy()
    worst_record_s = sum(policy.delay_s(n, 0.999) for n in range(1, policy.max_attempts))
    assert 3 * worst_record_s < POISON_VISIBILITY_TIMEOUT_S  # the poison run blocks 3 records


def test_fault_run_loses_nothing_and_keeps_the_latest_version(faulty, capsys):
    # Given 30% of writes throttled, When 200 keys x 10 versions go through the ALB
    load = Load(keys=200, versions=10)
    started = time.monotonic()
    load.send(faulty)
    sent = time.monotonic() - started
    # Then every key ends at its last version, and the queue drains without the DLQ
    wait_for(
        lambda: drained(faulty) and load.all_at_last_version(faulty), timeout=300, interval=2.0
    )
    with capsys.disabled():
        figures = report(
            "fault run",
            load,
            faulty,
            seconds_sending=round(sent),
            seconds_total=round(time.monotonic() - started),
            writes_throttled=faulty.set_faults()["injected"],
        )
    assert figures["accepted"] == 2000
    assert figures["rejected_requests"] == 0
    assert figures["lost"] == 0
    assert figures["stale_overwrites"] == 0
    assert figures["dlq"] == 0
    # the faults really happened and were absorbed by retries
    assert figures["writes_throttled"] > 0
    assert figures["writeretries"] > 0
    # every accepted order was written once or skipped as stale/duplicate, never dropped
    assert figures["ordersstored"] + figures["staleskipped"] >= figures["accepted"]


def _stamped(order_id: str, item: str) -> str:
    """A well-formed queue message, as ingest would write it, put on the queue directly."""
    accepted_at = format_accepted_at(time.time_ns())
    request_id = str(uuid.uuid4())
    return json.dumps(
        {
            "order_id": order_id,
            "item": item,
            "qty": 1,
            "accepted_at": accepted_at,
            "request_id": request_id,
            "version": make_version(accepted_at, request_id, 0),
        }
    )


GARBAGE = [
    "this is not an order",
    "[1, 2, 3]",
    json.dumps({"order_id": "", "item": "empty id"}),
    json.dumps({"order_id": "no-stamp", "item": "bypassed ingest", "qty": 1}),
]


def test_poison_messages_and_only_they_reach_the_dlq_and_redrive_after_the_fix(faulty, capsys):
    sqs = faulty.client("sqs")
    queue = faulty.outputs["OrdersQueueUrl"]
    hot = "hot-key-item"  # every write of these orders fails until the fix
    blocked = [_stamped(f"blocked-{n}", hot) for n in range(3)]
    faulty.set_faults(match=hot)
    sqs.set_queue_attributes(
        QueueUrl=queue, Attributes={"VisibilityTimeout": str(POISON_VISIBILITY_TIMEOUT_S)}
    )

    # Given poison injected straight into the queue among ordinary traffic
    for body in GARBAGE + blocked:
        sqs.send_message(QueueUrl=queue, MessageBody=body)
    load = Load(keys=100, versions=5)
    load.send(faulty)

    # Then the poison, and only the poison, ends in the DLQ; everything else is stored
    poison = sorted(GARBAGE + blocked)
    # Poll gently: every check is a call into the one emulation process the system uses.
    wait_for(lambda: dlq_holds(faulty, poison), timeout=300, interval=2.0)
    wait_for(lambda: load.all_at_last_version(faulty), timeout=120, interval=2.0)
    assert drained(faulty)
    listing = dead_letters(sqs, faulty.log_dir)
    assert all(body in [letter.body for letter in listing] for body in GARBAGE)
    # each with the reason the process function logged for it
    reasons = [letter.reason for letter in listing]
    assert sum("message can never be stored" in r for r in reasons) == len(GARBAGE)
    assert sum("order not stored, the queue will redeliver it" in r for r in reasons) == len(
        blocked
    )

    # When the cause is fixed and the DLQ is redriven
    faulty.set_faults(match=None)
    moved = {r.dlq_url.rsplit("/", 1)[-1]: r.moved for r in redrive(sqs)}
    assert moved[faulty.outputs["OrdersDeadLetterQueueUrl"].rsplit("/", 1)[-1]] == len(poison)

    # Then the fixable orders are stored and only the garbage returns to the DLQ
    def blocked_stored() -> bool:
        keys = {(i["order_id"], i["item"]) for i in table_items(faulty)}
        return {(f"blocked-{n}", hot) for n in range(3)} <= keys

    wait_for(lambda: dlq_holds(faulty, GARBAGE), timeout=300, interval=2.0)
    wait_for(blocked_stored, timeout=60, interval=2.0)
    with capsys.disabled():
        figures = report(
            "poison run", load, faulty, poison_injected=len(poison), dlq_after_redrive=len(GARBAGE)
        )
    assert figures["lost"] == 0
    assert figures["stale_overwrites"] == 0
