"""The status function's HTTP surface: its route, its answers, HEAD, and 404/405.

The ALB sends it GET and HEAD below ``/lambda/api/orders/``; the router's catch-all
route hands every such path to ``request.read_query``, which decides what it names.
"""

import re
from http import HTTPStatus
from typing import Any, Final

from orders_core.http import (
    MethodNotAllowed,
    RequestRejected,
    Response,
    RouteNotFound,
    json_response,
)
from orders_core.paths import STATUS_METHODS, STATUS_PREFIX, status_segments
from orders_core.status.service import ItemStatus, OrderStatus

# Anything below the prefix (the whole path must match).
STATUS_ROUTE: Final = re.compile(f"{re.escape(STATUS_PREFIX)}.+")


def status_response(answer: ItemStatus | OrderStatus) -> Response:
    return json_response(HTTPStatus.OK, answer.body())


def without_body_for_head(event: dict[str, Any], response: dict[str, Any]) -> dict[str, Any]:
    """HEAD gets the GET answer's status and headers, and no body (refusals included)."""
    if event.get("httpMethod") == "HEAD":
        return {**response, "body": "", "isBase64Encoded": False}
    return response


def no_route(path: str, method: str) -> RequestRejected:
    """A status path with another method (405) or no status path at all (404)."""
    allow = ", ".join(STATUS_METHODS)
    if status_segments(path) is not None and method not in STATUS_METHODS:
        return MethodNotAllowed(f"{method} is not allowed here; use {allow}", allow=allow)
    return RouteNotFound(f"no such path; GET an order's status at {STATUS_PREFIX}{{order_id}}")
