"""The image build's trigger (lambdas/image_build): CloudFormation in, one CodeBuild build
out, and the answer only when it can give it itself."""

from __future__ import annotations

import json
from typing import Any

import pytest

from lambdas.image_build import handler

EVENT: dict[str, Any] = {
    "RequestType": "Create",
    "ResponseURL": "https://cloudformation-custom-resource-response.example/signed",
    "StackId": "arn:aws:cloudformation:us-east-1:123456789012:stack/Orders-prod-Compute/x",
    "RequestId": "r-1",
    "LogicalResourceId": "LargeFilesImageBuild",
    "ResourceProperties": {
        "ProjectName": "builder",
        "RepositoryName": "orders-prod/files-task",
        "SourceBucket": "cdk-assets",
        "SourceKey": "abc.zip",
        "ImageTag": "0123abcd",
    },
}


class FakeEcr:
    class exceptions:
        class ImageNotFoundException(Exception):
            pass

    def __init__(self, exists: bool) -> None:
        self.exists = exists

    def describe_images(self, **kwargs: Any) -> dict[str, Any]:
        if not self.exists:
            raise self.exceptions.ImageNotFoundException()
        return {"imageDetails": [{}]}


class FakeCodeBuild:
    def __init__(self, error: Exception | None = None) -> None:
        self.error = error
        self.started: list[dict[str, Any]] = []

    def start_build(self, **kwargs: Any) -> dict[str, Any]:
        if self.error is not None:
            raise self.error
        self.started.append(kwargs)
        return {"build": {"id": "builder:1"}}


@pytest.fixture
def world(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    state: dict[str, Any] = {"answers": [], "ecr": FakeEcr(False), "codebuild": FakeCodeBuild()}
    monkeypatch.setattr(handler.boto3, "client", lambda name: state[name])
    monkeypatch.setattr(
        handler,
        "respond",
        lambda event, context, status, data, reason: state["answers"].append(
            (status, data, reason)
        ),
    )
    return state


def test_a_new_image_is_built_and_the_build_answers(world: dict[str, Any]) -> None:
    handler.lambda_handler(EVENT, None)

    (build,) = world["codebuild"].started
    assert build["projectName"] == "builder"
    variables = {v["name"]: v["value"] for v in build["environmentVariablesOverride"]}
    assert variables == {
        "SOURCE_BUCKET": "cdk-assets",
        "SOURCE_KEY": "abc.zip",
        "IMAGE_TAG": "0123abcd",
        "RESPONSE_URL": EVENT["ResponseURL"],
        "STACK_ID": EVENT["StackId"],
        "REQUEST_ID": "r-1",
        "LOGICAL_RESOURCE_ID": "LargeFilesImageBuild",
        "PHYSICAL_RESOURCE_ID": "orders-prod/files-task:0123abcd",
    }
    assert world["answers"] == []  # CloudFormation waits for the build's own answer


def test_an_existing_tag_answers_at_once_without_a_build(world: dict[str, Any]) -> None:
    world["ecr"].exists = True

    handler.lambda_handler({**EVENT, "RequestType": "Update"}, None)

    assert world["codebuild"].started == []
    assert world["answers"] == [("SUCCESS", {"ImageTag": "0123abcd"}, "")]


def test_a_build_that_cannot_start_fails_the_deploy(world: dict[str, Any]) -> None:
    world["codebuild"] = FakeCodeBuild(RuntimeError("AccountLimitExceededException"))

    handler.lambda_handler(EVENT, None)

    ((status, _, reason),) = world["answers"]
    assert status == "FAILED"
    assert "AccountLimitExceededException" in reason


def test_delete_keeps_the_image(world: dict[str, Any]) -> None:
    handler.lambda_handler({**EVENT, "RequestType": "Delete", "PhysicalResourceId": "p"}, None)

    assert world["codebuild"].started == []
    assert world["answers"] == [("SUCCESS", {}, "")]


def test_the_answer_names_the_image_and_refuses_plain_http(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    sent: list[Any] = []

    class Response:
        def __enter__(self) -> Response:
            return self

        def __exit__(self, *args: object) -> None:
            pass

    monkeypatch.setattr(
        handler.urllib.request,
        "urlopen",
        lambda request, timeout: sent.append(request) or Response(),
    )
    handler.respond(
        {**EVENT, "RequestType": "Update", "PhysicalResourceId": "old:tag"}, None, "SUCCESS", {}, ""
    )
    body = json.loads(sent[0].data)
    assert body["PhysicalResourceId"] == "orders-prod/files-task:0123abcd"  # a new tag: a new image
    with pytest.raises(ValueError, match="not HTTPS"):
        handler.respond({**EVENT, "ResponseURL": "http://x"}, None, "SUCCESS", {}, "")
