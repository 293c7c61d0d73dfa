"""Properties of ingest over arbitrary input: never a 5xx, never an exception, and only
valid orders (exactly those of a 202) ever reach the queue."""

import base64
import json
from typing import Any

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from orders_core.model import SYSTEM_ATTRIBUTES, AcceptedOrder

from tests.unit.conftest import QueueProbe
from tests.unit.events import alb_event
from tests.unit.ingest_client import HttpAnswer, invoke

PROPERTY_SETTINGS = settings(
    max_examples=150,
    deadline=None,
    # the moto queue is function-scoped on purpose: it is drained after every example
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

any_text = st.text(st.characters(exclude_categories=()), max_size=40)  # surrogates too
clean_text = st.text(st.characters(codec="utf-8"), max_size=40)  # no lone surrogates


def _json_tree(scalars: st.SearchStrategy[Any], keys: st.SearchStrategy[str]) -> Any:
    return st.recursive(
        scalars,
        lambda children: (
            st.lists(children, max_size=4) | st.dictionaries(keys, children, max_size=4)
        ),
        max_leaves=20,
    )


# Anything JSON can say, and some things it cannot (NaN, Infinity, lone surrogates).
json_values = _json_tree(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=True, allow_infinity=True)
    | any_text,
    any_text,
)
# Values a client would plausibly send.
plain_values = _json_tree(
    st.none()
    | st.booleans()
    | st.integers(-(10**12), 10**12)
    | st.floats(allow_nan=False, allow_infinity=False, width=32)
    | clean_text,
    clean_text.filter(bool),
)
good_ids = st.integers() | clean_text.filter(str.strip)
# Repeated branches weight the draw towards orders that pass, so the queue path is exercised.
order_like = st.fixed_dictionaries(
    {
        "order_id": st.one_of(good_ids, good_ids, any_text, st.booleans(), st.floats(), st.none()),
        "item": st.one_of(good_ids.map(str), good_ids.map(str), any_text, st.integers(), st.none()),
    },
    optional={
        "qty": st.one_of(st.integers(1, 100), st.integers(-5, 2_000_000), st.floats(), any_text),
        "note": plain_values | plain_values | json_values,
        "accepted_at": any_text,
        "version": any_text,
        "tags": st.lists(plain_values, max_size=3),
    },
)
payloads = st.one_of(
    order_like,
    order_like,
    st.lists(order_like, max_size=3),
    st.lists(order_like, max_size=12),
    json_values,
)
content_types = st.one_of(
    st.just("application/json"),
    st.just("application/json"),
    st.none(),
    st.sampled_from(
        [
            "application/json; charset=utf-8",
            "application/json;charset=latin-1",
            "text/plain",
            "application/x-www-form-urlencoded",
            "multipart/form-data; boundary=x",
        ]
    ),
    any_text,
)
header_maps = st.dictionaries(
    st.text("abcdefghijklmnopqrstuvwxyz-", min_size=1, max_size=20), any_text, max_size=5
)
methods = st.one_of(
    st.just("POST"),
    st.just("POST"),
    st.sampled_from(["GET", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS", "post"]),
)
paths = st.one_of(
    st.sampled_from(["/lambda/api", "/lambda/api/"]),
    st.sampled_from(["/lambda/api", "/lambda/api/"]),
    st.sampled_from(["/lambda/api//", "/", "/other", "/lambda/api?x=1"]),
    any_text,
)


def _dumps(payload: Any) -> str:
    return json.dumps(payload)  # NaN/Infinity come out as the non-JSON literals, on purpose


def check(answer: HttpAnswer, queue: QueueProbe, sent: Any = None) -> None:
    """Every answer is a well-formed non-5xx; the queue holds exactly the accepted orders."""
    messages = queue.drain()
    event(f"status {answer.status}")
    assert 200 <= answer.status < 500, answer.body
    assert isinstance(answer.body, dict)
    if answer.status != 202:
        assert set(answer.body["error"]) >= {"code", "message"}
        assert messages == []
        return
    orders = sent if isinstance(sent, list) else [sent]
    assert len(messages) == len(orders)
    for queued in messages:
        # what process will parse: always a valid, stamped order
        accepted = AcceptedOrder.from_message_body(queued["body"])
        body = json.loads(queued["body"])
        assert isinstance(body["order_id"], str)
        assert body["order_id"].strip()
        assert isinstance(body["item"], str)
        assert body["item"].strip()
        if "qty" in body:
            assert type(body["qty"]) is int
            assert body["qty"] > 0
        assert accepted.stamp.request_id
    # no client-sent system attribute ever made it through
    for order in orders:
        assert not set(order) & set(SYSTEM_ATTRIBUTES)


@PROPERTY_SETTINGS
@given(body=st.binary(max_size=300), base64_encode=st.booleans())
def test_arbitrary_bytes_bodies(orders_queue: QueueProbe, body: bytes, base64_encode: bool) -> None:
    # text bodies as a str the way the event would carry them (undecodable bytes escaped)
    text = body.decode("utf-8", "surrogateescape")
    check(invoke(alb_event(body) if base64_encode else alb_event(text)), orders_queue, None)


@PROPERTY_SETTINGS
@given(text=any_text | st.text(max_size=200), base64_encode=st.booleans())
def test_arbitrary_text_bodies(orders_queue: QueueProbe, text: str, base64_encode: bool) -> None:
    if base64_encode:
        try:
            raw = text.encode("utf-8")
        except UnicodeEncodeError:
            raw = text.encode("utf-8", "surrogatepass")
        event = alb_event(raw)
    else:
        event = alb_event(text)
    check(invoke(event), orders_queue, None)


@PROPERTY_SETTINGS
@given(payload=payloads)
def test_arbitrary_json_values(orders_queue: QueueProbe, payload: Any) -> None:
    answer = invoke(alb_event(_dumps(payload)))
    check(answer, orders_queue, payload)


@PROPERTY_SETTINGS
@given(payload=payloads, ensure_ascii=st.booleans())
def test_arbitrary_json_values_base64(
    orders_queue: QueueProbe, payload: Any, ensure_ascii: bool
) -> None:
    text = json.dumps(payload, ensure_ascii=ensure_ascii)
    answer = invoke(alb_event(text.encode("utf-8", "surrogatepass")))
    check(answer, orders_queue, payload)


requests = st.fixed_dictionaries(
    {
        "payload": order_like,
        "content_type": content_types,
        "headers": header_maps,
        "method": methods,
        "path": paths,
        "multi_value_headers": st.booleans(),
    }
)


@PROPERTY_SETTINGS
@given(http_request=requests)
def test_arbitrary_requests(orders_queue: QueueProbe, http_request: dict[str, Any]) -> None:
    payload = http_request.pop("payload")
    answer = invoke(alb_event(_dumps(payload), **http_request))
    check(answer, orders_queue, payload)
    if answer.status == 202:
        assert http_request["method"] == "POST"
        assert http_request["path"] in ("/lambda/api", "/lambda/api/")


@PROPERTY_SETTINGS
@given(
    order_id=st.one_of(st.text(min_size=1, max_size=50), st.integers()),
    item=st.text(min_size=1, max_size=50),
    qty=st.integers(1, 1_000_000),
)
def test_valid_orders_are_always_accepted(
    orders_queue: QueueProbe, order_id: str | int, item: str, qty: int
) -> None:
    # Given an order that meets the contract (non-blank keys)
    if not str(order_id).strip() or not item.strip():
        return
    order = {"order_id": order_id, "item": item, "qty": qty}

    answer = invoke(alb_event(_dumps(order)))

    assert answer.status == 202, answer.body
    [queued] = orders_queue.drain_json()
    assert (queued["order_id"], queued["item"], queued["qty"]) == (str(order_id), item, qty)


def test_base64_strategy_builds_real_alb_events() -> None:
    event = alb_event(b"\x80")
    assert event["isBase64Encoded"] is True
    assert base64.b64decode(event["body"]) == b"\x80"
