"""HTTP behind the ALB: reading its events, routing them, answering, and why a request is refused.

Code raises a ``RequestRejected`` anywhere (body decoding, validation, queueing); ``Router``
maps it to a response in one place, so no route needs its own try/except. Every HTTP
function answers with the same JSON error body, logs the refusal the same way and counts
it in ``RequestsRejected`` (dimension ``reason``: the code).

The event is the plain dict Lambda hands over (docs.aws.amazon.com/lambda/latest/dg/
services-alb.html), read through the small functions below; the answer is the dict ALB
expects (docs.aws.amazon.com/elasticloadbalancing/latest/application/lambda-functions.html).
A framework for this cost every new execution environment more than the functions' own
code does (docs/decisions.md, "Cold init").
"""

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from http import HTTPStatus
from typing import Any, ClassVar, Final, Generic, TypeVar

from orders_core.observability import MetricName, count_by_reason, logger

# Seconds a client should wait before retrying after a 503.
RETRY_AFTER_SECONDS = 2
JSON_CONTENT_TYPE: Final = "application/json"

Event = Mapping[str, Any]
"""An ALB request as Lambda passes it: ``httpMethod``, ``path``, ``headers`` or
``multiValueHeaders``, ``queryStringParameters`` or ``multiValueQueryStringParameters``,
``body``, ``isBase64Encoded``."""


# --- reading the event -------------------------------------------------------------------


def method(event: Event) -> str:
    """The request method as the client sent it (not case-folded: HTTP methods are not)."""
    return str(event["httpMethod"])


def path(event: Event) -> str:
    """The full path, still percent-encoded."""
    return str(event["path"])


def body_text(event: Event) -> str:
    """The body as ALB passed it: text, or base64 text when ``is_base64_encoded``."""
    return str(event.get("body") or "")


def is_base64_encoded(event: Event) -> bool:
    return bool(event.get("isBase64Encoded"))


def has_multi_value_headers(event: Event) -> bool:
    """True when the target group sends (and so expects back) multi-value headers."""
    return bool(event.get("multiValueHeaders"))


def header(event: Event, name: str) -> str | None:
    """A request header, whether the target group sends single- or multi-value headers.

    Names match case-blind (ALB lowercases them anyway). A header sent several times is
    ambiguous and treated as absent.
    """
    value = _case_blind(event.get("headers"), name)
    if value is not None:
        return str(value)
    values = _case_blind(event.get("multiValueHeaders"), name)
    if values and len(values) == 1:
        return str(values[0])
    return None


def _case_blind(mapping: Mapping[str, Any] | None, name: str) -> Any:
    """The value under ``name`` in any case; of names that differ only in case, the last."""
    wanted = name.lower()
    found = None
    for key, value in (mapping or {}).items():
        if key.lower() == wanted:
            found = value
    return found


def query_values(event: Event) -> dict[str, list[str]]:
    """The raw (percent-encoded) query parameters, whether the target group sends single
    or multiple values."""
    multi = event.get("multiValueQueryStringParameters")
    if multi:
        return {str(name): [str(v) for v in values] for name, values in multi.items()}
    single = event.get("queryStringParameters") or {}
    return {str(name): [str(value)] for name, value in single.items()}


# --- answering ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Response:
    """An HTTP answer: status, headers (in the order they are sent) and a text body."""

    status: HTTPStatus
    body: str
    headers: Mapping[str, str] = field(default_factory=dict)

    def for_alb(self, event: Event) -> dict[str, Any]:
        """The answer as ALB takes it, with headers in the form the event came in."""
        answer: dict[str, Any] = {
            "statusCode": int(self.status),
            "statusDescription": f"{self.status.value} {self.status.phrase}",
            "body": self.body,
            "isBase64Encoded": False,
        }
        if has_multi_value_headers(event):
            answer["multiValueHeaders"] = {name: [value] for name, value in self.headers.items()}
        else:
            answer["headers"] = dict(self.headers)
        return answer


