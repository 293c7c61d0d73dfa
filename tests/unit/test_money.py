"""The one amount rule (orders_core.money) and the Order fields that use it."""

from decimal import Decimal, Inexact, Overflow
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from orders_core.jsonutil import parse_json
from orders_core.model import AcceptedOrder, InvalidMessage, Order, Stamp
from orders_core.money import (
    LEDGER_CONTEXT,
    MAX_ABS_AMOUNT,
    InvalidAmount,
    add,
    check_ledger_currency,
    normalize_currency,
    parse_amount,
    to_cents,
)
from orders_core.validation import Invalid
from orders_core.versioning import format_accepted_at

# --- amounts -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (12, "12.00"),
        (-3, "-3.00"),
        ("12.5", "12.50"),
        ("-12.50", "-12.50"),
        (" 7 ", "7.00"),
        ("0", "0.00"),
        ("-0", "0.00"),
        (Decimal("12.340"), "12.34"),  # a trailing zero is not a third place
        (Decimal("1E+3"), "1000.00"),  # a JSON number with an exponent is still exact
        ("9999999999999999999999999999.99", "9999999999999999999999999999.99"),
    ],
)
def test_amounts_by_the_rule_are_exact_with_two_places(value: Any, expected: str) -> None:
    amount = parse_amount(value)

    assert str(amount) == expected


@pytest.mark.parametrize(
    ("value", "code"),
    [
        (12.5, "amount_type"),  # float: never
        (True, "amount_type"),
        (None, "amount_type"),
        ([1], "amount_type"),
        ("12.345", "amount_places"),
        (Decimal("0.001"), "amount_places"),
        ("1e3", "amount_format"),
        ("+5", "amount_format"),
        ("1_000", "amount_format"),  # Decimal() would take it
        ("NaN", "amount_format"),
        ("Infinity", "amount_format"),
        ("", "amount_format"),
        ("12.", "amount_format"),
        ("IDR 5", "amount_format"),
        (Decimal("NaN"), "amount_format"),
        (10**28, "amount_range"),
        ("10000000000000000000000000000", "amount_range"),
        (Decimal("-1E+40"), "amount_range"),
    ],
)
def test_anything_else_is_refused_with_a_stable_code(value: Any, code: str) -> None:
    with pytest.raises(InvalidAmount) as raised:
        parse_amount(value)

    assert raised.value.code == code


def test_the_bound_is_exact_not_rounded_by_the_default_context() -> None:
    # Decimal(10) ** 28 - 0.01 in the default 28-digit context rounds to 1E+28
    assert str(MAX_ABS_AMOUNT) == "9" * 28 + ".99"


# (amount in cents as an int, the same as a Decimal) up to 30 digits: beyond the default
# context's 28, so any arithmetic done there would round
cents = st.integers(-(10**30) + 1, 10**30 - 1)


def as_amount(value: int) -> Decimal:
    return Decimal(value).scaleb(-2, context=LEDGER_CONTEXT)


@given(cents)
def test_every_amount_reads_back_from_its_json_number_and_its_string(value: int) -> None:
    amount = as_amount(value)
    if amount.copy_abs() > MAX_ABS_AMOUNT:
        with pytest.raises(InvalidAmount):
            parse_amount(str(amount))
        return
    assert parse_amount(parse_json(str(amount))) == amount
    assert parse_amount(str(amount)) == amount


@given(st.lists(cents, max_size=50))
def test_sums_are_exact_where_the_default_context_would_round(values: list[int]) -> None:
    total = Decimal("0.00")
    for value in values:
        total = add(total, as_amount(value))

    assert total == as_amount(sum(values))


def test_arithmetic_beyond_38_digits_raises_instead_of_rounding() -> None:
    big = Decimal("9" * 36 + ".99")

    with pytest.raises((Inexact, Overflow)):
        add(big, big)


