"""Ingest: ALB -> validate -> SQS. Answers 202 once every order is durably queued.

Routes, the error mapping and the entry point only; the rest is ``orders_core.ingest``.
Handler string ``handler.lambda_handler``; no relative imports, so it loads the Lambda way
(asset directory on sys.path) and as ``lambdas.ingest.handler`` in tests.
"""

import time
from functools import cache
from typing import Any

from aws_lambda_powertools.event_handler import ALBResolver, Response
from aws_lambda_powertools.utilities.data_classes import ALBEvent
from aws_lambda_powertools.utilities.typing import LambdaContext
from orders_core.front import auth_subject, correlation_id
from orders_core.http import answer_errors_as_json
from orders_core.ingest.api import API_PATHS, accepted_response, no_route
from orders_core.ingest.body import read_payload
from orders_core.ingest.service import IngestService, read_orders, request_id_of
from orders_core.ingest.settings import IngestSettings
from orders_core.observability import configure, logger, metrics
from orders_core.settings import load_settings
from orders_core.versioning import format_accepted_at

app = ALBResolver()


@cache
def get_settings() -> IngestSettings:
    return load_settings(IngestSettings)


@cache
def get_service() -> IngestService:
    """Built on the first invocation and kept for the container's life."""
    return IngestService.from_settings(get_settings())


@app.post(API_PATHS[0])
@app.post(API_PATHS[1])
def post_orders() -> Response[Any]:
    event = app.current_event
    if event.http_method != "POST":  # the resolver matches methods case-blind; HTTP does not
        raise no_route(event.path, event.http_method)
    request = read_orders(read_payload(event), ledger_currency=get_settings().ledger_currency)
    results = get_service().accept(
        request,
        accepted_at=app.context["accepted_at"],
        request_id=app.context["request_id"],
        auth_subject=auth_subject(event, edge_enabled=get_settings().edge_enabled),
    )
    return accepted_response(request, results)


answer_errors_as_json(app, no_route)


@logger.inject_lambda_context
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    # The invocation time is the order's acceptance time: taken before any other work.
    accepted_at = format_accepted_at(time.time_ns())
    settings = get_settings()  # a missing variable fails here, loudly, before any order
    configure(settings, correlation_id(ALBEvent(event), edge_enabled=settings.edge_enabled))
    get_service()
    app.append_context(accepted_at=accepted_at, request_id=request_id_of(context))  # type: ignore[no-untyped-call]
    return app.resolve(event, context)
