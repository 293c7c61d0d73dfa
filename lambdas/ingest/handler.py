"""Ingest: ALB -> validate -> SQS. Answers 202 once every order is durably queued.

Routes and the entry point only; the error mapping is ``orders_core.http.Router``, the
rest is ``orders_core.ingest``. Handler string ``handler.lambda_handler``; no relative
imports, so it loads the Lambda way (asset directory on sys.path) and as
``lambdas.ingest.handler`` in tests.
"""

import time
from functools import cache
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext
from orders_core.front import auth_subject, correlation_id
from orders_core.http import Event, Response, Router
from orders_core.ingest.api import API_PATHS, Arrival, accepted_response, no_route
from orders_core.ingest.body import read_payload
from orders_core.ingest.service import IngestService, read_orders, request_id_of
from orders_core.ingest.settings import IngestSettings
from orders_core.observability import configure, logger, metrics
from orders_core.settings import load_settings
from orders_core.startup import imports_done
from orders_core.versioning import format_accepted_at

imports_done()

app: Router[Arrival] = Router(no_route)


@cache
def get_settings() -> IngestSettings:
    return load_settings(IngestSettings)


@cache
def get_service() -> IngestService:
    """Built on the first invocation and kept for the container's life."""
    return IngestService.from_settings(get_settings())


@app.route(("POST",), *API_PATHS)
def post_orders(event: Event, arrival: Arrival) -> Response:
    request = read_orders(read_payload(event), ledger_currency=get_settings().ledger_currency)
    results = get_service().accept(
        request,
        accepted_at=arrival.accepted_at,
        request_id=arrival.request_id,
        auth_subject=auth_subject(event, edge_enabled=get_settings().edge_enabled),
    )
    return accepted_response(request, results)


@logger.inject_lambda_context
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    # The invocation time is the order's acceptance time: taken before any other work.
    accepted_at = format_accepted_at(time.time_ns())
    settings = get_settings()  # a missing variable fails here, loudly, before any order
    configure(settings, correlation_id(event, edge_enabled=settings.edge_enabled))
    get_service()
    return app.resolve(event, Arrival(accepted_at, request_id_of(context)))