def test_to_cents_refuses_to_round() -> None:
    assert str(to_cents(Decimal("12.5"))) == "12.50"
    with pytest.raises(Inexact):
        to_cents(Decimal("12.345"))


# --- currency ----------------------------------------------------------------------------


def test_the_currency_is_the_ledger_currency_in_any_case() -> None:
    assert normalize_currency(" idr ", "IDR") == "IDR"
    with pytest.raises(InvalidAmount, match="must be IDR"):
        normalize_currency("USD", "IDR")
    with pytest.raises(InvalidAmount):
        normalize_currency(5, "IDR")


@pytest.mark.parametrize("setting", ["idr", "ID", "IDRR", "", "I D"])
def test_a_ledger_currency_setting_is_three_capitals(setting: str) -> None:
    with pytest.raises(ValueError, match="three upper-case letters"):
        check_ledger_currency(setting)


# --- orders ------------------------------------------------------------------------------


def test_orders_without_ledger_fields_are_valid_and_stored_as_before() -> None:
    order = Order.parse({"order_id": "1", "item": "Kopi", "qty": 2, "note": "x"})

    assert order.attributes() == {"order_id": "1", "item": "Kopi", "qty": 2, "note": "x"}


def test_an_order_with_customer_and_amount_carries_them_exactly() -> None:
    order = Order.parse(
        {"order_id": 1, "item": "Kopi", "customer_id": 42, "amount": Decimal("15000.5")},
        ledger_currency="IDR",
    )

    assert order.attributes() == {
        "order_id": "1",
        "item": "Kopi",
        "customer_id": "42",  # an integer id is its decimal string, as in files
        "amount": Decimal("15000.50"),
    }


@pytest.mark.parametrize(
    ("payload", "loc", "error_type"),
    [
        ({"customer_id": "c1"}, ["amount"], "ledger_fields"),
        ({"amount": 10}, ["customer_id"], "ledger_fields"),
        ({"customer_id": "c1", "amount": "10.001"}, ["amount"], "amount_places"),
        ({"customer_id": "c1", "amount": 10.5}, ["amount"], "amount_type"),
        ({"customer_id": " ", "amount": 10}, ["customer_id"], "blank"),
        ({"customer_id": True, "amount": 10}, ["customer_id"], "customer_id_type"),
        ({"customer_id": "c1", "amount": 1, "currency": "USD"}, ["currency"], "currency_mismatch"),
    ],
)
def test_ledger_field_errors_are_located_at_the_field(
    payload: dict[str, Any], loc: list[str], error_type: str
) -> None:
    with pytest.raises(Invalid) as raised:
        Order.parse({"order_id": "1", "item": "Kopi", **payload}, ledger_currency="IDR")

    details = raised.value.details()
    assert [(d["loc"], d["type"]) for d in details] == [(loc, error_type)]


def test_currency_cannot_be_accepted_without_a_ledger_currency_in_the_context() -> None:
    payload = {"order_id": "1", "item": "Kopi", "customer_id": "c", "amount": 1, "currency": "IDR"}

    with pytest.raises(Invalid, match="no ledger currency"):
        Order.parse(payload)
    assert Order.parse(payload, ledger_currency="IDR").currency == "IDR"


def test_the_queue_message_round_trips_the_ledger_fields_with_the_context() -> None:
    order = Order.parse(
        {"order_id": "1", "item": "Kopi", "customer_id": "c", "amount": "-5", "currency": "idr"},
        ledger_currency="IDR",
    )
    stamp = Stamp.create(accepted_at=format_accepted_at(0), request_id="req", position=0)
    body = AcceptedOrder(order=order, stamp=stamp).to_message_body()

    assert '"amount":-5.00' in body
    assert '"currency":"IDR"' in body
    assert AcceptedOrder.from_message_body(body, ledger_currency="IDR").order == order
    with pytest.raises(InvalidMessage, match="no ledger currency"):
        AcceptedOrder.from_message_body(body)
