"""One line of a partner's file: the Transaction model, with the same discipline as Order.

Every field is checked by one model, so a line that passes can be stored as is:
transaction_id and customer_id are identifiers (orders_core.model.id_text), amount and
currency follow orders_core.money, occurred_at is an ISO 8601 date-time with a UTC
offset, normalized to UTC with microseconds at fixed width
(``2025-01-31T05:34:56.000000Z``), so string order is time order.
"""

import re
from datetime import UTC, datetime
from typing import Annotated, Any, Final

from pydantic import BaseModel, BeforeValidator, ConfigDict, ValidationError
from pydantic_core import PydanticCustomError

from orders_core.model import CustomerId, id_text
from orders_core.money import Amount, Currency
from orders_core.validation import Problem

MAX_NAME_CHARS: Final = 256
MAX_EMAIL_CHARS: Final = 254
_MAX_TIMESTAMP_CHARS: Final = 64
# Deliberately loose (one @, a dot in the domain, no spaces): a label, not a mailbox check.
_EMAIL: Final = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
_UNSTORABLE_TEXT: Final = re.compile(r"[\ud800-\udfff\ufffe\uffff]")

REQUIRED_FIELDS: Final = ("transaction_id", "customer_id", "amount", "currency", "occurred_at")
OPTIONAL_FIELDS: Final = ("customer_name", "customer_email")


def _check_transaction_id(value: Any) -> str:
    try:
        return id_text(value, "transaction_id")
    except Problem as exc:
        raise PydanticCustomError(exc.kind, exc.message) from None


def format_utc(moment: datetime) -> str:
    """Fixed-width UTC text: sorts as time does."""
    return moment.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def _check_occurred_at(value: Any) -> str:
    if not isinstance(value, str) or len(value) > _MAX_TIMESTAMP_CHARS:
        raise PydanticCustomError(
            "occurred_at_type", "occurred_at must be an ISO 8601 date-time string"
        )
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        raise PydanticCustomError(
            "occurred_at_format",
            "occurred_at must be an ISO 8601 date-time such as 2025-01-31T12:34:56+07:00",
        ) from None
    if moment.utcoffset() is None:
        raise PydanticCustomError(
            "occurred_at_offset", "occurred_at needs a UTC offset such as Z or +07:00"
        )
    try:
        return format_utc(moment)
    except OverflowError:
        raise PydanticCustomError(
            "occurred_at_range", "occurred_at is outside the years 0001-9999 in UTC"
        ) from None


def _optional_text(value: Any, field: str, max_chars: int) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise PydanticCustomError(f"{field}_type", f"{field} must be a string")
    text = value.strip()
    if not text:
        return None
    if len(text) > max_chars:
        raise PydanticCustomError("too_long", f"{field} must be at most {max_chars} characters")
    if _UNSTORABLE_TEXT.search(text):
        raise PydanticCustomError(
            "unstorable_value", f"{field} has characters that cannot be stored"
        )
    return text


def _check_name(value: Any) -> str | None:
    return _optional_text(value, "customer_name", MAX_NAME_CHARS)


def _check_email(value: Any) -> str | None:
    text = _optional_text(value, "customer_email", MAX_EMAIL_CHARS)
    if text is not None and not _EMAIL.fullmatch(text):
        raise PydanticCustomError(
            "customer_email_format", "customer_email must look like name@example.com"
        )
    return text


TransactionId = Annotated[str, BeforeValidator(_check_transaction_id)]
OccurredAt = Annotated[str, BeforeValidator(_check_occurred_at)]
OptionalName = Annotated[str | None, BeforeValidator(_check_name)]
OptionalEmail = Annotated[str | None, BeforeValidator(_check_email)]


class Transaction(BaseModel):
    """One transaction line; validate with ``context=money.validation_context(currency)``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    transaction_id: TransactionId
    customer_id: CustomerId
    amount: Amount
    currency: Currency
    occurred_at: OccurredAt
    customer_name: OptionalName = None
    customer_email: OptionalEmail = None


def reason_of(exc: ValidationError) -> str:
    """One line saying why a line was refused; no input is echoed."""
    parts: list[str] = []
    for error in exc.errors(include_url=False, include_input=False, include_context=False):
        where = ".".join(str(part) for part in error["loc"])
        message = error["msg"]
        if error["type"] == "missing":
            message = "is missing"
        elif error["type"] == "extra_forbidden":
            message = "is not a known field"
        parts.append(message if not where or message.startswith(where) else f"{where} {message}")
    return "; ".join(parts)
