"""The edge refuses exactly what the API would refuse on path, method, content type and
declared length; the rules it restates are checked against the API's own code."""

from __future__ import annotations

import re

from hypothesis import event, given, settings
from hypothesis import strategies as st
from orders_core.ingest.api import API_PATHS
from orders_core.ingest.body import is_json_content_type as ingest_is_json
from orders_core.limits import MAX_BODY_BYTES

from lambdas.edge.viewer_request import surface
from lambdas.edge.viewer_request.gate import ViewerRequestGate
from tests.unit.edge_support import cf_request

# Ingest's own content-type rule and paths, which the edge restates.
INGEST_PATHS = tuple(API_PATHS)
# The status routes of the agreed design (issue 9): GET/HEAD on one or two path segments.
STATUS_PATH = re.compile(r"^/lambda/api/orders/[^/]+(/[^/]+)?$")


def api_accepts(method: str, uri: str, content_type: str | None, length: str | None) -> bool:
    """Could the API behind the ALB accept this request line and these headers?"""
    if uri in INGEST_PATHS:
        valid = length is not None and length.isascii() and length.isdigit()
        declared = int(length) if valid and length is not None else None
        return (
            method == "POST"
            and ingest_is_json(content_type)
            and (declared is None or declared <= MAX_BODY_BYTES)
        )
    if STATUS_PATH.match(uri):
        return method in ("GET", "HEAD")
    return False


def test_the_restated_limits_and_paths_match_the_api() -> None:
    assert surface.MAX_BODY_BYTES == MAX_BODY_BYTES
    assert set(INGEST_PATHS) == surface.ORDERS_PATHS


media_types = st.sampled_from(["application/json", "APPLICATION/Json", "text/plain", "json", ""])
charsets = st.sampled_from(["utf-8", "UTF8", '"utf-8"', "latin-1", "", "utf-16"])
content_types = st.one_of(
    st.just("application/json"),
    st.none(),
    st.builds(lambda m, c: f"{m}; charset={c}", media_types, charsets),
    st.builds(lambda m, p: f"{m};{p}", media_types, st.text(max_size=12)),
    media_types,
    st.text(max_size=30),
)


@settings(max_examples=500, deadline=None)
@given(value=content_types)
def test_the_content_type_rule_is_ingests(value: str | None) -> None:
    assert surface.is_json_content_type(value) is ingest_is_json(value)


segments = st.one_of(
    st.sampled_from(["123", "Kopi%20Susu", "a.b", "%2F", "orders", "", " "]),
    st.text(st.characters(exclude_characters="/", codec="ascii"), min_size=1, max_size=8),
)
api_paths = st.sampled_from(["/lambda/api", "/lambda/api/"])
status_paths = st.lists(segments, min_size=0, max_size=4).map(
    lambda parts: "/lambda/api/orders/" + "/".join(parts)
)
other_paths = st.one_of(
    st.sampled_from(["/lambda/api//", "/", "/lambda", "/lambda/apiX", "/Lambda/api"]),
    st.lists(segments, min_size=1, max_size=4).map(lambda parts: "/" + "/".join(parts)),
    st.text(max_size=30).map(lambda text: "/" + text),
)
# The draw is weighted towards the API's own paths and methods, so every verdict
# (passed on, 404, 405, 415, 413) is exercised, not mostly 404.
paths = st.sampled_from([api_paths, api_paths, status_paths, other_paths]).flatmap(lambda s: s)
methods = st.sampled_from(
    ["POST", "POST", "POST", "GET", "HEAD", "PUT", "PATCH", "DELETE", "OPTIONS"]
)
lengths = st.one_of(
    st.none(),
    st.integers(0, 2 * MAX_BODY_BYTES).map(str),
    st.integers(MAX_BODY_BYTES - 2, MAX_BODY_BYTES + 2).map(str),
    st.sampled_from(["abc", "-5", "", "1e6"]),
)


@settings(max_examples=1000, deadline=None)
@given(method=methods, uri=paths, content_type=content_types, length=lengths)
def test_the_edge_passes_exactly_what_the_api_could_accept(
    method: str, uri: str, content_type: str | None, length: str | None
) -> None:
    headers = {}
    if content_type is not None:
        headers["Content-Type"] = content_type
    if length is not None:
        headers["Content-Length"] = length
    gate = ViewerRequestGate(authenticator=None, new_request_id=lambda: "rid")
    answer = gate.handle(cf_request(method, uri, headers))
    passed = "status" not in answer
    event("passed on" if passed else f"refused {answer['status']}")  # coverage, shown by -s
    assert passed is api_accepts(method, uri, content_type, length)
    if passed:
        assert answer["headers"]["x-request-id"][0]["value"] == "rid"
    else:
        assert int(answer["status"]) in {404, 405, 413, 415}
