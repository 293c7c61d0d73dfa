"""Template expressions evaluated by moto's own CloudFormation, for the deployer.

moto's CloudFormation skips some properties and types (NotificationConfiguration, SNS
subscriptions, EventInvokeConfig...): the deployer completes them through the AWS APIs
after the stack, and needs their property values resolved exactly as CloudFormation would
(Ref, Fn::GetAtt, Fn::Sub, Fn::Join, Fn::ImportValue...). This WSGI middleware in the
emulation process answers ``POST /_local_cloud/evaluate {"stack": name, "region": r,
"value": <template fragment>}`` with moto's evaluation of the fragment in that stack
(``{"value": ...}``, or 400 ``{"error": ...}``). The runner side is ``evaluate``.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable
from typing import Any

EVALUATE_PATH = "/_local_cloud/evaluate"

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class EvaluationError(Exception):
    """moto's CloudFormation could not evaluate the fragment."""


def _evaluate_in_moto(request: dict[str, Any]) -> Any:  # pragma: no cover - emulation side
    from moto.cloudformation.models import cloudformation_backends  # noqa: PLC0415
    from moto.cloudformation.parsing import clean_json  # noqa: PLC0415

    account = str(request.get("account") or "123456789012")
    backend = cloudformation_backends[account][str(request["region"])]
    stack = backend.get_stack(str(request["stack"]))
    return clean_json(request["value"], stack.resource_map)


class Evaluator:
    """WSGI middleware: answers EVALUATE_PATH, passes everything else on."""

    def __init__(self, app: WSGIApp) -> None:
        self.app = app

    def __call__(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        if environ.get("PATH_INFO") != EVALUATE_PATH:
            return self.app(environ, start_response)
        length = int(environ.get("CONTENT_LENGTH") or 0)
        try:
            request = json.loads(environ["wsgi.input"].read(length) or b"{}")
            answer, status = {"value": _evaluate_in_moto(request)}, "200 OK"
            body = json.dumps(answer, default=str).encode()
        except Exception as exc:  # anything moto raises is the caller's answer
            body = json.dumps({"error": f"{type(exc).__name__}: {exc}"}).encode()
            status = "400 Bad Request"
        start_response(status, [("Content-Type", "application/json")])
        return [body]


def evaluate(aws_url: str, stack: str, region: str, value: Any) -> Any:
    """What CloudFormation makes of a template fragment in a deployed stack."""
    data = json.dumps({"stack": stack, "region": region, "value": value}).encode()
    request = urllib.request.Request(  # noqa: S310 - the runner's own emulation
        aws_url + EVALUATE_PATH, data=data, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
            return json.loads(response.read())["value"]
    except urllib.error.HTTPError as error:
        raise EvaluationError(json.loads(error.read()).get("error", "?")) from error
