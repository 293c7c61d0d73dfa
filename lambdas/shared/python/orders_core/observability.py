"""The one place that creates the Powertools logger and metrics, and the tracing policy.

Every handler imports these objects and wraps ``lambda_handler`` with the same
decorators. Constructing them reads only POWERTOOLS_* variables (Powertools' own
behaviour); the service name and namespace are applied again from the typed settings at
every invocation, so an import before the environment is set does no harm.

Traces come from Lambda's active tracing, with no X-Ray SDK in the process: the compute
stack turns active tracing on for every function, so Lambda records each invocation
(initialization, invocation, overhead) and passes its trace header to the code in
``_X_AMZN_TRACE_ID``; botocore sends that header with every AWS call, so SQS keeps it
with each message and the trace goes on to the process function. Powertools' ``Tracer``
would add a subsegment around the handler and one per AWS call, but importing the X-Ray
SDK costs every new execution environment about as much again as boto3 and its first
client (docs/decisions.md), so no handler imports it. The retries and failures those
subsegments would show are counted in metrics and logged, and every log line carries
``xray_trace_id``.

``MetricName`` is the runtime's one list of custom metric names, for every function; the
dashboard and alarms read them through stacks/contract.py, and tests/test_contract.py
fails if the names a function's code emits and the ones its dashboard reads differ.
"""

from enum import StrEnum

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit, single_metric

from orders_core.settings import CommonSettings

logger = Logger()
metrics = Metrics()


class MetricName(StrEnum):
    # ingest
    ORDERS_ACCEPTED = "OrdersAccepted"
    REQUESTS_REJECTED = "RequestsRejected"  # dimension "reason": the error code
    # process
    ORDERS_STORED = "OrdersStored"
    STALE_SKIPPED = "StaleSkipped"
    RECORDS_FAILED = "RecordsFailed"  # dimension "reason"
    WRITE_RETRIES = "WriteRetries"
    DEAD_LETTERED = "OrdersDeadLettered"  # failed on the last receive: the DLQ takes it
    # status
    STATUS_READS = "StatusReads"  # reads answered 200 (pending, stored or the items)
    # files (the ledger's file processor)
    FILES_PROCESSED = "FilesProcessed"  # read to the end (or unreadable), reported, moved
    FILES_UNREADABLE = "FilesUnreadable"  # binary, not UTF-8, no header, over the size limit
    FILES_FAILED = "FilesFailed"  # raised: Lambda retries, then the on-failure destination
    FILES_SKIPPED = "FilesSkipped"  # superseded version, already moved, or not under incoming/
    FILE_LINES_READ = "FileLinesRead"
    FILE_LINES_ACCEPTED = "FileLinesAccepted"
    FILE_LINES_REJECTED = "FileLinesRejected"
    FILE_WRITE_RETRIES = "FileWriteRetries"  # BatchWriteItem / UpdateItem retries
    FILES_HANDED_OFF = "FilesHandedOff"  # over LARGE_FILE_BYTES: a Fargate task reads it
    # aggregator (the ledger's totals)
    LEDGER_RECORDS_APPLIED = "LedgerRecordsApplied"  # a posting changed (totals moved or not)
    LEDGER_RECORDS_SKIPPED = "LedgerRecordsSkipped"  # already applied: duplicate or stale
    LEDGER_RECORDS_INVALID = "LedgerRecordsInvalid"  # image without a valid amount: counts 0
    LEDGER_RECORDS_FAILED = "LedgerRecordsFailed"  # reported in batchItemFailures
    LEDGER_CONFLICT_RETRIES = "LedgerConflictRetries"  # condition/transaction conflicts
    LEDGER_THROTTLE_RETRIES = "LedgerThrottleRetries"
    HIGH_BALANCE_ALERTS = "HighBalanceAlertsPublished"


def configure(settings: CommonSettings, correlation_id: str | None = None) -> None:
    """Point logs and metrics at this function's service and namespace; with a
    correlation id, every log line of this invocation carries it."""
    metrics.namespace = settings.metrics_namespace
    metrics.service = settings.service_name
    logger.append_keys(service=settings.service_name)
    logger.setLevel(settings.log_level)
    if correlation_id is not None:
        logger.set_correlation_id(correlation_id)


def count(name: MetricName, value: int = 1) -> None:
    """Add to a counter flushed (EMF, no network call) when the invocation ends."""
    metrics.add_metric(name=name.value, unit=MetricUnit.Count, value=value)


def count_by_reason(name: MetricName, reason: str) -> None:
    """Count once in total and once under a ``reason`` dimension.

    The total goes with the invocation's other metrics; the by-reason copy is its own EMF
    record (written at once) because dimensions apply to a whole record.
    """
    count(name)
    default_dimensions = {"service": str(metrics.service)} if metrics.service else None
    with single_metric(
        name=name.value,
        unit=MetricUnit.Count,
        value=1,
        namespace=metrics.namespace,
        default_dimensions=default_dimensions,
    ) as metric:
        metric.add_dimension(name="reason", value=reason)
