"""Large files end to end (issue 10): a file over the limit goes to the Fargate task.

The app is synthesized with the large-file path on and `large_file_bytes` lowered, so a
file of a few hundred kilobytes is "large". The same transactions are uploaded twice, once
as one large file (the file function hands it to the task, which the local cloud runs as
a local process from the task definition and its Dockerfile) and once split into small
files (each read by the file function), under two id prefixes. Both ways must give the
same totals, the same customers and the same rejected-lines report, line for line. The
lines per second of each path, measured in this run, are printed.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from local_cloud.cloud import LocalCloud
from tests.e2e.conftest import boot, synth_app
from tests.e2e.large_file_lines import CUSTOMERS, lines, rejected
from tests.polling import wait_for

LARGE_FILE_BYTES = 20_000
LINES = 1_200
LINES_PER_SMALL_FILE = 60  # about 9 KB each: the function's


@pytest.fixture(scope="module")
def large_files_assembly(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The app as `cdk synth -c large_files_enabled=true -c large_file_bytes=...` makes it."""
    return synth_app(
        tmp_path_factory.mktemp("large-files") / "cdk.out",
        large_files_enabled=True,
        large_file_bytes=LARGE_FILE_BYTES,
    )


@pytest.fixture(scope="module")
def cloud(
    large_files_assembly: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LocalCloud]:
    with boot(large_files_assembly, tmp_path_factory.mktemp("logs")) as running:
        yield running


def upload(cloud: LocalCloud, key: str, body: str) -> None:
    bucket = cloud.outputs["OrderFilesBucketName"]
    cloud.client("s3").put_object(Bucket=bucket, Key=key, Body=body.encode())


def keys(cloud: LocalCloud, prefix: str) -> list[str]:
    bucket = cloud.outputs["OrderFilesBucketName"]
    answer = cloud.client("s3").list_objects_v2(Bucket=bucket, Prefix=prefix)
    return sorted(entry["Key"] for entry in answer.get("Contents", []))


def report(cloud: LocalCloud, key: str) -> list[dict[str, Any]]:
    bucket = cloud.outputs["OrderFilesBucketName"]
    body = cloud.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read()
    return [json.loads(line) for line in body.decode().splitlines()]


def scan(cloud: LocalCloud, output: str) -> list[dict[str, Any]]:
    dynamodb = cloud.client("dynamodb")
    items: list[dict[str, Any]] = []
    for page in dynamodb.get_paginator("scan").paginate(
        TableName=cloud.outputs[output], ConsistentRead=True
    ):
        items += page["Items"]
    return items


def totals(cloud: LocalCloud, prefix: str) -> dict[str, tuple[Decimal, int]]:
    found = {}
    for item in scan(cloud, "TotalsTableName"):
        customer = item["customer_id"]["S"]
        if customer.startswith(prefix):
            found[customer.removeprefix(prefix)] = (
                Decimal(item["total"]["N"]),
                int(item["count"]["N"]),
            )
    return found


def customers(cloud: LocalCloud, prefix: str) -> dict[str, dict[str, str]]:
    found = {}
    for item in scan(cloud, "CustomersTableName"):
        customer = item["customer_id"]["S"]
        if customer.startswith(prefix):
            found[customer.removeprefix(prefix)] = {
                k: v["S"].replace(prefix, "") for k, v in item.items() if k != "customer_id"
            }
    return found


def drain_dlq(cloud: LocalCloud) -> list[dict[str, Any]]:
    """Receive and delete what the files DLQ holds now (so later tests start empty)."""
    sqs = cloud.client("sqs")
    url = cloud.outputs["FilesDeadLetterQueueUrl"]
    messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1)
    found = messages.get("Messages", [])
    for message in found:
        sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    return [json.loads(message["Body"]) for message in found]


def expected_totals(prefix: str) -> dict[str, tuple[Decimal, int]]:
    """What the valid lines add up to, per customer (computed here, independently)."""
    sums: dict[str, tuple[Decimal, int]] = {}
    for text in lines(prefix, LINES):
        try:
            line = json.loads(text)
        except ValueError:
            continue
        amount = Decimal(line["amount"])
        if (
            amount.as_tuple().exponent < -2
            or line["currency"] != "IDR"
            or "occurred_at" not in line
        ):
            continue
        customer = line["customer_id"].removeprefix(prefix)
        total, count = sums.get(customer, (Decimal(0), 0))
        sums[customer] = (total + amount, count + 1)
    return sums


