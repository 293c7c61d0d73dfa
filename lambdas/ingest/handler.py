"""Ingest: ALB -> validate -> SQS. Answers 202 once every order is durably queued.

Handler string ``handler.lambda_handler``; no relative imports, so it loads the Lambda way
(asset directory on sys.path) and as ``lambdas.ingest.handler`` in tests.
"""

import base64
import binascii
import time
import uuid
from functools import cache
from http import HTTPStatus
from typing import Any

import boto3
from aws_lambda_powertools.event_handler import ALBResolver, Response, content_types
from aws_lambda_powertools.event_handler.exceptions import NotFoundError
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.data_classes import ALBEvent
from aws_lambda_powertools.utilities.typing import LambdaContext
from orders_core.errors import (
    BadRequest,
    MethodNotAllowed,
    PayloadTooLarge,
    RequestRejected,
    RouteNotFound,
    UnsupportedMediaType,
    ValidationFailed,
)
from orders_core.intake import (
    AcceptedResponse,
    BatchAcceptedResponse,
    IntakeService,
    OrderResult,
    read_orders,
)
from orders_core.jsonutil import InvalidJson, parse_json
from orders_core.limits import MAX_BODY_BYTES
from orders_core.observability import (
    MetricName,
    configure,
    count_by_reason,
    logger,
    metrics,
    tracer,
)
from orders_core.queue import SQS_CLIENT_CONFIG, OrdersQueue
from orders_core.settings import IngestSettings, load_settings
from orders_core.versioning import format_accepted_at, is_valid_request_id

