"""Reading a status request: the path's segments and ``?version``, decoded and validated.

ALB passes the path and the query string as the client sent them, percent-encoded. A
segment is split off first (so ``%2F`` is a slash inside an order id, not a separator),
then decoded as UTF-8 and checked with the order model's rules for ``order_id`` and
``item``: a status read can only name what an order could have stored.
"""

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import unquote

from orders_core.http import BadRequest, RouteNotFound
from orders_core.model import check_key_text
from orders_core.paths import API_PATH, status_segments
from orders_core.validation import Problem
from orders_core.versioning import VERSION_PATTERN

VERSION_PARAMETER: Final = "version"
_BAD_ESCAPE: Final = re.compile(r"%(?![0-9A-Fa-f]{2})")
_VERSION: Final = re.compile(VERSION_PATTERN)


@dataclass(frozen=True)
class StatusQuery:
    """What a status request asks: one order, or one item of it, optionally at a version."""

    order_id: str
    item: str | None = None
    version: str | None = None


def read_query(path: str, query: Mapping[str, Sequence[str]]) -> StatusQuery:
    """The query a status path and its parameters ask; raises an orders_core.http error."""
    segments = status_segments(path)
    if segments is None:
        raise RouteNotFound(
            f"no such path; GET an order's status at {API_PATH}/orders/{{order_id}} or "
            f"{API_PATH}/orders/{{order_id}}/{{item}}"
        )
    names = ("order_id", "item")[: len(segments)]
    values: dict[str, str] = {}
    problems: list[dict[str, Any]] = []
    for name, segment in zip(names, segments, strict=True):
        try:
            values[name] = check_key_text(_decode(segment, name), name)
        except Problem as exc:
            problems.append({"loc": ["path", name], "msg": exc.message, "type": exc.kind})
    if problems:
        raise BadRequest(
            "the path does not name an order the API could store",
            code="invalid_path",
            details=problems,
        )
    return StatusQuery(
        order_id=values["order_id"],
        item=values.get("item"),
        version=_version(query.get(VERSION_PARAMETER, ())),
    )


def _decode(segment: str, name: str) -> str:
    if _BAD_ESCAPE.search(segment):
        raise Problem("percent_encoding", f"{name} has a % that does not start an escape like %20")
    try:
        return unquote(segment, errors="strict")
    except UnicodeDecodeError:
        raise Problem("utf8", f"{name} does not decode to UTF-8 text") from None


def _version(values: Sequence[str]) -> str | None:
    if not values:
        return None
    if len(values) > 1:
        raise BadRequest("give one version", code="invalid_version")
    try:
        version = unquote(values[0], errors="strict")
    except UnicodeDecodeError:
        version = ""
    if not _VERSION.fullmatch(version):
        raise BadRequest(
            "version must be the version from the 202 answer, URL-encoded "
            "(accepted_at#request_id#position, with # as %23)",
            code="invalid_version",
        )
    return version
