"""Names that cross from infrastructure to runtime, each defined once on this side.

Stacks never import handler code, so the runtime keeps its own single definition of each
name (`orders_core.observability.MetricName`, `orders_core.paths`, the aliases of each
function's settings model). tests/test_contract.py synthesizes the app
and fails if the two sides disagree: the dashboard and alarms read exactly the metrics
each function's code emits, each function gets exactly the variables its settings model
reads, and the ALB routes the path the handler serves.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

# The path the ALB forwards to ingest: the bare path and everything below it ...
API_PATH: Final = "/lambda/api"
# ... except GET and HEAD below this one, which go to the status function.
STATUS_PATH: Final = f"{API_PATH}/orders"
STATUS_METHODS: Final = ("GET", "HEAD")

# Custom metrics are EMF records with one dimension naming the function's service.
SERVICE_DIMENSION: Final = "service"


def metrics_namespace(app_name: str, stage: str) -> str:
    """`Orders-dev`: every function of one stage writes its custom metrics here."""
    return f"{app_name}-{stage}"


class Env:
    """The environment variable names the compute stack sets for the functions."""

    SERVICE_NAME: Final = "POWERTOOLS_SERVICE_NAME"
    METRICS_NAMESPACE: Final = "POWERTOOLS_METRICS_NAMESPACE"
    LOG_LEVEL: Final = "POWERTOOLS_LOG_LEVEL"
    ORDERS_QUEUE_URL: Final = "ORDERS_QUEUE_URL"
    ORDERS_TABLE_NAME: Final = "ORDERS_TABLE_NAME"
    ORDERS_MAX_RECEIVE_COUNT: Final = "ORDERS_MAX_RECEIVE_COUNT"
    # "true" when CloudFront and the edge function are in front: only then are the
    # headers the edge sets (request id, authenticated subject) to be believed.
    EDGE_ENABLED: Final = "EDGE_ENABLED"
    # the ledger (issue 8); LEDGER_CURRENCY goes to ingest and process too
    LEDGER_CURRENCY: Final = "LEDGER_CURRENCY"
    TRANSACTIONS_TABLE_NAME: Final = "TRANSACTIONS_TABLE_NAME"
    CUSTOMERS_TABLE_NAME: Final = "CUSTOMERS_TABLE_NAME"
    FILE_MAX_BYTES: Final = "FILE_MAX_BYTES"
    FILE_WRITER_THREADS: Final = "FILE_WRITER_THREADS"
    TOTALS_TABLE_NAME: Final = "TOTALS_TABLE_NAME"
    POSTINGS_TABLE_NAME: Final = "POSTINGS_TABLE_NAME"
    HIGH_BALANCE_THRESHOLD: Final = "HIGH_BALANCE_THRESHOLD"
    HIGH_BALANCE_TOPIC_ARN: Final = "HIGH_BALANCE_TOPIC_ARN"


@dataclass(frozen=True)
class FunctionContract:
    """One Python function as the infrastructure names it.

    `name` is the code's directory (`lambdas/<name>`) and the prefix of its construct
    ids; `metrics` are the custom metrics its code emits, which the dashboard shows.
    """

    name: str
    metrics: tuple[str, ...]

    @property
    def service_name(self) -> str:
        """`orders-ingest`: the logs' `service` key and the metrics' service dimension."""
        return f"orders-{self.name}"


INGEST: Final = FunctionContract(name="ingest", metrics=("OrdersAccepted", "RequestsRejected"))
PROCESS: Final = FunctionContract(
    name="process",
    metrics=("OrdersStored", "StaleSkipped", "RecordsFailed", "WriteRetries", "OrdersDeadLettered"),
)
STATUS: Final = FunctionContract(name="status", metrics=("StatusReads", "RequestsRejected"))
FUNCTIONS: Final = (INGEST, PROCESS, STATUS)

# -- the ledger (issue 8) ------------------------------------------------------------

FILES: Final = FunctionContract(
    name="files",
    metrics=(
        "FilesProcessed",
        "FilesUnreadable",
        "FilesFailed",
        "FilesSkipped",
        "FileLinesRead",
        "FileLinesAccepted",
        "FileLinesRejected",
        "FileWriteRetries",
    ),
)
AGGREGATOR: Final = FunctionContract(
    name="aggregator",
    metrics=(
        "LedgerRecordsApplied",
        "LedgerRecordsSkipped",
        "LedgerRecordsInvalid",
        "LedgerRecordsFailed",
        "LedgerConflictRetries",
        "LedgerThrottleRetries",
        "HighBalanceAlertsPublished",
    ),
)
LEDGER_FUNCTIONS: Final = (FILES, AGGREGATOR)
# Raised by the file processor when a file fails (Lambda retries it, then the DLQ).
FILES_FAILED_METRIC: Final = "FilesFailed"

# The files bucket's prefixes (orders_core.files.bucket): partners upload under
# INCOMING (the only prefix the rule forwards), the processor moves a file to PROCESSED
# and writes its rejected lines to REJECTED; the lifecycle expires the last two.
FILES_INCOMING_PREFIX: Final = "incoming/"
FILES_PROCESSED_PREFIX: Final = "processed/"
FILES_REJECTED_PREFIX: Final = "rejected/"
# The order attribute the aggregator's orders-stream filter looks for (a Number, as
# process stores orders_core.model.Order.amount): orders without it never invoke it.
ORDER_AMOUNT_ATTRIBUTE: Final = "amount"
