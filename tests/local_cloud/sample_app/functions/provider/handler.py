"""A CloudFormation custom resource's provider: answers Greeting = "hello <Name>" (or
FAILED when Name is "fail"), PUT to the ResponseURL as CloudFormation expects."""

import json
import urllib.request


def main(event, context):
    name = event["ResourceProperties"].get("Name", "")
    status = "FAILED" if name == "fail" else "SUCCESS"
    body = json.dumps(
        {
            "Status": status,
            "Reason": "asked to fail" if status == "FAILED" else "ok",
            "PhysicalResourceId": f"greeting-{name}",
            "StackId": event["StackId"],
            "RequestId": event["RequestId"],
            "LogicalResourceId": event["LogicalResourceId"],
            "Data": {"Greeting": f"hello {name}"},
        }
    ).encode()
    request = urllib.request.Request(event["ResponseURL"], data=body, method="PUT")
    with urllib.request.urlopen(request, timeout=10):
        pass
