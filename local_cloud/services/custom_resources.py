"""CloudFormation custom resources in the emulation process: their whole lifecycle, as
CloudFormation runs it (each change is listed in README.md).

moto invokes a custom resource's provider in a thread on create, goes on creating the
resources that read its attributes (they get None), never sends Update or Delete, takes
the answer only from Docker (its ResponseURL points at ``host.docker.internal``), ignores
a ``FAILED`` answer (the stack waits forever) and keeps its own name as the physical id.
Here, with the runner's hook:

- Create, Update and Delete events go to the provider through the runner (its execution
  environments, Python or Node.js), synchronously: the resource is done once the provider
  has answered, and only then does the stack go on, as CloudFormation waits;
- the answer (PUT to the ResponseURL, which reaches this emulation whatever its content
  type) is kept by its RequestId; ``SUCCESS`` gives the resource its ``Data`` and the
  physical id the provider chose (what ``Ref`` returns), anything else fails the stack
  operation with ``CUSTOM_RESOURCE_FAILED`` and the provider's reason;
- an Update whose answer changes the physical id is followed by a Delete of the old one
  (CloudFormation's clean-up phase); a Delete is answered before the resources it reads
  go (stack deletion runs in reverse dependency order, moto_patches).

Providers are run once: CloudFormation invokes them asynchronously, with Lambda's retries.
"""

from __future__ import annotations

import json
import os
import threading
import uuid
from typing import Any

from local_cloud.services.moto_patches import call_hook

CUSTOM_RESOURCE_FAILED = "custom resource failed here"  # the deployer looks for this

_answers: dict[str, dict[str, Any]] = {}  # RequestId -> the provider's answer
_answers_lock = threading.Lock()


def _response_url(region_name: str, stack_id: str) -> str:
    from moto import settings  # noqa: PLC0415 - moto loads in the emulation only

    host = f"{settings.moto_server_host()}:{settings.moto_server_port()}"
    return f"{host}/cloudformation_{region_name}/cfnresponse?stack={stack_id}"


def _run(hook_url: str, account_id: str, region_name: str, event: dict[str, Any]) -> Any:
    """Send one event to the provider and wait for its answer; the answer, or raise
    ValidationError(CUSTOM_RESOURCE_FAILED ...) with the reason it failed."""
    from moto.awslambda.utils import get_backend  # noqa: PLC0415
    from moto.cloudformation.exceptions import ValidationError  # noqa: PLC0415

    logical_id = event["LogicalResourceId"]

    def fail(why: str) -> ValidationError:
        return ValidationError(message=f"{CUSTOM_RESOURCE_FAILED}: {logical_id}: {why}")

    try:
        function = get_backend(account_id, region_name).get_function(event["ServiceToken"])
    except Exception as exc:
        raise fail(f"its provider {event['ServiceToken']} does not exist ({exc})") from exc
    request = {
        "function": function.function_arn,
        "type": "RequestResponse",
        "payload": json.dumps(event),
    }
    status, answer = call_hook(hook_url, "/invoke", request)
    with _answers_lock:
        outcome = _answers.pop(event["RequestId"], None)
    if outcome is None:
        if status >= 400 or "error" in answer:
            error = answer.get("error", answer)
            raise fail(f"{error.get('errorType')}: {error.get('errorMessage')}")
        raise fail("its provider returned without answering CloudFormation")
    if outcome.get("Status") != "SUCCESS":
        raise fail(str(outcome.get("Reason") or "FAILED"))
    return outcome


def _event(resource: Any, request_type: str, **more: Any) -> dict[str, Any]:
    event = {
        "RequestType": request_type,
        "ServiceToken": resource.properties["ServiceToken"],
        "ResponseURL": _response_url(resource.region_name, resource.stack_id),
        "StackId": resource.stack_id,
        "RequestId": str(uuid.uuid4()),
        "LogicalResourceId": resource.logical_id,
        "ResourceType": resource.resource_type,
        "ResourceProperties": resource.properties,
    }
    event.update(more)
    return event


