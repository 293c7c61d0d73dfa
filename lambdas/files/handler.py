"""Files: EventBridge "Object Created" (files bucket, incoming/) -> transactions + customers.

Invoked asynchronously: raising makes Lambda retry the event, then hand it (with the
error) to the on-failure destination. Every step is idempotent, so a retry re-does the
file safely. A file over ``LARGE_FILE_BYTES`` is handed to the large-file task (ECS on
Fargate), which runs the same code; a task that cannot start fails the invocation.
Handler string ``handler.lambda_handler``; no relative imports.
"""

from functools import cache
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext
from orders_core.files.event import ObjectCreatedEvent
from orders_core.files.handoff import build_launcher
from orders_core.files.service import FileService, build_service
from orders_core.files.settings import FilesSettings
from orders_core.observability import MetricName, configure, count, logger, metrics
from orders_core.settings import load_settings
from orders_core.startup import imports_done

imports_done()


@cache
def get_settings() -> FilesSettings:
    return load_settings(FilesSettings)


@cache
def get_service() -> FileService:
    """Built on the first invocation and kept for the container's life."""
    settings = get_settings()
    return build_service(
        settings,
        large_file_bytes=settings.large_file_bytes,
        launcher=build_launcher(settings.large_files, started_by=settings.service_name),
    )


@logger.inject_lambda_context
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, object]:
    configure(get_settings())  # a missing variable fails here, before the file is touched
    ref = ObjectCreatedEvent.parse(event)
    try:
        outcome = get_service().process(
            ref,
            remaining_ms=context.get_remaining_time_in_millis,
            request_id=context.aws_request_id,
        )
    except Exception as exc:
        # Retried by Lambda (async invoke), then the on-failure destination keeps the event.
        logger.exception(
            "file failed, lambda retries it", key=ref.key, error_type=type(exc).__name__
        )
        count(MetricName.FILES_FAILED)
        raise
    return outcome.summary()
