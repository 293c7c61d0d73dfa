"""The shared layer on its own: versions, JSON, the model, retry policy, settings."""

import re
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from orders_core.ingest.settings import IngestSettings
from orders_core.jsonutil import InvalidJson, dumps_json, parse_json
from orders_core.model import (
    SYSTEM_ATTRIBUTES,
    AcceptedOrder,
    InvalidMessage,
    Order,
    Stamp,
)
from orders_core.process.settings import ProcessSettings
from orders_core.retry import RetryPolicy
from orders_core.settings import SettingsError, load_settings
from orders_core.validation import Invalid
from orders_core.versioning import (
    ACCEPTED_AT_PATTERN,
    REQUEST_ID_PATTERN,
    format_accepted_at,
    make_version,
)

# 1970 .. 9999: the range a fixed-width four-digit year covers.
instants = st.integers(0, 253_402_300_799_999_999_999)
request_ids = st.from_regex(re.compile(REQUEST_ID_PATTERN), fullmatch=True)
positions = st.integers(0, 9)


# --- versions ----------------------------------------------------------------------------


@given(a=instants, b=instants)
def test_accepted_at_sorts_as_time_does(a: int, b: int) -> None:
    text_a, text_b = format_accepted_at(a), format_accepted_at(b)

    assert re.fullmatch(ACCEPTED_AT_PATTERN, text_a)
    assert len(text_a) == len(text_b)
    assert (text_a < text_b) == (a < b)


@given(a=st.tuples(instants, request_ids, positions), b=st.tuples(instants, request_ids, positions))
def test_versions_sort_as_accepted_at_then_request_id_then_position(
    a: tuple[int, str, int], b: tuple[int, str, int]
) -> None:
    # DynamoDB compares strings by UTF-8 bytes; these are ASCII, so str order is that order
    version_a = make_version(format_accepted_at(a[0]), a[1], a[2])
    version_b = make_version(format_accepted_at(b[0]), b[1], b[2])

    assert (version_a < version_b) == (a < b)
    assert (version_a == version_b) == (a == b)


@pytest.mark.parametrize("request_id", ["", "has space", "has#hash", "é", "x" * 129, "abc\n"])
def test_request_ids_that_would_break_ordering_are_refused(request_id: str) -> None:
    with pytest.raises(ValueError, match="request id"):
        make_version(format_accepted_at(0), request_id, 0)


def test_stamp_refuses_a_version_that_does_not_match_its_parts() -> None:
    stamp = Stamp.create(accepted_at=format_accepted_at(0), request_id="req-a", position=1)

    with pytest.raises(Invalid, match="does not match"):
        Stamp.parse(
            {"accepted_at": stamp.accepted_at, "request_id": "req-b", "version": stamp.version}
        )


def test_the_reserved_order_fields_are_exactly_the_stamp_fields() -> None:
    reserved = set(Order.RESERVED)
    assert reserved == set(SYSTEM_ATTRIBUTES)
    assert reserved == {"accepted_at", "request_id", "version", "auth_subject"}
    # each is refused where it was sent
    with pytest.raises(Invalid) as caught:
        Order.parse({"order_id": "1", "item": "x", **dict.fromkeys(reserved)})
    assert {(tuple(d["loc"]), d["type"]) for d in caught.value.details()} == {
        ((name,), "reserved_field") for name in reserved
    }


@pytest.mark.parametrize("subject", [None, "user-42", "auth0|5f7c8ec7c33c6c004bbafe82"])
def test_a_stamp_carries_the_subject_to_the_table_only_when_there_is_one(
    subject: str | None,
) -> None:
    stamp = Stamp.create(
        accepted_at=format_accepted_at(0), request_id="req-a", position=0, auth_subject=subject
    )
    accepted = AcceptedOrder(order=Order.parse({"order_id": "1", "item": "x"}), stamp=stamp)

    item = accepted.to_item()
    again = AcceptedOrder.from_message_body(accepted.to_message_body())

    assert item.get("auth_subject") == subject
    assert ("auth_subject" in item) is (subject is not None)  # never stored as null
    assert again.stamp.auth_subject == subject


@pytest.mark.parametrize("subject", ["", " padded ", "tab\there", "é", "x" * 256])
def test_a_subject_the_edge_would_never_pass_on_is_refused(subject: str) -> None:
    with pytest.raises(Invalid):
        Stamp.create(
            accepted_at=format_accepted_at(0), request_id="req-a", position=0, auth_subject=subject
        )


# --- JSON --------------------------------------------------------------------------------

# (an integer literal -0 reads back as 0: numerically equal, so left out of the exactness check)
json_safe_decimals = st.decimals(allow_nan=False, allow_infinity=False).filter(
    lambda d: not (d.is_zero() and d.is_signed())
)
exact_values = st.recursive(
    st.none() | st.booleans() | st.integers() | json_safe_decimals | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(), children, max_size=4)
    ),
    max_leaves=20,
)


@given(value=exact_values)
def test_json_round_trips_decimals_exactly(value: Any) -> None:
    text = dumps_json(value)

    parsed = parse_json(text)

    assert parsed == value
    # writing it again gives the same digits: 12.50 stays 12.50, 1E+5 stays 1E+5
    assert dumps_json(parsed) == text


