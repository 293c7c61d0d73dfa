"""Ingest's logic: from a parsed JSON payload to stamped orders on the queue.

Knows nothing of ALB events; raises ``orders_core.http`` errors, which the handler turns
into responses.

Array rule: every order is validated first. If any is invalid, nothing is queued (422,
with a result per order). Otherwise all go out in one SendMessageBatch; if SQS refuses
some, the answer is 503 with a result per order saying which were queued.
"""

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal, Self

from orders_core.http import BadRequest, PayloadTooLarge, QueueUnavailable, ValidationFailed
from orders_core.ingest.queue import OrdersQueue, QueueSendError, SendOutcome
from orders_core.ingest.settings import IngestSettings
from orders_core.jsonutil import present_fields
from orders_core.limits import MAX_ORDERS_PER_REQUEST, SQS_MAX_BATCH_BYTES, SQS_MAX_MESSAGE_BYTES
from orders_core.model import AcceptedOrder, Order, Stamp
from orders_core.observability import MetricName, count, logger
from orders_core.paths import status_location
from orders_core.validation import Invalid
from orders_core.versioning import is_valid_request_id


@dataclass(frozen=True, kw_only=True)
class OrderResult:
    """The fate of one order of an array request."""

    index: int
    status: Literal["accepted", "invalid", "not_queued"]
    order_id: str | None = None
    item: str | None = None
    message_id: str | None = None
    version: str | None = None
    location: str | None = None  # the status URL of an accepted order
    reason: str | None = None
    errors: list[dict[str, Any]] | None = None

    def body(self) -> dict[str, Any]:
        """The result as clients get it: the fields that apply, in this order."""
        return present_fields(self)


@dataclass(frozen=True)
class OrdersRequest:
    orders: tuple[Order, ...]
    is_batch: bool


def read_orders(payload: Any, *, ledger_currency: str) -> OrdersRequest:
    """Validate a payload: one order object, or an array of 1..10 of them.

    An order's optional ``currency`` must be ``ledger_currency`` (orders_core.money).
    """
    if isinstance(payload, dict):
        try:
            order = Order.parse(payload, ledger_currency=ledger_currency)
        except Invalid as exc:
            raise ValidationFailed("the order is invalid", details=exc.details()) from None
        return OrdersRequest(orders=(order,), is_batch=False)
    if isinstance(payload, list):
        return OrdersRequest(orders=_read_batch(payload, ledger_currency), is_batch=True)
    raise BadRequest(
        "the body must be a JSON object (one order) or an array of orders", code="invalid_body"
    )


def _read_batch(entries: list[Any], ledger_currency: str) -> tuple[Order, ...]:
    if not entries:
        raise ValidationFailed("the array holds no orders", code="empty_batch")
    if len(entries) > MAX_ORDERS_PER_REQUEST:
        raise ValidationFailed(
            f"an array may hold at most {MAX_ORDERS_PER_REQUEST} orders", code="too_many_orders"
        )
    orders: list[Order | None] = []
    failures: dict[int, list[dict[str, Any]]] = {}
    for index, entry in enumerate(entries):
        try:
            orders.append(Order.parse(entry, ledger_currency=ledger_currency))
        except Invalid as exc:
            orders.append(None)
            failures[index] = exc.details()
    if not failures:
        return tuple(order for order in orders if order is not None)
    results = [
        OrderResult(index=index, status="invalid", errors=failures[index])
        if order is None
        else OrderResult(
            index=index,
            status="not_queued",
            order_id=order.order_id,
            item=order.item,
            reason="another order in the request is invalid",
        )
        for index, order in enumerate(orders)
    ]
    raise ValidationFailed(
        f"{len(failures)} of {len(entries)} orders are invalid; none was queued",
        results=[result.body() for result in results],
    )


