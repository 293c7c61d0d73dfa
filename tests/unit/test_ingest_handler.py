"""Ingest: ALB event in, HTTP answer out, and what really reached the (moto) queue."""

import base64
import json
import time
from decimal import Decimal
from typing import Any
from urllib.parse import quote

import boto3
import pytest
from botocore.exceptions import EndpointConnectionError
from botocore.stub import Stubber
from orders_core.ingest.queue import OrdersQueue
from orders_core.ingest.service import IngestService
from orders_core.limits import MAX_BODY_BYTES, MAX_ORDERS_PER_REQUEST
from orders_core.model import AcceptedOrder
from orders_core.settings import SettingsError
from orders_core.versioning import ACCEPTED_AT_PATTERN, format_accepted_at

from lambdas.ingest import handler as ingest_handler
from tests.unit.conftest import REGION, Captured, QueueProbe
from tests.unit.events import TRACE_ID, FakeContext, alb_event, json_event
from tests.unit.ingest_client import invoke

ORDER = {"order_id": "123", "item": "Kopi Susu", "qty": 2}


# --- accepted ----------------------------------------------------------------------------


def test_one_order_is_queued_stamped_and_answered_202(orders_queue: QueueProbe) -> None:
    # Given a valid order and a known invocation
    context = FakeContext(aws_request_id="9f1c7a52-3b1e-4d5f-8a8e-0c2d4b6f8a10")
    before = format_accepted_at(time.time_ns())

    # When the ALB posts it
    answer = invoke(json_event(ORDER), context)

    # Then the client hears 202 with the message id, and that message is on the queue
    after = format_accepted_at(time.time_ns())
    assert answer.status == 202
    assert answer.body["status"] == "accepted"
    assert (answer.body["order_id"], answer.body["item"]) == ("123", "Kopi Susu")
    [message] = orders_queue.drain()
    assert message["message_id"] == answer.body["message_id"]
    queued = json.loads(message["body"])
    assert {k: queued[k] for k in ORDER} == ORDER
    assert queued["request_id"] == context.aws_request_id
    assert before <= queued["accepted_at"] <= after
    assert queued["version"] == f"{queued['accepted_at']}#{context.aws_request_id}#00"
    assert answer.body["version"] == queued["version"]
    assert set(queued) == {*ORDER, "accepted_at", "request_id", "version"}
    # and where to ask whether that version is stored: the status path, URL-encoded
    location = f"/lambda/api/orders/123/Kopi%20Susu?version={quote(queued['version'], safe='')}"
    assert answer.headers["Location"] == location == answer.body["location"]


def test_the_location_encodes_every_character_a_key_may_hold(orders_queue: QueueProbe) -> None:
    order = {"order_id": "a/b?c#d", "item": "50% off & more ☕"}

    answer = invoke(json_event(order))

    path, _, query = answer.headers["Location"].partition("?")
    assert path == "/lambda/api/orders/a%2Fb%3Fc%23d/50%25%20off%20%26%20more%20%E2%98%95"
    assert query == f"version={quote(answer.body['version'], safe='')}"


def test_trailing_slash_path_is_the_same_api(orders_queue: QueueProbe) -> None:
    answer = invoke(json_event(ORDER, path="/lambda/api/"))

    assert answer.status == 202
    assert len(orders_queue.drain()) == 1


def test_integer_order_id_is_normalized_to_its_decimal_string(orders_queue: QueueProbe) -> None:
    answer = invoke(json_event({"order_id": 42, "item": "Teh"}))

    assert answer.status == 202
    assert answer.body["order_id"] == "42"
    [queued] = orders_queue.drain_json()
    assert queued["order_id"] == "42"
    assert "qty" not in queued


def test_base64_encoded_body_is_decoded(orders_queue: QueueProbe) -> None:
    # ALB base64-encodes bodies it does not consider text
    answer = invoke(alb_event(json.dumps(ORDER), base64_encode=True))

    assert answer.status == 202
    assert [{k: m[k] for k in ORDER} for m in orders_queue.drain_json()] == [ORDER]


@pytest.mark.parametrize(
    "content_type",
    ["application/json", "application/json; charset=utf-8", 'Application/JSON;charset="UTF-8"'],
)
def test_json_content_types_with_utf8_charset_are_accepted(
    orders_queue: QueueProbe, content_type: str
) -> None:
    assert invoke(json_event(ORDER, content_type=content_type)).status == 202
    assert len(orders_queue.drain()) == 1


