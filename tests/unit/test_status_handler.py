"""The status handler against moto's table: stored items, versions, 404, HEAD, bad paths."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from botocore.stub import ANY, Stubber
from orders_core.limits import MAX_STATUS_ITEMS
from orders_core.settings import SettingsError
from orders_core.status.service import StatusService
from orders_core.status.table import OrdersReader

from lambdas.process import handler as process_handler
from lambdas.status import handler as status_handler
from tests.unit.conftest import REGION, TABLE_NAME, Captured, QueueProbe, TableProbe
from tests.unit.events import TRACE_ID, FakeContext, get_event, json_event, sqs_event, sqs_record
from tests.unit.ingest_client import invoke as post

V1 = "2025-01-31T12:34:56.000000001Z#9f1c7a52-3b1e-4d5f-8a8e-0c2d4b6f8a10#00"
V2 = "2025-01-31T12:34:57.000000000Z#0a1b2c3d-3b1e-4d5f-8a8e-0c2d4b6f8a10#00"
V3 = "2025-01-31T12:34:58.000000000Z#0a1b2c3d-3b1e-4d5f-8a8e-0c2d4b6f8a10#01"


def q(version: str) -> str:
    return version.replace("#", "%23")


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    raw_body: str

    @property
    def body(self) -> Any:
        return json.loads(self.raw_body)


def get(
    url: str,
    method: str = "GET",
    *,
    multi_value_headers: bool = False,
    headers: dict[str, str] | None = None,
) -> Answer:
    event = get_event(url, method=method, multi_value_headers=multi_value_headers)
    event["headers" if "headers" in event else "multiValueHeaders"].update(
        {k: [v] if multi_value_headers else v for k, v in (headers or {}).items()}
    )
    response = status_handler.lambda_handler(event, FakeContext())
    if "multiValueHeaders" in response:
        headers = {name: values[-1] for name, values in response["multiValueHeaders"].items()}
    else:
        headers = dict(response.get("headers") or {})
    assert not response["isBase64Encoded"]
    return Answer(response["statusCode"], headers, response["body"])


def store(table: TableProbe, order_id: str, item: str, version: str, **extra: Any) -> None:
    accepted_at = version.split("#", maxsplit=1)[0]
    table.resource_table.put_item(
        Item={
            "order_id": order_id,
            "item": item,
            "version": version,
            "accepted_at": accepted_at,
            "request_id": version.split("#")[1],
            **extra,
        }
    )


# --- reads -------------------------------------------------------------------------------


def test_an_item_answers_its_stored_version_and_nothing_else(orders_table: TableProbe) -> None:
    store(orders_table, "123", "Kopi Susu", V1, qty=2, note="private")

    answer = get("/lambda/api/orders/123/Kopi%20Susu")

    assert answer.status == 200
    assert answer.headers["Content-Type"] == "application/json"
    assert answer.body == {
        "order_id": "123",
        "item": "Kopi Susu",
        "version": V1,
        "accepted_at": V1.split("#", maxsplit=1)[0],
    }


def test_an_order_answers_every_stored_item(orders_table: TableProbe) -> None:
    store(orders_table, "123", "Teh", V2)
    store(orders_table, "123", "Kopi Susu", V1)
    store(orders_table, "1234", "other order", V1)

    answer = get("/lambda/api/orders/123")

    assert answer.status == 200
    assert answer.body == {
        "order_id": "123",
        "items": [
            {"item": "Kopi Susu", "version": V1, "accepted_at": V1.split("#", maxsplit=1)[0]},
            {"item": "Teh", "version": V2, "accepted_at": V2.split("#", maxsplit=1)[0]},
        ],
        "truncated": False,
    }


@pytest.mark.parametrize("url", ["/lambda/api/orders/404", "/lambda/api/orders/123/not%20ordered"])
def test_nothing_stored_is_a_json_404_saying_it_may_still_be_queued(
    orders_table: TableProbe, url: str, captured: Captured
) -> None:
    store(orders_table, "123", "Kopi Susu", V1)

    answer = get(url)

    assert answer.status == 404
    assert answer.body["error"]["code"] == "order_not_found"
    assert "may still be queued" in answer.body["error"]["message"]
    assert captured.metric_total("RequestsRejected", reason="order_not_found") == 1


# --- ?version ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("stored", "asked", "expected"),
    [(None, V2, "pending"), (V1, V2, "pending"), (V2, V2, "stored"), (V3, V2, "stored")],
)
def test_an_item_at_a_version_is_stored_once_that_version_or_a_newer_one_is(
    orders_table: TableProbe, stored: str | None, asked: str, expected: str
) -> None:
    if stored:
        store(orders_table, "123", "Kopi", stored)

    answer = get(f"/lambda/api/orders/123/Kopi?version={q(asked)}")

    assert answer.status == 200  # never 404: a poll sees pending turn into stored
    assert answer.body["status"] == expected
    assert answer.body["requested_version"] == asked
    assert answer.body.get("version") == stored


@pytest.mark.parametrize(
    ("stored", "expected"), [((), "pending"), ((V1,), "pending"), ((V1, V3), "stored")]
)
def test_an_order_at_a_version_is_stored_once_an_item_holds_it_or_newer(
    orders_table: TableProbe, stored: tuple[str, ...], expected: str
) -> None:
    for index, version in enumerate(stored):
        store(orders_table, "123", f"item-{index}", version)

    answer = get(f"/lambda/api/orders/123?version={q(V2)}")

    assert answer.status == 200
    assert (answer.body["status"], answer.body["requested_version"]) == (expected, V2)
    assert len(answer.body["items"]) == len(stored)


def test_a_large_order_lists_its_first_items_and_still_finds_a_version_beyond(
    orders_table: TableProbe,
) -> None:
    for n in range(MAX_STATUS_ITEMS):
        store(orders_table, "big", f"a-{n:03d}", V1)
    store(orders_table, "big", "z-last", V3)  # sorts after the first page

    listed = get("/lambda/api/orders/big")
    landed = get(f"/lambda/api/orders/big?version={q(V2)}")

    assert listed.body["truncated"] is True
    assert len(listed.body["items"]) == MAX_STATUS_ITEMS
    assert "z-last" not in {entry["item"] for entry in listed.body["items"]}
    assert landed.body["status"] == "stored"


def test_the_location_of_a_202_turns_from_pending_to_stored(
    orders_queue: QueueProbe, orders_table: TableProbe
) -> None:
    # Given an order ingest accepted (the real handler, moto's queue)
    accepted = post(json_event({"order_id": "a/b c", "item": "50% ☕", "qty": 1}))
    location = accepted.headers["Location"]

    # When it is read before process ran, and again after
    before = get(location)
    [message] = orders_queue.drain()
    process_handler.lambda_handler(
        sqs_event(sqs_record(message["body"], message_id=message["message_id"])), FakeContext()
    )
    after = get(location)

    # Then the same URL says pending, then stored, with the version from the 202
    assert (before.status, before.body["status"]) == (200, "pending")
    assert (after.status, after.body["status"]) == (200, "stored")
    assert after.body["version"] == accepted.body["version"] == after.body["requested_version"]
    assert (after.body["order_id"], after.body["item"]) == ("a/b c", "50% ☕")


@pytest.mark.parametrize(
    "query",
    [
        "version=",
        "version=v1",
        "version=2025-01-31",
        f"version={q(V1)[:-1]}",  # a one-digit position
        f"version={q(V1)}x",
        "version=%FF",
        "version=%",
    ],
)
def test_a_version_that_no_202_could_have_given_is_400(
    orders_table: TableProbe, query: str
) -> None:
    answer = get(f"/lambda/api/orders/123?{query}")

    assert answer.status == 400
    assert answer.body["error"]["code"] == "invalid_version"


def test_two_versions_are_400_and_other_parameters_are_ignored(orders_table: TableProbe) -> None:
    store(orders_table, "123", "Kopi", V2)

    two = get(f"/lambda/api/orders/123?version={q(V1)}&version={q(V2)}", multi_value_headers=True)
    other = get(f"/lambda/api/orders/123/Kopi?x=1&version={q(V2)}", multi_value_headers=True)

    assert (two.status, two.body["error"]["code"]) == (400, "invalid_version")
    assert (other.status, other.body["status"]) == (200, "stored")


# --- paths -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "order_id", "item"),
    [
        ("/lambda/api/orders/123/Kopi%20Susu", "123", "Kopi Susu"),
        ("/lambda/api/orders/a%2Fb/c%3Fd", "a/b", "c?d"),
        ("/lambda/api/orders/%E2%98%95/x", "☕", "x"),
        ("/lambda/api/orders/plain+sign/x", "plain+sign", "x"),  # a path keeps its +
    ],
)
def test_segments_are_url_decoded_after_the_split(
    orders_table: TableProbe, url: str, order_id: str, item: str
) -> None:
    store(orders_table, order_id, item, V1)

    answer = get(url)

    assert answer.status == 200
    assert (answer.body["order_id"], answer.body["item"]) == (order_id, item)


@pytest.mark.parametrize(
    ("segment", "kind"),
    [
        ("%20%20", "blank"),
        ("x" * 257, "too_long"),
        ("%EF%BF%BF", "unstorable_value"),
        ("%ED%A0%80", "utf8"),  # an encoded lone surrogate is not UTF-8
        ("%FF", "utf8"),
        ("50%", "percent_encoding"),
        ("%zz", "percent_encoding"),
    ],
)
def test_segments_the_order_model_refuses_are_400_naming_the_segment(
    orders_table: TableProbe, segment: str, kind: str
) -> None:
    answer = get(f"/lambda/api/orders/123/{segment}")

    assert answer.status == 400
    error = answer.body["error"]
    assert error["code"] == "invalid_path"
    assert error["details"] == [{"loc": ["path", "item"], "msg": ANY, "type": kind}]


@pytest.mark.parametrize(
    "url",
    [
        "/lambda/api/orders/",
        "/lambda/api/orders/123/",
        "/lambda/api/orders//Kopi",
        "/lambda/api/orders/1/2/3",
    ],
)
def test_what_the_edge_calls_no_path_is_404_here_too(orders_table: TableProbe, url: str) -> None:
    answer = get(url)

    assert (answer.status, answer.body["error"]["code"]) == (404, "not_found")


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH", "OPTIONS", "get", "head"])
def test_other_methods_are_405_with_allow(orders_table: TableProbe, method: str) -> None:
    answer = get("/lambda/api/orders/123", method=method)

    assert (answer.status, answer.body["error"]["code"]) == (405, "method_not_allowed")
    assert answer.headers["Allow"] == "GET, HEAD"


@pytest.mark.parametrize(
    "url",
    ["/lambda/api/orders/123/Kopi", "/lambda/api/orders/404", "/lambda/api/orders/%20"],
)
def test_head_is_get_without_a_body(orders_table: TableProbe, url: str) -> None:
    store(orders_table, "123", "Kopi", V1)

    got, head = get(url), get(url, method="HEAD")

    assert head.status == got.status
    assert head.headers == got.headers
    assert got.raw_body
    assert head.raw_body == ""


@pytest.mark.parametrize(("edge", "expected"), [("true", "edge-rid-7"), ("false", TRACE_ID)])
def test_logs_carry_the_edges_request_id_only_behind_the_edge(
    orders_table: TableProbe,
    captured: Captured,
    monkeypatch: pytest.MonkeyPatch,
    edge: str,
    expected: str,
) -> None:
    monkeypatch.setenv("EDGE_ENABLED", edge)
    store(orders_table, "123", "Kopi", V1)

    get("/lambda/api/orders/123/Kopi", headers={"x-request-id": "edge-rid-7"})

    (line,) = [line for line in captured.logs() if line["message"] == "status read"]
    assert line["correlation_id"] == expected
    assert captured.metric_total("StatusReads") == 1


# --- failures ----------------------------------------------------------------------------


def _stubbed_reader(monkeypatch: pytest.MonkeyPatch) -> Stubber:
    client = boto3.client("dynamodb", region_name=REGION)
    service = StatusService(OrdersReader(client, TABLE_NAME))
    monkeypatch.setattr(status_handler, "get_service", lambda: service)
    return Stubber(client)


def test_every_read_is_strongly_consistent(
    orders_table: TableProbe, monkeypatch: pytest.MonkeyPatch
) -> None:
    stubber = _stubbed_reader(monkeypatch)
    stubber.add_response(
        "get_item",
        {},
        {
            "TableName": TABLE_NAME,
            "Key": {"order_id": {"S": "1"}, "item": {"S": "x"}},
            "ConsistentRead": True,
            "ProjectionExpression": ANY,
            "ExpressionAttributeNames": ANY,
        },
    )
    stubber.add_response(
        "query",
        {"Items": []},
        {
            "TableName": TABLE_NAME,
            "KeyConditionExpression": ANY,
            "ExpressionAttributeNames": ANY,
            "ExpressionAttributeValues": {":order_id": {"S": "1"}},
            "ConsistentRead": True,
            "ProjectionExpression": ANY,
            "Limit": MAX_STATUS_ITEMS + 1,
        },
    )

    with stubber:
        assert get("/lambda/api/orders/1/x").status == 404
        assert get("/lambda/api/orders/1").status == 404
    stubber.assert_no_pending_responses()


def test_a_table_error_is_503_with_retry_after_and_no_internals(
    orders_table: TableProbe, monkeypatch: pytest.MonkeyPatch, captured: Captured
) -> None:
    stubber = _stubbed_reader(monkeypatch)
    stubber.add_client_error(
        "get_item", "ProvisionedThroughputExceededException", "secret detail", 400
    )

    with stubber:
        answer = get("/lambda/api/orders/1/x")

    assert answer.status == 503
    assert answer.headers["Retry-After"] == "2"
    assert answer.body["error"]["code"] == "table_unavailable"
    assert "secret" not in answer.raw_body
    (failure,) = [line for line in captured.logs() if line["message"] == "table read failed"]
    assert failure["error_code"] == "ProvisionedThroughputExceededException"


@pytest.mark.filterwarnings("ignore:No application metrics")
def test_missing_table_name_fails_loudly_at_cold_start(aws: None) -> None:
    with pytest.raises(SettingsError, match="ORDERS_TABLE_NAME"):
        status_handler.lambda_handler(get_event("/lambda/api/orders/1"), FakeContext())
