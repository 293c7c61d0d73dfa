"""The large-file task: ``python -m orders_core.files.task`` (the container's command).

The file function hands a file over ``LARGE_FILE_BYTES`` to an ECS task on Fargate,
with the file (bucket, key, version) in the container's environment. This runs the file
function's own code on it (orders_core.files.service: parsing, validation, idempotent
writes, the rejected-lines report, the move to processed/), without a deadline, so a file
gives the same tables whichever way it went.

Exit codes: 0 the file was processed (or reported unreadable, or skipped as superseded);
``REPORTED_EXIT`` it failed, and its report (bucket, key, version, reason) is on the files
dead-letter queue. Any other exit, or a task that never started, is sent to the same
queue by the EventBridge rule on ECS's task state changes, so no file is lost either way.
"""

import json
import os
import sys
import urllib.request
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Final

import boto3

from orders_core.files.bucket import ObjectRef
from orders_core.files.service import build_service
from orders_core.files.settings import FileTaskSettings
from orders_core.observability import MetricName, configure, count, logger, metrics
from orders_core.settings import SettingsError, load_settings

REPORTED_EXIT: Final = 3  # stacks/contract.py FILES_TASK_REPORTED_EXIT
FAILED_EXIT: Final = 1
FAILURE_SOURCE: Final = "orders-files-task"
# No invocation deadline in a task; the writes' backoff still bounds each call's retries.
_NO_DEADLINE_MS: Final = 24 * 60 * 60 * 1000
# ECS's task metadata endpoint (v4), for the task's own ARN in its failure report.
_METADATA_VARIABLE: Final = "ECS_CONTAINER_METADATA_URI_V4"
_METADATA_TIMEOUT_S: Final = 2.0


def task_arn(environ: Mapping[str, str]) -> str | None:
    """This task's ARN from ECS's metadata endpoint; None where there is none."""
    base = environ.get(_METADATA_VARIABLE)
    if not base or not base.startswith("http"):
        return None
    try:
        with urllib.request.urlopen(f"{base}/task", timeout=_METADATA_TIMEOUT_S) as answer:  # noqa: S310
            arn = json.loads(answer.read()).get("TaskARN")
    except (OSError, ValueError):
        return None
    return str(arn) if arn else None


def failure_report(ref: ObjectRef, reason: str, arn: str | None) -> dict[str, Any]:
    """What the files dead-letter queue gets from a task that failed on a file."""
    return {
        "source": FAILURE_SOURCE,
        "time": datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
        "bucket": ref.bucket,
        "key": ref.key,
        "version_id": ref.version_id,
        "reason": reason,
        "task_arn": arn,
    }


def run(settings: FileTaskSettings, environ: Mapping[str, str], sqs: Any = None) -> int:
    """Process the settings' file; the exit code (see the module doc)."""
    ref = ObjectRef(settings.bucket, settings.key, settings.version_id)
    try:
        outcome = build_service(settings).process(ref, remaining_ms=lambda: _NO_DEADLINE_MS)
    except Exception as exc:  # reported below, then ECS sees the exit code
        reason = f"{type(exc).__name__}: {exc}"
        logger.exception("file failed in the large-file task", key=ref.key)
        count(MetricName.FILES_FAILED)
        metrics.flush_metrics()
        report = failure_report(ref, reason, task_arn(environ))
        try:
            (sqs or boto3.client("sqs")).send_message(
                QueueUrl=settings.dead_letter_queue_url, MessageBody=json.dumps(report)
            )
        except Exception:
            logger.exception("could not report the failure: ECS's stop event will", key=ref.key)
            return FAILED_EXIT
        logger.info("failure reported to the files dead-letter queue", key=ref.key)
        return REPORTED_EXIT
    metrics.flush_metrics()
    logger.info("large-file task done", key=outcome.key, status=outcome.status.value)
    return 0


def main(environ: Mapping[str, str] | None = None) -> int:
    source = os.environ if environ is None else environ
    try:
        settings = load_settings(FileTaskSettings, source)
    except SettingsError as exc:  # a deployment mistake: nothing to report the file with
        logger.error("the large-file task cannot start", error=str(exc))
        return FAILED_EXIT
    configure(settings)
    logger.append_keys(path="large-file-task")
    return run(settings, source)


if __name__ == "__main__":
    sys.exit(main())