def test_float_fields_other_than_qty_are_queued_as_exact_decimals(
    orders_queue: QueueProbe,
) -> None:
    body = '{"order_id": "7", "item": "Roti", "price": 12.50, "ratio": 0.1, "big": 1e20}'

    answer = invoke(alb_event(body))

    assert answer.status == 202
    [message] = orders_queue.drain()
    # The exact digits travel: no binary float ever touched them
    assert '"price":12.50' in message["body"]
    assert '"ratio":0.1' in message["body"]
    order = AcceptedOrder.from_message_body(message["body"]).order
    assert order.extras == {
        "price": Decimal("12.50"),
        "ratio": Decimal("0.1"),
        "big": Decimal("1E+20"),
    }


def test_free_form_fields_are_kept(orders_queue: QueueProbe) -> None:
    order = {**ORDER, "note": "less sugar", "tags": ["hot", {"size": "L"}], "paid": True, "x": None}

    assert invoke(json_event(order)).status == 202

    [queued] = orders_queue.drain_json()
    assert {k: queued[k] for k in order} == order


def test_multi_value_header_events_work_both_ways(orders_queue: QueueProbe) -> None:
    # Given a target group with multi-value headers on
    accepted = invoke(json_event(ORDER, multi_value_headers=True))
    refused = invoke(alb_event("{}", method="GET", multi_value_headers=True))

    assert accepted.status == 202
    assert refused.status == 405
    assert refused.headers["Allow"] == "POST"
    assert len(orders_queue.drain()) == 1


@pytest.mark.parametrize("multi_value_headers", [False, True])
def test_the_answer_is_exactly_what_alb_takes(
    orders_queue: QueueProbe, multi_value_headers: bool
) -> None:
    # Given a refused request, in either header mode of the target group
    event = alb_event("{}", method="GET", multi_value_headers=multi_value_headers)

    # When the function answers it
    response = ingest_handler.lambda_handler(event, FakeContext())

    # Then the status line, compact JSON body and headers are in the form the event came in
    headers = {"Allow": "POST", "Content-Type": "application/json"}
    assert response == {
        "statusCode": 405,
        "statusDescription": "405 Method Not Allowed",
        "body": (
            '{"error":{"code":"method_not_allowed","message":"GET is not allowed here; use POST"}}'
        ),
        "isBase64Encoded": False,
        **(
            {"multiValueHeaders": {name: [value] for name, value in headers.items()}}
            if multi_value_headers
            else {"headers": headers}
        ),
    }


EDGE_HEADERS = {"x-request-id": "edge-rid-1", "x-auth-subject": "user-42"}


def test_without_the_edge_its_headers_are_ignored(
    orders_queue: QueueProbe, captured: Captured
) -> None:
    # Given the edge is off (EDGE_ENABLED=false): anyone may send these headers
    answer = invoke(json_event(ORDER, headers=EDGE_HEADERS))

    assert answer.status == 202
    [queued] = orders_queue.drain_json()
    assert "auth_subject" not in queued
    (line,) = [line for line in captured.logs() if line["message"] == "order queued"]
    assert line["correlation_id"] == TRACE_ID