def test_a_large_file_gives_what_the_same_lines_in_small_files_give(cloud: LocalCloud) -> None:
    assert cloud.tasks is not None
    # -- the task path: one file over large_file_bytes ---------------------------------------
    large = "\n".join(lines("L", LINES)) + "\n"
    assert len(large.encode()) > LARGE_FILE_BYTES
    started = time.monotonic()
    upload(cloud, "incoming/partner/large.jsonl", large)
    wait_for(lambda: keys(cloud, "processed/partner/large"), timeout=300, interval=0.5)
    task_seconds = time.monotonic() - started
    (task,) = cloud.tasks.tasks.values()
    assert cloud.tasks.wait(30)
    assert task.exit_code == 0
    # -- the function path: the same lines, in files under the limit -------------------------
    small = lines("S", LINES)
    chunks = [small[i : i + LINES_PER_SMALL_FILE] for i in range(0, LINES, LINES_PER_SMALL_FILE)]
    started = time.monotonic()
    for index, chunk in enumerate(chunks):
        body = "\n".join(chunk) + "\n"
        assert len(body.encode()) <= LARGE_FILE_BYTES
        upload(cloud, f"incoming/partner/small-{index:03d}.jsonl", body)
    wait_for(
        lambda: len(keys(cloud, "processed/partner/small-")) == len(chunks),
        timeout=300,
        interval=0.5,
    )
    function_seconds = time.monotonic() - started
    assert len(cloud.tasks.tasks) == 1  # none of the small files went to a task

    # -- the same ledger either way ----------------------------------------------------------
    expected = expected_totals("L")
    assert expected == expected_totals("S")
    wait_for(lambda: totals(cloud, "L") == expected, timeout=300, interval=1.0)
    wait_for(lambda: totals(cloud, "S") == expected, timeout=300, interval=1.0)
    assert customers(cloud, "L") == customers(cloud, "S")
    assert len(customers(cloud, "L")) == CUSTOMERS
    # the large file's report, line for line, is the small files' reports put together
    by_task = report(cloud, "rejected/partner/large.jsonl.jsonl")
    by_function = [
        {"line": entry["line"] + index * LINES_PER_SMALL_FILE, "reason": entry["reason"]}
        for index in range(len(chunks))
        for entry in (
            report(cloud, f"rejected/partner/small-{index:03d}.jsonl.jsonl")
            if f"rejected/partner/small-{index:03d}.jsonl.jsonl" in keys(cloud, "rejected/")
            else []
        )
    ]
    assert by_task == by_function
    assert len(by_task) == rejected(LINES)
    # nothing failed on either path
    assert drain_dlq(cloud) == []
    print(
        f"\nlarge-file run: {LINES} lines each way; task path (one {len(large)}-byte file): "
        f"{LINES / task_seconds:.0f} lines/s ({task_seconds:.1f} s); function path "
        f"({len(chunks)} files of {LINES_PER_SMALL_FILE} lines): "
        f"{LINES / function_seconds:.0f} lines/s ({function_seconds:.1f} s), measured from "
        "upload to processed/"
    )


def test_a_task_that_fails_leaves_the_key_and_reason_in_the_files_dlq(cloud: LocalCloud) -> None:
    """The table the task writes is throttled on every write: the task gives up, reports
    the key and the reason itself (exit 3), and the stop rule adds nothing."""
    assert cloud.tasks is not None
    cloud.set_faults(match="F-T-")
    try:
        before = len(cloud.tasks.tasks)
        upload(cloud, "incoming/partner/failing.jsonl", "\n".join(lines("F-", LINES)) + "\n")
        wait_for(lambda: len(cloud.tasks.tasks) > before, timeout=60)  # type: ignore[union-attr]
        assert cloud.tasks.wait(600)
    finally:
        cloud.set_faults(match=None)
    failed = [t for t in cloud.tasks.tasks.values() if t.exit_code not in (0, None)]
    assert [t.exit_code for t in failed] == [3]
    (message,) = wait_for(lambda: drain_dlq(cloud), timeout=30)
    assert message["source"] == "orders-files-task"
    assert message["key"] == "incoming/partner/failing.jsonl"
    assert "RetriesExhausted" in message["reason"] or "Throughput" in message["reason"]
    # the file stays where a redrive finds it
    assert keys(cloud, "incoming/partner/failing") == ["incoming/partner/failing.jsonl"]


def test_a_task_that_dies_unreported_reaches_the_files_dlq_through_its_stop_event(
    cloud: LocalCloud,
) -> None:
    """A task started without its file's key (say, by hand) exits 1 before it can report
    anything: the stop rule sends ECS's event, with the overrides, to the files DLQ."""
    assert cloud.tasks is not None
    lambda_client = cloud.client("lambda")
    (name,) = [
        f["FunctionName"]
        for f in lambda_client.list_functions()["Functions"]
        if f.get("Environment", {}).get("Variables", {}).get("LARGE_FILES_CLUSTER")
    ]
    env = lambda_client.get_function_configuration(FunctionName=name)["Environment"]["Variables"]
    before = len(cloud.tasks.tasks)
    answer = cloud.client("ecs").run_task(
        cluster=env["LARGE_FILES_CLUSTER"],
        taskDefinition=env["LARGE_FILES_TASK_DEFINITION"],
        launchType="FARGATE",
        networkConfiguration={
            "awsvpcConfiguration": {
                "subnets": env["LARGE_FILES_SUBNETS"].split(","),
                "securityGroups": [env["LARGE_FILES_SECURITY_GROUP"]],
                "assignPublicIp": "DISABLED",
            }
        },
        overrides={
            "containerOverrides": [
                {
                    "name": env["LARGE_FILES_CONTAINER"],
                    "environment": [{"name": "FILE_BUCKET", "value": "by-hand"}],
                }
            ]
        },
    )
    (task_arn,) = [task["taskArn"] for task in answer["tasks"]]
    wait_for(lambda: len(cloud.tasks.tasks) > before, timeout=30)  # type: ignore[union-attr]
    assert cloud.tasks.wait(120)
    assert cloud.tasks.tasks[task_arn].exit_code == 1
    (event,) = wait_for(lambda: drain_dlq(cloud), timeout=30)
    assert event["detail-type"] == "ECS Task State Change"
    assert event["detail"]["taskArn"] == task_arn
    assert event["detail"]["containers"][0]["exitCode"] == 1
    overrides = event["detail"]["overrides"]["containerOverrides"][0]["environment"]
    assert overrides == [{"name": "FILE_BUCKET", "value": "by-hand"}]
