"""The edge's viewer-request gate without authentication: refusals in the API's terms,
pass-through, and the headers it adds and strips."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest

from lambdas.edge.viewer_request.gate import ViewerRequestGate
from lambdas.edge.viewer_request.refusal import SECURITY_HEADERS
from lambdas.edge.viewer_request.surface import MAX_BODY_BYTES
from tests.unit.edge_support import cf_request, header

JSON = {"Content-Type": "application/json", "Content-Length": "42"}


@pytest.fixture
def gate() -> ViewerRequestGate:
    return ViewerRequestGate(authenticator=None, new_request_id=lambda: "rid-1")


def _refusal(answer: dict[str, Any], status: int, code: str) -> dict[str, Any]:
    assert answer["status"] == str(status), answer
    assert header(answer, "content-type") == "application/json"
    assert header(answer, "cache-control") == "no-store"
    assert header(answer, "x-request-id") == "rid-1"
    body: dict[str, Any] = json.loads(answer["body"])
    assert body["error"]["code"] == code
    assert body["error"]["message"]
    assert set(body) == {"error"}
    return body


@pytest.mark.parametrize(
    "uri",
    [
        "/",
        "/lambda",
        "/lambda/apix",
        "/lambda/api//",
        "/lambda/api/other",
        "/Lambda/api",
        "/lambda/api/orders",
        "/lambda/api/orders/",
        "/lambda/api/orders//item",
        "/lambda/api/orders/123/",
        "/lambda/api/orders/123/item/extra",
        "/lambda/%61pi",
    ],
)
def test_other_paths_are_404(gate: ViewerRequestGate, uri: str) -> None:
    answer = gate.handle(cf_request("POST", uri, JSON))
    _refusal(answer, 404, "not_found")
    assert answer["statusDescription"] == "Not Found"


@pytest.mark.parametrize("method", ["GET", "HEAD", "PUT", "PATCH", "DELETE", "OPTIONS"])
@pytest.mark.parametrize("uri", ["/lambda/api", "/lambda/api/"])
def test_other_methods_on_the_orders_path_are_405_allow_post(
    gate: ViewerRequestGate, method: str, uri: str
) -> None:
    answer = gate.handle(cf_request(method, uri, JSON))
    assert answer["status"] == "405"
    assert header(answer, "allow") == "POST"
    if method == "HEAD":
        assert "body" not in answer  # HEAD: the headers of the answer, no body
    else:
        _refusal(answer, 405, "method_not_allowed")


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE", "OPTIONS"])
@pytest.mark.parametrize("uri", ["/lambda/api/orders/123", "/lambda/api/orders/123/Kopi%20Susu"])
def test_other_methods_on_status_paths_are_405_allow_get_head(
    gate: ViewerRequestGate, method: str, uri: str
) -> None:
    answer = gate.handle(cf_request(method, uri, JSON))
    _refusal(answer, 405, "method_not_allowed")
    assert header(answer, "allow") == "GET, HEAD"


@pytest.mark.parametrize(
    "content_type",
    [None, "text/plain", "application/xml", "application/json; charset=latin-1", "json"],
)
def test_a_post_without_a_json_content_type_is_415(
    gate: ViewerRequestGate, content_type: str | None
) -> None:
    headers = {"Content-Length": "42"}
    if content_type is not None:
        headers["Content-Type"] = content_type
    _refusal(gate.handle(cf_request("POST", "/lambda/api", headers)), 415, "unsupported_media_type")


def test_two_content_type_headers_are_ambiguous_and_refused(gate: ViewerRequestGate) -> None:
    request = cf_request("POST", "/lambda/api", JSON)
    request["headers"]["content-type"].append({"key": "Content-Type", "value": "text/plain"})
    _refusal(gate.handle(request), 415, "unsupported_media_type")


def test_a_declared_length_over_the_limit_is_413(gate: ViewerRequestGate) -> None:
    over = {"Content-Type": "application/json", "Content-Length": str(MAX_BODY_BYTES + 1)}
    _refusal(gate.handle(cf_request("POST", "/lambda/api", over)), 413, "payload_too_large")
    at_limit = {**over, "Content-Length": str(MAX_BODY_BYTES)}
    assert "status" not in gate.handle(cf_request("POST", "/lambda/api", at_limit))


def test_the_content_type_is_checked_before_the_length_as_ingest_does(
    gate: ViewerRequestGate,
) -> None:
    headers = {"Content-Type": "text/plain", "Content-Length": str(MAX_BODY_BYTES + 1)}
    _refusal(gate.handle(cf_request("POST", "/lambda/api", headers)), 415, "unsupported_media_type")


@pytest.mark.parametrize("length", [None, "", "abc", "-1", "1e9", "٣"])
def test_an_absent_or_malformed_length_is_left_to_the_origin(
    gate: ViewerRequestGate, length: str | None
) -> None:
    headers = {"Content-Type": "application/json"}
    if length is not None:
        headers["Content-Length"] = length
    answer = gate.handle(cf_request("POST", "/lambda/api", headers))
    assert "status" not in answer
    assert answer["method"] == "POST"


@pytest.mark.parametrize(
    ("method", "uri", "headers"),
    [
        ("POST", "/lambda/api", JSON),
        ("POST", "/lambda/api/", {"Content-Type": "Application/JSON; charset=UTF-8"}),
        ("GET", "/lambda/api/orders/123", {}),
        ("HEAD", "/lambda/api/orders/123", {}),
        ("GET", "/lambda/api/orders/123/Kopi%20Susu", {"Content-Type": "text/plain"}),
    ],
)
def test_what_the_api_can_accept_passes_on_stamped(
    gate: ViewerRequestGate, method: str, uri: str, headers: dict[str, str]
) -> None:
    request = cf_request(method, uri, headers, querystring="version=abc")
    answer = gate.handle(request)
    assert answer is request  # the request itself goes on, not a response
    assert (answer["method"], answer["uri"], answer["querystring"]) == (method, uri, "version=abc")
    assert answer["headers"]["x-request-id"] == [{"key": "x-request-id", "value": "rid-1"}]
    assert header(answer, "x-viewer-ip") == "203.0.113.10"  # CloudFront's clientIp
    assert "x-auth-subject" not in answer["headers"]
    for name, value in headers.items():
        assert header(answer, name) == value  # the viewer's own headers are untouched


def test_forged_edge_headers_are_dropped_before_anything_else(gate: ViewerRequestGate) -> None:
    request = cf_request("POST", "/lambda/api", JSON)
    request["headers"]["x-request-id"] = [{"key": "X-Request-Id", "value": "chosen-by-client"}]
    request["headers"]["x-auth-subject"] = [
        {"key": "X-Auth-Subject", "value": "admin"},
        {"key": "x-auth-subject", "value": "root"},
    ]
    request["headers"]["x-viewer-ip"] = [{"key": "X-Viewer-Ip", "value": "10.9.9.9"}]
    answer = gate.handle(request)
    assert answer["headers"]["x-request-id"] == [{"key": "x-request-id", "value": "rid-1"}]
    assert "x-auth-subject" not in answer["headers"]
    assert answer["headers"]["x-viewer-ip"] == [{"key": "x-viewer-ip", "value": "203.0.113.10"}]


def test_each_request_gets_a_fresh_uuid_by_default() -> None:
    gate = ViewerRequestGate(authenticator=None)
    ids = {
        header(gate.handle(cf_request("POST", "/lambda/api", JSON)), "x-request-id")
        for _ in range(3)
    }
    assert len(ids) == 3
    for value in ids:
        assert str(uuid.UUID(str(value))) == value


def test_refusals_carry_the_security_headers(gate: ViewerRequestGate) -> None:
    answer = gate.handle(cf_request("GET", "/nowhere", {}))
    for name, value in SECURITY_HEADERS.items():
        assert header(answer, name) == value
    assert SECURITY_HEADERS["X-Content-Type-Options"] == "nosniff"
    assert "max-age=" in SECURITY_HEADERS["Strict-Transport-Security"]
    assert "default-src 'none'" in SECURITY_HEADERS["Content-Security-Policy"]


def test_a_refusal_is_logged_as_one_json_line_without_headers(
    gate: ViewerRequestGate, capsys: pytest.CaptureFixture[str]
) -> None:
    request = cf_request("DELETE", "/lambda/api", {"Authorization": "Bearer secret-token"})
    gate.handle(request)
    (line,) = capsys.readouterr().out.splitlines()
    entry = json.loads(line)
    assert entry == {
        "level": "INFO",
        "message": "request refused",
        "status": 405,
        "code": "method_not_allowed",
        "method": "DELETE",
        "uri": "/lambda/api",
        "request_id": "rid-1",
    }
    assert "secret-token" not in line