def test_behind_the_edge_its_request_id_and_subject_are_used(
    orders_queue: QueueProbe, captured: Captured, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given the stack says the edge is in front (only the edge can set these headers)
    monkeypatch.setenv("EDGE_ENABLED", "true")

    answer = invoke(json_event([ORDER, {**ORDER, "item": "Teh"}], headers=EDGE_HEADERS))

    # Then every order of the request is stored with the subject, logged under the id
    assert answer.status == 202
    assert [m["auth_subject"] for m in orders_queue.drain_json()] == ["user-42", "user-42"]
    queued = [line for line in captured.logs() if line["message"] == "order queued"]
    assert [line["correlation_id"] for line in queued] == ["edge-rid-1", "edge-rid-1"]
    assert "user-42" not in json.dumps(answer.body)  # the answer does not echo it


@pytest.mark.parametrize("subject", ["", " x", "x" * 256, "tab\tinside"])
def test_behind_the_edge_a_subject_it_would_never_set_is_dropped(
    orders_queue: QueueProbe, monkeypatch: pytest.MonkeyPatch, subject: str
) -> None:
    monkeypatch.setenv("EDGE_ENABLED", "true")

    answer = invoke(json_event(ORDER, headers={"x-auth-subject": subject}))

    assert answer.status == 202
    [queued] = orders_queue.drain_json()
    assert "auth_subject" not in queued


def test_a_client_cannot_send_a_subject_in_the_order(orders_queue: QueueProbe) -> None:
    answer = invoke(json_event({**ORDER, "auth_subject": "admin"}))

    assert answer.status == 422
    assert answer.body["error"]["details"][0]["loc"] == ["auth_subject"]
    assert orders_queue.drain() == []


def test_logs_carry_the_alb_trace_id_and_metrics_are_emf(
    orders_queue: QueueProbe, captured: Captured
) -> None:
    invoke(json_event(ORDER))
    invoke(json_event({"item": "no id"}))
    invoke(json_event({"item": "no id"}))

    queued = [line for line in captured.logs() if line["message"] == "order queued"]
    assert len(queued) == 1
    assert queued[0]["correlation_id"] == TRACE_ID
    assert queued[0]["order_id"] == "123"
    assert queued[0]["level"] == "INFO"
    assert captured.metric_total("OrdersAccepted") == 1
    assert captured.metric_total("RequestsRejected") == 2
    assert captured.metric_total("RequestsRejected", reason="validation_failed") == 2
    namespaces = {r["_aws"]["CloudWatchMetrics"][0]["Namespace"] for r in captured.metrics()}
    assert namespaces == {"OrdersTest"}


# --- arrays ------------------------------------------------------------------------------


def test_array_of_valid_orders_is_queued_in_one_batch(orders_queue: QueueProbe) -> None:
    orders = [{"order_id": str(n), "item": "Kopi", "qty": n + 1} for n in range(3)]

    answer = invoke(json_event(orders))

    assert answer.status == 202
    results = answer.body["results"]
    assert [r["index"] for r in results] == [0, 1, 2]
    assert all(r["status"] == "accepted" for r in results)
    messages = {m["message_id"]: json.loads(m["body"]) for m in orders_queue.drain()}
    assert set(messages) == {r["message_id"] for r in results}
    assert sorted(m["order_id"] for m in messages.values()) == ["0", "1", "2"]
    # Same request: same time and id; the position breaks the tie, in array order
    versions = [messages[r["message_id"]]["version"] for r in results]
    assert versions == sorted(versions)
    assert len(set(versions)) == 3
    # each result says where its own status is read; the answer itself has no Location
    assert "Location" not in answer.headers
    for result, order in zip(results, orders, strict=True):
        version = quote(result["version"], safe="")
        path = f"/lambda/api/orders/{order['order_id']}/Kopi"
        assert result["location"] == f"{path}?version={version}"


def test_array_with_one_invalid_order_queues_nothing(orders_queue: QueueProbe) -> None:
    orders = [ORDER, {"order_id": "2", "item": "Teh", "qty": 2.5}, {"order_id": "3", "item": "X"}]

    answer = invoke(json_event(orders))

    assert answer.status == 422
    assert answer.error_code == "validation_failed"
    results = answer.body["results"]
    assert [r["status"] for r in results] == ["not_queued", "invalid", "not_queued"]
    assert results[1]["errors"][0]["loc"] == ["qty"]
    assert results[0]["order_id"] == "123"
    assert orders_queue.drain() == []


def test_array_entries_that_are_not_objects_are_invalid(orders_queue: QueueProbe) -> None:
    answer = invoke(json_event([ORDER, "not an order"]))

    assert answer.status == 422
    assert answer.body["results"][1]["errors"][0]["type"] == "order_type"
    assert orders_queue.drain() == []


def test_too_many_orders_is_422_and_queues_nothing(orders_queue: QueueProbe) -> None:
    orders = [{"order_id": str(n), "item": "Kopi"} for n in range(MAX_ORDERS_PER_REQUEST + 1)]

    answer = invoke(json_event(orders))

    assert answer.status == 422
    assert answer.error_code == "too_many_orders"
    assert orders_queue.drain() == []


def test_the_maximum_number_of_orders_is_accepted(orders_queue: QueueProbe) -> None:
    orders = [{"order_id": str(n), "item": "Kopi"} for n in range(MAX_ORDERS_PER_REQUEST)]

    assert invoke(json_event(orders)).status == 202
    assert len(orders_queue.drain()) == MAX_ORDERS_PER_REQUEST


def test_empty_array_is_422(orders_queue: QueueProbe) -> None:
    answer = invoke(json_event([]))

    assert (answer.status, answer.error_code) == (422, "empty_batch")
    assert orders_queue.drain() == []


# --- refused -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("event", "code"),
    [
        (alb_event('{"order_id": "1", "item": '), "malformed_json"),
        (alb_event(""), "malformed_json"),
        (alb_event('{"order_id": "1", "item": "x", "price": NaN}'), "malformed_json"),
        (alb_event('{"order_id": "1", "item": "x", "price": Infinity}'), "malformed_json"),
        (alb_event('{"order_id": "1", "order_id": "2", "item": "x"}'), "malformed_json"),
        (alb_event('{"order_id": "1", "item": "x"} {}'), "malformed_json"),
        (
            alb_event("not base64!", base64_encode=False) | {"isBase64Encoded": True},
            "invalid_base64",
        ),
        (alb_event(b'{"order_id": "1", "item": "\xff"}'), "invalid_utf8"),
        (alb_event('{"order_id": "1", "item": "\ud800"}'), "invalid_utf8"),
        (alb_event("42"), "invalid_body"),
        (alb_event('"an order"'), "invalid_body"),
        (alb_event("null"), "invalid_body"),
        (alb_event("true"), "invalid_body"),
    ],
    ids=[
        "truncated",
        "empty",
        "nan",
        "infinity",
        "duplicate-key",
        "two-documents",
        "bad-base64",
        "bad-utf8",
        "lone-surrogate",
        "number",
        "string",
        "null",
        "bool",
    ],
)
def test_unreadable_bodies_are_400(
    orders_queue: QueueProbe, event: dict[str, Any], code: str
) -> None:
    answer = invoke(event)

    assert answer.status == 400
    assert answer.error_code == code
    assert answer.body["error"]["message"]
    assert orders_queue.drain() == []


