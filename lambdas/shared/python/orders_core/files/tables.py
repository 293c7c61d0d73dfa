"""Data access for the transactions and customers tables (the file processor's writes).

Transactions: BatchWriteItem of at most 25 puts, one per transaction_id (a batch may not
name an item twice; the later line wins). The item holds only what the line says plus
the file's key, so writing the same file again writes identical items. Unprocessed
items and throttling are retried with backoff inside the invocation's time budget.

Customers: one item per customer, a pure function of every line ever seen for it:
``first_seen`` (earliest occurred_at), ``last_seen`` (latest), and ``name``/``email``
from the latest line that had one (ties broken by transaction_id, then the value), each
with its ``*_version`` (``<occurred_at>#<transaction_id>``). Upserts are conditional on
the item being what was read, so concurrent files merge instead of overwrite, and a
re-processed file finds nothing to change and writes nothing.
"""

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Final, Protocol, TypeVar

from botocore.exceptions import ClientError, ConnectionError, HTTPClientError

from orders_core.dynamo import (
    CONDITION_FAILED,
    TRANSIENT_ERROR_CODES,
    Backoff,
    RetriesExhausted,
    error_code,
)
from orders_core.files.model import Transaction

MAX_BATCH_ITEMS: Final = 25
MAX_CONFLICTS: Final = 20
AttributeValue = dict[str, Any]
Item = dict[str, AttributeValue]


class DynamoDbClient(Protocol):
    def batch_write_item(self, **kwargs: Any) -> dict[str, Any]: ...

    def update_item(self, **kwargs: Any) -> dict[str, Any]: ...


def transaction_item(transaction: Transaction, source_file: str) -> Item:
    """The transactions table item (DynamoDB JSON): the line's content and its file."""
    item: Item = {
        "transaction_id": {"S": transaction.transaction_id},
        "customer_id": {"S": transaction.customer_id},
        "amount": {"N": str(transaction.amount)},
        "currency": {"S": transaction.currency},
        "occurred_at": {"S": transaction.occurred_at},
        "source_file": {"S": source_file},
    }
    if transaction.customer_name is not None:
        item["customer_name"] = {"S": transaction.customer_name}
    if transaction.customer_email is not None:
        item["customer_email"] = {"S": transaction.customer_email}
    return item


class TransactionsTable:
    def __init__(self, client: DynamoDbClient, table_name: str) -> None:
        self._client = client
        self._table_name = table_name

    def write_batch(self, items: Sequence[Item], backoff: Backoff) -> None:
        """Put every item (the last of each transaction_id); raises RetriesExhausted."""
        unique = {item["transaction_id"]["S"]: item for item in items}
        if len(unique) > MAX_BATCH_ITEMS:
            raise ValueError(f"a batch holds at most {MAX_BATCH_ITEMS} items")
        requests: list[dict[str, Any]] = [
            {"PutRequest": {"Item": item}} for item in unique.values()
        ]
        backoff.check("BatchWriteItem")
        attempts = 0
        while requests:
            attempts += 1
            try:
                response = self._client.batch_write_item(RequestItems={self._table_name: requests})
            except ClientError as exc:
                code = error_code(exc)
                if code not in TRANSIENT_ERROR_CODES:
                    raise
                backoff.pause("BatchWriteItem", code, attempts)
                continue
            except (ConnectionError, HTTPClientError) as exc:
                backoff.pause("BatchWriteItem", type(exc).__name__, attempts)
                continue
            unprocessed = response.get("UnprocessedItems") or {}
            requests = list(unprocessed.get(self._table_name, []))
            if requests:
                backoff.pause("BatchWriteItem", "UnprocessedItems", attempts)


T = TypeVar("T", str, tuple[str, str])
Versioned = tuple[str, str]
"""(version ``<occurred_at>#<transaction_id>``, value): the greater tuple is newer."""


@dataclass(frozen=True, slots=True)
class CustomerProfile:
    """What the customers table knows of one customer (None: not known yet)."""

    customer_id: str
    first_seen: str | None = None
    last_seen: str | None = None
    name: Versioned | None = None
    email: Versioned | None = None

    @classmethod
    def of(cls, transaction: Transaction) -> "CustomerProfile":
        version = f"{transaction.occurred_at}#{transaction.transaction_id}"
        name, email = transaction.customer_name, transaction.customer_email
        return cls(
            customer_id=transaction.customer_id,
            first_seen=transaction.occurred_at,
            last_seen=transaction.occurred_at,
            name=None if name is None else (version, name),
            email=None if email is None else (version, email),
        )

    def merge(self, other: "CustomerProfile") -> "CustomerProfile":
        """The profile knowing both: commutative, associative and idempotent."""
        return replace(
            self,
            first_seen=_pick(self.first_seen, other.first_seen, min),
            last_seen=_pick(self.last_seen, other.last_seen, max),
            name=_pick(self.name, other.name, max),
            email=_pick(self.email, other.email, max),
        )