def request_id_of(context: object) -> str:
    """The request id that stamps this invocation's orders: the Lambda request id.

    Lambda request ids are UUIDs; anything else (an odd local emulator) gets a fresh one
    so versions stay well-formed.
    """
    request_id = str(getattr(context, "aws_request_id", ""))
    return request_id if is_valid_request_id(request_id) else str(uuid.uuid4())


class IngestService:
    """Stamps valid orders and queues them."""

    def __init__(self, queue: OrdersQueue) -> None:
        self._queue = queue

    @classmethod
    def from_settings(cls, settings: IngestSettings) -> Self:
        return cls(OrdersQueue.from_settings(settings))

    def accept(
        self,
        request: OrdersRequest,
        *,
        accepted_at: str,
        request_id: str,
        auth_subject: str | None = None,
    ) -> list[OrderResult]:
        """Queue every order of the request; a result per order, all ``accepted``.

        Raises PayloadTooLarge if a stamped message would exceed SQS's limits, and
        QueueUnavailable if any order could not be queued.
        """
        accepted = [
            AcceptedOrder(
                order=order,
                stamp=Stamp.create(
                    accepted_at=accepted_at,
                    request_id=request_id,
                    position=index,
                    auth_subject=auth_subject,
                ),
            )
            for index, order in enumerate(request.orders)
        ]
        bodies = [order.to_message_body() for order in accepted]
        _check_sizes(bodies)
        try:
            outcomes = self._queue.send(bodies)
        except QueueSendError as exc:
            logger.error("queue send failed", error_code=exc.error_code, orders=len(bodies))
            results = [_not_queued(index, order) for index, order in enumerate(accepted)]
            raise QueueUnavailable(
                "the order queue is unavailable; nothing was queued, retry later",
                results=[r.body() for r in results] if request.is_batch else None,
            ) from exc
        return self._report(request, accepted, outcomes)

    def _report(
        self,
        request: OrdersRequest,
        accepted: Sequence[AcceptedOrder],
        outcomes: Sequence[SendOutcome],
    ) -> list[OrderResult]:
        results: list[OrderResult] = []
        for index, (order, outcome) in enumerate(zip(accepted, outcomes, strict=True)):
            if outcome.message_id is None:
                logger.error(
                    "order not queued",
                    order_id=order.order.order_id,
                    item=order.order.item,
                    error_code=outcome.error_code,
                )
                results.append(_not_queued(index, order))
                continue
            logger.info(
                "order queued",
                order_id=order.order.order_id,
                item=order.order.item,
                message_id=outcome.message_id,
                version=order.stamp.version,
            )
            results.append(
                OrderResult(
                    index=index,
                    status="accepted",
                    order_id=order.order.order_id,
                    item=order.order.item,
                    message_id=outcome.message_id,
                    version=order.stamp.version,
                    location=status_location(
                        order.order.order_id, order.order.item, order.stamp.version
                    ),
                )
            )
        queued = sum(1 for outcome in outcomes if outcome.queued)
        if queued:
            count(MetricName.ORDERS_ACCEPTED, queued)
        if queued < len(outcomes):
            raise QueueUnavailable(
                f"{len(outcomes) - queued} of {len(outcomes)} orders were not queued; "
                "retry those marked not_queued",
                results=[result.body() for result in results] if request.is_batch else None,
            )
        return results


def _not_queued(index: int, order: AcceptedOrder) -> OrderResult:
    return OrderResult(
        index=index,
        status="not_queued",
        order_id=order.order.order_id,
        item=order.order.item,
        reason="queue_unavailable",
    )


def _check_sizes(bodies: Sequence[str]) -> None:
    sizes = [len(body.encode("utf-8")) for body in bodies]
    if max(sizes) > SQS_MAX_MESSAGE_BYTES or sum(sizes) > SQS_MAX_BATCH_BYTES:
        raise PayloadTooLarge(
            f"the stamped orders exceed the queue's limit of {SQS_MAX_MESSAGE_BYTES} bytes"
        )
