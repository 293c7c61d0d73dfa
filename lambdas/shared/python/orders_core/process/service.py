"""Process's logic: one queue message in, one conditional write out.

Knows nothing of SQS events. A message that can never be stored raises InvalidMessage; a
write that failed raises StoreError; either way the record is reported as failed, the
queue redelivers it, and after maxReceiveCount it moves to the dead-letter queue.
"""

from collections.abc import Callable
from typing import Self

from orders_core.model import AcceptedOrder, InvalidMessage
from orders_core.observability import MetricName, count, count_by_reason, logger
from orders_core.process.settings import ProcessSettings
from orders_core.process.table import OrdersTable, StoreError, WriteOutcome


class ProcessService:
    def __init__(self, table: OrdersTable, *, max_receive_count: int, ledger_currency: str) -> None:
        self._table = table
        self._max_receive_count = max_receive_count
        # Each message is validated by ingest's rules, the ledger currency included.
        self._ledger_currency = ledger_currency

    @classmethod
    def from_settings(cls, settings: ProcessSettings) -> Self:
        return cls(
            OrdersTable.from_settings(settings),
            max_receive_count=settings.max_receive_count,
            ledger_currency=settings.ledger_currency,
        )

    def _note_if_last_receive(self, message_id: str, receive_count: str) -> None:
        """A record failing on its last allowed receive is moved to the DLQ by SQS: say so."""
        if receive_count.isdigit() and int(receive_count) >= self._max_receive_count:
            logger.error(
                "last receive failed: the queue moves this message to the dead-letter queue",
                message_id=message_id,
                receive_count=receive_count,
            )
            count(MetricName.DEAD_LETTERED)

    def store(
        self,
        *,
        body: str,
        message_id: str,
        receive_count: str,
        remaining_ms: Callable[[], int],
    ) -> WriteOutcome:
        try:
            return self._store(body, message_id, receive_count, remaining_ms)
        except (InvalidMessage, StoreError):
            self._note_if_last_receive(message_id, receive_count)
            raise

    def _store(
        self,
        body: str,
        message_id: str,
        receive_count: str,
        remaining_ms: Callable[[], int],
    ) -> WriteOutcome:
        try:
            accepted = AcceptedOrder.from_message_body(body, ledger_currency=self._ledger_currency)
        except InvalidMessage as exc:
            logger.error(
                "message can never be stored",
                message_id=message_id,
                reason=exc.reason,
                detail=exc.detail,
                receive_count=receive_count,
            )
            count_by_reason(MetricName.RECORDS_FAILED, exc.reason)
            raise
        order, stamp = accepted.order, accepted.stamp

        def on_retry(error_code: str, retry_number: int, delay_s: float) -> None:
            logger.info(
                "write retried",
                message_id=message_id,
                order_id=order.order_id,
                error_code=error_code,
                retry_number=retry_number,
                delay_ms=round(delay_s * 1000),
            )
            count(MetricName.WRITE_RETRIES)

        try:
            outcome = self._table.put_if_newer(
                accepted.to_item(), remaining_ms=remaining_ms, on_retry=on_retry
            )
        except StoreError as exc:
            logger.warning(
                "order not stored, the queue will redeliver it",
                message_id=message_id,
                order_id=order.order_id,
                item=order.item,
                reason=exc.reason,
                error_code=exc.error_code,
                attempts=exc.attempts,
                receive_count=receive_count,
            )
            count_by_reason(MetricName.RECORDS_FAILED, exc.reason)
            raise
        if outcome is WriteOutcome.STORED:
            count(MetricName.ORDERS_STORED)
            message = "order stored"
        else:
            count(MetricName.STALE_SKIPPED)
            message = "stale or duplicate order skipped"
        logger.info(
            message,
            message_id=message_id,
            order_id=order.order_id,
            item=order.item,
            version=stamp.version,
        )
        return outcome
