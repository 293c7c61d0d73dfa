"""Order versions: which of two accepted copies of an order is the newer one.

SQS standard queues deliver at least once and in any order, so the table keeps, for each
(order_id, item), the copy with the greatest version. A version is the string

    <accepted_at>#<request_id>#<position>

- accepted_at: when ingest was invoked for the request, UTC, nanoseconds, fixed width
  (``2025-01-31T12:34:56.123456789Z``), so string order is time order;
- request_id: the ingest invocation's Lambda request id; it breaks ties between requests
  accepted in the same nanosecond, deterministically;
- position: the order's index in its request (two digits), so within one array request a
  later entry for the same (order_id, item) wins.

Every character of a request id sorts after ``#``, so comparing versions as strings (as
DynamoDB does, byte by byte) compares the tuple (accepted_at, request_id, position).
"""

import re
from datetime import UTC, datetime
from typing import Final

from orders_core.limits import MAX_ORDERS_PER_REQUEST, MAX_REQUEST_ID_CHARS

SEPARATOR: Final = "#"
_NANOS_PER_SECOND: Final = 1_000_000_000
_POSITION_DIGITS: Final = 2

ACCEPTED_AT_PATTERN: Final = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{9}Z$"
# Printable ASCII from '$' (0x24) to '~': every character sorts after the separator '#'.
REQUEST_ID_PATTERN: Final = rf"^[$-~]{{1,{MAX_REQUEST_ID_CHARS}}}$"
VERSION_PATTERN: Final = (
    rf"^{ACCEPTED_AT_PATTERN[1:-1]}{SEPARATOR}[$-~]{{1,{MAX_REQUEST_ID_CHARS}}}"
    rf"{SEPARATOR}\d{{{_POSITION_DIGITS}}}$"
)

# The stamp's other attribute: the caller the edge authenticated (an OpenID Connect
# `sub`, passed on by the edge as x-auth-subject): printable ASCII, no surrounding
# spaces, at most 255 characters.
SUBJECT_PATTERN: Final = r"^[\x21-\x7e](?:[\x20-\x7e]{0,253}[\x21-\x7e])?$"

_REQUEST_ID_RE: Final = re.compile(REQUEST_ID_PATTERN)

if MAX_ORDERS_PER_REQUEST > 10**_POSITION_DIGITS:  # a guard for whoever raises the limit
    raise RuntimeError("the position field of a version is too narrow for the request limit")


def format_accepted_at(epoch_ns: int) -> str:
    """UTC timestamp with nanoseconds, fixed width, so it sorts as text."""
    seconds, nanos = divmod(epoch_ns, _NANOS_PER_SECOND)
    whole = datetime.fromtimestamp(seconds, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S")
    return f"{whole}.{nanos:09d}Z"


def is_valid_request_id(request_id: str) -> bool:
    return _REQUEST_ID_RE.fullmatch(request_id) is not None


def make_version(accepted_at: str, request_id: str, position: int) -> str:
    """The version string of the order at ``position`` in the request ``request_id``."""
    if not is_valid_request_id(request_id):
        raise ValueError("a request id must be 1-128 printable ASCII characters after '#'")
    if not 0 <= position < MAX_ORDERS_PER_REQUEST:
        raise ValueError("position is outside the request")
    return f"{accepted_at}{SEPARATOR}{request_id}{SEPARATOR}{position:0{_POSITION_DIGITS}d}"
