"""Bounded memory: a large generated file is processed without ever being held.

The object body is a generator, the tables discard what they are given (moto would keep
every item and be measured too), and tracemalloc measures the processor's peak. The
assertion is on memory, never on time.
"""

import tracemalloc
from collections.abc import Iterator, Sequence
from typing import IO, Any

from orders_core.dynamo import Backoff
from orders_core.files.bucket import FilesBucket, ObjectRef, OpenObject
from orders_core.files.service import FileService, FileStatus
from orders_core.files.tables import CustomerProfile, CustomersTable, Item, TransactionsTable

from tests.unit.ledger_support import csv_text

LINES = 16_000
CUSTOMERS = 30_000
CHUNK = 1_000  # customers folded per upsert round (the default, 20,000, is ~12 MB)
HEADER = csv_text().encode()
# Long (allowed) names make a large file out of few lines: parsing time grows per line.
LONG_NAME = "Customer " + "x" * 240
LONG_MAILBOX = "c" + "x" * 200


def generated_lines(count: int, *, bad_every: int = 10) -> Iterator[bytes]:
    yield HEADER
    for n in range(count):
        amount = "1.005" if n % bad_every == 0 else f"{n % 100_000}.{n % 100:02d}"
        yield (
            f"tx-{n:09d},cust-{n % CUSTOMERS:06d},{amount},IDR,"
            f"2025-01-{1 + n % 28:02d}T{n % 24:02d}:00:00+07:00,{LONG_NAME} {n % CUSTOMERS},"
            f"{LONG_MAILBOX}{n % CUSTOMERS}@example.com\n"
        ).encode()


class _Body:
    """A streaming body whose chunks are generated on demand (256 KiB at a time)."""

    def __init__(self, lines: Iterator[bytes]) -> None:
        self._lines = lines

    def iter_chunks(self, chunk_size: int) -> Iterator[bytes]:
        buffer = bytearray()
        for line in self._lines:
            buffer += line
            if len(buffer) >= chunk_size:
                yield bytes(buffer)
                buffer.clear()
        if buffer:
            yield bytes(buffer)

    def close(self) -> None:
        pass


class GeneratedBucket(FilesBucket):
    def __init__(self, size: int, lines: Iterator[bytes]) -> None:
        super().__init__(client=None)  # type: ignore[arg-type]
        self._size = size
        self._lines = lines
        self.report_lines = 0
        self.moved: list[str] = []

    def open(self, ref: ObjectRef) -> OpenObject | None:
        return OpenObject(ref=ref, version_id="v1", size=self._size, _body=_Body(self._lines))

    def put_report(self, ref: ObjectRef, report: IO[bytes]) -> None:
        self.report_lines = sum(1 for _ in report)

    def delete_report(self, ref: ObjectRef) -> None:
        self.report_lines = 0

    def move_to_processed(self, ref: ObjectRef, version_id: str | None) -> None:
        self.moved.append(ref.processed_key)


class DiscardingTransactions(TransactionsTable):
    def __init__(self) -> None:
        super().__init__(client=None, table_name="discard")  # type: ignore[arg-type]
        self.items = 0
        self.largest_batch = 0

    def write_batch(self, items: Sequence[Item], backoff: Backoff) -> None:
        self.items += len(items)
        self.largest_batch = max(self.largest_batch, len(items))


class DiscardingCustomers(CustomersTable):
    def __init__(self) -> None:
        super().__init__(client=None, table_name="discard")  # type: ignore[arg-type]
        self.upserts = 0

    def upsert(self, profile: CustomerProfile, backoff: Backoff) -> bool:
        self.upserts += 1
        return True


def process_generated(lines: int) -> tuple[int, int, GeneratedBucket, Any, Any, Any]:
    """(file size, tracemalloc peak, bucket, outcome, transactions, customers)."""
    size = sum(len(line) for line in generated_lines(lines))
    bucket = GeneratedBucket(size, generated_lines(lines))
    transactions, customers = DiscardingTransactions(), DiscardingCustomers()
    service = FileService(
        bucket,
        transactions,
        customers,
        ledger_currency="IDR",
        max_bytes=size,
        writer_threads=4,
        chunk_customers=CHUNK,
    )
    tracemalloc.start()
    try:
        outcome = service.process(
            ObjectRef("bucket", "incoming/large.csv", "v1"), remaining_ms=lambda: 900_000
        )
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return size, peak, bucket, outcome, transactions, customers


def test_a_large_file_is_processed_in_bounded_memory(captured: Any) -> None:
    small_size, small_peak, *_ = process_generated(LINES // 2)
    size, peak, bucket, outcome, transactions, customers = process_generated(LINES)

    rejected = LINES // 10
    assert (outcome.status, outcome.lines, outcome.rejected) == (
        FileStatus.PROCESSED,
        LINES,
        rejected,
    )
    assert transactions.items == LINES - rejected
    assert transactions.largest_batch == 25
    assert bucket.report_lines == rejected
    # customers cycle (CUSTOMERS > CHUNK): every chunk of lines is distinct customers
    assert customers.upserts == LINES - rejected
    assert size > 8_000_000
    print(f"files {small_size}/{size} bytes, tracemalloc peaks {small_peak}/{peak}")
    # Twice the file, not twice the memory: the peak is a constant, far below the file.
    assert peak < small_peak * 1.25, f"peak grew from {small_peak} to {peak} bytes"
    assert peak < size / 3, f"peak {peak} bytes for a {size}-byte file"


def test_a_customer_on_many_lines_costs_one_upsert_per_chunk() -> None:
    rows = (f"t{n},c{n % 3},1,IDR,2025-01-01T00:00:00Z,,\n".encode() for n in range(5_000))
    lines = iter([HEADER, *rows])
    bucket = GeneratedBucket(10**6, lines)
    transactions, customers = DiscardingTransactions(), DiscardingCustomers()
    service = FileService(
        bucket, transactions, customers, ledger_currency="IDR", max_bytes=10**6, writer_threads=2
    )

    service.process(ObjectRef("bucket", "incoming/few.csv", "v1"), remaining_ms=lambda: 60_000)

    assert transactions.items == 5_000
    assert customers.upserts == 3
