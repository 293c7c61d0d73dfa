"""Data access for status reads (DynamoDB): the only code of the status function that calls AWS.

Every read is strongly consistent, so "stored" means stored: a write process finished is
seen by the next read. The role allows GetItem and Query on the orders table, nothing
else. Only the key, ``version`` and ``accepted_at`` are read back.
"""

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Final, Protocol, Self

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from orders_core.status.settings import StatusSettings

# A client is waiting: one SDK retry and short timeouts, then a quick 503 (the client
# polls again anyway). `total_max_attempts` counts the first call too.
DYNAMODB_READ_CONFIG: Final = Config(
    retries={"mode": "standard", "total_max_attempts": 2},
    connect_timeout=1,
    read_timeout=2,
)
_NAMES: Final = {"#o": "order_id", "#i": "item", "#v": "version", "#a": "accepted_at"}
_PROJECTION: Final = "#o, #i, #v, #a"


class DynamoDbReader(Protocol):
    def get_item(self, **kwargs: Any) -> dict[str, Any]: ...

    def query(self, **kwargs: Any) -> dict[str, Any]: ...


@dataclass(frozen=True)
class StoredItem:
    """One stored item of an order, as a status answer shows it."""

    item: str
    version: str
    accepted_at: str

    @classmethod
    def from_dynamodb(cls, raw: dict[str, Any]) -> Self:
        return cls(
            item=raw["item"]["S"], version=raw["version"]["S"], accepted_at=raw["accepted_at"]["S"]
        )

    def body(self) -> dict[str, str]:
        return {"item": self.item, "version": self.version, "accepted_at": self.accepted_at}


class ReadError(Exception):
    """The table could not be read (throttled, unreachable, refused)."""

    def __init__(self, error_code: str) -> None:
        super().__init__(error_code)
        self.error_code = error_code


class OrdersReader:
    def __init__(self, client: DynamoDbReader, table_name: str) -> None:
        self._client = client
        self._table_name = table_name

    @classmethod
    def from_settings(cls, settings: StatusSettings) -> Self:
        """The table named by the function's environment, through a client built once."""
        return cls(
            boto3.client("dynamodb", config=DYNAMODB_READ_CONFIG), settings.orders_table_name
        )

    def item(self, order_id: str, item: str) -> StoredItem | None:
        """One item of an order (GetItem), or None if it is not stored."""
        response = self._call(
            "get_item",
            TableName=self._table_name,
            Key={"order_id": {"S": order_id}, "item": {"S": item}},
            ConsistentRead=True,
            ProjectionExpression=_PROJECTION,
            ExpressionAttributeNames=_NAMES,
        )
        raw = response.get("Item")
        return StoredItem.from_dynamodb(raw) if raw else None

    def items(self, order_id: str, limit: int) -> tuple[list[StoredItem], bool]:
        """The order's first `limit` items by name, and whether it has more."""
        found: list[StoredItem] = []
        for page in self._pages(order_id, limit=limit + 1):
            found += [StoredItem.from_dynamodb(raw) for raw in page]
            if len(found) > limit:
                return found[:limit], True
        return found, False

    def holds_version(self, order_id: str, version: str) -> bool:
        """True if an item of the order is stored at `version` or a newer one."""
        return any(
            page
            for page in self._pages(
                order_id,
                FilterExpression="#v >= :version",
                values={":version": {"S": version}},
            )
        )

    def _pages(
        self,
        order_id: str,
        *,
        limit: int | None = None,
        values: dict[str, Any] | None = None,
        **extra: Any,
    ) -> Iterator[list[dict[str, Any]]]:
        """Query pages of the order's items, following LastEvaluatedKey."""
        request: dict[str, Any] = {
            "TableName": self._table_name,
            "KeyConditionExpression": "#o = :order_id",
            "ExpressionAttributeNames": _NAMES,
            "ExpressionAttributeValues": {":order_id": {"S": order_id}, **(values or {})},
            "ConsistentRead": True,
            "ProjectionExpression": _PROJECTION,
            **extra,
        }
        if limit is not None:
            request["Limit"] = limit
        while True:
            response = self._call("query", **request)
            yield list(response.get("Items", []))
            if "LastEvaluatedKey" not in response:
                return
            request["ExclusiveStartKey"] = response["LastEvaluatedKey"]

    def _call(self, operation: str, **request: Any) -> dict[str, Any]:
        try:
            response: dict[str, Any] = getattr(self._client, operation)(**request)
        except ClientError as exc:
            raise ReadError(str(exc.response.get("Error", {}).get("Code", "ClientError"))) from exc
        except BotoCoreError as exc:
            raise ReadError(type(exc).__name__) from exc
        return response
