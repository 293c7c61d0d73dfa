"""Ingest's HTTP surface: the paths it serves and its answers.

The ALB forwards the full path; its listener rule sends ``/lambda/api`` and everything
below it here (stacks/contract.py, tied to these paths by tests/test_contract.py).
"""

from http import HTTPStatus
from typing import Any, Final, Literal

from aws_lambda_powertools.event_handler import Response
from pydantic import BaseModel

from orders_core.http import MethodNotAllowed, RequestRejected, RouteNotFound, json_response
from orders_core.ingest.service import OrderResult, OrdersRequest

API_PATH: Final = "/lambda/api"
# The bare path and the same with a trailing slash are one API.
API_PATHS: Final = (API_PATH, f"{API_PATH}/")


class AcceptedResponse(BaseModel):
    """202 for one order."""

    status: Literal["accepted"] = "accepted"
    message_id: str
    order_id: str
    item: str
    version: str


class BatchAcceptedResponse(BaseModel):
    """202 for an array: every order was queued."""

    status: Literal["accepted"] = "accepted"
    results: list[OrderResult]


def no_route(path: str, method: str) -> RequestRejected:
    """Why a request matched no route: another method on the API (405) or another path."""
    if path in API_PATHS:
        return MethodNotAllowed(f"{method} is not allowed here; use POST")
    return RouteNotFound(f"no such path; POST orders to {API_PATH}")


def accepted_response(request: OrdersRequest, results: list[OrderResult]) -> Response[Any]:
    """202: every order of the request is queued."""
    return json_response(HTTPStatus.ACCEPTED, accepted_body(request, results))


def accepted_body(request: OrdersRequest, results: list[OrderResult]) -> dict[str, Any]:
    """The 202 body: the one order's receipt, or a result per order of an array."""
    if request.is_batch:
        return BatchAcceptedResponse(results=results).model_dump(exclude_none=True)
    result = results[0]
    if result.message_id is None or result.order_id is None or result.item is None:
        raise RuntimeError("an accepted order has no message id")  # IngestService guarantees it
    return AcceptedResponse(
        message_id=result.message_id,
        order_id=result.order_id,
        item=result.item,
        version=result.version or "",
    ).model_dump()
