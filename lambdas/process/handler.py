"""Process: SQS batch -> conditional PutItem per record, reporting partial failures.

The entry point and the batch plumbing only; the logic and the table access live in
``orders_core.process``. Handler string ``handler.lambda_handler``; no relative imports,
so it loads the Lambda way (asset directory on sys.path) and as
``lambdas.process.handler`` in tests. The event source mapping must have
ReportBatchItemFailures on.
"""

from functools import cache
from typing import Any

from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    process_partial_response,
)
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext
from orders_core.observability import configure, logger, metrics
from orders_core.process.service import ProcessService
from orders_core.process.settings import ProcessSettings
from orders_core.settings import load_settings

# When every record of a batch fails, Powertools raises (its default): the invocation is
# an error, which Lambda's SQS poller answers by backing off, the right reaction to a
# table that is throttling everything. The whole batch is redelivered either way.
processor = BatchProcessor(event_type=EventType.SQS)


@cache
def get_settings() -> ProcessSettings:
    return load_settings(ProcessSettings)


@cache
def get_service() -> ProcessService:
    """Built on the first invocation and kept for the container's life."""
    return ProcessService.from_settings(get_settings())


def record_handler(record: SQSRecord, lambda_context: LambdaContext) -> str:
    """One record; raising marks it failed (Powertools reports it in batchItemFailures)."""
    outcome = get_service().store(
        body=record.body,
        message_id=record.message_id,
        receive_count=record.attributes.approximate_receive_count,
        remaining_ms=lambda_context.get_remaining_time_in_millis,
    )
    return outcome.value


@logger.inject_lambda_context
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    configure(get_settings())  # a missing variable fails here, before any record is touched
    get_service()
    return process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )
