"""With 30% of DynamoDB writes throttled on the wire, every accepted order is still stored."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from local_cloud.cloud import LocalCloud
from tests.e2e.conftest import boot, post, stored_keys
from tests.polling import wait_for

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def faulty(app_assembly: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCloud]:
    logs = tmp_path_factory.mktemp("faulty-logs")
    with boot(app_assembly, logs, fault_rate=0.3) as running:
        queue = running.outputs["OrdersQueueUrl"]
        # failed batches come back after the visibility timeout: keep that short here
        running.client("sqs").set_queue_attributes(
            QueueUrl=queue, Attributes={"VisibilityTimeout": "3"}
        )
        yield running


def test_every_accepted_order_is_stored_despite_throttling(faulty):
    orders = [
        {"order_id": uuid.uuid4().hex[:12], "item": f"faulty-{n}", "qty": 1} for n in range(40)
    ]
    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = list(pool.map(lambda o: post(faulty, "/lambda/api", o)[0], orders))
    assert statuses == [202] * 40

    expected = {(o["order_id"], o["item"]) for o in orders}
    wait_for(lambda: expected <= stored_keys(faulty), timeout=120)

    # the faults really happened: the process function saw throttling and retried
    assert faulty.log_dir is not None
    logs = "".join(p.read_text() for p in faulty.log_dir.glob("*Process*.log"))
    assert "ProvisionedThroughputExceededException" in logs
