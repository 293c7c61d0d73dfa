"""A DynamoDB stream record as Lambda delivers it: its images and its name in a batch.

A failed record is reported by its SequenceNumber (orders_core.batch): Lambda then
retries the stream from the first failed record.

Images are read as the Powertools deserializer read them: as boto3 reads items, except
that a number of more than 38 digits whose extra digits are trailing zeros is accepted
(DynamoDB can write 1E+40 as 41 digits) and binary values are plain ``bytes``.
"""

from collections.abc import Callable, Mapping
from decimal import Clamped, Context, Decimal, Inexact, Overflow, Rounded, Underflow
from typing import Any, Final

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


def sequence_number(record: Mapping[str, Any]) -> str | None:
    """How a stream record is named in ``batchItemFailures`` (orders_core.batch)."""
    stream = record.get("dynamodb")
    if stream is None:
        raise ValueError("a failed stream record without its dynamodb section cannot be reported")
    sequence: str | None = stream.get("SequenceNumber")
    return sequence
