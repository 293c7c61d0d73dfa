"""The emulation's own endpoints beside AWS's, for the runner (a WSGI middleware in the
emulation process; the runner side is the two functions at the end).

``POST /_local_cloud/public-parameters {"region": r, "parameters": {path: value}}``
    holds parameters AWS publishes under ``/aws/`` (the Powertools layer's, say), which
    moto's PutParameter refuses: GetParameter, and CloudFormation's resolution of an
    ``AWS::SSM::Parameter::Value<...>`` template parameter, then find them at their own
    path, whoever deploys the template (the runner or the CDK CLI).
``GET /_local_cloud/code?arn=<function or layer version ARN>``
    the deployed code's zip, as the emulation stores it: a function deployed by anyone
    (the CDK CLI publishes its own zips) runs from what was deployed.
``GET /_local_cloud/types``
    the resource types moto's CloudFormation creates (the runner never imports moto).
"""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterable
from typing import Any

from local_cloud.aws import ACCOUNT_ID
from local_cloud.deploy.moto_types import creatable_in_moto

PUBLIC_PARAMETERS_PATH = "/_local_cloud/public-parameters"
CODE_PATH = "/_local_cloud/code"
TYPES_PATH = "/_local_cloud/types"
PUBLIC_DESCRIPTION = "public parameter, stood in by the local cloud"

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class ControlError(Exception):
    """The emulation refused a control request."""


def _hold_public_parameters(request: dict[str, Any]) -> int:  # pragma: no cover - emulation
    from moto.core.utils import utcnow  # noqa: PLC0415 - moto loads in the emulation only
    from moto.ssm.models import Parameter, ssm_backends  # noqa: PLC0415

    backend = ssm_backends[str(request.get("account") or ACCOUNT_ID)][str(request["region"])]
    held = 0
    for name, value in dict(request["parameters"]).items():
        versions = backend._parameters[name]
        if versions and versions[-1].value == value:
            continue
        versions.append(
            Parameter(  # type: ignore[abstract]
                account_id=backend.account_id,
                name=name,
                value=str(value),
                parameter_type="String",
                description=PUBLIC_DESCRIPTION,
                allowed_pattern=None,
                keyid=None,
                last_modified_date=utcnow(),
                version=len(versions) + 1,
                data_type="text",
                tier="Standard",
            )
        )
        held += 1
    return held


def _code(arn: str) -> bytes:  # pragma: no cover - emulation
    from moto.awslambda.utils import get_backend  # noqa: PLC0415

    parts = arn.split(":")
    backend = get_backend(parts[4], parts[3])
    if parts[5] == "layer":
        return bytes(backend.get_layer_version(parts[6], parts[7]).code_bytes)
    return bytes(backend.get_function(arn).code_bytes)


class Control:
    """WSGI middleware: answers the paths above, passes everything else on."""

    def __init__(self, app: WSGIApp) -> None:
        self.app = app

    def __call__(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        path = environ.get("PATH_INFO")
        if path not in {PUBLIC_PARAMETERS_PATH, CODE_PATH, TYPES_PATH}:
            return self.app(environ, start_response)
        content_type = "application/json"
        try:
            if path == CODE_PATH:
                query = urllib.parse.parse_qs(str(environ.get("QUERY_STRING", "")))
                body, content_type = _code(query["arn"][0]), "application/zip"
            elif path == TYPES_PATH:
                body = json.dumps(sorted(creatable_in_moto())).encode()
            else:
                length = int(environ.get("CONTENT_LENGTH") or 0)
                request = json.loads(environ["wsgi.input"].read(length) or b"{}")
                body = json.dumps({"held": _hold_public_parameters(request)}).encode()
            status = "200 OK"
        except Exception as exc:  # anything moto raises is the caller's answer
            body = json.dumps({"error": f"{type(exc).__name__}: {exc}"}).encode()
            status, content_type = "400 Bad Request", "application/json"
        start_response(status, [("Content-Type", content_type)])
        return [body]


def _call(request: urllib.request.Request) -> bytes:
    try:
        with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310 - ours
            return bytes(response.read())
    except urllib.error.HTTPError as error:
        raise ControlError(json.loads(error.read()).get("error", "?")) from error


def hold_public_parameters(aws_url: str, region: str, parameters: dict[str, str]) -> None:
    """Make public (``/aws/...``) parameters resolvable in the emulation at their own path."""
    data = json.dumps({"region": region, "parameters": parameters}).encode()
    _call(
        urllib.request.Request(  # noqa: S310 - the runner's own emulation
            aws_url + PUBLIC_PARAMETERS_PATH, data=data, method="POST"
        )
    )


def deployed_code(aws_url: str, arn: str) -> bytes:
    """The zip a function or layer version was deployed with."""
    query = urllib.parse.urlencode({"arn": arn})
    return _call(urllib.request.Request(f"{aws_url}{CODE_PATH}?{query}"))  # noqa: S310


def creatable_types(aws_url: str) -> frozenset[str]:
    """The resource types the emulation's CloudFormation creates."""
    types = json.loads(_call(urllib.request.Request(aws_url + TYPES_PATH)))  # noqa: S310
    return frozenset(str(t) for t in types)
