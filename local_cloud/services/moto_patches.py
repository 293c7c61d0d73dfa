"""What moto needs changed in the emulation process (each change is listed in README.md).

Applied in the emulation process only, before moto's server starts: the runner's own
process never imports moto's backends.
"""

from __future__ import annotations

import json
import os
import time
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

HOOK_TIMEOUT_S = 960.0  # past Lambda's 15-minute maximum function timeout


class _NoEventSourceMappings:
    """Replaces moto's per-queue mapping dict with one that is always empty.

    On SendMessage moto itself receives from a queue that has a mapping and invokes the
    function through Docker (moto/sqs/models.py, ``lambda_event_source_mappings``). There is
    no Docker engine here, and those receives would steal messages from the runner, which
    is the only consumer: the mappings still exist in the Lambda backend
    (ListEventSourceMappings), only moto's own delivery is switched off.
    """

    def __get__(self, instance: object, owner: type | None = None) -> dict[str, Any]:
        return {}

    def __set__(self, instance: object, value: object) -> None:
        pass


def disable_moto_sqs_delivery() -> None:
    """Patch moto's SQS queues so moto never consumes messages for a mapping."""
    from moto.sqs.models import Queue  # noqa: PLC0415 - moto loads only in the emulation process

    Queue.lambda_event_source_mappings = _NoEventSourceMappings()  # type: ignore[assignment]


def speed_up_moto_sqs_clock() -> None:
    """Give moto's SQS a cheap clock: it reads it for every message on every call.

    moto computes each message's visibility from ``unix_time_millis()``, which builds two
    datetimes per call, and scans the whole queue on every send and receive: with 1,500
    messages queued a ReceiveMessage took 1.3 s, a SendMessageBatch 0.3 s (measured here).
    ``time.time()`` gives the same value (seconds since the epoch, UTC) about ten times
    faster; calls with an explicit datetime keep moto's own conversion.
    """
    import moto.sqs.models as sqs_models  # noqa: PLC0415 - emulation process only

    unix_time = sqs_models.unix_time  # type: ignore[attr-defined]
    unix_time_millis = sqs_models.unix_time_millis  # type: ignore[attr-defined]

    def fast_unix_time(dt: Any = None) -> float:
        return time.time() if dt is None else float(unix_time(dt))

    def fast_unix_time_millis(dt: Any = None) -> float:
        return time.time() * 1000.0 if dt is None else float(unix_time_millis(dt))

    sqs_models.unix_time = fast_unix_time  # type: ignore[attr-defined]
    sqs_models.unix_time_millis = fast_unix_time_millis  # type: ignore[attr-defined]


def _header(headers: Any, name: str) -> str | None:
    for key, value in dict(headers or {}).items():
        if str(key).lower() == name.lower():
            return str(value)
    return None


def call_hook(hook_url: str, path: str, request: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    """POST to the runner's hook; (status, JSON answer)."""
    data = json.dumps(request).encode()
    http_request = urllib.request.Request(  # noqa: S310 - the runner's own loopback endpoint
        hook_url + path, data=data, method="POST", headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(http_request, timeout=HOOK_TIMEOUT_S) as response:  # noqa: S310
            status, body = response.status, response.read()
    except urllib.error.HTTPError as error:
        status, body = error.code, error.read()
    return status, (json.loads(body) if body else {})


def route_lambda_invocations(hook_url: str) -> None:
    """Hand every invocation moto makes to the runner's execution environments.

    moto calls ``LambdaFunction.invoke`` for the Invoke API, S3 notifications, EventBridge
    targets, SNS subscriptions and CloudFormation custom resources, and would run the
    function in Docker. Internal callers pass no request headers: they invoke
    asynchronously, as the AWS services do; the Invoke API says which type it wants.
    """
    from moto.awslambda.exceptions import LambdaClientError  # noqa: PLC0415
    from moto.awslambda.models import LambdaFunction  # noqa: PLC0415
    from moto.awslambda.responses import LambdaResponse  # noqa: PLC0415

    class InvokeRefused(LambdaClientError):
        def __init__(self, status: int, error: str, message: str) -> None:
            super().__init__(error, message)
            self.code = status

    def invoke(self: Any, body: Any, request_headers: Any, response_headers: Any) -> str:
        if isinstance(body, bytes):
            body = body.decode("utf-8", "surrogateescape")
        internal = not request_headers
        kind = "Event" if internal else _header(request_headers, "X-Amz-Invocation-Type")
        kind = kind or "RequestResponse"
        request = {"function": self.function_arn, "type": kind, "payload": body or "{}"}
        status, answer = call_hook(hook_url, "/invoke", request)
        if status >= 400:
            raise InvokeRefused(
                status, str(answer.get("errorType")), str(answer.get("errorMessage"))
            )
        if kind != "RequestResponse":
            return ""  # moto answers 202 (Event) or 204 (DryRun) with no payload
        response_headers["X-Amz-Executed-Version"] = "$LATEST"
        if "error" in answer:
            response_headers["x-amz-function-error"] = "Unhandled"
            return json.dumps(answer["error"])
        return str(answer.get("payload", "null"))

    def invoke_async(self: Any) -> tuple[int, dict[str, str], str]:
        # The deprecated InvokeAsync API is always asynchronous.
        function_name = self.path.rstrip("/").rsplit("/", 2)[-2]
        fn = self.backend.get_function(urllib.parse.unquote(function_name), None)
        fn.invoke(self.body, {"X-Amz-Invocation-Type": "Event"}, {})
        return 202, {"status": "202"}, json.dumps({"Status": 202})

    LambdaFunction.invoke = invoke  # type: ignore[method-assign]
    LambdaResponse.invoke_async = invoke_async  # type: ignore[method-assign]


def answer_custom_resources_here(host: str, port: int) -> None:
    """CloudFormation custom resources get a ResponseURL that reaches this emulation.

    moto builds it from ``settings.moto_server_host()`` (``host.docker.internal``, for
    Docker) and ``MOTO_PORT``; and it ignores a ``FAILED`` answer, leaving the stack in
    CREATE_IN_PROGRESS: a failed custom resource now fails the stack with its reason.
    """
    from moto import settings  # noqa: PLC0415
    from moto.cloudformation.responses import CloudFormationResponse  # noqa: PLC0415

    os.environ["MOTO_PORT"] = str(port)
    settings.moto_server_host = lambda: f"http://{host}"  # type: ignore[assignment]
    original = CloudFormationResponse.process_cfn_response

    def process_cfn_response(self: Any) -> Any:
        if self._get_param("Status") == "FAILED":
            stack = self.cloudformation_backend.get_stack(self._get_param("StackId"))
            logical_id = self._get_param("LogicalResourceId")
            stack.status = "CREATE_FAILED"
            stack.status_reason = f"{logical_id}: {self._get_param('Reason') or 'FAILED'}"
            return 200, {"status": 200}, json.dumps("{}")
        return original(self)

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


def apply_moto_patches(hook_url: str | None = None) -> None:
    disable_moto_sqs_delivery()
    speed_up_moto_sqs_clock()
    if hook_url:
        route_lambda_invocations(hook_url)
        create_generic_custom_resources()
