"""Why an HTTP function refuses a request: one exception type per HTTP status.

Code raises these anywhere (body decoding, validation, queueing); the handler maps them to
responses in one exception handler (``rejection_response``), so no route needs its own
try/except. Every HTTP function answers with the same JSON error body, logs the refusal
the same way and counts it in ``RequestsRejected`` (dimension ``reason``: the code).
"""

from collections.abc import Callable
from http import HTTPStatus
from typing import Any, ClassVar

from aws_lambda_powertools.event_handler import ALBResolver, Response, content_types
from aws_lambda_powertools.event_handler.exceptions import NotFoundError
from aws_lambda_powertools.utilities.data_classes import ALBEvent
from aws_lambda_powertools.utilities.data_classes.common import BaseProxyEvent
from pydantic import BaseModel

from orders_core.observability import MetricName, count_by_reason, logger

# Seconds a client should wait before retrying after a 503.
RETRY_AFTER_SECONDS = 2


def header(event: ALBEvent, name: str) -> str | None:
    """A request header, whether the target group sends single- or multi-value headers.

    ``name`` is lowercase (ALB lowercases header names). A header sent several times is
    ambiguous and treated as absent.
    """
    value = event.headers.get(name)
    if value is not None:
        return str(value)
    values = event.multi_value_headers.get(name)
    if values and len(values) == 1:
        return str(values[0])
    return None


class ErrorDetail(BaseModel):
    code: str
    message: str
    details: list[dict[str, Any]] | None = None


class ErrorBody(BaseModel):
    """``{"error": {"code", "message", "details"?}, "results"?}``."""

    error: ErrorDetail
    results: list[dict[str, Any]] | None = None


class RequestRejected(Exception):
    """A request answered with a 4xx or 503; ``code`` is stable, ``message`` is prose."""

    status: ClassVar[HTTPStatus]
    default_code: ClassVar[str]

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        details: list[dict[str, Any]] | None = None,
        results: list[dict[str, Any]] | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code or self.default_code
        self.message = message
        self.details = details
        self.results = results

    def headers(self) -> dict[str, str]:
        return {}

    def body(self) -> dict[str, Any]:
        error = ErrorDetail(code=self.code, message=self.message, details=self.details)
        return ErrorBody(error=error, results=self.results).model_dump(exclude_none=True)


class BadRequest(RequestRejected):
    """400: the body cannot be read (base64, UTF-8, JSON) or is not an object or array."""

    status = HTTPStatus.BAD_REQUEST
    default_code = "malformed_json"


class RouteNotFound(RequestRejected):
    status = HTTPStatus.NOT_FOUND
    default_code = "not_found"


class MethodNotAllowed(RequestRejected):
    status = HTTPStatus.METHOD_NOT_ALLOWED
    default_code = "method_not_allowed"

    def __init__(self, message: str, *, allow: str = "POST") -> None:
        super().__init__(message)
        self.allow = allow

    def headers(self) -> dict[str, str]:
        return {"Allow": self.allow}


class PayloadTooLarge(RequestRejected):
    status = HTTPStatus.REQUEST_ENTITY_TOO_LARGE
    default_code = "payload_too_large"


class UnsupportedMediaType(RequestRejected):
    status = HTTPStatus.UNSUPPORTED_MEDIA_TYPE
    default_code = "unsupported_media_type"


class ValidationFailed(RequestRejected):
    status = HTTPStatus.UNPROCESSABLE_ENTITY
    default_code = "validation_failed"


class QueueUnavailable(RequestRejected):
    """503: the queue refused or could not be reached; nothing internal is shown."""

    status = HTTPStatus.SERVICE_UNAVAILABLE
    default_code = "queue_unavailable"

    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(RETRY_AFTER_SECONDS)}


class TableUnavailable(RequestRejected):
    """503: the table could not be read; the client may simply ask again."""

    status = HTTPStatus.SERVICE_UNAVAILABLE
    default_code = "table_unavailable"

    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(RETRY_AFTER_SECONDS)}


def json_response(
    status: HTTPStatus, body: dict[str, Any], headers: dict[str, str] | None = None
) -> Response[Any]:
    """An HTTP answer with a JSON body (Powertools serializes ``body``)."""
    return Response(
        status_code=status, content_type=content_types.APPLICATION_JSON, body=body, headers=headers
    )


def rejection_response(exc: RequestRejected, event: BaseProxyEvent) -> Response[Any]:
    """A refused request, logged and counted, as its HTTP answer."""
    logger.info(
        "request rejected",
        status=int(exc.status),
        code=exc.code,
        detail=exc.message,
        path=event.path,
        method=event.http_method,
    )
    count_by_reason(MetricName.REQUESTS_REJECTED, exc.code)
    return json_response(exc.status, exc.body(), exc.headers())


def internal_error_response(exc: Exception) -> Response[Any]:
    """A bug, not a client error: logged with its stack, answered without internals."""
    logger.exception("unexpected error", error_type=type(exc).__name__)
    count_by_reason(MetricName.REQUESTS_REJECTED, "internal_error")
    body = ErrorBody(error=ErrorDetail(code="internal_error", message="internal error"))
    return json_response(HTTPStatus.INTERNAL_SERVER_ERROR, body.model_dump(exclude_none=True))


def answer_errors_as_json(
    app: ALBResolver, no_route: Callable[[str, str], RequestRejected]
) -> None:
    """Give an HTTP function's resolver the one error mapping every HTTP function uses.

    An unknown path or method becomes ``no_route``'s refusal (raised, not returned, so
    404 and 405 take the same path as every other refusal); a ``RequestRejected`` from
    anywhere becomes its JSON answer; anything else is a bug: logged with its stack,
    answered with a 500 that shows no internals.
    """

    @app.not_found
    def route_not_found(_: NotFoundError) -> Response[Any]:
        raise no_route(app.current_event.path, app.current_event.http_method)

    # Powertools leaves exception_handler unannotated; the functions below are fully typed.
    @app.exception_handler(RequestRejected)  # type: ignore[untyped-decorator]
    def reject(exc: RequestRejected) -> Response[Any]:
        return rejection_response(exc, app.current_event)

    @app.exception_handler(Exception)  # type: ignore[untyped-decorator]
    def unexpected(exc: Exception) -> Response[Any]:
        return internal_error_response(exc)
