"""A batch with partial failures, for every event source mapping with
ReportBatchItemFailures on (SQS for process, DynamoDB streams for the aggregator).

Every record is handled on its own, in order; any exception fails that record alone (the
caller has logged and counted what it knows), and the failed records are reported in
``batchItemFailures`` by the identifier their source uses: SQS deletes the rest and
redelivers only those, a stream retries from the first of them. When every record fails
the invocation raises instead, as Powertools' BatchProcessor did: the poller answers an
error by backing off, the right reaction to a table that throttles everything, and the
whole batch is retried either way. Written here rather than imported from Powertools,
whose batch utility loads every event source's data classes at import, which each new
execution environment pays (docs/decisions.md, "Cold init").
"""

import traceback
from collections.abc import Callable, Mapping
from typing import Any, TypedDict


class ItemFailure(TypedDict):
    itemIdentifier: str | None


class BatchResponse(TypedDict):
    batchItemFailures: list[ItemFailure]


class BatchProcessingError(Exception):
    """No record to handle, or every record failed (``errors``, in record order)."""

    def __init__(self, message: str, errors: list[BaseException] | None = None) -> None:
        super().__init__(message)
        self.errors = errors or []

    def __str__(self) -> str:
        # The invocation's error message: the summary, then each record's traceback.
        parts = [f"{super().__str__()}\n"]
        parts.extend("".join(traceback.format_exception(error)) for error in self.errors)
        return "\n".join(parts)


def process_batch(
    event: Mapping[str, Any],
    handle: Callable[[dict[str, Any]], object],
    identify: Callable[[dict[str, Any]], str | None],
    *,
    source: str,
) -> BatchResponse:
    """``handle`` every record of ``event``; the failed ones as ``identify`` names them.

    Raises BatchProcessingError when the event has no records (``source`` names what was
    expected) or when none succeeded.
    """
    records = event.get("Records")
    if not records or not isinstance(records, list):
        raise BatchProcessingError(f"Unexpected batch event type: {source} has Records")
    failed: list[dict[str, Any]] = []
    errors: list[BaseException] = []
    for record in records:
        try:
            handle(record)
        except Exception as exc:  # any error fails the record alone
            failed.append(record)
            errors.append(exc)
    if failed and len(failed) == len(records):
        raise BatchProcessingError(
            f"All records failed processing. {len(errors)} individual errors logged "
            "separately below.",
            errors,
        )
    return {"batchItemFailures": [{"itemIdentifier": identify(record)} for record in failed]}
