"""A DynamoDB stream batch as Lambda delivers it, and the partial-batch answer.

Every record of the batch is tried, in order, and each one that raises is reported by its
SequenceNumber (``{"batchItemFailures": [{"itemIdentifier": ...}]}``, the event source
mapping's ReportBatchItemFailures): Lambda then retries from the first of them. A batch
whose every record failed raises ``BatchFailed`` instead, so Lambda retries it whole.

Images are read as the Powertools deserializer read them: as boto3 reads items, except
that a number of more than 38 digits whose extra digits are trailing zeros is accepted
(DynamoDB can write 1E+40 as 41 digits) and binary values are plain ``bytes``.
"""

import traceback
from collections.abc import Callable, Mapping
from decimal import Clamped, Context, Decimal, Inexact, Overflow, Rounded, Underflow
from typing import Any, Final, TypedDict

from orders_core.limits import DYNAMODB_MAX_DIGITS

# DynamoDB's numbers: 38 digits, exponents -128..126; any rounding raises.
_DYNAMODB_CONTEXT: Final = Context(
    Emin=-128,
    Emax=126,
    prec=DYNAMODB_MAX_DIGITS,
    traps=[Clamped, Overflow, Inexact, Rounded, Underflow],
)
# Trailing zeros may move into the exponent; any other loss of precision raises.
_NORMALIZE_CONTEXT: Final = Context(prec=DYNAMODB_MAX_DIGITS, traps=[Inexact])


class BatchItemFailure(TypedDict):
    itemIdentifier: str | None


class BatchResponse(TypedDict):
    batchItemFailures: list[BatchItemFailure]


class BatchFailed(Exception):
    """Every record of the batch failed; the message carries each one's traceback."""

    def __init__(self, errors: list[BaseException]) -> None:
        super().__init__(
            f"All records failed processing. {len(errors)} individual errors logged "
            "separately below."
        )
        self.errors = errors

    def __str__(self) -> str:
        details = [
            "".join(traceback.format_exception(type(error), error, error.__traceback__))
            for error in self.errors
        ]
        return "\n".join([f"{super().__str__()}\n", *details])


def _number(text: str) -> Decimal:
    if text in ("", "."):
        return _DYNAMODB_CONTEXT.create_decimal(0)
    number = Decimal(text)
    if len(number.as_tuple().digits) > DYNAMODB_MAX_DIGITS:
        number = number.normalize(_NORMALIZE_CONTEXT)
    return _DYNAMODB_CONTEXT.create_decimal(number)


def _value(attribute: Mapping[str, Any]) -> Any:
    """One attribute value (``{"S": "x"}``, ``{"N": "1.5"}``, ...) as a Python value."""
    kinds = list(attribute.keys())
    kind = kinds[0]
    convert = _CONVERTERS.get(kind.lower())
    if convert is None:
        raise TypeError(f"Dynamodb type {kind} is not supported")
    return convert(attribute[kind])


_CONVERTERS: Final[dict[str, Callable[[Any], Any]]] = {
    "null": lambda _: None,
    "bool": lambda value: value,
    "s": lambda value: value,
    "b": lambda value: value,
    "n": _number,
    "ss": set,
    "bs": set,
    "ns": lambda texts: {_number(text) for text in texts},
    "l": lambda values: [_value(value) for value in values],
    "m": lambda values: {name: _value(value) for name, value in values.items()},
}


def image(stream: Mapping[str, Any], name: str) -> dict[str, Any]:
    """``Keys``, ``NewImage`` or ``OldImage`` of a record's ``dynamodb`` section as Python
    values (empty when absent)."""
    attributes = stream.get(name) or {}
    return {key: _value(value) for key, value in attributes.items()}


def _sequence_number(record: Mapping[str, Any]) -> str | None:
    stream = record.get("dynamodb")
    if stream is None:
        raise ValueError("a failed stream record without its dynamodb section cannot be reported")
    sequence: str | None = stream.get("SequenceNumber")
    return sequence


def process_batch(
    event: Mapping[str, Any], handle: Callable[[dict[str, Any]], object]
) -> BatchResponse:
    """``handle`` each record of the stream event; the failed ones' sequence numbers."""
    records = event.get("Records")
    if not records or not isinstance(records, list):
        raise ValueError("not a DynamoDB stream batch: no Records")
    failed: list[dict[str, Any]] = []
    errors: list[BaseException] = []
    for record in records:
        try:
            handle(record)
        except Exception as exc:  # reported by its sequence number below
            failed.append(record)
            errors.append(exc)
    if failed and len(failed) == len(records):
        raise BatchFailed(errors)
    return {"batchItemFailures": [{"itemIdentifier": _sequence_number(r)} for r in failed]}
