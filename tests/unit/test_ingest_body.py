"""Ingest's request reading and answer shaping on their own: no resolver, no queue."""

import uuid
from dataclasses import replace
from decimal import Decimal
from http import HTTPStatus
from typing import Any

import pytest
from aws_lambda_powertools.utilities.data_classes import ALBEvent
from orders_core.http import BadRequest, PayloadTooLarge, UnsupportedMediaType, ValidationFailed
from orders_core.ingest.api import API_PATHS, accepted_body, no_route
from orders_core.ingest.body import MAX_BASE64_CHARS, header, is_json_content_type, read_payload
from orders_core.ingest.service import OrderResult, read_orders, request_id_of
from orders_core.limits import MAX_BODY_BYTES

from tests.unit.events import FakeContext, alb_event


def _event(body: str | bytes | None = None, **kwargs: Any) -> ALBEvent:
    return ALBEvent(alb_event(body, **kwargs))


# --- body --------------------------------------------------------------------------------


def test_a_json_body_is_read_with_exact_decimals() -> None:
    payload = read_payload(_event('{"order_id": "1", "item": "x", "price": 12.50}'))

    assert payload == {"order_id": "1", "item": "x", "price": Decimal("12.50")}
    assert str(payload["price"]) == "12.50"


def test_a_base64_body_is_decoded_before_parsing() -> None:
    assert read_payload(_event(b'{"order_id": 1, "item": "x"}')) == {"order_id": 1, "item": "x"}


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("application/json", True),
        (" Application/JSON ; charset=UTF8", True),
        ('application/json; charset="utf-8"; q=1', True),
        ("application/json; charset=latin-1", False),
        ("application/jsonx", False),
        ("text/json", False),
        ("", False),
        (None, False),
    ],
)
def test_json_content_types(value: str | None, expected: bool) -> None:
    assert is_json_content_type(value) is expected


def test_headers_are_read_from_single_or_multi_value_events() -> None:
    single = _event("{}", headers={"x-a": "1"})
    multi = _event("{}", headers={"x-a": "1"}, multi_value_headers=True)

    assert header(single, "x-a") == header(multi, "x-a") == "1"
    assert header(single, "x-missing") is None


def test_a_repeated_header_is_ambiguous_and_read_as_absent() -> None:
    raw = alb_event("{}", multi_value_headers=True)
    raw["multiValueHeaders"]["content-type"] = ["application/json", "application/json"]

    assert header(ALBEvent(raw), "content-type") is None
    with pytest.raises(UnsupportedMediaType):
        read_payload(ALBEvent(raw))


def test_an_oversized_base64_body_is_refused_before_it_is_decoded() -> None:
    # Given base64 text past the cap that is not even valid base64
    raw = alb_event("{}") | {"isBase64Encoded": True, "body": "!" * (MAX_BASE64_CHARS + 1)}

    # Then the size decides (413), not the decoder (400)
    with pytest.raises(PayloadTooLarge):
        read_payload(ALBEvent(raw))


def test_the_base64_cap_admits_every_body_up_to_the_limit() -> None:
    assert len(alb_event(b"x" * MAX_BODY_BYTES)["body"]) <= MAX_BASE64_CHARS


@pytest.mark.parametrize(
    ("body", "error", "code"),
    [
        ("{", BadRequest, "malformed_json"),
        (b"\xff", BadRequest, "invalid_utf8"),
        ("[" * 50_000 + "]" * 50_000, ValidationFailed, "nesting_too_deep"),
    ],
)
def test_unreadable_bodies_raise_the_refusal_that_names_why(
    body: str | bytes, error: type[Exception], code: str
) -> None:
    with pytest.raises(error) as caught:
        read_payload(_event(body))
    assert getattr(caught.value, "code", None) == code


# --- answers -----------------------------------------------------------------------------


def _accepted(index: int) -> OrderResult:
    return OrderResult(
        index=index, status="accepted", order_id=str(index), item="x", message_id=f"m-{index}"
    )


def test_one_order_is_answered_with_its_receipt() -> None:
    request = read_orders({"order_id": "0", "item": "x"}, ledger_currency="IDR")
    result = replace(_accepted(0), version="v", location="/where")

    assert accepted_body(request, [result]) == {
        "status": "accepted",
        "message_id": "m-0",
        "order_id": "0",
        "item": "x",
        "version": "v",
        "location": "/where",
    }


def test_an_array_is_answered_with_a_result_per_order() -> None:
    request = read_orders([{"order_id": "0", "item": "x"}], ledger_currency="IDR")

    body = accepted_body(request, [_accepted(0)])

    assert body == {
        "status": "accepted",
        "results": [
            {"index": 0, "status": "accepted", "order_id": "0", "item": "x", "message_id": "m-0"}
        ],
    }


@pytest.mark.parametrize("path", API_PATHS)
def test_another_method_on_the_api_is_405_naming_post(path: str) -> None:
    refusal = no_route(path, "GET")

    assert (refusal.status, refusal.code) == (HTTPStatus.METHOD_NOT_ALLOWED, "method_not_allowed")
    assert refusal.headers() == {"Allow": "POST"}


def test_another_path_is_404() -> None:
    refusal = no_route("/lambda/api/extra", "POST")

    assert (refusal.status, refusal.code) == (HTTPStatus.NOT_FOUND, "not_found")


@pytest.mark.parametrize("path", ["/lambda/api/orders/1", "/lambda/api/orders/1/Kopi%20Susu"])
@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH"])
def test_another_method_on_a_status_path_is_405_as_at_the_edge(path: str, method: str) -> None:
    # The ALB sends GET/HEAD there to the status function; the rest falls through to ingest.
    refusal = no_route(path, method)

    assert (refusal.status, refusal.code) == (HTTPStatus.METHOD_NOT_ALLOWED, "method_not_allowed")
    assert refusal.headers() == {"Allow": "GET, HEAD"}


@pytest.mark.parametrize(
    "path",
    [
        "/lambda/api/orders",
        "/lambda/api/orders/",
        "/lambda/api/orders/1/",
        "/lambda/api/orders/1/a/b",
    ],
)
def test_what_is_no_status_path_stays_404(path: str) -> None:
    assert no_route(path, "POST").status == HTTPStatus.NOT_FOUND


def test_request_ids_that_cannot_stamp_a_version_are_replaced() -> None:
    lambda_id = str(uuid.uuid4())

    assert request_id_of(FakeContext(aws_request_id=lambda_id)) == lambda_id
    for context in (FakeContext(aws_request_id="has space"), object()):  # odd, or none at all
        replaced = request_id_of(context)
        assert str(uuid.UUID(replaced)) == replaced