@pytest.mark.parametrize(
    "path", ["/", "/lambda", "/lambda/apix", "/lambda/api/extra", "/LAMBDA/API"]
)
@pytest.mark.parametrize("method", ["POST", "GET"])
def test_unknown_paths_are_404_json(orders_queue: QueueProbe, path: str, method: str) -> None:
    answer = invoke(json_event(ORDER, path=path, method=method))

    assert answer.status == 404
    assert answer.error_code == "not_found"
    assert answer.headers["Content-Type"] == "application/json"
    assert orders_queue.drain() == []


# "post": HTTP methods are case-sensitive (the edge refuses it too).
@pytest.mark.parametrize("method", ["GET", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "post"])
@pytest.mark.parametrize("path", ["/lambda/api", "/lambda/api/"])
def test_other_methods_on_the_api_are_405_with_allow(
    orders_queue: QueueProbe, method: str, path: str
) -> None:
    answer = invoke(json_event(ORDER, method=method, path=path))

    assert answer.status == 405
    assert answer.headers["Allow"] == "POST"
    assert answer.error_code == "method_not_allowed"
    assert orders_queue.drain() == []


def _order_of_size(size: int) -> str:
    """A compact order document exactly ``size`` bytes long."""
    empty = json.dumps({**ORDER, "note": ""}, separators=(",", ":"))
    body = json.dumps({**ORDER, "note": "x" * (size - len(empty))}, separators=(",", ":"))
    assert len(body) == size
    return body


def test_body_over_the_limit_is_413(orders_queue: QueueProbe) -> None:
    answer = invoke(alb_event(_order_of_size(MAX_BODY_BYTES + 1)))

    assert (answer.status, answer.error_code) == (413, "payload_too_large")
    assert orders_queue.drain() == []


def test_base64_body_over_the_limit_is_413(orders_queue: QueueProbe) -> None:
    answer = invoke(alb_event(_order_of_size(MAX_BODY_BYTES + 1).encode()))

    assert answer.status == 413
    assert orders_queue.drain() == []


def test_body_at_the_limit_that_cannot_be_queued_once_stamped_is_413(
    orders_queue: QueueProbe,
) -> None:
    # Given a body of exactly the limit: valid, but the stamp pushes the message over SQS's cap
    answer = invoke(alb_event(_order_of_size(MAX_BODY_BYTES)))

    assert (answer.status, answer.error_code) == (413, "payload_too_large")
    assert orders_queue.drain() == []


