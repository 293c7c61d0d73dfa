"""Data access for the postings and totals tables: the only aggregator code calling DynamoDB.

postings (key ``source``): what the ledger currently counts for each source item:
``customer_id`` and ``amount`` (absent when it counts nothing: a tombstone that still
holds ``seq``), ``seq`` (the stream sequence number applied, as text) and ``updated_at``.

totals (key ``customer_id``): ``total`` (Number, exact), ``currency``, ``count`` (sources
counted), ``updated_at``, ``above`` (total > threshold), ``crossings`` (upward crossings
so far), ``rev`` (bumped by every change, the optimistic lock) and, between a crossing's
commit and its publication, ``pending_alert`` (the outbox, with ``committed_at``).

A change is one TransactWriteItems: the posting (condition: as read) and each affected
totals item (condition: ``rev`` as read). A failed condition raises Conflict: the caller
re-reads and tries again.
"""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any, Final, Protocol

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import ClientError, ConnectionError, HTTPClientError

from orders_core.aggregator.records import Posting
from orders_core.dynamo import (
    CONDITION_FAILED,
    TRANSACTION_CANCELED,
    TRANSIENT_ERROR_CODES,
    Backoff,
    error_code,
)
from orders_core.jsonutil import dumps_json
from orders_core.money import ZERO, to_cents

# Cancellation reasons that mean "someone else wrote first": re-read and retry.
_CONFLICT_REASONS: Final = frozenset({"ConditionalCheckFailed", "TransactionConflict"})
# Cancellation reasons that mean "slow down": back off and retry.
_THROTTLE_REASONS: Final = frozenset(
    {"ThrottlingError", "ProvisionedThroughputExceeded", "RequestLimitExceeded"}
)
_CONFLICT_CODES: Final = frozenset({"TransactionConflictException"})

_serializer = TypeSerializer()
_deserializer = TypeDeserializer()


class DynamoDbClient(Protocol):
    def batch_get_item(self, **kwargs: Any) -> dict[str, Any]: ...

    def transact_write_items(self, **kwargs: Any) -> dict[str, Any]: ...

    def update_item(self, **kwargs: Any) -> dict[str, Any]: ...


