"""The file processor's logic: one object under incoming/ in, transactions + customers out.

1. Open the object's current version (a superseded or already-moved version is skipped:
   its successor has its own event). Over ``file_max_bytes``, or unreadable at its start
   (binary, not UTF-8, no valid CSV header): one report entry, nothing written. Over
   ``large_file_bytes`` (the function only): handed to the large-file task, which runs
   this same code without that limit (files/handoff.py, files/task.py), or, where the
   stage has no such task, one report entry saying so.
2. Stream its lines (files/reader.py). Valid ones are routed to writer threads in
   batches of 25 (files/writers.py), and folded into per-customer profiles that are
   upserted whenever ``CHUNK_CUSTOMERS`` customers are held (and at the end), so memory
   stays bounded whatever the size while a customer seen on many lines costs few writes.
   Refused lines go to the report (spooled).
3. Write the report to ``rejected/<name>.jsonl``, or delete a stale one.
4. Move the object to ``processed/``.

Everything is idempotent (identical items, conditional customer merges), so a failure
that may succeed later simply raises: Lambda retries the whole file, then hands the
event to the on-failure destination.
"""

import random
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from enum import StrEnum
from functools import partial
from typing import Final

import boto3

from orders_core.dynamo import Backoff, client_config
from orders_core.files.bucket import (
    INCOMING,
    FilesBucket,
    ObjectRef,
    OpenObject,
    candidate_keys,
)
from orders_core.files.handoff import LargeFileLauncher
from orders_core.files.reader import LineResult, UnreadableFile, open_transactions
from orders_core.files.report import RejectReport
from orders_core.files.settings import FileWriteSettings
from orders_core.files.tables import (
    MAX_BATCH_ITEMS,
    CustomerProfile,
    CustomersTable,
    Item,
    TransactionsTable,
    transaction_item,
)
from orders_core.files.writers import WriterPool
from orders_core.observability import MetricName, count, logger
from orders_core.retry import RetryPolicy

# Customers folded in memory (about 0.6 KB each) before one upsert per customer.
CHUNK_CUSTOMERS: Final = 20_000
# Customers per upsert job handed to a writer thread.
_CUSTOMERS_PER_JOB: Final = 25
# How often (in lines) the reader checks the time budget.
_BUDGET_CHECK_LINES: Final = 1_000
# Throttled batch writes back off up to 2 s; 12 attempts at most per batch.
FILE_RETRY_POLICY: Final = RetryPolicy(
    base_delay_s=0.05, max_delay_s=2.0, max_attempts=12, safety_margin_ms=10_000
)


class FileStatus(StrEnum):
    PROCESSED = "processed"
    UNREADABLE = "unreadable"
    SKIPPED = "skipped"  # superseded by a newer upload, already moved, or not incoming/
    HANDED_OFF = "handed_off"  # over large_file_bytes: the large-file task processes it


@dataclass
class FileOutcome:
    key: str
    status: FileStatus
    lines: int = 0
    accepted: int = 0
    rejected: int = 0
    write_retries: int = 0
    task_arn: str | None = None  # HANDED_OFF: the task that processes the file

    def summary(self) -> dict[str, object]:
        summary: dict[str, object] = {
            "key": self.key,
            "status": self.status.value,
            "lines": self.lines,
            "accepted": self.accepted,
            "rejected": self.rejected,
        }
        if self.task_arn is not None:
            summary["task_arn"] = self.task_arn
        return summary


@dataclass
class _RetryCounter:
    value: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __call__(self, error_code: str, retry_number: int, delay_s: float) -> None:
        with self._lock:
            self.value += 1
        logger.debug(
            "write retried", error_code=error_code, retry_number=retry_number, delay_s=delay_s
        )


def build_service(
    settings: FileWriteSettings,
    *,
    large_file_bytes: int | None = None,
    launcher: LargeFileLauncher | None = None,
) -> "FileService":
    """The service with its AWS clients, from the settings (once per container).

    The function passes its ``large_file_bytes`` and, when the stage has the large-file
    task, the launcher; the task passes neither (it reads any file up to the maximum).
    """
    # Every writer thread may hold a connection, plus the reader's.
    dynamodb = boto3.client(
        "dynamodb",
        config=client_config(max_pool_connections=settings.writer_threads + 2, read_timeout_s=5),
    )
    return FileService(
        FilesBucket(boto3.client("s3")),
        TransactionsTable(dynamodb, settings.transactions_table_name),
        CustomersTable(dynamodb, settings.customers_table_name),
        ledger_currency=settings.ledger_currency,
        max_bytes=settings.file_max_bytes,
        writer_threads=settings.writer_threads,
        large_file_bytes=large_file_bytes,
        launcher=launcher,
    )


