"""CloudFormation custom resource: the id of an AWS-managed prefix list, found by name.

CloudFront's origin-facing prefix list has a different id in every region, and looking
it up at synth would need credentials. This function runs during the deployment,
answers ``PrefixListId`` to CloudFormation, and does nothing on delete (the list is
AWS's). Handler string ``handler.lambda_handler``; boto3 comes with the runtime.
"""

import json
import urllib.request
from typing import Any

import boto3

RESPONSE_TIMEOUT_SECONDS = 10


def find_prefix_list_id(name: str, ec2: Any) -> str:
    answer = ec2.describe_managed_prefix_lists(
        Filters=[{"Name": "prefix-list-name", "Values": [name]}]
    )
    found = [entry["PrefixListId"] for entry in answer.get("PrefixLists", [])]
    if len(found) != 1:
        raise LookupError(f"expected one prefix list named {name}, found {len(found)}")
    return str(found[0])


def lambda_handler(event: dict[str, Any], context: Any) -> None:
    status, data, reason = "SUCCESS", {}, ""
    if event.get("RequestType") != "Delete":
        try:
            data = {"PrefixListId": find_prefix_list_id(name_of(event), boto3.client("ec2"))}
        except Exception as error:  # any failure fails the deploy instead of hanging it
            status, reason = "FAILED", f"{type(error).__name__}: {error}"
    respond(event, context, status, data, reason)


def respond(
    event: dict[str, Any], context: Any, status: str, data: dict[str, str], reason: str
) -> None:
    """PUT the result to the pre-signed URL CloudFormation waits on."""
    body = json.dumps(
        {
            "Status": status,
            "Reason": reason
            or f"see CloudWatch log stream {getattr(context, 'log_stream_name', '')}",
            # The list itself never changes identity: one physical id for the resource's life.
            "PhysicalResourceId": event.get("PhysicalResourceId")
            or f"prefix-list:{name_of(event)}",
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


def name_of(event: dict[str, Any]) -> str:
    return str(event.get("ResourceProperties", {}).get("PrefixListName", ""))
