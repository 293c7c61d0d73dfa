"""Handing a file too large for one invocation to the large-file task (ECS on Fargate).

The function has found the file's current version over ``LARGE_FILE_BYTES``; one RunTask
starts the task with the file (bucket, key, version) in its container's environment. If
ECS cannot start it (a failure in the answer, or an error), ``HandOffFailed`` is raised:
the invocation fails, Lambda retries the event, and in the end the files dead-letter queue
holds it, as for any other failure. The client token is the invocation's request id, which
Lambda keeps across its retries of one event: a retry after an answer that was lost does
not start a second task (a second task would still be harmless: every write is
idempotent, and the second run finds the file moved and skips it).
"""

from typing import Any, Final, Protocol

from botocore.config import Config

from orders_core.files.bucket import ObjectRef
from orders_core.files.settings import LargeFilesTarget, override_names

# RunTask's limits: client token up to 64 characters, startedBy up to 128.
_MAX_TOKEN: Final = 64
_MAX_STARTED_BY: Final = 128
# A few SDK attempts with short timeouts: well inside the function's budget.
ECS_CLIENT_CONFIG: Final = Config(
    retries={"mode": "standard", "total_max_attempts": 3}, connect_timeout=2, read_timeout=10
)


class EcsClient(Protocol):
    def run_task(self, **kwargs: Any) -> dict[str, Any]: ...


class HandOffFailed(Exception):
    """ECS did not start the task; the event is retried (then the dead-letter queue)."""


class LargeFileLauncher:
    def __init__(self, ecs: EcsClient, target: LargeFilesTarget, *, started_by: str) -> None:
        self._ecs = ecs
        self._target = target
        self._started_by = started_by[:_MAX_STARTED_BY]

    def run_task_request(self, ref: ObjectRef, client_token: str) -> dict[str, Any]:
        """RunTask's arguments for one file (no public IP: the private subnets' endpoints)."""
        bucket_name, key_name, version_name = override_names()
        environment = [
            {"name": bucket_name, "value": ref.bucket},
            {"name": key_name, "value": ref.key},
        ]
        if ref.version_id is not None:
            environment.append({"name": version_name, "value": ref.version_id})
        target = self._target
        return {
            "cluster": target.cluster,
            "taskDefinition": target.task_definition,
            "launchType": "FARGATE",
            "platformVersion": "LATEST",
            "count": 1,
            "startedBy": self._started_by,
            "clientToken": client_token[:_MAX_TOKEN],
            "networkConfiguration": {
                "awsvpcConfiguration": {
                    "subnets": list(target.subnets),
                    "securityGroups": [target.security_group],
                    "assignPublicIp": "DISABLED",
                }
            },
            "overrides": {
                "containerOverrides": [{"name": target.container, "environment": environment}]
            },
            "propagateTags": "TASK_DEFINITION",
        }

    def start(self, ref: ObjectRef, *, client_token: str) -> str:
        """Start the task for ``ref``; its ARN. Raises HandOffFailed if it did not start."""
        try:
            answer = self._ecs.run_task(**self.run_task_request(ref, client_token))
        except Exception as exc:  # the SDK's own retries are spent: Lambda retries the event
            raise HandOffFailed(f"RunTask failed: {type(exc).__name__}: {exc}") from exc
        failures = answer.get("failures") or []
        tasks = answer.get("tasks") or []
        if failures or len(tasks) != 1:
            reasons = "; ".join(
                " ".join(str(failure.get(part, "")) for part in ("arn", "reason", "detail")).strip()
                for failure in failures
            )
            raise HandOffFailed(f"RunTask started {len(tasks)} task(s): {reasons or 'no reason'}")
        return str(tasks[0]["taskArn"])


def build_launcher(target: LargeFilesTarget | None, *, started_by: str) -> LargeFileLauncher | None:
    """The launcher with its ECS client; None when the stage has no large-file task."""
    if target is None:
        return None
    import boto3  # noqa: PLC0415 - only functions that hand files off need a client

    return LargeFileLauncher(
        boto3.client("ecs", config=ECS_CLIENT_CONFIG), target, started_by=started_by
    )
