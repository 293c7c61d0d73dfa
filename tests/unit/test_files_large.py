"""Large files (issue 10): the function hands them to a Fargate task that runs the same code.

Against moto (ECS, S3, DynamoDB, SQS): the hand-off's RunTask, what happens when the task
cannot start, the stage without a large-file task, and the task's entry point, which
gives the same tables and report as the function and reports its own failures.
"""

import json
from pathlib import Path
from typing import Any

import boto3
import pytest
from orders_core.files import task as files_task
from orders_core.files.bucket import ObjectRef
from orders_core.files.handoff import HandOffFailed, LargeFileLauncher
from orders_core.files.settings import FilesSettings, FileTaskSettings, LargeFilesTarget
from orders_core.settings import SettingsError, load_settings

from lambdas.files import handler as files_handler
from tests.unit.conftest import REGION
from tests.unit.events import FakeContext
from tests.unit.ledger_support import (
    BUCKET,
    CUSTOMERS,
    TRANSACTIONS,
    FilesWorld,
    by_key,
    files_world,
    scan,
)

SAMPLE = Path(__file__).parents[2] / "samples" / "transactions.csv"
LIMIT = 200  # bytes: the sample file (about 900) is "large" here
CONTAINER = "files-task"
SUBNETS = ("subnet-aaaa1111", "subnet-bbbb2222")
SECURITY_GROUP = "sg-0123456789abcdef0"


@pytest.fixture
def world(aws: None, monkeypatch: pytest.MonkeyPatch) -> FilesWorld:
    return files_world(monkeypatch, large_file_bytes=LIMIT)


@pytest.fixture
def task_target(world: FilesWorld, monkeypatch: pytest.MonkeyPatch) -> LargeFilesTarget:
    """A Fargate-only cluster and the task definition, and the function's LARGE_FILES_*."""
    ec2 = boto3.client("ec2", region_name=REGION)
    vpc = ec2.create_vpc(CidrBlock="10.9.0.0/16")["Vpc"]["VpcId"]
    subnets = tuple(
        ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.9.{n}.0/24")["Subnet"]["SubnetId"]
        for n in (1, 2)
    )
    group = ec2.create_security_group(GroupName="task", Description="task", VpcId=vpc)["GroupId"]
    ecs = boto3.client("ecs", region_name=REGION)
    cluster = ecs.create_cluster(clusterName="large-files")["cluster"]["clusterArn"]
    definition = ecs.register_task_definition(
        family="files-task",
        # not FARGATE/awsvpc here: moto's network interface for those lacks a private DNS
        # name and RunTask crashes (the local cloud's deploy never registers them so)
        cpu="1024",
        memory="2048",
        containerDefinitions=[
            {
                "name": CONTAINER,
                "image": "123456789012.dkr.ecr.us-east-1.amazonaws.com/files-task:abc",
                "command": ["python", "-m", "orders_core.files.task"],
                "essential": True,
                "memory": 2048,  # moto sums container memory (Fargate only needs the task's)
            }
        ],
    )["taskDefinition"]["taskDefinitionArn"]
    target = LargeFilesTarget(
        cluster=cluster,
        task_definition=definition,
        container=CONTAINER,
        subnets=subnets,
        security_group=group,
    )
    monkeypatch.setenv("LARGE_FILES_CLUSTER", target.cluster)
    monkeypatch.setenv("LARGE_FILES_TASK_DEFINITION", target.task_definition)
    monkeypatch.setenv("LARGE_FILES_CONTAINER", CONTAINER)
    monkeypatch.setenv("LARGE_FILES_SUBNETS", ",".join(subnets))
    monkeypatch.setenv("LARGE_FILES_SECURITY_GROUP", group)
    files_handler.get_settings.cache_clear()
    files_handler.get_service.cache_clear()
    return target


def run(event: dict[str, Any], context: FakeContext | None = None) -> dict[str, Any]:
    result: dict[str, Any] = files_handler.lambda_handler(event, context or FakeContext())
    return result


def started_tasks(target: LargeFilesTarget) -> list[dict[str, Any]]:
    ecs = boto3.client("ecs", region_name=REGION)
    arns = ecs.list_tasks(cluster=target.cluster)["taskArns"]
    return ecs.describe_tasks(cluster=target.cluster, tasks=arns)["tasks"] if arns else []


# --- the function's side: hand off ------------------------------------------------------------


def test_a_file_over_the_limit_is_handed_to_the_task_with_its_exact_version(
    world: FilesWorld, task_target: LargeFilesTarget
) -> None:
    event = world.upload("incoming/big.csv", SAMPLE.read_bytes())
    version = event["detail"]["object"]["version-id"]

    result = run(event, FakeContext(aws_request_id="req-1"))

    (task,) = started_tasks(task_target)
    assert result == {
        "key": "incoming/big.csv",
        "status": "handed_off",
        "lines": 0,
        "accepted": 0,
        "rejected": 0,
        "task_arn": task["taskArn"],
    }
    assert task["taskDefinitionArn"] == task_target.task_definition
    assert task["launchType"] == "FARGATE"
    assert task["startedBy"] == "orders-test"
    (override,) = task["overrides"]["containerOverrides"]
    assert override["name"] == CONTAINER
    assert {e["name"]: e["value"] for e in override["environment"]} == {
        "FILE_BUCKET": BUCKET,
        "FILE_KEY": "incoming/big.csv",
        "FILE_VERSION_ID": version,
    }
    # the function wrote nothing and left the file for the task
    assert scan(TRANSACTIONS) == []
    assert scan(CUSTOMERS) == []
    assert world.keys() == ["incoming/big.csv"]


