"""ECS tasks on the local cloud: RunTask runs the task's command as a local process.

The sample app's batch task is a Fargate task definition whose image is a Docker image
asset; the local cloud stages its Dockerfile's COPY/ENV/WORKDIR/CMD, runs it with the task
definition's and RunTask's environment, stops it in the emulation with its exit code and
puts ECS's task state change on EventBridge, where the sample's rule keeps the failures.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from local_cloud.cloud import LocalCloud
from local_cloud.deploy.assembly import load_assembly
from local_cloud.services.tasks import parse_dockerfile, stage_root
from tests.local_cloud.conftest import wait_for

DOCKERFILE = """
# syntax=docker/dockerfile:1
FROM python:3.12-slim AS build
RUN pip wheel --wheel-dir /w boto3
FROM public.ecr.aws/docker/library/python:3.12-slim@sha256:abc
WORKDIR /app
COPY --from=build /w /w
COPY requirements.txt \\
     ./
RUN pip install -r requirements.txt
COPY pkg ./pkg
ENV A=1 B="two words" \\
    C=/app/pkg
ENV LEGACY some value
USER nobody
WORKDIR sub
CMD ["python", "-m", "pkg.main"]
"""


def test_the_dockerfile_is_read_as_far_as_a_process_can_honour_it() -> None:
    recipe = parse_dockerfile(DOCKERFILE)

    assert recipe.base == "public.ecr.aws/docker/library/python:3.12-slim@sha256:abc"
    assert recipe.workdir == "/app/sub"
    assert recipe.env == {"A": "1", "B": "two words", "C": "/app/pkg", "LEGACY": "some value"}
    assert recipe.copies == [(["requirements.txt"], "/app/"), (["pkg"], "/app/pkg")]
    assert recipe.cmd == ["python", "-m", "pkg.main"]
    assert recipe.entrypoint == []
    skipped = "\n".join(recipe.skipped)
    assert "FROM public.ecr.aws/docker/library/python:3.12-slim@sha256:abc: not pulled" in skipped
    assert "RUN pip install -r requirements.txt: skipped" in skipped
    assert "COPY --from=build /w /w: not a copy of local files" in skipped
    assert "USER nobody: ignored" in skipped
    assert "pip wheel" not in skipped  # the earlier stage is not the image


def test_shell_form_and_entrypoint_as_docker_reads_them() -> None:
    recipe = parse_dockerfile('FROM x\nCMD ["a"]\nENTRYPOINT run --fast "b c"\n')
    assert recipe.entrypoint == ["/bin/sh", "-c", 'run --fast "b c"']
    assert recipe.cmd == []  # ENTRYPOINT after CMD resets it, as in Docker


def test_the_copies_are_staged_under_the_workdir(tmp_path: Path) -> None:
    context = tmp_path / "context"
    (context / "pkg").mkdir(parents=True)
    (context / "pkg" / "main.py").write_text("print('hi')\n")
    (context / "requirements.txt").write_text("boto3\n")
    root = tmp_path / "root"

    stage_root(parse_dockerfile(DOCKERFILE), context, root)

    assert (root / "app" / "pkg" / "main.py").read_text() == "print('hi')\n"
    assert (root / "app" / "requirements.txt").is_file()
    assert (root / "app" / "sub").is_dir()


# --- on the running sample app ----------------------------------------------------------------


def run_task(cloud: LocalCloud, **environment: str) -> str:
    ecs = cloud.client("ecs")
    answer = ecs.run_task(
        cluster=cloud.outputs["BatchClusterArn"],
        taskDefinition=cloud.outputs["BatchTaskDefinitionArn"],
        launchType="FARGATE",
        networkConfiguration={
            "awsvpcConfiguration": {
                "subnets": cloud.outputs["BatchSubnets"].split(","),
                "assignPublicIp": "DISABLED",
            }
        },
        overrides={
            "containerOverrides": [
                {
                    "name": "worker",
                    "environment": [{"name": k, "value": v} for k, v in environment.items()],
                }
            ]
        },
    )
    assert answer["failures"] == []
    return str(answer["tasks"][0]["taskArn"])


def described(cloud: LocalCloud, task_arn: str) -> dict[str, Any]:
    ecs = cloud.client("ecs")
    (task,) = ecs.describe_tasks(cluster=cloud.outputs["BatchClusterArn"], tasks=[task_arn])[
        "tasks"
    ]
    return dict(task)


def item(cloud: LocalCloud, key: str) -> dict[str, Any] | None:
    answer = cloud.client("dynamodb").get_item(
        TableName=cloud.outputs["ThingsTableName"], Key={"pk": {"S": key}}, ConsistentRead=True
    )
    found = answer.get("Item")
    return {k: v["S"] for k, v in found.items()} if found else None


def failed_events(cloud: LocalCloud) -> list[dict[str, Any]]:
    sqs = cloud.client("sqs")
    messages = sqs.receive_message(
        QueueUrl=cloud.outputs["FailedTasksUrl"], MaxNumberOfMessages=10, WaitTimeSeconds=1
    ).get("Messages", [])
    return [json.loads(m["Body"]) for m in messages]


def test_a_task_runs_its_image_command_with_the_tasks_environment(cloud: LocalCloud) -> None:
    task_arn = run_task(cloud, THING="first", EXIT_CODE="0")

    assert cloud.tasks is not None
    assert cloud.tasks.wait(60)
    assert item(cloud, "first") == {
        "pk": "first",
        "greeting": "hello from the image",  # the Dockerfile's ENV
        "note": "shipped with the image",  # its COPY, found through ENV DATA_DIR
        "cwd": "task",  # its WORKDIR
    }
    task = described(cloud, task_arn)
    assert task["lastStatus"] == "STOPPED"
    assert task["containers"][0]["exitCode"] == 0
    assert failed_events(cloud) == []  # the sample rule keeps failures only
    assert cloud.log_dir is not None
    log = cloud.log_dir / f"task-{task_arn and cloud.tasks.tasks[task_arn].image.family}.log"
    assert "task done first" in log.read_text()


def test_a_failing_task_exit_reaches_eventbridge_as_ecs_sends_it(cloud: LocalCloud) -> None:
    task_arn = run_task(cloud, THING="second", EXIT_CODE="4")

    assert cloud.tasks is not None
    assert cloud.tasks.wait(60)
    assert described(cloud, task_arn)["containers"][0]["exitCode"] == 4
    (event,) = wait_for(lambda: failed_events(cloud), timeout=20)
    assert event["source"] == "aws.ecs"
    assert event["detail-type"] == "ECS Task State Change"
    detail = event["detail"]
    assert detail["taskArn"] == task_arn
    assert detail["lastStatus"] == "STOPPED"
    assert detail["stopCode"] == "EssentialContainerExited"
    assert detail["containers"][0]["exitCode"] == 4
    overrides = detail["overrides"]["containerOverrides"][0]["environment"]
    assert {"name": "THING", "value": "second"} in overrides
    assert item(cloud, "second") is not None


def test_what_a_task_cannot_reproduce_is_listed(cloud: LocalCloud, sample_assembly: Path) -> None:
    (difference,) = [d for d in cloud.differences if "(ECS task " in d.subject]
    assert difference.subject.startswith("Sample-Compute/BatchTask")
    assert "runs as a local process" in difference.detail
    assert "RUN pip install --no-cache-dir boto3: skipped" in difference.detail
    assert "USER 1000: ignored" in difference.detail
    (image,) = load_assembly(sample_assembly).docker_image_assets
    assert image.directory is not None
    assert image.image_tags  # how the task definition's image is traced to it


@pytest.fixture(autouse=True)
def _tasks_settle(cloud: LocalCloud) -> None:
    assert cloud.tasks is not None
    cloud.tasks.wait(60)
