"""The API's paths, for every HTTP function: where orders go in, where their status is read.

The ALB forwards the full path. Its rules (stacks/contract.py) send GET/HEAD below
``/lambda/api/orders/`` to the status function and everything else below ``/lambda/api``
to ingest; the edge function (lambdas/edge/viewer_request/surface.py) restates the same
shapes. tests/test_contract.py and tests/unit/test_edge_surface.py keep them in step.
"""

from typing import Final
from urllib.parse import quote

API_PATH: Final = "/lambda/api"
# The bare path and the same with a trailing slash are one API.
API_PATHS: Final = (API_PATH, f"{API_PATH}/")
STATUS_PREFIX: Final = f"{API_PATH}/orders/"
STATUS_METHODS: Final = ("GET", "HEAD")


def status_segments(path: str) -> tuple[str, ...] | None:
    """The raw (still percent-encoded) segments of a status path, or None if it is not one.

    A status path is ``/lambda/api/orders/{order_id}`` or ``.../{order_id}/{item}`` with
    non-empty segments; a trailing slash makes an empty segment, so it is not one.
    """
    if not path.startswith(STATUS_PREFIX):
        return None
    segments = tuple(path[len(STATUS_PREFIX) :].split("/"))
    if not 1 <= len(segments) <= 2 or not all(segments):
        return None
    return segments


def status_location(order_id: str, item: str, version: str) -> str:
    """Where the status of one accepted order is read (a path, valid on any front door).

    Relative on purpose: behind CloudFront the function sees the ALB's host, not the
    client's, so only the path is known to be right.
    """
    return (
        f"{STATUS_PREFIX}{quote(order_id, safe='')}/{quote(item, safe='')}"
        f"?version={quote(version, safe='')}"
    )