def test_a_large_order_under_the_limit_is_queued(orders_queue: QueueProbe) -> None:
    assert invoke(alb_event(_order_of_size(MAX_BODY_BYTES - 1024))).status == 202
    assert len(orders_queue.drain()) == 1


@pytest.mark.parametrize(
    "content_type",
    [
        None,
        "text/plain",
        "application/xml",
        "application/jsonx",
        "application/json; charset=latin-1",
    ],
)
def test_non_json_content_types_are_415(orders_queue: QueueProbe, content_type: str | None) -> None:
    answer = invoke(json_event(ORDER, content_type=content_type))

    assert (answer.status, answer.error_code) == (415, "unsupported_media_type")
    assert orders_queue.drain() == []


@pytest.mark.parametrize(
    ("order", "loc", "error_type"),
    [
        ({"item": "Kopi"}, ["order_id"], "missing"),
        ({"order_id": "1"}, ["item"], "missing"),
        ({"order_id": "", "item": "Kopi"}, ["order_id"], "blank"),
        ({"order_id": "1", "item": "   "}, ["item"], "blank"),
        ({"order_id": True, "item": "Kopi"}, ["order_id"], "order_id_type"),
        ({"order_id": 1.5, "item": "Kopi"}, ["order_id"], "order_id_type"),
        ({"order_id": None, "item": "Kopi"}, ["order_id"], "order_id_type"),
        ({"order_id": "1", "item": 5}, ["item"], "item_type"),
        ({"order_id": "x" * 257, "item": "Kopi"}, ["order_id"], "too_long"),
        ({**ORDER, "qty": 0}, ["qty"], "qty_range"),
        ({**ORDER, "qty": -3}, ["qty"], "qty_range"),
        ({**ORDER, "qty": 1_000_001}, ["qty"], "qty_range"),
        ({**ORDER, "qty": "2"}, ["qty"], "qty_type"),
        ({**ORDER, "qty": None}, ["qty"], "qty_type"),
        ({**ORDER, "qty": True}, ["qty"], "qty_type"),
        ({**ORDER, "accepted_at": "2020-01-01"}, ["accepted_at"], "reserved_field"),
        ({**ORDER, "request_id": "mine"}, ["request_id"], "reserved_field"),
        ({**ORDER, "version": "999"}, ["version"], "reserved_field"),
        ({**ORDER, "deep": json.loads("[" * 9 + "]" * 9)}, ["deep"], "unstorable_value"),
        ({**ORDER, **{f"f{n}": n for n in range(51)}}, [], "too_many_fields"),
        ({**ORDER, "": 1}, [], "field_name"),
        ({**ORDER, "m": {"": 1}}, ["m"], "unstorable_value"),
        ({**ORDER, "note": "\ufffe"}, ["note"], "unstorable_value"),
    ],
    ids=lambda value: None if isinstance(value, dict) else str(value),
)
def test_invalid_orders_are_422_with_field_details(
    orders_queue: QueueProbe, order: dict[str, Any], loc: list[str], error_type: str
) -> None:
    answer = invoke(json_event(order))

    assert answer.status == 422
    assert answer.error_code == "validation_failed"
    assert {"loc": loc, "type": error_type} in [
        {"loc": d["loc"], "type": d["type"]} for d in answer.body["error"]["details"]
    ]
    assert orders_queue.drain() == []


@pytest.mark.parametrize("qty", ["2.5", "2.0", "2e0", "1E+1"])
def test_qty_written_with_fraction_or_exponent_is_422(orders_queue: QueueProbe, qty: str) -> None:
    answer = invoke(alb_event(f'{{"order_id": "1", "item": "Kopi", "qty": {qty}}}'))

    assert answer.status == 422
    assert answer.body["error"]["details"][0]["type"] == "qty_not_integer"
    assert orders_queue.drain() == []


@pytest.mark.parametrize("number", ["1e200", "1e-140", "123456789012345678901234567890123456789"])
def test_numbers_dynamodb_cannot_store_exactly_are_422(
    orders_queue: QueueProbe, number: str
) -> None:
    answer = invoke(alb_event(f'{{"order_id": "1", "item": "Kopi", "weight": {number}}}'))

    assert answer.status == 422
    assert answer.body["error"]["details"][0]["loc"] == ["weight"]
    assert orders_queue.drain() == []