def _pick(left: T | None, right: T | None, choose: Callable[[T, T], T]) -> T | None:
    if left is None:
        return right
    if right is None:
        return left
    chosen: T = choose(left, right)
    return chosen


# (attribute, versioned attribute) of the customers item
_PLAIN: Final = ("first_seen", "last_seen")
_VERSIONED: Final = (("name", "name_version"), ("email", "email_version"))


def profile_attributes(profile: CustomerProfile) -> dict[str, str]:
    """The item's attributes (besides customer_id) as plain strings."""
    values: dict[str, str] = {}
    if profile.first_seen is not None:
        values["first_seen"] = profile.first_seen
    if profile.last_seen is not None:
        values["last_seen"] = profile.last_seen
    for (attribute, version_attribute), versioned in zip(
        _VERSIONED, (profile.name, profile.email), strict=True
    ):
        if versioned is not None:
            values[version_attribute], values[attribute] = versioned
    return values


def profile_from_item(customer_id: str, item: Mapping[str, AttributeValue]) -> CustomerProfile:
    def text(name: str) -> str | None:
        value = item.get(name, {}).get("S")
        return value if isinstance(value, str) else None

    def versioned(attribute: str, version_attribute: str) -> Versioned | None:
        value, version = text(attribute), text(version_attribute)
        return None if value is None or version is None else (version, value)

    return CustomerProfile(
        customer_id=customer_id,
        first_seen=text("first_seen"),
        last_seen=text("last_seen"),
        name=versioned(*_VERSIONED[0]),
        email=versioned(*_VERSIONED[1]),
    )


class CustomersTable:
    def __init__(self, client: DynamoDbClient, table_name: str) -> None:
        self._client = client
        self._table_name = table_name

    def upsert(self, profile: CustomerProfile, backoff: Backoff) -> bool:
        """Merge ``profile`` into the stored one; False if that changed nothing.

        Optimistic: first as a new customer, then on the item the failed condition
        returned (ReturnValuesOnConditionCheckFailure), until the write finds the item
        as it was read.
        """
        expected: CustomerProfile | None = None
        attempts = conflicts = 0
        backoff.check("UpdateItem")
        while True:
            merged = profile if expected is None else expected.merge(profile)
            if expected is not None and merged == expected:
                return False
            attempts += 1
            try:
                self._client.update_item(**self._update_request(merged, expected))
            except ClientError as exc:
                code = error_code(exc)
                if code == CONDITION_FAILED:
                    conflicts += 1
                    if conflicts > MAX_CONFLICTS:
                        raise RetriesExhausted("UpdateItem", code, attempts) from exc
                    old = exc.response.get("Item")
                    expected = None if not old else profile_from_item(profile.customer_id, old)
                    continue
                if code not in TRANSIENT_ERROR_CODES:
                    raise
                backoff.pause("UpdateItem", code, attempts)
            except (ConnectionError, HTTPClientError) as exc:
                backoff.pause("UpdateItem", type(exc).__name__, attempts)
            else:
                return True

    def _update_request(
        self, merged: CustomerProfile, expected: CustomerProfile | None
    ) -> dict[str, Any]:
        names = {"#customer_id": "customer_id"}
        values: dict[str, AttributeValue] = {}
        assignments = []
        for position, (attribute, value) in enumerate(profile_attributes(merged).items()):
            names[f"#a{position}"] = attribute
            values[f":a{position}"] = {"S": value}
            assignments.append(f"#a{position} = :a{position}")
        if expected is None:
            condition = "attribute_not_exists(#customer_id)"
        else:
            previous = profile_attributes(expected)
            clauses = ["attribute_exists(#customer_id)"]
            all_attributes = [*_PLAIN, *(name for pair in _VERSIONED for name in pair)]
            for position, attribute in enumerate(all_attributes):
                names[f"#e{position}"] = attribute
                if attribute in previous:
                    values[f":e{position}"] = {"S": previous[attribute]}
                    clauses.append(f"#e{position} = :e{position}")
                else:
                    clauses.append(f"attribute_not_exists(#e{position})")
            condition = " AND ".join(clauses)
        return {
            "TableName": self._table_name,
            "Key": {"customer_id": {"S": merged.customer_id}},
            "UpdateExpression": "SET " + ", ".join(assignments),
            "ConditionExpression": condition,
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": values,
            "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
        }
