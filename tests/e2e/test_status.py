"""Order status end to end on the local cloud, through the ALB front door: a 202's Location
turns from pending to stored; 404s, HEAD and bad segments get their documented answers."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
import uuid
from typing import Any

import pytest

from local_cloud.cloud import LocalCloud
from tests.e2e.conftest import post
from tests.polling import wait_for

pytestmark = pytest.mark.e2e

API = "/lambda/api"


def call(cloud: LocalCloud, path: str, method: str = "GET") -> tuple[int, dict[str, str], bytes]:
    """One request to the front door; (status, headers, raw body)."""
    request = urllib.request.Request(cloud.http_url + path, method=method)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


def get(cloud: LocalCloud, path: str) -> tuple[int, Any]:
    status, _, raw = call(cloud, path)
    return status, json.loads(raw)


def test_the_location_of_a_202_turns_from_pending_to_stored(cloud: LocalCloud) -> None:
    order_id = f"status-{uuid.uuid4().hex[:10]}"
    sqs = cloud.client("sqs")
    queue = cloud.outputs["OrdersQueueUrl"]
    visibility = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["VisibilityTimeout"])
    # Given every write of this order fails for now (and a failed receive returns fast)
    sqs.set_queue_attributes(QueueUrl=queue, Attributes={"VisibilityTimeout": "2"})
    cloud.set_faults(match=order_id)
    try:
        # When it is posted, the answer says where to ask
        status, headers, body = post(cloud, API, {"order_id": order_id, "item": "Kopi Susu"})
        assert status == 202
        location = headers["Location"]
        assert location == body["location"]
        assert location.startswith(f"{API}/orders/{order_id}/Kopi%20Susu?version=")

        # Then, while it cannot be stored, that URL says pending (a 200, not a 404) ...
        status, pending = get(cloud, location)
        assert (status, pending["status"]) == (200, "pending")
        assert pending["requested_version"] == body["version"]
        assert "version" not in pending  # nothing of it is stored

        # ... and once the write goes through, stored, at the version the 202 gave
        cloud.set_faults(match=None)
        stored = wait_for(lambda: (s := get(cloud, location)[1])["status"] == "stored" and s)
        assert stored["version"] == body["version"]
        assert (stored["order_id"], stored["item"]) == (order_id, "Kopi Susu")
    finally:
        cloud.set_faults(match=None)
        sqs.set_queue_attributes(QueueUrl=queue, Attributes=visibility["Attributes"])

    # The order's own URL lists the item, and HEAD answers like GET without a body
    status, whole = get(cloud, f"{API}/orders/{order_id}")
    assert status == 200
    assert whole["items"] == [
        {"item": "Kopi Susu", "version": body["version"], "accepted_at": stored["accepted_at"]}
    ]
    head_status, head_headers, head_body = call(cloud, location, method="HEAD")
    assert (head_status, head_body) == (200, b"")
    assert head_headers["Content-Type"] == "application/json"


def test_an_order_nothing_is_stored_of_is_a_json_404(cloud: LocalCloud) -> None:
    path = f"{API}/orders/never-{uuid.uuid4().hex[:8]}"

    status, body = get(cloud, path)
    head_status, _, head_body = call(cloud, path, method="HEAD")

    assert status == 404
    assert body["error"]["code"] == "order_not_found"
    assert "may still be queued" in body["error"]["message"]
    assert (head_status, head_body) == (404, b"")


@pytest.mark.parametrize(
    ("method", "path", "status", "code"),
    [
        ("GET", f"{API}/orders/%20", 400, "invalid_path"),
        ("GET", f"{API}/orders/123/%FF", 400, "invalid_path"),
        ("GET", f"{API}/orders/123?version=nonsense", 400, "invalid_version"),
        ("GET", f"{API}/orders/", 404, "not_found"),
        ("GET", f"{API}/orders/123/Kopi/extra", 404, "not_found"),
        ("GET", f"{API}/orders/123/", 404, "not_found"),
        # other methods reach ingest, which answers as the edge would
        ("POST", f"{API}/orders/123", 405, "method_not_allowed"),
        ("DELETE", f"{API}/orders/123/Kopi", 405, "method_not_allowed"),
    ],
)
def test_bad_segments_and_methods_get_their_documented_answers(
    cloud: LocalCloud, method: str, path: str, status: int, code: str
) -> None:
    got, headers, raw = call(cloud, path, method=method)

    assert (got, json.loads(raw)["error"]["code"]) == (status, code)
    if status == 405:
        assert headers["Allow"] == "GET, HEAD"