class FileService:
    def __init__(
        self,
        bucket: FilesBucket,
        transactions: TransactionsTable,
        customers: CustomersTable,
        *,
        ledger_currency: str,
        max_bytes: int,
        writer_threads: int,
        policy: RetryPolicy = FILE_RETRY_POLICY,
        sleep: Callable[[float], None] = time.sleep,
        jitter: Callable[[], float] = random.random,
        chunk_customers: int = CHUNK_CUSTOMERS,
        large_file_bytes: int | None = None,
        launcher: LargeFileLauncher | None = None,
    ) -> None:
        self._bucket = bucket
        self._transactions = transactions
        self._customers = customers
        self._ledger_currency = ledger_currency
        self._max_bytes = max_bytes
        self._writer_threads = writer_threads
        self._policy = policy
        self._sleep = sleep
        self._jitter = jitter
        self._chunk_customers = chunk_customers
        self._large_file_bytes = large_file_bytes
        self._launcher = launcher

    def process(
        self,
        ref: ObjectRef,
        *,
        remaining_ms: Callable[[], int],
        request_id: str | None = None,
    ) -> FileOutcome:
        """Process the file ``ref`` names. ``request_id`` (the invocation's) makes a
        hand-off to the large-file task idempotent across Lambda's retries."""
        if not ref.key.startswith(INCOMING) or ref.key.endswith("/"):
            # the rule's prefix filter makes this rare: a folder marker, or a wiring mistake
            logger.warning("object is not a file under incoming/, ignored", key=ref.key)
            count(MetricName.FILES_SKIPPED)
            return FileOutcome(ref.key, FileStatus.SKIPPED)
        opened = self._open_current(ref)
        if opened is None:
            count(MetricName.FILES_SKIPPED)
            return FileOutcome(ref.key, FileStatus.SKIPPED)
        ref = opened.ref
        if self._hands_off(opened):
            opened.close()
            return self._hand_off(ref, opened.version_id, request_id or str(uuid.uuid4()))
        retries = _RetryCounter()
        backoff = Backoff(
            remaining_ms=remaining_ms,
            policy=self._policy,
            sleep=self._sleep,
            jitter=self._jitter,
            on_retry=retries,
        )
        with RejectReport() as report:
            try:
                outcome = self._read_and_write(opened, report, backoff)
            finally:
                opened.close()
            outcome.write_retries = retries.value
            backoff.check("report")
            if report.entries:
                self._bucket.put_report(ref, report.rewound())
            else:
                self._bucket.delete_report(ref)
        self._bucket.move_to_processed(ref, opened.version_id)
        self._emit(outcome)
        logger.info(
            "file processed",
            key=ref.key,
            status=outcome.status.value,
            lines=outcome.lines,
            accepted=outcome.accepted,
            rejected=outcome.rejected,
            write_retries=outcome.write_retries,
            moved_to=ref.processed_key,
        )
        return outcome

    def _hands_off(self, opened: OpenObject) -> bool:
        """Too large for one invocation, readable at all, and a task to take it."""
        return (
            self._launcher is not None
            and self._large_file_bytes is not None
            and self._large_file_bytes < opened.size <= self._max_bytes
        )

    def _hand_off(self, ref: ObjectRef, version_id: str | None, token: str) -> FileOutcome:
        """Start the large-file task on exactly this version; raises HandOffFailed."""
        assert self._launcher is not None  # _hands_off checked it
        current = ObjectRef(ref.bucket, ref.key, version_id)
        task_arn = self._launcher.start(current, client_token=token)
        count(MetricName.FILES_HANDED_OFF)
        logger.info(
            "file handed to the large-file task",
            key=ref.key,
            version_id=version_id,
            task_arn=task_arn,
        )
        return FileOutcome(ref.key, FileStatus.HANDED_OFF, task_arn=task_arn)

    def _open_current(self, ref: ObjectRef) -> OpenObject | None:
        for key in candidate_keys(ref.key):
            candidate = ObjectRef(ref.bucket, key, ref.version_id)
            opened = self._bucket.open(candidate)
            if opened is None:
                continue
            if ref.version_id is not None and opened.version_id != ref.version_id:
                opened.close()
                logger.info(
                    "file version superseded by a newer upload, skipped",
                    key=key,
                    version_id=ref.version_id,
                    current_version_id=opened.version_id,
                )
                return None
            return opened
        logger.info("file already processed or removed, skipped", key=ref.key)
        return None

    def _read_and_write(
        self, opened: OpenObject, report: RejectReport, backoff: Backoff
    ) -> FileOutcome:
        key = opened.ref.key
        if opened.size > self._max_bytes:
            reason = f"the file is {opened.size} bytes, over the limit of {self._max_bytes}"
            return self._unreadable(key, report, UnreadableFile(reason))
        if self._large_file_bytes is not None and opened.size > self._large_file_bytes:
            # only without a launcher (_hands_off): this stage has no large-file task
            reason = (
                f"the file is {opened.size} bytes, over the {self._large_file_bytes} one "
                "invocation processes in time, and this stage has no large-file task: "
                "upload it where large files are on, or split it"
            )
            return self._unreadable(key, report, UnreadableFile(reason))
        try:
            lines = open_transactions(
                opened.chunks(), key=key, ledger_currency=self._ledger_currency
            )
        except UnreadableFile as exc:
            return self._unreadable(key, report, exc)
        outcome = FileOutcome(key, FileStatus.PROCESSED)
        with WriterPool(self._writer_threads) as pool:
            self._write_all(
                lines, key=key, pool=pool, report=report, backoff=backoff, outcome=outcome
            )
            pool.close()
        return outcome

    def _unreadable(self, key: str, report: RejectReport, exc: UnreadableFile) -> FileOutcome:
        report.add(exc.line, exc.reason)
        logger.warning("file unreadable", key=key, line=exc.line, reason=exc.reason)
        return FileOutcome(key, FileStatus.UNREADABLE)

    def _write_all(
        self,
        lines: Iterator[LineResult],
        *,
        key: str,
        pool: WriterPool,
        report: RejectReport,
        backoff: Backoff,
        outcome: FileOutcome,
    ) -> None:
        batches: list[dict[str, Item]] = [{} for _ in range(pool.threads)]
        profiles: dict[str, CustomerProfile] = {}
        for result in lines:
            outcome.lines += 1
            if outcome.lines % _BUDGET_CHECK_LINES == 0:
                backoff.check("file")
            transaction = result.transaction
            if transaction is None:
                report.add(result.line, result.reason or "invalid")
                outcome.rejected += 1
                continue
            outcome.accepted += 1
            partition = pool.partition(transaction.transaction_id)
            batch = batches[partition]
            batch[transaction.transaction_id] = transaction_item(transaction, key)
            if len(batch) == MAX_BATCH_ITEMS:
                self._submit_batch(pool, partition, batch, backoff)
                batches[partition] = {}
            profile = CustomerProfile.of(transaction)
            known = profiles.get(transaction.customer_id)
            profiles[transaction.customer_id] = profile if known is None else known.merge(profile)
            if len(profiles) >= self._chunk_customers:
                self._submit_customers(pool, profiles, backoff)
                profiles = {}
        for partition, batch in enumerate(batches):
            if batch:
                self._submit_batch(pool, partition, batch, backoff)
        self._submit_customers(pool, profiles, backoff)

    def _submit_batch(
        self, pool: WriterPool, partition: int, batch: dict[str, Item], backoff: Backoff
    ) -> None:
        items = list(batch.values())
        pool.submit(partition, partial(self._transactions.write_batch, items, backoff))

    def _submit_customers(
        self, pool: WriterPool, profiles: dict[str, CustomerProfile], backoff: Backoff
    ) -> None:
        by_partition: dict[int, list[CustomerProfile]] = {}
        for customer_id, profile in profiles.items():
            by_partition.setdefault(pool.partition(customer_id), []).append(profile)
        for partition, group in by_partition.items():
            for start in range(0, len(group), _CUSTOMERS_PER_JOB):
                job = partial(
                    self._upsert_customers, group[start : start + _CUSTOMERS_PER_JOB], backoff
                )
                pool.submit(partition, job)

    def _upsert_customers(self, profiles: list[CustomerProfile], backoff: Backoff) -> None:
        for profile in profiles:
            self._customers.upsert(profile, backoff)

    def _emit(self, outcome: FileOutcome) -> None:
        count(MetricName.FILES_PROCESSED)
        if outcome.status is FileStatus.UNREADABLE:
            count(MetricName.FILES_UNREADABLE)
        count(MetricName.FILE_LINES_READ, outcome.lines)
        count(MetricName.FILE_LINES_ACCEPTED, outcome.accepted)
        count(MetricName.FILE_LINES_REJECTED, outcome.rejected)
        if outcome.write_retries:
            count(MetricName.FILE_WRITE_RETRIES, outcome.write_retries)
