"""The deploy-time custom resource that finds CloudFront's origin-facing prefix list id."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest

from lambdas.edge.prefix_list import handler

NAME = "com.amazonaws.global.cloudfront.origin-facing"


class Captured:
    def __init__(self) -> None:
        self.requests: list[Any] = []

    def urlopen(self, request: Any, timeout: float) -> Any:
        self.requests.append(request)
        return _Closing()

    def body(self) -> dict[str, Any]:
        (request,) = self.requests
        assert request.method == "PUT"
        assert request.full_url.startswith("https://cloudformation-custom-resource-response")
        return json.loads(request.data)  # type: ignore[no-any-return]


class _Closing:
    def __enter__(self) -> _Closing:
        return self

    def __exit__(self, *_: object) -> None:
        return None


@pytest.fixture
def cloudformation(monkeypatch: pytest.MonkeyPatch) -> Captured:
    captured = Captured()
    monkeypatch.setattr(handler.urllib.request, "urlopen", captured.urlopen)
    return captured


def _event(request_type: str, name: str = NAME, **extra: Any) -> dict[str, Any]:
    return {
        "RequestType": request_type,
        "ResponseURL": "https://cloudformation-custom-resource-response-useast1.s3.amazonaws.com/x",
        "StackId": "arn:aws:cloudformation:us-east-1:123456789012:stack/Front/guid",
        "RequestId": "req-1",
        "LogicalResourceId": "OriginFacingPrefixList",
        "ResourceType": "Custom::ManagedPrefixListId",
        "ResourceProperties": {"ServiceToken": "arn", "PrefixListName": name},
        **extra,
    }


@pytest.mark.parametrize("request_type", ["Create", "Update"])
def test_create_and_update_answer_the_regions_prefix_list_id(
    aws: None, cloudformation: Captured, request_type: str
) -> None:
    expected = boto3.client("ec2").describe_managed_prefix_lists(
        Filters=[{"Name": "prefix-list-name", "Values": [NAME]}]
    )["PrefixLists"][0]["PrefixListId"]
    handler.lambda_handler(_event(request_type), None)
    body = cloudformation.body()
    assert body["Status"] == "SUCCESS"
    assert body["Data"] == {"PrefixListId": expected}
    assert expected.startswith("pl-")
    assert body["PhysicalResourceId"] == f"prefix-list:{NAME}"
    assert (body["StackId"], body["RequestId"], body["LogicalResourceId"]) == (
        "arn:aws:cloudformation:us-east-1:123456789012:stack/Front/guid",
        "req-1",
        "OriginFacingPrefixList",
    )


def test_an_unknown_name_fails_the_deployment_with_the_reason(
    aws: None, cloudformation: Captured
) -> None:
    handler.lambda_handler(_event("Create", name="com.example.nothing"), None)
    body = cloudformation.body()
    assert body["Status"] == "FAILED"
    assert "found 0" in body["Reason"]


def test_delete_answers_success_without_calling_ec2(cloudformation: Captured) -> None:
    # no moto here: an EC2 call would fail for want of a real endpoint
    event = _event("Delete", PhysicalResourceId=f"prefix-list:{NAME}")
    handler.lambda_handler(event, None)
    body = cloudformation.body()
    assert body["Status"] == "SUCCESS"
    assert body["PhysicalResourceId"] == f"prefix-list:{NAME}"


def test_only_an_https_response_url_is_used() -> None:
    event = _event("Delete", ResponseURL="file:///etc/passwd")
    with pytest.raises(ValueError, match="HTTPS"):
        handler.lambda_handler(event, None)
