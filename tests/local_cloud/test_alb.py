"""The front door's ALB behaviour, without a server: events, rules, responses."""

from __future__ import annotations

import base64
import gzip
from dataclasses import replace

import pytest

from local_cloud.services.alb import (
    MAX_LAMBDA_REQUEST_BODY,
    BadLambdaResponse,
    Listener,
    Request,
    Rule,
    build_event,
    handle,
    match_rule,
    response_from_lambda,
)
from local_cloud.services.environments import MAX_REQUEST_PAYLOAD, InvokeResult, too_large

TG = "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/tg/1"
FN = "arn:aws:lambda:us-east-1:123456789012:function:api"
TRACE = "Root=1-00000000-000000000000000000000000"


def request(
    body: bytes = b"",
    content_type: str | None = None,
    path: str = "/api",
    method: str = "POST",
    query: str = "",
) -> Request:
    headers = [("Host", "127.0.0.1:8080"), ("User-Agent", "curl/8")]
    if content_type:
        headers.append(("Content-Type", content_type))
    return Request(method, path, query, headers, body)


@pytest.mark.parametrize(
    "content_type",
    ["application/json", "application/json; charset=utf-8", "text/plain", "application/xml"],
)
def test_text_bodies_are_passed_as_is(content_type):
    event = build_event(request(b'{"a": 1}', content_type), TG, False, TRACE)
    assert event["isBase64Encoded"] is False
    assert event["body"] == '{"a": 1}'


@pytest.mark.parametrize(
    "content_type", ["application/octet-stream", "image/png", "application/vnd.api+json", None]
)
def test_other_bodies_are_base64_encoded(content_type):
    raw = b"\x00\xffbinary"
    event = build_event(request(raw, content_type), TG, False, TRACE)
    assert event["isBase64Encoded"] is True
    assert base64.b64decode(event["body"]) == raw


def test_event_shape_matches_alb():
    event = build_event(request(b"", None, method="GET", query="a=1&b=%20x&a=2"), TG, False, TRACE)

    assert event["requestContext"] == {"elb": {"targetGroupArn": TG}}
    assert event["httpMethod"] == "GET"
    assert event["path"] == "/api"
    assert event["body"] == ""
    assert event["isBase64Encoded"] is False
    # ALB does not URL-decode; the last of repeated keys wins in single-value mode
    assert event["queryStringParameters"] == {"a": "2", "b": "%20x"}
    headers = event["headers"]
    assert all(k == k.lower() for k in headers)
    assert headers["user-agent"] == "curl/8"
    assert headers["x-amzn-trace-id"] == TRACE
    assert headers["x-forwarded-for"] == "127.0.0.1"
    assert headers["x-forwarded-proto"] == "http"
    assert "multiValueHeaders" not in event


def test_multi_value_mode_groups_headers_and_query():
    event = build_event(request(query="a=1&a=2"), TG, True, TRACE)
    assert event["multiValueQueryStringParameters"] == {"a": ["1", "2"]}
    assert event["multiValueHeaders"]["user-agent"] == ["curl/8"]
    assert "headers" not in event


LISTENER = Listener(
    arn="l",
    port=80,
    protocol="HTTP",
    rules=[
        Rule(
            10,
            [{"Field": "path-pattern", "PathPatternConfig": {"Values": ["/api", "/api/*"]}}],
            [{"Type": "forward", "TargetGroupArn": TG}],
        ),
        Rule(
            20,
            [
                {"Field": "path-pattern", "Values": ["/t?a"]},
                {"Field": "http-request-method", "HttpRequestMethodConfig": {"Values": ["GET"]}},
            ],
            [
                {
                    "Type": "fixed-response",
                    "FixedResponseConfig": {"StatusCode": "418", "MessageBody": "tea"},
                }
            ],
        ),
        Rule(
            float("inf"),
            [],
            [
                {
                    "Type": "fixed-response",
                    "FixedResponseConfig": {
                        "StatusCode": "404",
                        "ContentType": "application/json",
                        "MessageBody": "{}",
                    },
                }
            ],
        ),
    ],
    targets={TG: (FN, False)},
)


@pytest.mark.parametrize(
    ("path", "method", "priority"),
    [
        ("/api", "POST", 10),
        ("/api/", "POST", 10),
        ("/api/x/y", "GET", 10),
        ("/API", "POST", float("inf")),  # path patterns are case sensitive
        ("/tea", "GET", 20),
        ("/tea", "POST", float("inf")),
        ("/teas", "GET", float("inf")),
    ],
)
def test_rules_match_by_priority_then_default(path, method, priority):
    assert match_rule(LISTENER, request(path=path, method=method)).priority == priority


def test_path_prefixes_are_the_literal_forward_patterns():
    assert LISTENER.path_prefixes() == ["/api"]