def run_custom_resources(hook_url: str) -> None:
    """Create, Update and Delete custom resources through their providers (see above)."""
    from moto.cloudformation.custom_model import CustomModel  # noqa: PLC0415
    from moto.cloudformation.models import cloudformation_backends  # noqa: PLC0415

    def answered(resource: Any, outcome: dict[str, Any]) -> None:
        resource.set_data(outcome.get("Data") or {})
        physical = outcome.get("PhysicalResourceId")
        if physical:
            resource.resource_name = str(physical)

    def create(
        cls: Any,
        /,
        resource_name: str,
        cloudformation_json: Any,
        account_id: str,
        region_name: str,
        **kwargs: Any,
    ) -> Any:
        resource = cls(region_name, str(uuid.uuid4()), kwargs["LogicalId"], resource_name)
        resource.account_id = account_id
        resource.stack_id = kwargs["StackId"]
        resource.resource_type = kwargs["ResourceType"]
        resource.properties = cloudformation_json["Properties"]
        stack = cloudformation_backends[account_id][region_name].get_stack(resource.stack_id)
        stack.add_custom_resource(resource)
        event = _event(resource, "Create")
        event["RequestId"] = resource.request_id
        answered(resource, _run(hook_url, account_id, region_name, event))
        return resource

    def update(  # noqa: PLR0917 - moto's signature
        cls: Any,
        /,
        original_resource: Any,
        new_resource_name: str,
        cloudformation_json: Any,
        account_id: str,
        region_name: str,
    ) -> Any:
        resource = original_resource
        old_properties, old_physical = resource.properties, resource.resource_name
        resource.properties = cloudformation_json["Properties"]
        event = _event(
            resource,
            "Update",
            PhysicalResourceId=old_physical,
            OldResourceProperties=old_properties,
        )
        answered(resource, _run(hook_url, account_id, region_name, event))
        if resource.resource_name != old_physical:  # replaced: the old one goes
            gone = _event(
                resource,
                "Delete",
                PhysicalResourceId=old_physical,
                ResourceProperties=old_properties,
            )
            _run(hook_url, account_id, region_name, gone)
        return resource

    def delete(self: Any, account_id: str, region_name: str) -> None:
        event = _event(self, "Delete", PhysicalResourceId=self.resource_name)
        _run(hook_url, account_id, region_name, event)

    CustomModel.create_from_cloudformation_json = classmethod(create)  # type: ignore[method-assign,assignment]
    CustomModel.update_from_cloudformation_json = classmethod(update)  # type: ignore[method-assign,assignment]
    CustomModel.delete = delete  # type: ignore[attr-defined]


def answer_custom_resources_here(host: str, port: int) -> None:
    """Custom resources get a ResponseURL that reaches this emulation, and their answers
    are kept by RequestId for the event that asked (``_run``)."""
    from moto import settings  # noqa: PLC0415
    from moto.cloudformation.responses import CloudFormationResponse  # noqa: PLC0415

    os.environ["MOTO_PORT"] = str(port)
    settings.moto_server_host = lambda: f"http://{host}"  # type: ignore[assignment]

    def process_cfn_response(self: Any) -> Any:
        answer = {
            key: self._get_param(key)
            for key in ("Status", "Reason", "PhysicalResourceId", "Data", "LogicalResourceId")
        }
        with _answers_lock:
            _answers[str(self._get_param("RequestId"))] = answer
        return 200, {"status": 200}, json.dumps("{}")

    CloudFormationResponse.process_cfn_response = process_cfn_response  # type: ignore[method-assign]


class CustomResourceAnswers:
    """WSGI middleware: a custom resource's answer reaches moto whatever its content type.

    On AWS the ResponseURL is a pre-signed S3 URL that takes any body; a provider that PUTs
    with urllib's default ``application/x-www-form-urlencoded`` makes moto's server parse
    the JSON as a form and answer 404, so the stack would wait forever.
    """

    def __init__(self, app: Any) -> None:
        self.app = app

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        path = str(environ.get("PATH_INFO", ""))
        if path.startswith("/cloudformation_") and path.endswith("/cfnresponse"):
            environ["CONTENT_TYPE"] = ""
        return self.app(environ, start_response)


def create_generic_custom_resources() -> None:
    """``AWS::CloudFormation::CustomResource`` is a custom resource like ``Custom::*``
    (moto only knows the latter and skips the former)."""
    from moto.cloudformation import parsing  # noqa: PLC0415
    from moto.cloudformation.custom_model import CustomModel  # noqa: PLC0415

    original = parsing.resource_class_from_type

    def resource_class_from_type(resource_type: str) -> Any:
        if resource_type == "AWS::CloudFormation::CustomResource":
            return CustomModel
        return original(resource_type)

    parsing.resource_class_from_type = resource_class_from_type
