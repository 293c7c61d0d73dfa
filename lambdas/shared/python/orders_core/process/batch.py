"""An SQS batch with partial failures: each record handled on its own, the failed ones
reported by message id in ``batchItemFailures`` (the event source mapping has
ReportBatchItemFailures on), so SQS deletes the rest and redelivers only those.

Any exception a record raises fails that record alone; the handler has logged and counted
what it knows. When every record fails the invocation raises instead, as Powertools'
BatchProcessor did: Lambda's SQS poller answers an error by backing off, the right
reaction to a table that throttles everything, and the whole batch is redelivered
either way. Written here rather than imported from Powertools, whose batch utility loads
every event source's data classes at import, which a new execution environment pays.
"""

import traceback
from collections.abc import Callable, Mapping
from typing import Any, TypedDict


class ItemFailure(TypedDict):
    itemIdentifier: str


class BatchResponse(TypedDict):
    batchItemFailures: list[ItemFailure]


class BatchProcessingError(Exception):
    """Every record of the batch failed; ``errors`` are theirs, in record order."""

    def __init__(self, message: str, errors: list[BaseException] | None = None) -> None:
        super().__init__(message)
        self.errors = errors or []

    def __str__(self) -> str:
        # The invocation's error message: the summary, then each record's traceback.
        parts = [f"{super().__str__()}\n"]
        parts.extend("".join(traceback.format_exception(error)) for error in self.errors)
        return "\n".join(parts)


def process_batch(
    event: Mapping[str, Any], handle: Callable[[Mapping[str, Any]], object]
) -> BatchResponse:
    """``handle`` every record of an SQS event; the failed records' ids, or raises
    BatchProcessingError if there is no record or none succeeded."""
    records = event.get("Records")
    if not records or not isinstance(records, list):
        raise BatchProcessingError("Unexpected batch event type: an SQS event has Records")
    failed: list[Mapping[str, Any]] = []
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
    return {"batchItemFailures": [{"itemIdentifier": record["messageId"]} for record in failed]}
