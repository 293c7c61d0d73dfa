"""Status: ALB GET/HEAD -> the orders table (read only). Has the order, or that version
of it, been stored yet?

Routes and the entry point only; the error mapping is ``orders_core.http.Router``, the
rest is ``orders_core.status``. Handler string ``handler.lambda_handler``; no relative
imports, so it loads the Lambda way (asset directory on sys.path) and as
``lambdas.status.handler`` in tests.
"""

from functools import cache
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext
from orders_core.front import correlation_id
from orders_core.http import Event, Response, Router, path, query_values
from orders_core.observability import configure, logger, metrics
from orders_core.paths import STATUS_METHODS
from orders_core.settings import load_settings
from orders_core.startup import imports_done
from orders_core.status.api import (
    STATUS_ROUTE,
    no_route,
    status_response,
    without_body_for_head,
)
from orders_core.status.request import read_query
from orders_core.status.service import StatusService
from orders_core.status.settings import StatusSettings

imports_done()

app: Router[None] = Router(no_route)


@cache
def get_settings() -> StatusSettings:
    return load_settings(StatusSettings)


@cache
def get_service() -> StatusService:
    """Built on the first invocation and kept for the container's life."""
    return StatusService.from_settings(get_settings())


@app.route(STATUS_METHODS, STATUS_ROUTE)
def read_status(event: Event, _: None) -> Response:
    return status_response(get_service().read(read_query(path(event), query_values(event))))


@logger.inject_lambda_context
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    settings = get_settings()  # a missing variable fails here, loudly, before any read
    configure(settings, correlation_id(event, edge_enabled=settings.edge_enabled))
    get_service()
    return without_body_for_head(event, app.resolve(event, None))
