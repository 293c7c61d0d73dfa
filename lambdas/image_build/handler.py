"""CloudFormation custom resource: build a container image in CodeBuild during the deploy.

The image's build context is an S3 asset of the stack (a Dockerfile and what it copies);
its tag is the context's content hash, computed at synth, so the same context is never
built twice. On create or update this function:

- answers SUCCESS at once when the repository already holds the tag (a rollback, or a
  stack re-created around an existing repository: tags are immutable there);
- otherwise starts the CodeBuild project with the context, the tag and CloudFormation's
  response URL, and returns: the build answers CloudFormation itself when it ends
  (SUCCESS after the push, FAILED with the build's log stream otherwise), so a build may
  take longer than this function may run;
- answers FAILED if the build cannot be started.

Delete answers SUCCESS and keeps the image (the repository's lifecycle rule expires old
ones). Handler string ``handler.lambda_handler``; boto3 comes with the runtime, nothing
else is imported.
"""

import json
import urllib.request
from typing import Any

import boto3

RESPONSE_TIMEOUT_SECONDS = 10


def image_exists(ecr: Any, repository: str, tag: str) -> bool:
    try:
        ecr.describe_images(repositoryName=repository, imageIds=[{"imageTag": tag}])
    except ecr.exceptions.ImageNotFoundException:
        return False
    return True


def build_variables(event: dict[str, Any]) -> list[dict[str, str]]:
    """What the build needs to build, push and answer CloudFormation (plain text: the
    response URL is pre-signed for this one answer)."""
    properties = event["ResourceProperties"]
    values = {
        "SOURCE_BUCKET": properties["SourceBucket"],
        "SOURCE_KEY": properties["SourceKey"],
        "IMAGE_TAG": properties["ImageTag"],
        "RESPONSE_URL": event["ResponseURL"],
        "STACK_ID": event["StackId"],
        "REQUEST_ID": event["RequestId"],
        "LOGICAL_RESOURCE_ID": event["LogicalResourceId"],
        "PHYSICAL_RESOURCE_ID": physical_id(event),
    }
    return [
        {"name": name, "value": str(value), "type": "PLAINTEXT"} for name, value in values.items()
    ]


def physical_id(event: dict[str, Any]) -> str:
    """The image, by repository and tag: a new tag is a new resource (the old one's
    delete keeps its image)."""
    properties = event["ResourceProperties"]
    return f"{properties['RepositoryName']}:{properties['ImageTag']}"


def lambda_handler(event: dict[str, Any], context: Any) -> None:
    if event.get("RequestType") == "Delete":
        respond(event, context, "SUCCESS", {}, "")
        return
    properties = event["ResourceProperties"]
    data = {"ImageTag": str(properties["ImageTag"])}
    try:
        if image_exists(boto3.client("ecr"), properties["RepositoryName"], data["ImageTag"]):
            respond(event, context, "SUCCESS", data, "")
            return
        build = boto3.client("codebuild").start_build(
            projectName=properties["ProjectName"],
            environmentVariablesOverride=build_variables(event),
        )
    except Exception as error:  # any failure fails the deploy instead of hanging it
        respond(event, context, "FAILED", {}, f"{type(error).__name__}: {error}")
        return
    print(json.dumps({"message": "image build started", "build": build["build"]["id"]}))


def respond(
    event: dict[str, Any], context: Any, status: str, data: dict[str, str], reason: str
) -> None:
    """PUT the result to the pre-signed URL CloudFormation waits on."""
    body = json.dumps(
        {
            "Status": status,
            "Reason": reason
            or f"see CloudWatch log stream {getattr(context, 'log_stream_name', '')}",
            # delete answers for the resource it was given; create and update name the image
            "PhysicalResourceId": event["PhysicalResourceId"]
            if event.get("RequestType") == "Delete"
            else physical_id(event),
            "StackId": event["StackId"],
            "RequestId": event["RequestId"],
            "LogicalResourceId": event["LogicalResourceId"],
            "Data": data,
        }
    ).encode("utf-8")
    url = str(event["ResponseURL"])
    if not url.startswith("https://"):
        raise ValueError("CloudFormation's response URL is not HTTPS")
    request = urllib.request.Request(  # noqa: S310 (https only, checked above)
        url, data=body, method="PUT", headers={"Content-Type": ""}
    )
    with urllib.request.urlopen(request, timeout=RESPONSE_TIMEOUT_SECONDS):  # noqa: S310
        pass
