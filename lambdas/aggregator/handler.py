"""Aggregator: DynamoDB stream batch (transactions, orders) -> totals + HighBalanceAlert.

Each record is applied exactly once in effect (orders_core.aggregator.service); a record
that raises is reported by its sequence number (ReportBatchItemFailures), so Lambda
retries from it, bisects, and after its retries hands it to the on-failure destination.
Handler string ``handler.lambda_handler``; no relative imports.
"""

from functools import cache
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext
from orders_core.aggregator.records import change_of
from orders_core.aggregator.service import LedgerService, build_service
from orders_core.aggregator.settings import AggregatorSettings
from orders_core.aggregator.stream import image, sequence_number
from orders_core.batch import BatchResponse, process_batch
from orders_core.observability import MetricName, configure, count, logger, metrics
from orders_core.settings import load_settings
from orders_core.startup import imports_done

imports_done()


@cache
def get_settings() -> AggregatorSettings:
    return load_settings(AggregatorSettings)


@cache
def get_service() -> LedgerService:
    """Built on the first invocation and kept for the container's life."""
    return build_service(get_settings())


def record_handler(record: dict[str, Any], lambda_context: LambdaContext) -> str:
    """One record; raising marks it failed (reported by its sequence number)."""
    stream = record.get("dynamodb")
    if stream is None:
        raise ValueError("a DynamoDB stream record without its dynamodb section")
    try:
        change = change_of(
            keys=image(stream, "Keys"),
            new_image=image(stream, "NewImage"),
            old_image=image(stream, "OldImage"),
            sequence_number=stream.get("SequenceNumber"),
            ledger_currency=get_settings().ledger_currency,
        )
        return get_service().apply(change, remaining_ms=lambda_context.get_remaining_time_in_millis)
    except Exception as exc:
        logger.warning(
            "ledger record failed, the stream retries it",
            sequence=stream.get("SequenceNumber"),
            event_source_arn=record.get("eventSourceARN"),
            error_type=type(exc).__name__,
            error=str(exc),
        )
        count(MetricName.LEDGER_RECORDS_FAILED)
        raise


@logger.inject_lambda_context
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> BatchResponse:
    configure(get_settings())  # a missing variable fails here, before any record is touched
    get_service()
    # A batch where every record fails raises (orders_core.batch): Lambda retries it whole.
    return process_batch(
        event,
        lambda record: record_handler(record, context),
        sequence_number,
        source="a DynamoDB stream event",
    )
