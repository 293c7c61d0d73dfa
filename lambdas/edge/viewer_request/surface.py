"""The orders API's surface, as far as a request line and headers can tell.

What the API behind the ALB can ever accept (docs/contracts.md):

- ``POST /lambda/api`` and ``POST /lambda/api/`` (ingest) with a JSON content type and a
  body of at most 256 KiB;
- ``GET``/``HEAD /lambda/api/orders/{order_id}`` and ``.../{order_id}/{item}`` (status).

Anything else can never succeed, so the edge answers it in the API's own terms (same
status, same error code) without a trip to the origin. Segment contents are left to
the status function, which validates them with the order model's rules.

This function ships without the shared layer, so the two rules it shares with ingest
(the body limit and the content-type test) are restated here; tests/unit/
test_edge_surface.py checks them against ingest's own code.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from http import HTTPStatus
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING or __package__:  # tests: imported as lambdas.edge.viewer_request.surface
    from .cf_event import single_header
    from .refusal import Refused
else:  # Lambda: the asset directory is on sys.path
    from cf_event import single_header
    from refusal import Refused

ORDERS_PATHS = frozenset({"/lambda/api", "/lambda/api/"})
STATUS_PREFIX = "/lambda/api/orders/"
MAX_BODY_BYTES = 256 * 1024  # orders_core.limits.MAX_BODY_BYTES
JSON_MEDIA_TYPE = "application/json"
_UTF8_CHARSETS = frozenset({"utf-8", "utf8"})


@dataclass(frozen=True)
class Route:
    """One of the API's resources and the methods it answers."""

    name: str
    methods: tuple[str, ...]
    takes_body: bool

    @property
    def allow(self) -> str:
        return ", ".join(self.methods)


ORDERS = Route("orders", ("POST",), takes_body=True)
STATUS = Route("status", ("GET", "HEAD"), takes_body=False)


def route_for(uri: str) -> Route:
    """The route a path belongs to; 404 for any other path."""
    if uri in ORDERS_PATHS:
        return ORDERS
    if uri.startswith(STATUS_PREFIX):
        segments = uri[len(STATUS_PREFIX) :].split("/")
        # {order_id} or {order_id}/{item}; an empty segment names nothing.
        if 1 <= len(segments) <= 2 and all(segments):
            return STATUS
    raise Refused(
        HTTPStatus.NOT_FOUND,
        "not_found",
        "no such path; POST orders to /lambda/api, GET their status at "
        "/lambda/api/orders/{order_id}",
    )


def check_method(route: Route, method: str) -> None:
    if method not in route.methods:
        raise Refused(
            HTTPStatus.METHOD_NOT_ALLOWED,
            "method_not_allowed",
            f"{method} is not allowed here; use {route.allow}",
            headers={"Allow": route.allow},
        )


def check_body(route: Route, headers: Mapping[str, Any]) -> None:
    """415 for a non-JSON body, 413 for a declared length over the API's limit."""
    if not route.takes_body:
        return
    if not is_json_content_type(single_header(headers, "content-type")):
        raise Refused(
            HTTPStatus.UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            f"send the order as {JSON_MEDIA_TYPE}",
        )
    length = declared_length(headers)
    if length is not None and length > MAX_BODY_BYTES:
        raise Refused(
            HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
            "payload_too_large",
            f"the body exceeds {MAX_BODY_BYTES} bytes",
        )


def declared_length(headers: Mapping[str, Any]) -> int | None:
    """Content-Length as a number; absent or malformed is None (the origin side decides)."""
    value = single_header(headers, "content-length")
    if value is None or not value.isascii() or not value.isdigit():
        return None
    return int(value)


def is_json_content_type(value: str | None) -> bool:
    """application/json, optionally with charset=utf-8 (ingest's rule, restated)."""
    if value is None:
        return False
    media_type, _, parameters = value.partition(";")
    if media_type.strip().lower() != JSON_MEDIA_TYPE:
        return False
    for parameter in parameters.split(";"):
        name, _, argument = parameter.partition("=")
        charset = argument.strip().strip('"').lower()
        if name.strip().lower() == "charset" and charset not in _UTF8_CHARSETS:
            return False
    return True