def test_forward_converts_the_lambda_answer():
    def invoke(function_arn, event, trace_id):
        assert function_arn == FN
        assert trace_id == TRACE
        return InvokeResult(
            payload={
                "statusCode": 201,
                "statusDescription": "201 Created",
                "headers": {"Content-Type": "application/octet-stream"},
                "body": base64.b64encode(b"\x01\x02").decode(),
                "isBase64Encoded": True,
            }
        )

    response, handled_by = handle(LISTENER, request(b"{}", "application/json"), invoke, TRACE)
    assert (response.status, response.body, response.reason) == (201, b"\x01\x02", "Created")
    assert ("Content-Type", "application/octet-stream") in response.headers
    assert handled_by == "api"


def test_function_error_is_a_502():
    response, _ = handle(
        LISTENER, request(), lambda *a: InvokeResult(error={"errorType": "RuntimeError"}), TRACE
    )
    assert response.status == 502


def test_fixed_responses_are_honoured():
    response, _ = handle(LISTENER, request(path="/tea", method="GET"), lambda *a: None, TRACE)
    assert (response.status, response.body) == (418, b"tea")
    response, _ = handle(LISTENER, request(path="/nope"), lambda *a: None, TRACE)
    assert (response.status, response.body) == (404, b"{}")
    assert ("Content-Type", "application/json") in response.headers


def test_a_body_over_1_mb_is_refused_with_413_before_any_invoke():
    def invoke(*_args):
        raise AssertionError("must not invoke")

    big = request(b"x" * (MAX_LAMBDA_REQUEST_BODY + 1), "application/json")
    response, _ = handle(LISTENER, big, invoke, TRACE)
    assert response.status == 413


@pytest.mark.parametrize(
    "payload",
    [None, {"body": "x"}, {"statusCode": "abc"}, {"statusCode": 200, "body": {"not": "str"}}],
)
def test_answers_alb_cannot_use_are_rejected(payload):
    with pytest.raises(BadLambdaResponse):
        response_from_lambda(payload)


def test_multi_value_response_headers():
    response = response_from_lambda(
        {"statusCode": 200, "multiValueHeaders": {"Set-Cookie": ["a=1", "b=2"]}, "body": ""}
    )
    assert response.headers == [("Set-Cookie", "a=1"), ("Set-Cookie", "b=2")]


def test_a_text_body_that_is_not_utf8_is_base64_encoded_never_altered():
    raw = b'{"order_id": "\xff\xfe", "item": "x"}'
    event = build_event(request(raw, "application/json"), TG, False, TRACE)
    assert event["isBase64Encoded"] is True
    assert base64.b64decode(event["body"]) == raw


def test_a_content_encoding_makes_the_body_base64_encoded():
    compressed = gzip.compress(b'{"a": 1}')
    sent = Request(
        "POST", "/api", "", [("Content-Type", "application/json"), ("Content-Encoding", "gzip")],
        compressed,
    )  # fmt: skip
    event = build_event(sent, TG, False, TRACE)
    assert event["isBase64Encoded"] is True
    assert base64.b64decode(event["body"]) == compressed


def test_header_values_reach_the_function_as_the_utf8_the_client_sent():
    # HTTP servers read header bytes one character each (latin-1): "é" arrives as 2 chars
    sent = Request("GET", "/api", "", [("X-Name", "caf\u00c3\u00a9")], b"")
    assert build_event(sent, TG, False, TRACE)["headers"]["x-name"] == "caf\u00e9"


def test_a_header_that_is_not_utf8_is_a_502_without_an_invoke():
    def invoke(*_args):
        raise AssertionError("must not invoke")

    sent = Request("GET", "/api", "", [("X-Name", "\u00ff")], b"")
    response, handled_by = handle(LISTENER, sent, invoke, TRACE)
    assert response.status == 502
    assert "LambdaBadRequest" in handled_by


@pytest.mark.parametrize("drop", [True, False])
def test_invalid_header_names_are_dropped_only_when_the_load_balancer_says_so(drop):
    seen = {}

    def invoke(_arn, event, _trace):
        seen.update(event["headers"])
        return InvokeResult(payload={"statusCode": 204})

    listener = replace(LISTENER, drop_invalid_header_fields=drop)
    headers = [("X_Under", "1"), ("X-Fine", "2"), ("x.dot", "3")]
    handle(listener, Request("POST", "/api", "", headers, b""), invoke, TRACE)

    assert seen["x-fine"] == "2"
    assert ("x_under" in seen, "x.dot" in seen) == (not drop, not drop)


def test_a_lambda_invoke_refused_as_too_large_is_a_502():
    refused = too_large(MAX_REQUEST_PAYLOAD + 1)
    response, handled_by = handle(
        LISTENER, request(b"{}", "application/json"), lambda *a: refused, TRACE
    )
    assert response.status == 502
    assert "RequestEntityTooLargeException" in handled_by