def _json_default(value: object) -> str:
    if isinstance(value, Decimal):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def dumps_compact(body: Any) -> str:
    """Compact JSON, non-ASCII escaped, a Decimal as its digits in a string."""
    return json.dumps(body, separators=(",", ":"), default=_json_default)


def json_response(
    status: HTTPStatus, body: Mapping[str, Any], headers: Mapping[str, str] | None = None
) -> Response:
    """An HTTP answer with a JSON body; ``headers`` come first, then Content-Type."""
    all_headers = dict(headers or {})
    all_headers.setdefault("Content-Type", JSON_CONTENT_TYPE)
    return Response(status, dumps_compact(body), all_headers)


def error_body(
    code: str,
    message: str,
    details: list[dict[str, Any]] | None = None,
    results: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """``{"error": {"code", "message", "details"?}, "results"?}``."""
    error: dict[str, Any] = {"code": code, "message": message}
    if details is not None:
        error["details"] = details
    body: dict[str, Any] = {"error": error}
    if results is not None:
        body["results"] = results
    return body


# --- refusals ----------------------------------------------------------------------------


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
        return error_body(self.code, self.message, self.details, self.results)


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


def rejection_response(exc: RequestRejected, event: Event) -> Response:
    """A refused request, logged and counted, as its HTTP answer."""
    logger.info(
        "request rejected",
        status=int(exc.status),
        code=exc.code,
        detail=exc.message,
        path=path(event),
        method=method(event),
    )
    count_by_reason(MetricName.REQUESTS_REJECTED, exc.code)
    return json_response(exc.status, exc.body(), exc.headers())


def internal_error_response(exc: Exception) -> Response:
    """A bug, not a client error: logged with its stack, answered without internals."""
    logger.exception("unexpected error", error_type=type(exc).__name__)
    count_by_reason(MetricName.REQUESTS_REJECTED, "internal_error")
    body = error_body("internal_error", "internal error")
    return json_response(HTTPStatus.INTERNAL_SERVER_ERROR, body)


# --- routing -----------------------------------------------------------------------------

C = TypeVar("C")
Route = Callable[[Event, C], Response]
"""A route: the event and what the function passes along (``C``) to its answer."""


@dataclass(frozen=True)
class _Rule(Generic[C]):
    methods: frozenset[str]
    path: re.Pattern[str]
    route: Route[C]


class Router(Generic[C]):
    """Routes by exact method and whole path, with the one error mapping every HTTP
    function uses.

    An unknown path or method becomes ``no_route``'s refusal, so 404 and 405 take the same
    path as every other refusal; a ``RequestRejected`` from anywhere becomes its JSON
    answer; anything else is a bug: logged with its stack, answered with a 500 that shows
    no internals.
    """

    def __init__(self, no_route: Callable[[str, str], RequestRejected]) -> None:
        self._no_route = no_route
        self._rules: list[_Rule[C]] = []

    def route(
        self, methods: tuple[str, ...], *paths: str | re.Pattern[str]
    ) -> Callable[[Route[C]], Route[C]]:
        """Register a route for ``methods`` on each path: a literal path, or a pattern the
        whole path must match."""

        def register(route: Route[C]) -> Route[C]:
            for rule in paths:
                pattern = re.compile(re.escape(rule)) if isinstance(rule, str) else rule
                self._rules.append(_Rule(frozenset(methods), pattern, route))
            return route

        return register

    def resolve(self, event: Event, context: C) -> dict[str, Any]:
        """The ALB answer to ``event``."""
        try:
            response = self._find(event)(event, context)
        except RequestRejected as exc:
            response = rejection_response(exc, event)
        except Exception as exc:
            response = internal_error_response(exc)
        return response.for_alb(event)

    def _find(self, event: Event) -> Route[C]:
        request_method, request_path = method(event), path(event)
        for rule in self._rules:
            if request_method in rule.methods and rule.path.fullmatch(request_path):
                return rule.route
        raise self._no_route(request_path, request_method)
