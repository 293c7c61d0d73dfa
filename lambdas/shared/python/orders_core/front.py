"""What the API's front tells the functions behind the ALB, and when to believe it.

With the edge on, every request that reaches the ALB came through CloudFront and the
viewer-request function (lambdas/edge/viewer_request), which removed whatever the viewer
sent under these names and set them itself: ``x-request-id`` (a fresh id per request,
the correlation id of the functions' logs) and, when it authenticated the caller,
``x-auth-subject`` (stored with the order). With the edge off, anyone who can reach the
ALB can send either, so both are ignored. The stack says which (``EDGE_ENABLED``).
"""

import re
from dataclasses import dataclass
from typing import Final

from orders_core.http import Event, header
from orders_core.settings import CommonSettings, flag, variable
from orders_core.versioning import SUBJECT_PATTERN

REQUEST_ID_HEADER: Final = "x-request-id"
SUBJECT_HEADER: Final = "x-auth-subject"
# ALB's own trace header: the correlation id when there is no edge.
TRACE_HEADER: Final = "x-amzn-trace-id"
_SUBJECT: Final = re.compile(SUBJECT_PATTERN)
_REQUEST_ID: Final = re.compile(r"^[\x21-\x7e]{1,128}$")


@dataclass(frozen=True, kw_only=True)
class FrontSettings(CommonSettings):
    """Variables every function behind the ALB reads."""

    edge_enabled: bool = variable("EDGE_ENABLED", flag)


def correlation_id(event: Event, *, edge_enabled: bool) -> str | None:
    """The edge's request id when the edge is on (and sent one), else ALB's trace id."""
    if edge_enabled:
        request_id = header(event, REQUEST_ID_HEADER)
        if request_id is not None and _REQUEST_ID.match(request_id):
            return request_id
    return header(event, TRACE_HEADER)


def auth_subject(event: Event, *, edge_enabled: bool) -> str | None:
    """The caller the edge authenticated, or None (no edge, no authentication, or a
    value the edge would never have set)."""
    if not edge_enabled:
        return None
    subject = header(event, SUBJECT_HEADER)
    return subject if subject is not None and _SUBJECT.match(subject) else None
