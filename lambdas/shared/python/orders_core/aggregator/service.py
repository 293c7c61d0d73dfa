"""The aggregator's logic: one ledger change in, totals moved exactly once, alerts out.

For each change (one stream record, see records.py):

1. Read, strongly consistent, the source's posting and the totals of every customer it
   may touch (the new image's, the old image's, the posting's).
2. Publish any pending alert found there first (an earlier attempt at this record
   committed it but did not get to publish it), then clear it. Another source's pending
   alert is its committer's to publish (publishing it here too would send it twice) until
   ``ALERT_LEASE_S`` after its commit: then nobody else will, and it is published here.
3. If the posting already holds this record's sequence number or a later one, the
   record is a duplicate or stale: skip it.
4. Otherwise plan the change (``plan``, pure): the new posting, and for each customer
   whose total moves, its new totals item (a crossing from <= threshold to > threshold
   increments ``crossings`` and leaves a ``pending_alert``). Commit it as one
   transaction conditioned on everything read; on a conflict, go back to 1.
5. Publish the crossings' alerts to HighBalanceAlert and clear them.

State-based, so totals equal the sum of the current amounts however often and in
whatever order records arrive, as long as each source's latest record arrives once.
"""

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any, Final, Protocol

import boto3

from orders_core.aggregator.records import LedgerChange
from orders_core.aggregator.settings import AggregatorSettings
from orders_core.aggregator.tables import (
    Alert,
    Conflict,
    LedgerTables,
    StoredPosting,
    Totals,
    TotalsChange,
)
from orders_core.dynamo import Backoff, client_config
from orders_core.money import add
from orders_core.observability import MetricName, count, logger
from orders_core.retry import RetryPolicy

# Conflicts re-read at once, then back off (jittered) so hot customers do not spin.
AGGREGATOR_RETRY_POLICY: Final = RetryPolicy(
    base_delay_s=0.02, max_delay_s=1.0, max_attempts=20, safety_margin_ms=5_000
)
ALERT_SUBJECT: Final = "HighBalanceAlert"
# Lambda's longest timeout: past it, the invocation that committed an alert is over.
ALERT_LEASE_S: Final = 900


class AlertPublisher(Protocol):
    def publish(self, alert: Alert) -> None: ...


class SnsAlertPublisher:
    def __init__(self, client: Any, topic_arn: str) -> None:
        self._client = client
        self._topic_arn = topic_arn

    def publish(self, alert: Alert) -> None:
        self._client.publish(
            TopicArn=self._topic_arn, Message=alert.message(), Subject=ALERT_SUBJECT
        )


class Outcome(StrEnum):
    APPLIED = "applied"
    SKIPPED = "skipped"  # duplicate or stale: the posting holds this sequence number or later


@dataclass(frozen=True)
class Plan:
    posting: StoredPosting
    changes: list[TotalsChange]

    @property
    def alerts(self) -> list[Alert]:
        return [c.after.pending_alert for c in self.changes if c.after.pending_alert is not None]


def plan(
    change: LedgerChange,
    stored: StoredPosting | None,
    totals: dict[str, Totals],
    *,
    threshold: Decimal,
    currency: str,
) -> Plan:
    """The posting and totals after ``change`` (pure: no I/O, no clock)."""
    deltas: dict[str, tuple[Decimal, int]] = {}
    old = stored.posting if stored is not None else None
    if old is not None:
        # copy_negate: unary minus would round to the default context's 28 digits
        deltas[old.customer_id] = (old.amount.copy_negate(), -1)
    if change.new is not None:
        amount, number = deltas.get(change.new.customer_id, (Decimal(0), 0))
        deltas[change.new.customer_id] = (add(amount, change.new.amount), number + 1)
    changes = []
    for customer_id, (delta, number) in sorted(deltas.items()):
        if not delta and not number:
            continue  # same customer, same amount: only the posting's sequence moves
        before = totals.get(customer_id) or Totals(customer_id=customer_id)
        total = add(before.total, delta)
        above = total > threshold
        crossed = above and not before.above
        crossings = before.crossings + 1 if crossed else before.crossings
        alert = (
            Alert(
                alert_id=f"{customer_id}#{crossings}",
                customer_id=customer_id,
                total=total,
                threshold=threshold,
                currency=currency,
                source=change.source,
            )
            if crossed
            else None
        )
        after = Totals(
            customer_id=customer_id,
            total=total,
            count=before.count + number,
            above=above,
            crossings=crossings,
            rev=before.rev + 1,
            pending_alert=alert,
        )
        changes.append(TotalsChange(before=before, after=after))
    posting = StoredPosting(source=change.source, sequence=change.sequence, posting=change.new)
    return Plan(posting=posting, changes=changes)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


