"""CloudFront's Lambda@Edge event shapes: header lists and generated responses.

CloudFront gives headers as ``{"lowercase-name": [{"key": "Name", "value": "..."}]}``
and takes a generated response as ``{"status", "statusDescription", "headers", "body"}``.
"""

from collections.abc import Mapping
from http import HTTPStatus
from typing import Any

CfHeaders = dict[str, list[dict[str, str]]]


def single_header(headers: Mapping[str, Any], name: str) -> str | None:
    """The one value of a header; absent or repeated (ambiguous) both give None."""
    entries = headers.get(name.lower())
    if not isinstance(entries, list) or len(entries) != 1:
        return None
    value = entries[0].get("value") if isinstance(entries[0], dict) else None
    return value if isinstance(value, str) else None


def set_header(headers: CfHeaders, name: str, value: str) -> None:
    """Replace every value of a header with one value."""
    headers[name.lower()] = [{"key": name, "value": value}]


def remove_header(headers: CfHeaders, name: str) -> None:
    headers.pop(name.lower(), None)


def response(status: HTTPStatus, headers: Mapping[str, str], body: str | None) -> dict[str, Any]:
    """A response CloudFront sends to the viewer instead of forwarding the request."""
    cf_headers: CfHeaders = {}
    for name, value in headers.items():
        set_header(cf_headers, name, value)
    answer: dict[str, Any] = {
        "status": str(int(status)),
        "statusDescription": status.phrase,
        "headers": cf_headers,
    }
    if body is not None:
        answer["body"] = body
    return answer
