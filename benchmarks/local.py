"""The orders path on the local cloud: POST-to-stored latency and the drain rate.

Boots the synthesized app on the local cloud (loopback only) and measures, against
floors taken on the same emulator in the same run:

- latency from POST to the order being stored, read every 20 ms through the status read
  path (the 202's ``location``), a few probes at a time; its floor is the mapping's
  batching window (a lone order waits for it, by design) plus one raw SendMessage ->
  ReceiveMessage -> PutItem -> GetItem chain from a plain client;
- the drain rate: orders stored per second from a full queue (mappings paused while it
  fills, then resumed), against raw PutItem of items of the same shape from as many
  processes as the mapping runs process environments at once;
- the status read path: GET ``/lambda/api/orders/{order_id}`` through the front door for
  orders the drain stored, one at a time, each followed by a raw consistent GetItem of the
  same order on the same table from a plain client on the same emulator endpoint.
"""

from __future__ import annotations

import json
import multiprocessing
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from benchmarks.report import Figure, Row, Section, median
from local_cloud.aws import client as aws_client
from local_cloud.cloud import LocalCloud
from local_cloud.operations.queues import queue_depth

API = "/lambda/api"
POLL_S = 0.02


def call(url: str, body: Any = None) -> tuple[int, Any]:
    """POST ``body`` as JSON (or GET without one): the status and the parsed answer."""
    request = urllib.request.Request(  # noqa: S310 - the local cloud on loopback
        url,
        data=None if body is None else json.dumps(body).encode(),
        method="GET" if body is None else "POST",
        headers={"Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:  # noqa: S310
            status, raw = int(answer.status), answer.read()
    except urllib.error.HTTPError as error:
        status, raw = int(error.code), error.read()
    try:
        return status, json.loads(raw)
    except ValueError:
        return status, None


def post(url: str, body: Any) -> int:
    return call(url, body)[0]


def item_count(dynamodb: Any, table: str) -> int:
    return int(dynamodb.describe_table(TableName=table)["Table"]["ItemCount"])


def wait_until(predicate: Callable[[], bool], timeout: float, interval: float = 0.1) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return predicate()


def order(prefix: str, n: int) -> dict[str, Any]:
    return {"order_id": f"{prefix}-{n:06d}", "item": "Kopi Susu", "qty": 2, "note": "bench"}


def latencies(cloud: LocalCloud, probes: int, concurrency: int) -> list[float]:
    """POST one order, then read until stored; ``probes`` of them, ``concurrency`` at once."""
    dynamodb = cloud.client("dynamodb")
    table = cloud.outputs["OrdersTableName"]
    prefix = uuid.uuid4().hex[:8]
    lock = threading.Lock()

    def stored(body: dict[str, Any], answer: Any) -> bool:
        location = answer.get("location") if isinstance(answer, dict) else None
        if location:  # the status read path, as a client would ask
            status, read = call(cloud.http_url + location)
            return status == 200 and isinstance(read, dict) and "version" in read
        key = {"order_id": {"S": body["order_id"]}, "item": {"S": body["item"]}}
        with lock:  # one botocore client, shared by the probes
            found = dynamodb.get_item(TableName=table, Key=key, ConsistentRead=True)
        return "Item" in found

    def probe(n: int) -> float:
        body = order(prefix, n)
        started = time.perf_counter()
        status, answer = call(cloud.http_url + API, body)
        if status != 202:
            raise RuntimeError(f"POST answered {status}")
        deadline = started + 60
        while time.perf_counter() < deadline:
            if stored(body, answer):
                return time.perf_counter() - started
            time.sleep(POLL_S)
        raise RuntimeError(f"order {body['order_id']} not stored within 60 s")

    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        return list(pool.map(probe, range(probes)))


def raw_chain(cloud: LocalCloud, rounds: int) -> float:
    """Median seconds of SendMessage -> ReceiveMessage -> PutItem -> GetItem, one client."""
    sqs, dynamodb = cloud.client("sqs"), cloud.client("dynamodb")
    queue = sqs.create_queue(QueueName=f"bench-chain-{uuid.uuid4().hex[:6]}")["QueueUrl"]
    table = _scratch_table(dynamodb)
    times = []
    for n in range(rounds):
        body = json.dumps(order("chain", n))
        started = time.perf_counter()
        sqs.send_message(QueueUrl=queue, MessageBody=body)
        messages: list[dict[str, Any]] = []
        while not messages:
            messages = sqs.receive_message(QueueUrl=queue, WaitTimeSeconds=1).get("Messages", [])
        sqs.delete_message(QueueUrl=queue, ReceiptHandle=messages[0]["ReceiptHandle"])
        item = _item(json.loads(messages[0]["Body"]))
        dynamodb.put_item(TableName=table, Item=item)
        dynamodb.get_item(
            TableName=table,
            Key={"order_id": item["order_id"], "item": item["item"]},
            ConsistentRead=True,
        )
        times.append(time.perf_counter() - started)
    return median(times)


def _item(body: dict[str, Any]) -> dict[str, Any]:
    """An item shaped like a stored order (keys, qty, the stamp's three strings)."""
    return {
        "order_id": {"S": str(body["order_id"])},
        "item": {"S": str(body["item"])},
        "qty": {"N": str(body.get("qty", 1))},
        "note": {"S": "bench"},
        "accepted_at": {"S": "2025-01-01T00:00:00.000000000Z"},
        "request_id": {"S": str(uuid.uuid4())},
        "version": {"S": f"2025-01-01T00:00:00.000000000Z#{uuid.uuid4()}#0000"},
    }


def _scratch_table(dynamodb: Any) -> str:
    name = f"bench-raw-{uuid.uuid4().hex[:6]}"
    dynamodb.create_table(
        TableName=name,
        KeySchema=[
            {"AttributeName": "order_id", "KeyType": "HASH"},
            {"AttributeName": "item", "KeyType": "RANGE"},
        ],
        AttributeDefinitions=[
            {"AttributeName": "order_id", "AttributeType": "S"},
            {"AttributeName": "item", "AttributeType": "S"},
        ],
        BillingMode="PAY_PER_REQUEST",
    )
    return name


def _raw_writer(target: tuple[str, str, str], first: int, count: int, out: Any) -> None:
    aws_url, region, table = target
    dynamodb = aws_client("dynamodb", aws_url, region)
    items = [_item(order("raw", n)) for n in range(first, first + count)]
    dynamodb.put_item(TableName=table, Item=items[0])  # connection and client warm
    started = time.time()
    for item in items[1:]:
        dynamodb.put_item(TableName=table, Item=item)
    out.put((started, time.time(), count - 1))


def raw_put_rate(cloud: LocalCloud, processes: int, per_process: int) -> float:
    """Items per second of plain PutItem from ``processes`` processes at once."""
    assert cloud.deployment is not None
    table = _scratch_table(cloud.client("dynamodb"))
    context = multiprocessing.get_context("spawn")
    results = context.Queue()
    workers = [
        context.Process(
            target=_raw_writer,
            args=(
                (cloud.aws_url, cloud.deployment.region, table),
                n * per_process,
                per_process,
                results,
            ),
        )
        for n in range(processes)
    ]
    for worker in workers:
        worker.start()
    spans: list[tuple[float, float, int]] = [results.get(timeout=120) for _ in workers]
    for worker in workers:
        worker.join(30)
    # From the first writer's start to the last one's end: every write inside it.
    return sum(span[2] for span in spans) / (
        max(span[1] for span in spans) - min(span[0] for span in spans)
    )


def drain_rate(cloud: LocalCloud, orders: int, prefix: str | None = None) -> float:
    """Orders stored per second from a queue holding ``orders`` (mappings paused to fill it);
    their ids are ``order(prefix, n)``'s."""
    dynamodb, sqs = cloud.client("dynamodb"), cloud.client("sqs")
    table, queue = cloud.outputs["OrdersTableName"], cloud.outputs["OrdersQueueUrl"]
    prefix = prefix or uuid.uuid4().hex[:8]
    cloud.pause_mappings()
    try:
        batches = [
            [order(prefix, n) for n in range(s, min(s + 10, orders))] for s in range(0, orders, 10)
        ]
        with ThreadPoolExecutor(max_workers=8) as pool:
            statuses = list(pool.map(lambda b: post(cloud.http_url + API, b), batches))
        if any(status != 202 for status in statuses):
            raise RuntimeError(f"filling the queue: answers {sorted(set(statuses))}")
        if not wait_until(lambda: queue_depth(sqs, queue) >= orders, 60):
            raise RuntimeError("the queue never held the orders")
        before = item_count(dynamodb, table)
    finally:
        cloud.resume_mappings()
    started = time.perf_counter()
    if not wait_until(lambda: item_count(dynamodb, table) >= before + orders, 300, 0.05):
        raise RuntimeError("the queue did not drain within 300 s")
    return orders / (time.perf_counter() - started)


def status_reads(
    cloud: LocalCloud, prefix: str, requests: int, warmups: int = 10
) -> tuple[list[float], list[float]]:
    """Seconds of GET /orders/{order_id} (front door) and of a raw consistent GetItem of the
    same order (plain client, same emulator endpoint), alternating, one request at a time;
    for ``order(prefix, n)``, which must be stored."""
    dynamodb = cloud.client("dynamodb")
    table = cloud.outputs["OrdersTableName"]
    gets: list[float] = []
    raws: list[float] = []
    for n in range(warmups + requests):
        body = order(prefix, n)
        url = f"{cloud.http_url}{API}/orders/{urllib.parse.quote(body['order_id'], safe='')}"
        key = {"order_id": {"S": body["order_id"]}, "item": {"S": body["item"]}}
        started = time.perf_counter()
        status, answer = call(url)
        got = time.perf_counter() - started
        if status != 200 or not isinstance(answer, dict) or not answer.get("items"):
            raise RuntimeError(f"GET {url} answered {status}: {answer}")
        started = time.perf_counter()
        found = dynamodb.get_item(TableName=table, Key=key, ConsistentRead=True)
        raw = time.perf_counter() - started
        if "Item" not in found:
            raise RuntimeError(f"GetItem found no {body['order_id']}")
        if n >= warmups:
            gets.append(got)
            raws.append(raw)
    return sorted(gets), sorted(raws)


def percentile(ordered: list[float], fraction: float) -> float:
    """The value at ``fraction`` of sorted ``ordered`` (nearest rank, as the latency rows)."""
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def process_concurrency(cloud: LocalCloud) -> int:
    """Process environments the orders mapping keeps busy at once (its pollers)."""
    mapping = cloud.mappings[0]
    return max(1, min(mapping.maximum_concurrency or cloud.max_pollers, cloud.max_pollers))


def run(
    assembly: Path, *, probes: int = 60, drain_orders: int = 600, status_requests: int = 200
) -> Section:
    with (
        tempfile.TemporaryDirectory(prefix="bench-local-") as tmp,
        LocalCloud(assembly, http_port=0, aws_port=0, log_dir=Path(tmp) / "logs") as cloud,
    ):
        window = max(m.batching_window_s for m in cloud.mappings)
        chain = raw_chain(cloud, 15)
        latencies(cloud, 4, 2)  # warm: the first environments' caches, connections
        seen = sorted(latencies(cloud, probes, 4))
        drained_prefix = uuid.uuid4().hex[:8]
        drained = drain_rate(cloud, drain_orders, drained_prefix)
        processes = process_concurrency(cloud)
        raw = raw_put_rate(cloud, processes, 300)
        status_warmups = 10
        gets, raw_gets = status_reads(
            cloud, drained_prefix, min(status_requests, drain_orders - status_warmups)
        )
        boot = cloud.boot_seconds
    p50 = median(seen)
    p99 = percentile(seen, 0.99)
    get_p50, get_p99, raw_get_p50 = median(gets), percentile(gets, 0.99), median(raw_gets)

    def read_what(percent: str) -> str:
        return f"GET /orders/{{order_id}}, {percent} ({len(gets)} stored orders, one at a time)"

    raw_get_what = "raw consistent GetItem p50, same table and endpoint"
    floor = window + chain
    floor_what = f"batching window {window:g} s + raw chain {chain * 1000:.0f} ms"
    rows = (
        Row(
            "local cloud",
            f"POST to stored, p50 ({probes} orders, 4 at a time)",
            Figure(p50),
            Figure(floor),
            floor_what,
        ),
        Row(
            "local cloud",
            f"POST to stored, p99 ({probes} orders, 4 at a time)",
            Figure(p99),
            Figure(floor),
            floor_what,
        ),
        Row(
            "local cloud",
            f"drain: orders stored/s from a queue of {drain_orders}",
            Figure(drained, "orders"),
            Figure(raw, "items"),
            f"raw PutItem from {processes} processes",
        ),
        Row(
            "local cloud",
            read_what("p50"),
            Figure(get_p50),
            Figure(raw_get_p50),
            raw_get_what,
        ),
        Row(
            "local cloud",
            read_what("p99"),
            Figure(get_p99),
            Figure(raw_get_p50),
            raw_get_what,
        ),
    )
    notes = (
        f"The dev assembly booted on the local cloud ({boot:.0f} s), loopback only. Latency: "
        "each probe POSTs one order and reads it back every "
        f"{POLL_S * 1000:.0f} ms until stored, through the status read path (GET on the "
        "`location` the 202 names; a consistent GetItem on the table where there is none); "
        "the floor is the mapping's batching window, "
        "which a lone order waits by design, plus the median of 15 raw SendMessage -> "
        "ReceiveMessage -> PutItem -> GetItem chains on the same emulator. Drain: the "
        f"mapping paused while {drain_orders} orders are queued through the front door (10 "
        "per request), then timed from resume until the table holds them all; the floor is "
        f"plain PutItem of items of the same shape from {processes} processes at once (the "
        "mapping's pollers, each keeping one process environment busy). Status reads: "
        f"GET `/lambda/api/orders/{{order_id}}` through the front door for {len(gets)} of "
        "the drained orders, one request at a time (a new connection each, as the probes), "
        f"after {status_warmups} unmeasured; the status function answers with a consistent "
        "Query of the order's items. Each GET is followed by the floor: a consistent GetItem "
        "of the same order on the same table from a plain boto3 client on the same emulator "
        f"endpoint (p50 {raw_get_p50 * 1000:.1f} ms, p99 "
        f"{percentile(raw_gets, 0.99) * 1000:.1f} ms); both percentile rows are over its p50, "
        "as the POST-to-stored rows are over one floor.",
    )
    return Section("Local cloud", rows, notes)
