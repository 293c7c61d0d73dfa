"""A request refused at the edge, and the answer it becomes.

The body has the API's error shape (docs/contracts.md): ``{"error": {"code", "message"}}``.
CloudFront runs no viewer-response step on a response a viewer-request function
generates, and its response headers policy does not reach it either, so the security
headers the distribution adds to origin answers are set here too (stacks/front.py holds
the policy; tests/infra/test_front.py keeps both in step).
"""

import json
from collections.abc import Mapping
from http import HTTPStatus
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING or __package__:  # tests: imported as lambdas.edge.viewer_request.refusal
    from .cf_event import response
else:  # Lambda: the asset directory is on sys.path
    from cf_event import response

HSTS_MAX_AGE_SECONDS = 63_072_000  # two years, the usual preload-list minimum
SECURITY_HEADERS: Mapping[str, str] = {
    "Strict-Transport-Security": f"max-age={HSTS_MAX_AGE_SECONDS}; includeSubDomains",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    # A JSON API loads nothing and is framed by nothing.
    "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'",
    "X-Frame-Options": "DENY",
}


class Refused(Exception):
    """A request the edge answers itself; ``code`` is stable, ``message`` is prose."""

    def __init__(
        self,
        status: HTTPStatus,
        code: str,
        message: str,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = dict(headers or {})

    def body(self) -> dict[str, Any]:
        return {"error": {"code": self.code, "message": self.message}}

    def to_response(self, *, request_id: str, include_body: bool) -> dict[str, Any]:
        """The CloudFront response; a HEAD request gets the headers without the body."""
        headers = {
            **SECURITY_HEADERS,
            "Content-Type": "application/json",
            # An edge refusal is about this request only: nothing may keep it.
            "Cache-Control": "no-store",
            "X-Request-Id": request_id,
            **self.headers,
        }
        body = json.dumps(self.body(), separators=(",", ":")) if include_body else None
        return response(self.status, headers, body)