# ALB forwards the full path; the listener rule sends /lambda/api* here.
API_PATHS = ("/lambda/api", "/lambda/api/")
JSON_MEDIA_TYPE = "application/json"
_UTF8_CHARSETS = frozenset({"utf-8", "utf8"})
# A base64 text longer than this decodes to more than MAX_BODY_BYTES: refuse it undecoded.
_MAX_BASE64_CHARS = 4 * ((MAX_BODY_BYTES + 2) // 3)

app = ALBResolver()


@cache
def get_settings() -> IngestSettings:
    return load_settings(IngestSettings)


@cache
def get_service() -> IntakeService:
    """Built on the first invocation and kept for the container's life."""
    settings = get_settings()
    client = boto3.client("sqs", config=SQS_CLIENT_CONFIG)
    return IntakeService(OrdersQueue(client, settings.orders_queue_url))


@app.post(API_PATHS[0])
@app.post(API_PATHS[1])
def post_orders() -> Response[Any]:
    event = app.current_event
    payload = _parse_body(_read_body(event))
    request = read_orders(payload)
    results = get_service().accept(
        request,
        accepted_at=app.context["accepted_at"],
        request_id=app.context["request_id"],
    )
    if request.is_batch:
        body: dict[str, Any] = BatchAcceptedResponse(results=results).model_dump(exclude_none=True)
    else:
        body = _single_response(results[0]).model_dump()
    return Response(
        status_code=HTTPStatus.ACCEPTED,
        content_type=content_types.APPLICATION_JSON,
        body=body,
    )


@app.not_found
def route_not_found(_: NotFoundError) -> Response[Any]:
    # Raised, not returned, so 404 and 405 go through the one mapping below.
    if app.current_event.path in API_PATHS:
        raise MethodNotAllowed(f"{app.current_event.http_method} is not allowed here; use POST")
    raise RouteNotFound("no such path; POST orders to /lambda/api")


# Powertools leaves exception_handler unannotated; the functions below are fully typed.
@app.exception_handler(RequestRejected)  # type: ignore[untyped-decorator]
def reject(exc: RequestRejected) -> Response[Any]:
    """The one place where a refused request becomes an HTTP answer."""
    logger.info(
        "request rejected",
        status=int(exc.status),
        code=exc.code,
        detail=exc.message,
        path=app.current_event.path,
        method=app.current_event.http_method,
    )
    count_by_reason(MetricName.REQUESTS_REJECTED, exc.code)
    return Response(
        status_code=exc.status,
        content_type=content_types.APPLICATION_JSON,
        body=exc.body(),
        headers=exc.headers(),
    )


@app.exception_handler(Exception)  # type: ignore[untyped-decorator]
def unexpected(exc: Exception) -> Response[Any]:
    # A bug, not a client error: log it with its stack, answer without internals.
    logger.exception("unexpected error", error_type=type(exc).__name__)
    count_by_reason(MetricName.REQUESTS_REJECTED, "internal_error")
    return Response(
        status_code=HTTPStatus.INTERNAL_SERVER_ERROR,
        content_type=content_types.APPLICATION_JSON,
        body={"error": {"code": "internal_error", "message": "internal error"}},
    )


def _single_response(result: OrderResult) -> AcceptedResponse:
    if result.message_id is None or result.order_id is None or result.item is None:
        raise RuntimeError("an accepted order has no message id")  # IntakeService guarantees it
    return AcceptedResponse(
        message_id=result.message_id,
        order_id=result.order_id,
        item=result.item,
        version=result.version or "",
    )


def _header(event: ALBEvent, name: str) -> str | None:
    """A request header, whether the target group sends single- or multi-value headers."""
    value = event.headers.get(name)
    if value is not None:
        return str(value)
    values = event.multi_value_headers.get(name)
    # Several Content-Type headers are ambiguous: treat them as absent.
    if values and len(values) == 1:
        return str(values[0])
    return None


def is_json_content_type(value: str | None) -> bool:
    """application/json, optionally with charset=utf-8 (JSON is UTF-8 by definition)."""
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


def _read_body(event: ALBEvent) -> str:
    """The body as text: content type checked, base64 undone, size bounded, UTF-8 decoded."""
    if not is_json_content_type(_header(event, "content-type")):
        raise UnsupportedMediaType(f"send the order as {JSON_MEDIA_TYPE}")
    raw = event.body or ""
    if event.is_base64_encoded:
        if len(raw) > _MAX_BASE64_CHARS:
            raise PayloadTooLarge(f"the body exceeds {MAX_BODY_BYTES} bytes")
        try:
            data = base64.b64decode(raw, validate=True)
        except (binascii.Error, ValueError):
            raise BadRequest("the body is not valid base64", code="invalid_base64") from None
    else:
        # surrogatepass: a text body carrying lone surrogates fails the UTF-8 check below.
        data = raw.encode("utf-8", "surrogatepass")
    if len(data) > MAX_BODY_BYTES:
        raise PayloadTooLarge(f"the body exceeds {MAX_BODY_BYTES} bytes")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise BadRequest("the body is not valid UTF-8", code="invalid_utf8") from None


def _parse_body(text: str) -> Any:
    try:
        return parse_json(text)
    except InvalidJson as exc:
        if exc.code == "nesting_too_deep":
            raise ValidationFailed(exc.message, code=exc.code) from None
        raise BadRequest(exc.message, code=exc.code) from None


def _request_id(context: LambdaContext) -> str:
    request_id = str(getattr(context, "aws_request_id", ""))
    # Lambda request ids are UUIDs; anything else (an odd local emulator) gets a fresh one
    # so versions stay well-formed.
    return request_id if is_valid_request_id(request_id) else str(uuid.uuid4())


@logger.inject_lambda_context(correlation_id_path=correlation_paths.APPLICATION_LOAD_BALANCER)
@metrics.log_metrics
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    # The invocation time is the order's acceptance time: taken before any other work.
    accepted_at = format_accepted_at(time.time_ns())
    configure(get_settings())  # a missing variable fails here, loudly, before any order
    get_service()
    app.append_context(accepted_at=accepted_at, request_id=_request_id(context))  # type: ignore[no-untyped-call]
    return app.resolve(event, context)
