"""The one amount rule of the ledger, for files and orders alike.

An amount is an exact decimal with at most 2 decimal places, written as a JSON number
(parsed as Decimal by orders_core.jsonutil, never as float) or as a string such as
``"-12.50"``. It may be negative (a refund). Its magnitude stays below 10**28, so an
amount has at most 30 significant digits and a customer's total, the sum of up to
10**8 such amounts, still fits DynamoDB's 38. The currency, when given, must be the
ledger's one currency (setting ``ledger_currency``, env ``LEDGER_CURRENCY``).

Arithmetic on amounts and totals goes through ``LEDGER_CONTEXT``: 38 digits, and any
rounding or overflow raises instead of silently changing a cent.
"""

import re
from decimal import (
    Clamped,
    Context,
    Decimal,
    DecimalException,
    Inexact,
    InvalidOperation,
    Overflow,
    Rounded,
    Underflow,
)
from typing import Any, Final

from orders_core.limits import DYNAMODB_MAX_DIGITS
from orders_core.validation import Problem

MAX_DECIMAL_PLACES: Final = 2
MAX_INTEGER_DIGITS: Final = 28
CENT: Final = Decimal("0.01")
ZERO: Final = Decimal("0.00")
# Written out: Decimal arithmetic in the default context (28 digits) would round it.
MAX_ABS_AMOUNT: Final = Decimal("9" * MAX_INTEGER_DIGITS + ".99")

# Exact arithmetic: DynamoDB's precision, and every inexact result is an error.
LEDGER_CONTEXT: Final = Context(
    prec=DYNAMODB_MAX_DIGITS,
    traps=[Clamped, Overflow, Inexact, Rounded, Underflow, InvalidOperation],
)
# Quantizing 12.340 to cents drops a zero (Rounded) but loses nothing: only Inexact counts.
_CENTS_CONTEXT: Final = Context(prec=DYNAMODB_MAX_DIGITS, traps=[Inexact, InvalidOperation])

# A plain decimal in a string: optional minus, digits, optional fraction. No exponent,
# no '+', no spaces, no '_' (which Decimal() would otherwise accept), no NaN.
_AMOUNT_TEXT: Final = re.compile(r"-?\d+(\.\d+)?")
_CURRENCY_CODE: Final = re.compile(r"[A-Z]{3}")
_MAX_AMOUNT_TEXT_CHARS: Final = 64


class InvalidAmount(ValueError):
    """A value that is not an amount by the ledger's rule; ``code`` is stable."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def parse_amount(value: object) -> Decimal:
    """The amount ``value`` stands for, as a Decimal with exactly 2 places.

    Accepts int, Decimal and strings of a plain decimal; refuses float (inexact by
    nature), bool, NaN/Infinity, more than 2 places and magnitudes of 10**28 or more.
    """
    if isinstance(value, bool) or not isinstance(value, int | Decimal | str):
        raise InvalidAmount(
            "amount_type", 'amount must be a JSON number or a string such as "12.50"'
        )
    if isinstance(value, str):
        text = value.strip()
        if len(text) > _MAX_AMOUNT_TEXT_CHARS or not _AMOUNT_TEXT.fullmatch(text):
            raise InvalidAmount(
                "amount_format", "amount must be a plain decimal such as 12.50 or -3"
            )
        number = Decimal(text)
    elif isinstance(value, int):
        if abs(value) > MAX_ABS_AMOUNT:
            raise _out_of_range()
        number = Decimal(value)
    else:
        number = value
    if not number.is_finite():
        raise InvalidAmount("amount_format", "amount must be a finite number")
    if number.copy_abs() > MAX_ABS_AMOUNT:  # copy_abs: abs() would round to 28 digits
        raise _out_of_range()
    try:
        exact = number.quantize(CENT, context=_CENTS_CONTEXT)
    except DecimalException:
        raise InvalidAmount(
            "amount_places", f"amount must have at most {MAX_DECIMAL_PLACES} decimal places"
        ) from None
    return exact if exact else ZERO  # -0 and 0 are the same amount: one spelling


def _out_of_range() -> InvalidAmount:
    return InvalidAmount(
        "amount_range", f"amount must be between -{MAX_ABS_AMOUNT} and {MAX_ABS_AMOUNT}"
    )


def add(left: Decimal, right: Decimal) -> Decimal:
    """Exact sum; raises decimal.Inexact/Overflow rather than round."""
    return LEDGER_CONTEXT.add(left, right)


def subtract(left: Decimal, right: Decimal) -> Decimal:
    return LEDGER_CONTEXT.subtract(left, right)


def to_cents(value: Decimal) -> Decimal:
    """``value`` with exactly 2 places (DynamoDB hands numbers back normalized: 12.5).

    Raises decimal.Inexact if ``value`` has more places: never rounds.
    """
    exact = value.quantize(CENT, context=_CENTS_CONTEXT)
    return exact if exact else ZERO


def normalize_currency(value: object, ledger_currency: str) -> str:
    """The currency code if it is the ledger currency (case-insensitive), else raises."""
    if not isinstance(value, str):
        raise InvalidAmount("currency_type", 'currency must be a string such as "IDR"')
    code = value.strip().upper()
    if code != ledger_currency:
        raise InvalidAmount(
            "currency_mismatch", f"currency must be {ledger_currency}, the ledger currency"
        )
    return code


def check_ledger_currency(value: str) -> str:
    """A ledger currency setting: three upper-case letters (ISO 4217 style)."""
    if not _CURRENCY_CODE.fullmatch(value):
        raise ValueError("the ledger currency must be three upper-case letters, such as IDR")
    return value


def check_amount(value: Any) -> Decimal:
    """An order's or a file line's amount (orders_core.validation check)."""
    try:
        return parse_amount(value)
    except InvalidAmount as exc:
        raise Problem(exc.code, exc.message) from None


def check_currency(value: Any, ledger_currency: str | None) -> str:
    """An order's or a file line's currency: the ledger's (orders_core.validation check)."""
    if not isinstance(ledger_currency, str):
        raise Problem(
            "currency_unchecked", "currency cannot be checked: no ledger currency is configured"
        )
    try:
        return normalize_currency(value, ledger_currency)
    except InvalidAmount as exc:
        raise Problem(exc.code, exc.message) from None