def test_json_nested_beyond_the_parser_is_422(orders_queue: QueueProbe) -> None:
    answer = invoke(
        alb_event('{"order_id": "1", "item": "x", "a": ' + "[" * 50_000 + "]" * 50_000 + "}")
    )

    assert (answer.status, answer.error_code) == (422, "nesting_too_deep")
    assert orders_queue.drain() == []


# --- queue failures ----------------------------------------------------------------------


def _stubbed_queue(monkeypatch: pytest.MonkeyPatch, client: Any, url: str) -> None:
    service = IngestService(OrdersQueue(client, url))
    monkeypatch.setattr(ingest_handler, "get_service", lambda: service)


def test_queue_error_is_503_with_retry_after_and_no_internals(
    orders_queue: QueueProbe, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given SQS answers the send with a server error
    client = boto3.client("sqs", region_name=REGION)
    stubber = Stubber(client)
    stubber.add_client_error(
        "send_message",
        service_error_code="ServiceUnavailable",
        service_message="secret internal detail",
        http_status_code=503,
    )
    _stubbed_queue(monkeypatch, client, orders_queue.url)

    # When an order arrives
    with stubber:
        answer = invoke(json_event(ORDER))

    # Then the client is told to retry, and nothing internal leaks
    stubber.assert_no_pending_responses()
    assert answer.status == 503
    assert answer.headers["Retry-After"] == "2"
    assert answer.error_code == "queue_unavailable"
    assert "secret" not in json.dumps(answer.body)
    assert "ServiceUnavailable" not in json.dumps(answer.body)


def test_unreachable_queue_is_503(
    orders_queue: QueueProbe, monkeypatch: pytest.MonkeyPatch
) -> None:
    class Unreachable:
        def send_message(self, **_: Any) -> dict[str, Any]:
            raise EndpointConnectionError(endpoint_url="https://sqs.us-east-1.amazonaws.com")

        def send_message_batch(self, **_: Any) -> dict[str, Any]:
            raise EndpointConnectionError(endpoint_url="https://sqs.us-east-1.amazonaws.com")

    _stubbed_queue(monkeypatch, Unreachable(), orders_queue.url)

    single = invoke(json_event(ORDER))
    batch = invoke(json_event([ORDER, {**ORDER, "item": "Teh"}]))

    assert (single.status, single.headers["Retry-After"]) == (503, "2")
    assert batch.status == 503
    assert [r["status"] for r in batch.body["results"]] == ["not_queued", "not_queued"]


def test_partial_batch_failure_is_503_listing_what_was_queued(
    orders_queue: QueueProbe, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given SQS queues the first entry of a batch and refuses the second
    client = boto3.client("sqs", region_name=REGION)
    stubber = Stubber(client)
    stubber.add_response(
        "send_message_batch",
        {
            "Successful": [
                {"Id": "0", "MessageId": "m-0", "MD5OfMessageBody": "0" * 32},
            ],
            "Failed": [
                {"Id": "1", "SenderFault": False, "Code": "InternalError", "Message": "boom"},
            ],
        },
    )
    _stubbed_queue(monkeypatch, client, orders_queue.url)

    with stubber:
        answer = invoke(json_event([ORDER, {**ORDER, "item": "Teh"}]))

    assert answer.status == 503
    assert answer.headers["Retry-After"] == "2"
    first, second = answer.body["results"]
    assert (first["status"], first["message_id"]) == ("accepted", "m-0")
    assert first["location"].startswith("/lambda/api/orders/123/Kopi%20Susu?version=")
    assert (second["status"], second["item"]) == ("not_queued", "Teh")
    assert "message_id" not in second
    assert "location" not in second
    assert "boom" not in json.dumps(answer.body)


# --- configuration -----------------------------------------------------------------------


@pytest.mark.filterwarnings("ignore:No application metrics")
def test_missing_queue_url_fails_loudly_at_cold_start(aws: None) -> None:
    # Given no ORDERS_QUEUE_URL (the fixture left it unset)
    with pytest.raises(SettingsError, match="ORDERS_QUEUE_URL"):
        ingest_handler.lambda_handler(json_event(ORDER), FakeContext())


def test_accepted_at_is_fixed_width_utc_with_nanoseconds() -> None:
    stamp = format_accepted_at(1_700_000_000_000_000_042)

    assert stamp == "2023-11-14T22:13:20.000000042Z"
    assert __import__("re").fullmatch(ACCEPTED_AT_PATTERN, stamp)


def test_base64_helper_sanity() -> None:
    # The event builder must encode exactly what ALB would
    event = alb_event(b"\x00\x01")
    assert event["isBase64Encoded"] is True
    assert base64.b64decode(event["body"]) == b"\x00\x01"


def test_a_bug_answers_500_json_without_internals(
    orders_queue: QueueProbe, monkeypatch: pytest.MonkeyPatch, captured: Captured
) -> None:
    # Given a defect behind the route (not a client error)
    class Broken:
        def accept(self, *_: Any, **__: Any) -> Any:
            raise RuntimeError("secret stack detail")

    monkeypatch.setattr(ingest_handler, "get_service", Broken)

    answer = invoke(json_event(ORDER))

    # Then the client sees a generic JSON 500, and the log has the stack
    assert answer.status == 500
    assert answer.body == {"error": {"code": "internal_error", "message": "internal error"}}
    [logged] = [line for line in captured.logs() if line["message"] == "unexpected error"]
    assert "secret stack detail" in logged["exception"]


def test_two_content_type_headers_are_ambiguous_and_refused(orders_queue: QueueProbe) -> None:
    event = json_event(ORDER, multi_value_headers=True)
    event["multiValueHeaders"]["content-type"] = ["application/json", "text/plain"]

    answer = invoke(event)

    assert answer.status == 415
    assert orders_queue.drain() == []


# --- the ledger's fields (customer_id, amount, currency: the ledger currency) -------------


def test_an_order_with_an_amount_in_the_ledger_currency_is_queued_exactly(
    orders_queue: QueueProbe,
) -> None:
    # Given an order for a customer, with an amount and the ledger currency in lower case
    order = {**ORDER, "customer_id": "C-001", "amount": "250000.5", "currency": "idr"}

    # When the ALB posts it
    answer = invoke(json_event(order))

    # Then it is queued with the amount exact to the cent and the currency as configured
    assert answer.status == 202
    [message] = orders_queue.drain()
    queued = json.loads(message["body"], parse_float=Decimal)
    assert (queued["customer_id"], queued["currency"]) == ("C-001", "IDR")
    assert str(queued["amount"]) == "250000.50"  # a JSON number with its two places


@pytest.mark.parametrize(
    ("extra", "loc", "error_type"),
    [
        (
            {"customer_id": "C-001", "amount": 10, "currency": "USD"},
            ["currency"],
            "currency_mismatch",
        ),
        ({"customer_id": "C-001"}, ["amount"], "ledger_fields"),
        ({"amount": "10.00"}, ["customer_id"], "ledger_fields"),
        ({"customer_id": "C-001", "amount": "1.005"}, ["amount"], "amount_places"),
    ],
)
def test_ledger_fields_are_checked_against_the_configured_currency(
    orders_queue: QueueProbe, extra: dict[str, Any], loc: list[str], error_type: str
) -> None:
    answer = invoke(json_event({**ORDER, **extra}))

    assert answer.status == 422
    assert {"loc": loc, "type": error_type} in [
        {"loc": d["loc"], "type": d["type"]} for d in answer.body["error"]["details"]
    ]
    assert orders_queue.drain() == []


def test_the_ledger_currency_comes_from_the_environment(
    orders_queue: QueueProbe, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a deployment whose ledger counts in USD
    monkeypatch.setenv("LEDGER_CURRENCY", "USD")
    ingest_handler.get_settings.cache_clear()
    orders = [
        {**ORDER, "customer_id": "C-1", "amount": 5, "currency": "USD"},
        {**ORDER, "item": "Teh", "customer_id": "C-1", "amount": 5, "currency": "IDR"},
    ]

    # When an array mixes the two currencies, Then nothing is queued and IDR is the culprit
    answer = invoke(json_event(orders))
    assert answer.status == 422
    statuses = [result["status"] for result in answer.body["results"]]
    assert statuses == ["not_queued", "invalid"]
    assert orders_queue.drain() == []
    # and the USD order alone is accepted
    assert invoke(json_event(orders[0])).status == 202


@pytest.mark.filterwarnings("ignore:No application metrics")
def test_missing_ledger_currency_fails_loudly_at_cold_start(
    orders_queue: QueueProbe, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("LEDGER_CURRENCY")
    with pytest.raises(SettingsError, match="LEDGER_CURRENCY"):
        ingest_handler.lambda_handler(json_event(ORDER), FakeContext())
