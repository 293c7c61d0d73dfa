"""The orders system end to end on the local cloud: HTTP in, DynamoDB out.

Only the front door is used to place orders; boto3 against the emulation is used to
inspect the queue and table and to put a poison message straight on the queue.
"""

from __future__ import annotations

import json
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest

from local_cloud.operations.dlq import dead_letters, redrive
from local_cloud.operations.queues import peek_messages
from tests.e2e.conftest import post, queue_depth, stored_keys, table_items
from tests.polling import wait_for

pytestmark = pytest.mark.e2e

API = "/lambda/api"


def name(queue_url: str) -> str:
    return queue_url.rsplit("/", 1)[-1]


def order(**fields):
    return {"order_id": uuid.uuid4().hex[:12], "item": "Kopi Susu", "qty": 2, **fields}


def test_the_tutorial_request_lands_in_the_table(cloud):
    status, _, body = post(cloud, API, {"order_id": "123", "item": "Kopi Susu", "qty": 2})

    assert status == 202
    assert body["status"] == "accepted"
    assert (body["order_id"], body["item"]) == ("123", "Kopi Susu")
    wait_for(lambda: ("123", "Kopi Susu") in stored_keys(cloud))
    item = next(i for i in table_items(cloud) if i["order_id"] == "123")
    assert item["qty"] == 2


def test_a_trailing_slash_is_the_same_api(cloud):
    placed = order()
    status, _, _ = post(cloud, API + "/", placed)
    assert status == 202
    wait_for(lambda: (placed["order_id"], "Kopi Susu") in stored_keys(cloud))


def test_a_body_alb_base64_encodes_reaches_the_handler_and_gets_its_documented_answer(cloud):
    # ALB sends any type but text/*, json, javascript and xml base64-encoded; ingest
    # decodes base64 but only accepts application/json, so this is a 415, never a 5xx.
    placed = order()
    status, _, body = post(
        cloud, API, json.dumps(placed).encode(), content_type="application/octet-stream"
    )
    assert status == 415
    assert "error" in body
    assert (placed["order_id"], "Kopi Susu") not in stored_keys(cloud)


@pytest.mark.parametrize("qty", [2.5, 2.0])
def test_a_float_qty_is_refused_with_its_documented_answer(cloud, qty):
    status, _, body = post(cloud, API, order(qty=qty))
    assert status == 422
    assert "qty" in json.dumps(body)


def test_an_array_of_orders_is_accepted_as_one_request(cloud):
    batch = [order(item=f"item-{n}") for n in range(10)]
    status, _, body = post(cloud, API, batch)
    assert status == 202
    assert len(body["results"]) == 10
    expected = {(o["order_id"], o["item"]) for o in batch}
    wait_for(lambda: expected <= stored_keys(cloud))


def test_a_hundred_orders_all_land(cloud):
    orders = [order(item=f"bulk-{n}") for n in range(100)]
    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = list(pool.map(lambda o: post(cloud, API, o)[0], orders))

    assert statuses == [202] * 100
    expected = {(o["order_id"], o["item"]) for o in orders}
    wait_for(lambda: expected <= stored_keys(cloud), timeout=90)


@pytest.mark.parametrize(
    ("body", "status"),
    [
        (b'{"order_id": "1", "item": ', 400),  # not JSON
        (b'{"item": "Kopi Susu"}', 422),  # no order_id
        (b'{"order_id": "1", "item": "x", "qty": -1}', 422),
    ],
)
def test_malformed_input_gets_a_4xx_and_never_reaches_the_queue(cloud, body, status):
    queue = cloud.outputs["OrdersQueueUrl"]
    cloud.pause_mappings()  # so anything that reached the queue would still be there
    try:
        answer, _, error = post(cloud, API, body)
        assert answer == status
        assert "error" in error
        assert queue_depth(cloud, queue) == 0
    finally:
        cloud.resume_mappings()


def test_a_body_that_is_not_utf8_gets_a_json_400_and_is_never_queued(cloud):
    # The front door passes the client's exact bytes (base64-encoded, as ALB does), so the
    # handler sees them and refuses them, rather than an order of two U+FFFD characters.
    queue = cloud.outputs["OrdersQueueUrl"]
    cloud.pause_mappings()  # so anything that reached the queue would still be there
    try:
        status, headers, body = post(cloud, API, b'{"order_id": "\xff\xfe", "item": "x"}')
        assert status == 400
        assert headers["Content-Type"].startswith("application/json")
        assert body["error"]["code"] == "invalid_utf8"
        assert queue_depth(cloud, queue) == 0
    finally:
        cloud.resume_mappings()


def test_a_poison_message_ends_in_the_dlq_while_its_batch_mates_are_stored(cloud):
    sqs = cloud.client("sqs")
    queue, dlq = cloud.outputs["OrdersQueueUrl"], cloud.outputs["OrdersDeadLetterQueueUrl"]
    attributes = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["All"])["Attributes"]
    max_receives = json.loads(attributes["RedrivePolicy"])["maxReceiveCount"]
    mates = [order(item=f"mate-{n}") for n in range(3)]

    cloud.pause_mappings()
    try:
        # The deployed visibility timeout (minutes) would make this test last that long:
        # shorten it through the emulator's API, as an operator could.
        sqs.set_queue_attributes(QueueUrl=queue, Attributes={"VisibilityTimeout": "2"})
        for mate in mates:
            assert post(cloud, API, mate)[0] == 202
        sqs.send_message(QueueUrl=queue, MessageBody="this is not an order")
    finally:
        cloud.resume_mappings()

    try:
        dead = wait_for(lambda: peek_messages(sqs, dlq), timeout=max_receives * 6 + 20)
        assert dead[0]["Body"] == "this is not an order"
        assert int(dead[0]["Attributes"]["ApproximateReceiveCount"]) >= max_receives
        assert {(m["order_id"], m["item"]) for m in mates} <= stored_keys(cloud)

        listed = dead_letters(sqs, cloud.log_dir)
        assert "this is not an order" in [letter.body for letter in listed]
        moved = {name(r.dlq_url): r.moved for r in redrive(sqs)}
        assert moved[name(dlq)] == 1
        # back on the source queue, it fails again and returns to the DLQ
        wait_for(lambda: queue_depth(cloud, dlq) == 1, timeout=max_receives * 6 + 20)
    finally:
        sqs.set_queue_attributes(
            QueueUrl=queue, Attributes={"VisibilityTimeout": attributes["VisibilityTimeout"]}
        )
