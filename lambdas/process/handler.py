"""Process: SQS batch -> conditional PutItem per record, reporting partial failures.

The entry point only; the batch plumbing, the logic and the table access live in
``orders_core.process``. Handler string ``handler.lambda_handler``; no relative imports,
so it loads the Lambda way (asset directory on sys.path) and as
``lambdas.process.handler`` in tests. The event source mapping must have
ReportBatchItemFailures on.
"""

from collections.abc import Mapping
from functools import cache
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext
from orders_core.batch import BatchResponse, process_batch
from orders_core.observability import configure, logger, metrics
from orders_core.process.service import ProcessService
from orders_core.process.settings import ProcessSettings
from orders_core.settings import load_settings
from orders_core.startup import imports_done

imports_done()


@cache
def get_settings() -> ProcessSettings:
    return load_settings(ProcessSettings)


@cache
def get_service() -> ProcessService:
    """Built on the first invocation and kept for the container's life."""
    return ProcessService.from_settings(get_settings())


def message_id(record: Mapping[str, Any]) -> str:
    return str(record["messageId"])


@logger.inject_lambda_context
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> BatchResponse:
    configure(get_settings())  # a missing variable fails here, before any record is touched
    service = get_service()

    def store(record: Mapping[str, Any]) -> None:
        """One record; raising marks it failed (a batchItemFailures entry)."""
        service.store(
            body=record["body"],
            message_id=record["messageId"],
            receive_count=record["attributes"]["ApproximateReceiveCount"],
            remaining_ms=context.get_remaining_time_in_millis,
        )

    return process_batch(event, store, message_id, source="an SQS event")
