"""The edge door: the sample app's CloudFront distribution read from the assembly, its
Lambda@Edge viewer request around the ALB front door, its response headers policy."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

from local_cloud.deploy.assembly import Assembly, StackArtifact
from local_cloud.operations.banner import render
from local_cloud.services.edge import (
    HeadersPolicy,
    _function_arn,
    _Resolver,
    cf_headers,
    headers_policy,
    plain_headers,
)


def edge(cloud, path: str, body: bytes | None = None, method: str | None = None):
    request = urllib.request.Request(
        cloud.edge_url + path,
        data=body,
        method=method or ("POST" if body is not None else "GET"),
        headers={"Content-Type": "application/json"} if body is not None else {},
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


def test_cloudfront_header_form_round_trips():
    headers = [("Host", "x"), ("X-Many", "1"), ("x-many", "2")]
    shaped = cf_headers(headers)
    assert shaped["x-many"] == [{"key": "X-Many", "value": "1"}, {"key": "x-many", "value": "2"}]
    assert plain_headers(shaped) == headers


def test_the_policy_overrides_only_where_it_says_so():
    policy = headers_policy(
        {
            "SecurityHeadersConfig": {
                "ContentTypeOptions": {"Override": True},
                "ContentSecurityPolicy": {"ContentSecurityPolicy": "default-src 'none'"},
                "StrictTransportSecurity": {"AccessControlMaxAgeSec": 60, "Preload": True},
            },
            "RemoveHeadersConfig": {"Items": [{"Header": "Server"}]},
        }
    )
    out = dict(
        policy.apply(
            [
                ("Server", "awselb"),
                ("X-Content-Type-Options", "sniff"),
                ("Content-Security-Policy", "mine"),
            ]
        )
    )
    assert out["X-Content-Type-Options"] == "nosniff"
    assert out["Content-Security-Policy"] == "mine"  # Override false: the origin's stays
    assert out["Strict-Transport-Security"] == "max-age=60; preload"
    assert "Server" not in out
    assert HeadersPolicy().apply([("a", "b")]) == [("a", "b")]


def test_the_distribution_is_read_from_the_template(cloud):
    distribution = cloud.edge
    assert distribution is not None
    (default,) = distribution.behaviors
    assert default.viewer_request is not None
    assert default.viewer_request.split(":")[6].startswith("Sample-Compute-ViewerRequest")
    assert default.include_body
    assert "POST" in default.allowed_methods
    assert distribution.origin == "VPC origin"


def test_a_request_goes_through_the_viewer_request_to_the_alb(cloud):
    status, headers, body = edge(cloud, "/svc/api/echo", b'{"id": "edge-1"}')

    assert status == 200
    event = json.loads(body)["event"]
    seen = event["headers"]
    assert seen["x-edge-seen"] == "yes"  # added by the viewer-request function
    assert seen["x-edge-body-length"] == "16"  # it was shown the body (IncludeBody)
    assert seen["x-edge-client-ip"] == "127.0.0.1"
    assert "cloudfront.net (CloudFront)" in seen["via"]
    assert json.loads(event["body"]) == {"id": "edge-1"}  # the origin gets the body
    # the response headers policy
    assert headers["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Referrer-Policy"] == "no-referrer"
    assert headers["Content-Security-Policy"] == "default-src 'none'"
    assert headers["X-Echo"] == "yes"  # the origin's own headers stay


def test_a_response_the_function_generates_never_reaches_the_origin(cloud, caplog):
    with caplog.at_level("INFO", logger="local_cloud"):
        status, headers, body = edge(cloud, "/svc/api/blocked", b"{}")
    assert status == 403
    assert json.loads(body) == {"error": "blocked at the edge", "method": "POST"}
    assert headers["Content-Type"] == "application/json"
    assert "Strict-Transport-Security" not in headers  # generated: no policy, no origin
    assert not any(
        "/svc/api/blocked" in r.getMessage()
        for r in caplog.records
        if r.getMessage().startswith("http ")
    )


def test_the_banner_names_the_edge_door_and_what_it_cannot_emulate(cloud):
    text = render(cloud, '{"id": 1}')
    assert f"curl -X POST {cloud.edge_url}/svc/api" in text
    assert sum(line.startswith("edge not emulated:") for line in text.splitlines()) == 1
    assert len(text.splitlines()) <= 30


def test_a_function_published_from_another_region_is_found_through_cdks_reader(cloud):
    name = cloud.outputs["NotifiedFunctionName"]
    arn = cloud.client("lambda").get_function_configuration(FunctionName=name)["FunctionArn"]
    cloud.client("ssm").put_parameter(
        Name="/cdk/EdgeFunctionArn/eu-west-1/Host/ViewerRequest", Value=f"{arn}:7", Type="String"
    )
    reader = {
        "Type": "Custom::CrossRegionStringParameterReader",
        "Properties": {  # as CDK's EdgeFunction writes it
            "ServiceToken": {"Fn::GetAtt": ["ReaderProvider", "Arn"]},
            "ParameterName": "/cdk/EdgeFunctionArn/eu-west-1/Host/ViewerRequest",
            "Region": "us-east-1",
            "RefreshToken": "abc",
        },
    }
    stack = StackArtifact("Host", {"Resources": {"Reader": reader}}, "eu-west-1", (), None, None)
    resolver = _Resolver(Assembly(cloud.assembly.directory, (stack,)), cloud.aws_url, cloud.region)

    found = resolver.value("Host", {"Fn::GetAtt": ["Reader", "FunctionArn"]})

    assert found == f"{arn}:7"
    assert _function_arn(found, cloud.aws_url, cloud.region) == arn  # the version dropped
