"""Why ingest refuses a request: one exception type per HTTP status.

Code raises these anywhere (body decoding, validation, queueing); the ingest handler maps
them to responses in one exception handler, so no route needs its own try/except.
"""

from http import HTTPStatus
from typing import Any, ClassVar

from pydantic import BaseModel

# Seconds a client should wait before retrying after a 503.
RETRY_AFTER_SECONDS = 2


class ErrorDetail(BaseModel):
    code: str
    message: str
    details: list[dict[str, Any]] | None = None


class ErrorBody(BaseModel):
    """``{"error": {"code", "message", "details"?}, "results"?}``."""

    error: ErrorDetail
    results: list[dict[str, Any]] | None = None


class RequestRejected(Exception):
    """A request ingest answers with a 4xx or 503; ``code`` is stable, ``message`` is prose."""

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