class Conflict(Exception):
    """An item changed since it was read (or a concurrent transaction held it)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Alert:
    """One upward crossing of the threshold: published once to HighBalanceAlert."""

    alert_id: str  # <customer_id>#<crossing number>
    customer_id: str
    total: Decimal
    threshold: Decimal
    currency: str
    source: str  # the transaction or order whose change crossed it
    committed_at: str | None = None  # when its crossing was committed (not in the message)

    def message(self) -> str:
        return dumps_json(
            {
                "alert_id": self.alert_id,
                "customer_id": self.customer_id,
                "total": to_cents(self.total),
                "threshold": to_cents(self.threshold),
                "currency": self.currency,
                "source": self.source,
            }
        )

    def attribute(self) -> dict[str, Any]:
        return {
            "alert_id": self.alert_id,
            "customer_id": self.customer_id,
            "total": self.total,
            "threshold": self.threshold,
            "currency": self.currency,
            "source": self.source,
            **({"committed_at": self.committed_at} if self.committed_at is not None else {}),
        }

    @classmethod
    def from_attribute(cls, value: Mapping[str, Any]) -> "Alert":
        return cls(
            alert_id=str(value["alert_id"]),
            customer_id=str(value["customer_id"]),
            total=Decimal(value["total"]),
            threshold=Decimal(value["threshold"]),
            currency=str(value["currency"]),
            source=str(value["source"]),
            committed_at=str(value["committed_at"]) if "committed_at" in value else None,
        )


@dataclass(frozen=True, slots=True)
class StoredPosting:
    source: str
    sequence: int
    posting: Posting | None


@dataclass(frozen=True, slots=True)
class Totals:
    customer_id: str
    total: Decimal = ZERO
    count: int = 0
    above: bool = False
    crossings: int = 0
    rev: int = 0  # 0: no item yet
    pending_alert: Alert | None = None


@dataclass(frozen=True, slots=True)
class TotalsChange:
    before: Totals
    after: Totals


def _posting_from_item(item: Mapping[str, Any]) -> StoredPosting:
    customer_id, amount = item.get("customer_id"), item.get("amount")
    posting = (
        Posting(customer_id=str(customer_id), amount=Decimal(amount))
        if customer_id is not None and amount is not None
        else None
    )
    return StoredPosting(source=str(item["source"]), sequence=int(item["seq"]), posting=posting)


def _totals_from_item(item: Mapping[str, Any]) -> Totals:
    pending = item.get("pending_alert")
    return Totals(
        customer_id=str(item["customer_id"]),
        total=Decimal(item.get("total", ZERO)),
        count=int(item.get("count", 0)),
        above=bool(item.get("above", False)),
        crossings=int(item.get("crossings", 0)),
        rev=int(item.get("rev", 0)),
        pending_alert=Alert.from_attribute(pending) if isinstance(pending, Mapping) else None,
    )


def _plain(item: Mapping[str, Any]) -> dict[str, Any]:
    return {name: _deserializer.deserialize(value) for name, value in item.items()}


def _av(value: Any) -> dict[str, Any]:
    serialized: dict[str, Any] = _serializer.serialize(value)
    return serialized


class LedgerTables:
    def __init__(self, client: DynamoDbClient, *, postings_table: str, totals_table: str) -> None:
        self._client = client
        self._postings = postings_table
        self._totals = totals_table

    def read(
        self, source: str, customers: Iterable[str], backoff: Backoff
    ) -> tuple[StoredPosting | None, dict[str, Totals]]:
        """The posting of ``source`` and the totals of ``customers``, strongly consistent."""
        request: dict[str, Any] = {
            self._postings: {"Keys": [{"source": {"S": source}}], "ConsistentRead": True}
        }
        wanted = sorted(set(customers))
        if wanted:
            request[self._totals] = {
                "Keys": [{"customer_id": {"S": customer}} for customer in wanted],
                "ConsistentRead": True,
            }
        found = self._batch_get(request, backoff)
        postings = [_posting_from_item(_plain(item)) for item in found.get(self._postings, [])]
        totals = {
            entry.customer_id: entry
            for entry in (_totals_from_item(_plain(item)) for item in found.get(self._totals, []))
        }
        return (postings[0] if postings else None), totals

    def read_totals(self, customers: Iterable[str], backoff: Backoff) -> dict[str, Totals]:
        wanted = sorted(set(customers))
        if not wanted:
            return {}
        request = {
            self._totals: {
                "Keys": [{"customer_id": {"S": customer}} for customer in wanted],
                "ConsistentRead": True,
            }
        }
        found = self._batch_get(request, backoff)
        entries = (_totals_from_item(_plain(item)) for item in found.get(self._totals, []))
        return {entry.customer_id: entry for entry in entries}

    def _batch_get(self, request: dict[str, Any], backoff: Backoff) -> dict[str, list[Any]]:
        found: dict[str, list[Any]] = {}
        attempts = 0
        backoff.check("BatchGetItem")
        while request:
            attempts += 1
            try:
                response = self._client.batch_get_item(RequestItems=request)
            except ClientError as exc:
                code = error_code(exc)
                if code not in TRANSIENT_ERROR_CODES:
                    raise
                backoff.pause("BatchGetItem", code, attempts)
                continue
            except (ConnectionError, HTTPClientError) as exc:
                backoff.pause("BatchGetItem", type(exc).__name__, attempts)
                continue
            for table, items in (response.get("Responses") or {}).items():
                found.setdefault(table, []).extend(items)
            request = response.get("UnprocessedKeys") or {}
            if request:
                backoff.pause("BatchGetItem", "UnprocessedKeys", attempts)
        return found

    def commit(
        self,
        *,
        new: StoredPosting,
        expected: StoredPosting | None,
        changes: list[TotalsChange],
        currency: str,
        updated_at: str,
        backoff: Backoff,
    ) -> None:
        """Write the posting and the totals in one transaction; raises Conflict."""
        actions = [{"Put": self._posting_put(new, expected, updated_at)}]
        actions.extend(
            {"Update": self._totals_update(change, currency, updated_at)} for change in changes
        )
        attempts = 0
        backoff.check("TransactWriteItems")
        while True:
            attempts += 1
            try:
                self._client.transact_write_items(TransactItems=actions)
            except ClientError as exc:
                code = error_code(exc)
                if code == TRANSACTION_CANCELED:
                    reasons = {
                        str(reason.get("Code"))
                        for reason in exc.response.get("CancellationReasons") or []
                    }
                    if reasons & _CONFLICT_REASONS:
                        raise Conflict(",".join(sorted(reasons & _CONFLICT_REASONS))) from exc
                    if not reasons & _THROTTLE_REASONS:
                        raise
                    code = ",".join(sorted(reasons & _THROTTLE_REASONS))
                elif code in _CONFLICT_CODES:
                    raise Conflict(code) from exc
                elif code not in TRANSIENT_ERROR_CODES:
                    raise
                backoff.pause("TransactWriteItems", code, attempts)
            except (ConnectionError, HTTPClientError) as exc:
                # The outcome is unknown: re-reading (as after a conflict) finds out.
                raise Conflict(type(exc).__name__) from exc
            else:
                return

    def _posting_put(
        self, new: StoredPosting, expected: StoredPosting | None, updated_at: str
    ) -> dict[str, Any]:
        item: dict[str, Any] = {
            "source": {"S": new.source},
            "seq": {"S": str(new.sequence)},
            "updated_at": {"S": updated_at},
        }
        if new.posting is not None:
            item["customer_id"] = {"S": new.posting.customer_id}
            item["amount"] = {"N": str(new.posting.amount)}
        put: dict[str, Any] = {"TableName": self._postings, "Item": item}
        if expected is None:
            put["ConditionExpression"] = "attribute_not_exists(#source)"
            put["ExpressionAttributeNames"] = {"#source": "source"}
        else:
            put["ConditionExpression"] = "#seq = :seq"
            put["ExpressionAttributeNames"] = {"#seq": "seq"}
            put["ExpressionAttributeValues"] = {":seq": {"S": str(expected.sequence)}}
        return put

    def _totals_update(
        self, change: TotalsChange, currency: str, updated_at: str
    ) -> dict[str, Any]:
        after = change.after
        names = {
            "#total": "total",
            "#count": "count",
            "#currency": "currency",
            "#updated_at": "updated_at",
            "#above": "above",
            "#crossings": "crossings",
            "#rev": "rev",
        }
        values: dict[str, Any] = {
            ":total": {"N": str(after.total)},
            ":count": {"N": str(after.count)},
            ":currency": {"S": currency},
            ":updated_at": {"S": updated_at},
            ":above": {"BOOL": after.above},
            ":crossings": {"N": str(after.crossings)},
            ":rev": {"N": str(after.rev)},
        }
        assignments = [f"{name} = :{name[1:]}" for name in names]
        if after.pending_alert is not None:
            names["#pending_alert"] = "pending_alert"
            pending = replace(after.pending_alert, committed_at=updated_at)
            values[":pending_alert"] = _av(pending.attribute())
            assignments.append("#pending_alert = :pending_alert")
        if change.before.rev == 0:
            names["#customer_id"] = "customer_id"
            condition = "attribute_not_exists(#customer_id)"
        else:
            condition = "#rev = :expected_rev"
            values[":expected_rev"] = {"N": str(change.before.rev)}
        return {
            "TableName": self._totals,
            "Key": {"customer_id": {"S": after.customer_id}},
            "UpdateExpression": "SET " + ", ".join(assignments),
            "ConditionExpression": condition,
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": values,
        }

    def clear_alert(self, customer_id: str, alert_id: str, backoff: Backoff) -> bool:
        """Remove the pending alert once published; False if it was already gone."""
        attempts = 0
        while True:
            attempts += 1
            try:
                self._client.update_item(
                    TableName=self._totals,
                    Key={"customer_id": {"S": customer_id}},
                    UpdateExpression="REMOVE #pending_alert",
                    ConditionExpression="#pending_alert.#alert_id = :alert_id",
                    ExpressionAttributeNames={
                        "#pending_alert": "pending_alert",
                        "#alert_id": "alert_id",
                    },
                    ExpressionAttributeValues={":alert_id": {"S": alert_id}},
                )
            except ClientError as exc:
                code = error_code(exc)
                if code == CONDITION_FAILED:
                    return False
                if code not in TRANSIENT_ERROR_CODES:
                    raise
                backoff.pause("UpdateItem", code, attempts)
            except (ConnectionError, HTTPClientError) as exc:
                backoff.pause("UpdateItem", type(exc).__name__, attempts)
            else:
                return True
