"""Ingest's HTTP surface: the paths it serves and its answers.

The ALB forwards the full path; its listener rule sends ``/lambda/api`` and everything
below it here (stacks/contract.py, tied to these paths by tests/test_contract.py),
except GET and HEAD on status paths, which go to the status function.
"""

from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

from orders_core.http import (
    MethodNotAllowed,
    RequestRejected,
    Response,
    RouteNotFound,
    json_response,
)
from orders_core.ingest.service import OrderResult, OrdersRequest
from orders_core.paths import API_PATH, API_PATHS, STATUS_METHODS, status_segments

__all__ = ["API_PATH", "API_PATHS", "Arrival", "accepted_response", "no_route"]


@dataclass(frozen=True)
class Arrival:
    """What stamps a request's orders, fixed when the invocation starts."""

    accepted_at: str
    request_id: str


def no_route(path: str, method: str) -> RequestRejected:
    """Why a request matched no route: another method on a path of the API (405, as the
    edge answers it) or another path (404)."""
    if path in API_PATHS:
        return MethodNotAllowed(f"{method} is not allowed here; use POST")
    if status_segments(path) is not None and method not in STATUS_METHODS:
        # GET and HEAD here go to the status function; other methods fall through to ingest.
        allow = ", ".join(STATUS_METHODS)
        return MethodNotAllowed(f"{method} is not allowed here; use {allow}", allow=allow)
    return RouteNotFound(
        f"no such path; POST orders to {API_PATH}, GET their status at "
        f"{API_PATH}/orders/{{order_id}}"
    )


def accepted_response(request: OrdersRequest, results: list[OrderResult]) -> Response:
    """202: every order of the request is queued; one order's status URL is its Location."""
    body = accepted_body(request, results)
    headers = None if request.is_batch else {"Location": str(body["location"])}
    return json_response(HTTPStatus.ACCEPTED, body, headers)


def accepted_body(request: OrdersRequest, results: list[OrderResult]) -> dict[str, Any]:
    """The 202 body: the one order's receipt, or a result per order of an array."""
    if request.is_batch:
        return {"status": "accepted", "results": [result.body() for result in results]}
    result = results[0]
    if (
        result.message_id is None
        or result.order_id is None
        or result.item is None
        or result.version is None
        or result.location is None
    ):
        raise RuntimeError("an accepted order has no receipt")  # IngestService guarantees it
    return {
        "status": "accepted",
        "message_id": result.message_id,
        "order_id": result.order_id,
        "item": result.item,
        "version": result.version,
        "location": result.location,  # also sent as the Location header
    }