def test_the_run_task_request_keeps_the_task_private_and_idempotent() -> None:
    target = LargeFilesTarget(
        cluster="arn:aws:ecs:us-east-1:123456789012:cluster/c",
        task_definition="arn:aws:ecs:us-east-1:123456789012:task-definition/f:1",
        container=CONTAINER,
        subnets=SUBNETS,
        security_group=SECURITY_GROUP,
    )
    launcher = LargeFileLauncher(_Refusing([]), target, started_by="orders-files")

    request = launcher.run_task_request(ObjectRef("b", "incoming/x.csv"), "t" * 80)

    assert request["networkConfiguration"] == {
        "awsvpcConfiguration": {
            "subnets": list(SUBNETS),
            "securityGroups": [SECURITY_GROUP],
            "assignPublicIp": "DISABLED",
        }
    }
    assert request["clientToken"] == "t" * 64  # RunTask's limit
    # no version in an unversioned bucket: the task then reads the current object
    environment = request["overrides"]["containerOverrides"][0]["environment"]
    assert [e["name"] for e in environment] == ["FILE_BUCKET", "FILE_KEY"]


def test_a_file_at_the_limit_stays_with_the_function(
    world: FilesWorld, task_target: LargeFilesTarget, monkeypatch: pytest.MonkeyPatch
) -> None:
    body = SAMPLE.read_bytes()
    monkeypatch.setenv("LARGE_FILE_BYTES", str(len(body)))

    result = run(world.upload("incoming/exact.csv", body))

    assert result["status"] == "processed"
    assert started_tasks(task_target) == []


class _Refusing:
    """An ECS client whose RunTask answers with failures, or raises."""

    def __init__(self, failures: list[dict[str, str]], error: Exception | None = None) -> None:
        self.failures = failures
        self.error = error
        self.calls = 0

    def run_task(self, **_: Any) -> dict[str, Any]:
        self.calls += 1
        if self.error is not None:
            raise self.error
        return {"tasks": [], "failures": self.failures}


@pytest.mark.parametrize(
    ("client", "reason"),
    [
        (_Refusing([{"arn": "c", "reason": "Capacity is unavailable at this time"}]), "Capacity"),
        (_Refusing([], RuntimeError("endpoint down")), "RuntimeError: endpoint down"),
        (_Refusing([]), "started 0 task(s)"),
    ],
)
def test_a_task_that_cannot_start_fails_the_invocation_so_lambda_retries_it(
    world: FilesWorld,
    task_target: LargeFilesTarget,
    monkeypatch: pytest.MonkeyPatch,
    client: _Refusing,
    reason: str,
) -> None:
    monkeypatch.setattr(
        files_handler,
        "build_launcher",
        lambda target, started_by: LargeFileLauncher(client, target, started_by=started_by),
    )
    event = world.upload("incoming/big.csv", SAMPLE.read_bytes())

    with pytest.raises(HandOffFailed, match=reason.replace("(", r"\(").replace(")", r"\)")):
        run(event)

    assert client.calls == 1
    # nothing moved or written: the retry (then the files DLQ) still has the whole file
    assert world.keys() == ["incoming/big.csv"]
    assert scan(TRANSACTIONS) == []


def test_without_a_large_file_task_a_large_file_is_reported_not_read(world: FilesWorld) -> None:
    body = SAMPLE.read_bytes()

    result = run(world.upload("incoming/big.csv", body))

    assert result["status"] == "unreadable"
    assert scan(TRANSACTIONS) == []
    (entry,) = world.report("rejected/big.csv.jsonl")
    assert entry["line"] == 0
    assert f"the file is {len(body)} bytes, over the {LIMIT}" in entry["reason"]
    assert "no large-file task" in entry["reason"]
    assert world.keys("incoming/") == []
    assert world.keys("processed/") == ["processed/big.csv"]


