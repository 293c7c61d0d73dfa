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
