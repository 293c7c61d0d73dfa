"""Status reads: what the table holds for an order, and whether a version has landed.

- Without ``?version``: the stored item(s), or 404 ``order_not_found`` (nothing stored:
  the order may still be queued).
- With ``?version`` (the version a 202 answered): always 200, ``status`` is ``stored``
  when that version or a newer one is in the table, else ``pending``, also when nothing
  of the order is stored yet. A client polling the ``Location`` of a 202 therefore sees
  ``pending`` turn into ``stored``, never a 404 in between. For a whole order, ``stored``
  means some item of it holds that version or a newer one.
"""

from dataclasses import dataclass
from http import HTTPStatus
from typing import Any, Literal, Self

from orders_core.http import RequestRejected, TableUnavailable
from orders_core.jsonutil import present_fields
from orders_core.limits import MAX_STATUS_ITEMS
from orders_core.observability import MetricName, count, logger
from orders_core.status.request import StatusQuery
from orders_core.status.settings import StatusSettings
from orders_core.status.table import OrdersReader, ReadError, StoredItem

Status = Literal["stored", "pending"]


class OrderNotFound(RequestRejected):
    """404: nothing of the order (or of that item) is stored, which may still change."""

    status = HTTPStatus.NOT_FOUND
    default_code = "order_not_found"


@dataclass(frozen=True)
class ItemStatus:
    """``GET /lambda/api/orders/{order_id}/{item}``: the stored version of one item."""

    order_id: str
    item: str
    version: str | None = None  # what is stored; absent while nothing is
    accepted_at: str | None = None
    status: Status | None = None  # only with ?version
    requested_version: str | None = None

    def body(self) -> dict[str, Any]:
        """The answer's JSON object; what is None is left out."""
        return present_fields(self)


@dataclass(frozen=True)
class OrderStatus:
    """``GET /lambda/api/orders/{order_id}``: every stored item of the order."""

    order_id: str
    items: list[StoredItem]
    truncated: bool  # more than MAX_STATUS_ITEMS items: read the others by their URL
    status: Status | None = None  # only with ?version
    requested_version: str | None = None

    def body(self) -> dict[str, Any]:
        """The answer's JSON object; what is None is left out."""
        body = present_fields(self)
        body["items"] = [stored.body() for stored in self.items]  # in place: key order kept
        return body


class StatusService:
    def __init__(self, reader: OrdersReader) -> None:
        self._reader = reader

    @classmethod
    def from_settings(cls, settings: StatusSettings) -> Self:
        return cls(OrdersReader.from_settings(settings))

    def read(self, query: StatusQuery) -> ItemStatus | OrderStatus:
        try:
            answer = self._read(query)
        except ReadError as exc:
            logger.error("table read failed", order_id=query.order_id, error_code=exc.error_code)
            raise TableUnavailable("the order table is unavailable; retry later") from exc
        count(MetricName.STATUS_READS)
        logger.info(
            "status read",
            order_id=query.order_id,
            item=query.item,
            requested_version=query.version,
            status=answer.status,
        )
        return answer

    def _read(self, query: StatusQuery) -> ItemStatus | OrderStatus:
        if query.item is not None:
            return self._read_item(query.order_id, query.item, query.version)
        return self._read_order(query.order_id, query.version)

    def _read_item(self, order_id: str, item: str, version: str | None) -> ItemStatus:
        stored = self._reader.item(order_id, item)
        if stored is None and version is None:
            raise OrderNotFound(
                "this item of the order is not stored (yet): an accepted order may still "
                "be queued, so ask again shortly"
            )
        landed = stored is not None and version is not None and stored.version >= version
        return ItemStatus(
            order_id=order_id,
            item=item,
            version=stored.version if stored else None,
            accepted_at=stored.accepted_at if stored else None,
            status=_status(landed) if version else None,
            requested_version=version,
        )

    def _read_order(self, order_id: str, version: str | None) -> OrderStatus:
        items, truncated = self._reader.items(order_id, MAX_STATUS_ITEMS)
        if not items and version is None:
            raise OrderNotFound(
                "no item of this order is stored (yet): an accepted order may still be "
                "queued, so ask again shortly"
            )
        landed = version is not None and (
            any(stored.version >= version for stored in items)
            or (truncated and self._reader.holds_version(order_id, version))
        )
        return OrderStatus(
            order_id=order_id,
            items=items,
            truncated=truncated,
            status=_status(landed) if version else None,
            requested_version=version,
        )


def _status(landed: bool) -> Status:
    return "stored" if landed else "pending"