def test_the_function_needs_every_large_files_variable_or_none(
    world: FilesWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LARGE_FILES_CLUSTER", "arn:aws:ecs:us-east-1:123456789012:cluster/c")

    with pytest.raises(SettingsError):
        load_settings(FilesSettings)

    monkeypatch.delenv("LARGE_FILES_CLUSTER")
    assert load_settings(FilesSettings).large_files is None


# --- the task's side: the same code path --------------------------------------------------------


@pytest.fixture
def dead_letters(world: FilesWorld) -> str:
    sqs = boto3.client("sqs", region_name=REGION)
    return str(sqs.create_queue(QueueName="files-dlq")["QueueUrl"])


def task_environment(event: dict[str, Any], queue_url: str) -> dict[str, str]:
    """The task definition's variables plus the overrides the function sets."""
    return {
        "POWERTOOLS_SERVICE_NAME": "orders-files",
        "POWERTOOLS_METRICS_NAMESPACE": "OrdersTest",
        "TRANSACTIONS_TABLE_NAME": TRANSACTIONS,
        "CUSTOMERS_TABLE_NAME": CUSTOMERS,
        "LEDGER_CURRENCY": "IDR",
        "FILE_MAX_BYTES": "10000000",
        "FILE_WRITER_THREADS": "4",
        "FILES_DEAD_LETTER_QUEUE_URL": queue_url,
        "FILE_BUCKET": event["detail"]["bucket"]["name"],
        "FILE_KEY": event["detail"]["object"]["key"],
        "FILE_VERSION_ID": event["detail"]["object"].get("version-id", ""),
    }


def ledger_state(world: FilesWorld, report: str) -> tuple[Any, ...]:
    return (
        by_key(TRANSACTIONS, "transaction_id"),
        by_key(CUSTOMERS, "customer_id"),
        world.report(report),
        world.keys(),
    )


def clear_ledger(world: FilesWorld) -> None:
    dynamodb = boto3.client("dynamodb", region_name=REGION)
    for table, key in ((TRANSACTIONS, "transaction_id"), (CUSTOMERS, "customer_id")):
        for item in scan(table):
            dynamodb.delete_item(TableName=table, Key={key: {"S": item[key]}})
    for name in world.keys(""):
        world.s3.delete_object(Bucket=BUCKET, Key=name)


def test_the_task_gives_the_same_tables_and_report_as_the_function(
    world: FilesWorld, dead_letters: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    body = SAMPLE.read_bytes()
    monkeypatch.setenv("LARGE_FILE_BYTES", str(len(body)))  # the function takes it
    assert run(world.upload("incoming/t.csv", body))["status"] == "processed"
    by_function = ledger_state(world, "rejected/t.csv.jsonl")
    clear_ledger(world)

    again = world.upload("incoming/t.csv", body)
    exit_code = files_task.main(task_environment(again, dead_letters))

    assert exit_code == 0
    assert ledger_state(world, "rejected/t.csv.jsonl") == by_function
    assert by_function[3] == ["processed/t.csv", "rejected/t.csv.jsonl"]


def test_the_task_skips_a_version_superseded_by_a_newer_upload(
    world: FilesWorld, dead_letters: str
) -> None:
    old = world.upload("incoming/t.csv", SAMPLE.read_bytes())
    world.upload("incoming/t.csv", SAMPLE.read_bytes())

    assert files_task.main(task_environment(old, dead_letters)) == 0

    assert scan(TRANSACTIONS) == []
    assert world.keys() == ["incoming/t.csv"]  # the newer upload's own task reads it


def drain(queue_url: str) -> list[dict[str, Any]]:
    sqs = boto3.client("sqs", region_name=REGION)
    messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", [])
    return [json.loads(message["Body"]) for message in messages]


def test_a_task_that_fails_reports_the_key_and_reason_and_exits_three(
    world: FilesWorld, dead_letters: str
) -> None:
    event = world.upload("incoming/t.csv", SAMPLE.read_bytes())
    boto3.client("dynamodb", region_name=REGION).delete_table(TableName=TRANSACTIONS)

    exit_code = files_task.main(task_environment(event, dead_letters))

    assert exit_code == files_task.REPORTED_EXIT == 3
    (report,) = drain(dead_letters)
    assert report["source"] == "orders-files-task"
    assert (report["bucket"], report["key"]) == (BUCKET, "incoming/t.csv")
    assert report["version_id"] == event["detail"]["object"]["version-id"]
    assert "ResourceNotFoundException" in report["reason"]
    assert world.keys() == ["incoming/t.csv"]  # not moved: a redrive finds it


def test_a_task_that_cannot_report_exits_one_for_the_stop_event_rule(
    world: FilesWorld, dead_letters: str
) -> None:
    event = world.upload("incoming/t.csv", SAMPLE.read_bytes())
    boto3.client("dynamodb", region_name=REGION).delete_table(TableName=TRANSACTIONS)
    environment = task_environment(event, dead_letters.replace("files-dlq", "no-such-queue"))

    assert files_task.main(environment) == files_task.FAILED_EXIT == 1


def test_a_task_without_its_file_variables_exits_one(world: FilesWorld, dead_letters: str) -> None:
    environment = task_environment(world.upload("incoming/t.csv", "x"), dead_letters)
    del environment["FILE_KEY"]

    assert files_task.main(environment) == 1


def test_the_task_settings_read_the_names_the_function_sets() -> None:
    settings = load_settings(
        FileTaskSettings,
        task_environment(
            {"detail": {"bucket": {"name": "b"}, "object": {"key": "incoming/k"}}}, "https://q"
        ),
    )
    assert (settings.bucket, settings.key, settings.version_id) == ("b", "incoming/k", None)


@pytest.fixture(autouse=True)
def _no_metadata_endpoint(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ECS_CONTAINER_METADATA_URI_V4", raising=False)
