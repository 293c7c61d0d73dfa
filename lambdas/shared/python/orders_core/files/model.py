"""One line of a partner's file: the Transaction model, with the same discipline as Order.

Every field is checked by one model, so a line that passes can be stored as is:
transaction_id and customer_id are identifiers (orders_core.model.id_text), amount and
currency follow orders_core.money, occurred_at is an ISO 8601 date-time with a UTC
offset, normalized to UTC with microseconds at fixed width
(``2025-01-31T05:34:56.000000Z``), so string order is time order.
"""

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Final, Self

from orders_core.model import id_text
from orders_core.money import check_amount, check_currency
from orders_core.validation import EXTRA_KIND, MISSING_KIND, Checks, Invalid, Problem

MAX_NAME_CHARS: Final = 256
MAX_EMAIL_CHARS: Final = 254
_MAX_TIMESTAMP_CHARS: Final = 64
# Deliberately loose (one @, a dot in the domain, no spaces): a label, not a mailbox check.
_EMAIL: Final = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
_UNSTORABLE_TEXT: Final = re.compile(r"[\ud800-\udfff\ufffe\uffff]")

REQUIRED_FIELDS: Final = ("transaction_id", "customer_id", "amount", "currency", "occurred_at")
OPTIONAL_FIELDS: Final = ("customer_name", "customer_email")
_KNOWN_FIELDS: Final = frozenset(REQUIRED_FIELDS + OPTIONAL_FIELDS)


def format_utc(moment: datetime) -> str:
    """Fixed-width UTC text: sorts as time does."""
    return moment.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def _check_transaction_id(value: Any) -> str:
    return id_text(value, "transaction_id")


def _check_customer_id(value: Any) -> str:
    return id_text(value, "customer_id")


def _check_occurred_at(value: Any) -> str:
    if not isinstance(value, str) or len(value) > _MAX_TIMESTAMP_CHARS:
        raise Problem("occurred_at_type", "occurred_at must be an ISO 8601 date-time string")
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        raise Problem(
            "occurred_at_format",
            "occurred_at must be an ISO 8601 date-time such as 2025-01-31T12:34:56+07:00",
        ) from None
    if moment.utcoffset() is None:
        raise Problem("occurred_at_offset", "occurred_at needs a UTC offset such as Z or +07:00")
    try:
        return format_utc(moment)
    except OverflowError:
        raise Problem(
            "occurred_at_range", "occurred_at is outside the years 0001-9999 in UTC"
        ) from None


def _optional_text(value: Any, field: str, max_chars: int) -> str | None:
    if not isinstance(value, str):
        raise Problem(f"{field}_type", f"{field} must be a string")
    text = value.strip()
    if not text:
        return None
    if len(text) > max_chars:
        raise Problem("too_long", f"{field} must be at most {max_chars} characters")
    if _UNSTORABLE_TEXT.search(text):
        raise Problem("unstorable_value", f"{field} has characters that cannot be stored")
    return text


def _check_name(value: Any) -> str | None:
    return _optional_text(value, "customer_name", MAX_NAME_CHARS)


def _check_email(value: Any) -> str | None:
    text = _optional_text(value, "customer_email", MAX_EMAIL_CHARS)
    if text is not None and not _EMAIL.fullmatch(text):
        raise Problem("customer_email_format", "customer_email must look like name@example.com")
    return text


@dataclass(frozen=True, slots=True)
class Transaction:
    """One transaction line, checked by ``parse``: every field valid, no unknown field."""

    transaction_id: str
    customer_id: str
    amount: Decimal
    currency: str
    occurred_at: str
    customer_name: str | None = None
    customer_email: str | None = None

    @classmethod
    def parse(cls, data: dict[str, Any], ledger_currency: str) -> Self:
        """The line's transaction; raises Invalid naming every bad, missing or unknown field
        (the known ones first, in field order, then the unknown ones as they came)."""
        checks = Checks()
        values: dict[str, Any] = {
            name: checks.required(data, name, check)
            for name, check in _required_checks(ledger_currency)
        }
        values["customer_name"] = checks.optional(data, "customer_name", _check_name)
        values["customer_email"] = checks.optional(data, "customer_email", _check_email)
        checks.only_known(data, _KNOWN_FIELDS)
        checks.done()
        return cls(**values)


def _required_checks(ledger_currency: str) -> tuple[tuple[str, Callable[[Any], Any]], ...]:
    """The required fields' checks, in REQUIRED_FIELDS order."""
    return (
        ("transaction_id", _check_transaction_id),
        ("customer_id", _check_customer_id),
        ("amount", check_amount),
        ("currency", lambda value: check_currency(value, ledger_currency)),
        ("occurred_at", _check_occurred_at),
    )


def reason_of(exc: Invalid) -> str:
    """One line saying why a line was refused; no input is echoed."""
    parts: list[str] = []
    for problem in exc.problems:
        where = ".".join(str(part) for part in problem.loc)
        message = problem.message
        if problem.kind == MISSING_KIND:
            message = "is missing"
        elif problem.kind == EXTRA_KIND:
            message = "is not a known field"
        parts.append(message if not where or message.startswith(where) else f"{where} {message}")
    return "; ".join(parts)
