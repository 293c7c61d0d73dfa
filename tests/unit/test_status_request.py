"""Status paths, as properties: every key an order may have round-trips through the
Location ingest gives, and no path or version makes the reader fail other than with a 4xx."""

from __future__ import annotations

from http import HTTPStatus

from hypothesis import given, settings
from hypothesis import strategies as st
from orders_core.http import RequestRejected
from orders_core.model import Order
from orders_core.paths import status_location
from orders_core.status.request import StatusQuery, read_query
from orders_core.validation import Invalid
from orders_core.versioning import make_version

from tests.unit.events import get_event

keys = st.text(min_size=1, max_size=40)
versions = st.builds(
    lambda seconds, position: make_version(
        f"2025-01-31T12:34:{seconds:02d}.000000000Z",
        "9f1c7a52-3b1e-4d5f-8a8e-0c2d4b6f8a10",
        position,
    ),
    st.integers(0, 59),
    st.integers(0, 9),
)


def _query(url: str) -> dict[str, list[str]]:
    event = get_event(url, multi_value_headers=True)
    return dict(event["multiValueQueryStringParameters"])


@settings(max_examples=300, deadline=None)
@given(order_id=keys, item=keys, version=versions)
def test_every_storable_key_round_trips_through_the_location(
    order_id: str, item: str, version: str
) -> None:
    try:
        order = Order.parse({"order_id": order_id, "item": item})
    except Invalid:
        return  # an order ingest refuses never gets a Location
    url = status_location(order.order_id, order.item, version)

    query = read_query(url.partition("?")[0], _query(url))

    assert (query.order_id, query.item, query.version) == (order.order_id, order.item, version)


segments = st.one_of(
    st.text(st.characters(exclude_characters="/?#"), max_size=12),
    st.sampled_from(["%", "%2", "%zz", "%FF", "%C3%28", "%2F", "%20", "%ED%A0%80"]),
)


@settings(max_examples=500, deadline=None)
@given(parts=st.lists(segments, max_size=4), version=st.one_of(st.none(), st.text(max_size=90)))
def test_any_path_and_version_is_answered_or_refused_with_a_4xx(
    parts: list[str], version: str | None
) -> None:
    path = "/lambda/api/orders/" + "/".join(parts)
    query = {} if version is None else {"version": [version]}
    read = _outcome(path, query)
    if isinstance(read, RequestRejected):
        assert read.status in {HTTPStatus.BAD_REQUEST, HTTPStatus.NOT_FOUND}
        return
    # what is read is an order's key the model accepts
    Order.parse({"order_id": read.order_id, "item": read.item or "x"})
    assert 1 <= len(parts) <= 2


def _outcome(path: str, query: dict[str, list[str]]) -> StatusQuery | RequestRejected:
    try:
        return read_query(path, query)
    except RequestRejected as refusal:
        return refusal