class LedgerService:
    def __init__(
        self,
        tables: LedgerTables,
        publisher: AlertPublisher,
        *,
        threshold: Decimal,
        currency: str,
        policy: RetryPolicy = AGGREGATOR_RETRY_POLICY,
        sleep: Callable[[float], None] = time.sleep,
        jitter: Callable[[], float] = random.random,
        clock: Callable[[], str] = _now,
    ) -> None:
        self._tables = tables
        self._publisher = publisher
        self._threshold = threshold
        self._currency = currency
        self._policy = policy
        self._sleep = sleep
        self._jitter = jitter
        self._clock = clock

    def apply(self, change: LedgerChange, *, remaining_ms: Callable[[], int]) -> Outcome:
        """Apply one change exactly once in effect; raises if it must be retried later."""
        if change.invalid_reason is not None:
            logger.warning(
                "ledger source counts nothing: its amount is invalid",
                source=change.source,
                sequence=str(change.sequence),
                reason=change.invalid_reason,
            )
            count(MetricName.LEDGER_RECORDS_INVALID)
        backoff = Backoff(
            remaining_ms=remaining_ms,
            policy=self._policy,
            sleep=self._sleep,
            jitter=self._jitter,
            on_retry=_count_throttle,
        )
        conflicts = 0
        while True:
            outcome = self._attempt(change, backoff)
            if outcome is not None:
                return outcome
            conflicts += 1
            count(MetricName.LEDGER_CONFLICT_RETRIES)
            if conflicts > 1:  # the first conflict re-reads at once
                conflict_backoff = replace(backoff, on_retry=None)
                conflict_backoff.pause("ledger change", "Conflict", conflicts - 1)

    def _attempt(self, change: LedgerChange, backoff: Backoff) -> Outcome | None:
        """One read-plan-commit round; None after a conflict (the caller retries)."""
        customers = {
            customer
            for customer in (
                change.new.customer_id if change.new is not None else None,
                change.old_customer_id,
            )
            if customer is not None
        }
        stored, totals = self._tables.read(change.source, customers, backoff)
        if stored is not None and stored.posting is not None:
            missing = {stored.posting.customer_id} - totals.keys()
            if missing:
                totals.update(self._tables.read_totals(missing, backoff))
        totals = {cid: self._flush(entry, change, backoff) for cid, entry in totals.items()}
        if stored is not None and stored.sequence >= change.sequence:
            logger.debug(
                "ledger record already applied, skipped",
                source=change.source,
                sequence=str(change.sequence),
                applied=str(stored.sequence),
            )
            count(MetricName.LEDGER_RECORDS_SKIPPED)
            return Outcome.SKIPPED
        planned = plan(change, stored, totals, threshold=self._threshold, currency=self._currency)
        for moved in planned.changes:
            waiting = moved.before.pending_alert
            if moved.after.pending_alert is not None and waiting is not None:
                # a new crossing replaces the outbox entry: publish the one it holds first
                self._publish(waiting, backoff)
        try:
            self._tables.commit(
                new=planned.posting,
                expected=stored,
                changes=planned.changes,
                currency=self._currency,
                updated_at=self._clock(),
                backoff=backoff,
            )
        except Conflict as exc:
            logger.debug(
                "ledger change conflicted, re-reading", source=change.source, reason=exc.reason
            )
            return None
        count(MetricName.LEDGER_RECORDS_APPLIED)
        logger.debug(
            "ledger record applied",
            source=change.source,
            sequence=str(change.sequence),
            moved=[
                {"customer_id": c.after.customer_id, "total": str(c.after.total)}
                for c in planned.changes
            ],
        )
        for alert in planned.alerts:
            self._publish(alert, backoff)
        return Outcome.APPLIED

    def _flush(self, totals: Totals, change: LedgerChange, backoff: Backoff) -> Totals:
        """Publish a pending alert left by an earlier attempt at this record, or one whose
        committer is over; the totals without it (with it, when it is left alone)."""
        pending = totals.pending_alert
        if pending is None:
            return totals
        if pending.source != change.source and not self._lease_over(pending):
            logger.debug(
                "pending alert left to the change that committed it",
                alert_id=pending.alert_id,
                source=pending.source,
            )
            return totals
        logger.info("pending alert found, publishing it first", alert_id=pending.alert_id)
        self._publish(pending, backoff)
        return replace(totals, pending_alert=None)

    def _lease_over(self, alert: Alert) -> bool:
        if alert.committed_at is None:
            return True
        committed = datetime.fromisoformat(alert.committed_at.replace("Z", "+00:00"))
        now = datetime.fromisoformat(self._clock().replace("Z", "+00:00"))
        return (now - committed).total_seconds() > ALERT_LEASE_S

    def _publish(self, alert: Alert, backoff: Backoff) -> None:
        # Raises on failure: the record fails and is retried; its retry (a skip) finds the
        # alert still pending and publishes it first.
        self._publisher.publish(alert)
        cleared = self._tables.clear_alert(alert.customer_id, alert.alert_id, backoff)
        count(MetricName.HIGH_BALANCE_ALERTS)
        logger.info(
            "high balance alert published",
            alert_id=alert.alert_id,
            customer_id=alert.customer_id,
            total=str(alert.total),
            threshold=str(alert.threshold),
            source=alert.source,
            cleared=cleared,
        )


def build_service(settings: AggregatorSettings) -> LedgerService:
    """The service with its AWS clients, from the function's settings (once per container)."""
    tables = LedgerTables(
        boto3.client("dynamodb", config=client_config()),
        postings_table=settings.postings_table_name,
        totals_table=settings.totals_table_name,
    )
    publisher = SnsAlertPublisher(boto3.client("sns"), settings.high_balance_topic_arn)
    return LedgerService(
        tables,
        publisher,
        threshold=settings.high_balance_threshold,
        currency=settings.ledger_currency,
    )


def _count_throttle(error_code: str, retry_number: int, delay_s: float) -> None:
    count(MetricName.LEDGER_THROTTLE_RETRIES)
    logger.debug(
        "ledger write retried", error_code=error_code, retry_number=retry_number, delay_s=delay_s
    )