@pytest.mark.parametrize(
    "value", [float("nan"), 1.5, Decimal("NaN"), Decimal("Infinity"), b"x", {1: 2}]
)
def test_dumps_refuses_what_is_not_exact_json(value: Any) -> None:
    with pytest.raises(TypeError):
        dumps_json(value)


def test_huge_integers_parse_as_decimals_rather_than_failing() -> None:
    assert parse_json("1" * 5000) == Decimal("1" * 5000)


@pytest.mark.parametrize("text", ["", "{", "[1,]", "NaN", "-Infinity", '{"a":1,"a":1}', "\ufeff{}"])
def test_parse_refuses_what_is_not_one_json_document(text: str) -> None:
    with pytest.raises(InvalidJson) as caught:
        parse_json(text)
    assert caught.value.code == "malformed_json"


# --- the order model ---------------------------------------------------------------------


def test_an_accepted_order_round_trips_through_its_message() -> None:
    order = Order.parse(
        {"order_id": 5, "item": "Kopi", "qty": 1, "price": Decimal("1.50"), "m": {"k": [None]}}
    )
    stamp = Stamp.create(accepted_at=format_accepted_at(10**18), request_id="r-1", position=0)
    accepted = AcceptedOrder(order=order, stamp=stamp)

    parsed = AcceptedOrder.from_message_body(accepted.to_message_body())

    assert parsed == accepted
    assert parsed.to_item() == {
        "order_id": "5",
        "item": "Kopi",
        "qty": 1,
        "price": Decimal("1.50"),
        "m": {"k": [None]},
        **stamp.attributes(),
    }


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ("{", "malformed_json"),
        ('"text"', "invalid_order"),
        ('{"order_id": "1", "item": "x"}', "invalid_stamp"),
    ],
)
def test_messages_that_can_never_be_stored_say_why(body: str, reason: str) -> None:
    with pytest.raises(InvalidMessage) as caught:
        AcceptedOrder.from_message_body(body)
    assert caught.value.reason == reason


@pytest.mark.parametrize(
    "number",
    [Decimal("9.9999999999999999999999999999999999999E+125"), Decimal("1E-130"), 0, -(10**37)],
)
def test_numbers_at_dynamodb_limits_are_kept(number: Decimal | int) -> None:
    order = Order.parse({"order_id": "1", "item": "x", "n": number})
    assert order.extras == {"n": number}


@pytest.mark.parametrize(
    "number", [Decimal("1E+126"), Decimal("1E-131"), Decimal("1." + "0" * 40), 10**38 + 1]
)
def test_numbers_beyond_dynamodb_limits_are_refused(number: Decimal | int) -> None:
    with pytest.raises(Invalid, match="cannot be stored exactly"):
        Order.parse({"order_id": "1", "item": "x", "n": number})


def test_nesting_up_to_the_limit_is_kept() -> None:
    eight_levels = parse_json("[" * 8 + "]" * 8)
    assert Order.parse({"order_id": "1", "item": "x", "v": eight_levels})


# --- retry policy ------------------------------------------------------------------------


@given(retry_number=st.integers(1, 30), jitter=st.floats(0, 1, exclude_max=True))
def test_backoff_is_jittered_exponential_and_capped(retry_number: int, jitter: float) -> None:
    policy = RetryPolicy(base_delay_s=0.05, max_delay_s=1.0)

    delay = policy.delay_s(retry_number, jitter)

    assert 0 <= delay <= min(1.0, 0.05 * 2 ** (retry_number - 1))


def test_an_attempt_needs_the_safety_margin_after_the_delay() -> None:
    policy = RetryPolicy(safety_margin_ms=3_000)

    assert policy.can_attempt(3_500, 0.5)
    assert not policy.can_attempt(3_499, 0.5)


# --- settings ----------------------------------------------------------------------------


def test_settings_name_every_missing_variable() -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings(IngestSettings, {"POWERTOOLS_SERVICE_NAME": "orders-ingest"})
    assert "ORDERS_QUEUE_URL" in str(caught.value)
    assert "POWERTOOLS_METRICS_NAMESPACE" in str(caught.value)


def test_an_empty_variable_counts_as_missing() -> None:
    environ = {
        "POWERTOOLS_SERVICE_NAME": "orders-process",
        "POWERTOOLS_METRICS_NAMESPACE": "Orders-dev",
        "ORDERS_TABLE_NAME": "",
    }
    with pytest.raises(SettingsError, match="ORDERS_TABLE_NAME"):
        load_settings(ProcessSettings, environ)


def test_settings_read_the_documented_variables() -> None:
    settings = load_settings(
        ProcessSettings,
        {
            "POWERTOOLS_SERVICE_NAME": "orders-process",
            "POWERTOOLS_METRICS_NAMESPACE": "Orders-dev",
            "ORDERS_TABLE_NAME": "orders-dev",
            "ORDERS_MAX_RECEIVE_COUNT": "5",
            "LEDGER_CURRENCY": "IDR",
            "UNRELATED": "ignored",
        },
    )
    assert (settings.orders_table_name, settings.log_level) == ("orders-dev", "INFO")
    assert settings.max_receive_count == 5
