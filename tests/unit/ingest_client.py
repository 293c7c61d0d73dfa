"""Calling the ingest handler the way ALB does, and reading its answer."""

import json
from dataclasses import dataclass
from typing import Any

from lambdas.ingest import handler as ingest_handler
from tests.unit.events import FakeContext


@dataclass
class HttpAnswer:
    status: int
    headers: dict[str, str]
    body: Any

    @property
    def error_code(self) -> str:
        return str(self.body["error"]["code"])


def invoke(event: dict[str, Any], context: FakeContext | None = None) -> HttpAnswer:
    response = ingest_handler.lambda_handler(event, context or FakeContext())
    if "multiValueHeaders" in response:
        headers = {name: values[-1] for name, values in response["multiValueHeaders"].items()}
    else:
        headers = dict(response.get("headers") or {})
    assert not response.get("isBase64Encoded")
    return HttpAnswer(
        status=response["statusCode"], headers=headers, body=json.loads(response["body"])
    )
