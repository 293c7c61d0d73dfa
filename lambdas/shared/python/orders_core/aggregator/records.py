"""From a DynamoDB stream record to a ledger change: which source, and what it counts now.

A *source* is one item that can count toward a total: ``tx#<transaction_id>`` for the
transactions table, ``order#<order_id>#<item>`` for the orders table (``%`` and ``#``
inside the ids are percent-escaped, so two different orders never share a source).

What a source counts is read from the record's NewImage only (state, not delta): a
customer and an amount, or nothing (the item was removed, or has no amount, or its
amount is not valid by orders_core.money). So a duplicate, redelivered or re-ordered
record can always be judged by its sequence number against what the ledger applied.
"""

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Final

from orders_core.limits import MAX_KEY_CHARS
from orders_core.money import InvalidAmount, normalize_currency, parse_amount

TRANSACTION_PREFIX: Final = "tx#"
ORDER_PREFIX: Final = "order#"
# DynamoDB's partition key limit; a longer source is replaced by a digest of its parts.
_MAX_SOURCE_BYTES: Final = 2048


class UnknownRecord(ValueError):
    """A record from a table the ledger does not read (a wiring mistake)."""


@dataclass(frozen=True, slots=True)
class Posting:
    """What one source counts: ``amount`` toward ``customer_id``'s total."""

    customer_id: str
    amount: Decimal


@dataclass(frozen=True, slots=True)
class LedgerChange:
    source: str
    sequence: int  # the stream record's SequenceNumber, compared as a number
    new: Posting | None  # what the source counts after this record
    old_customer_id: str | None  # the OldImage's customer: where a lost alert may wait
    invalid_reason: str | None = None  # why a NewImage with an amount counts nothing


def _escape(part: str) -> str:
    return part.replace("%", "%25").replace("#", "%23")


def source_of(keys: Mapping[str, Any]) -> str:
    """The source a record's Keys name; raises UnknownRecord for any other table."""
    if set(keys) == {"transaction_id"} and isinstance(keys["transaction_id"], str):
        source = TRANSACTION_PREFIX + keys["transaction_id"]
    elif (
        set(keys) == {"order_id", "item"}
        and isinstance(keys["order_id"], str)
        and isinstance(keys["item"], str)
    ):
        source = f"{ORDER_PREFIX}{_escape(keys['order_id'])}#{_escape(keys['item'])}"
    else:
        raise UnknownRecord(f"a stream record with keys {sorted(keys)} is not a ledger source")
    if len(source.encode("utf-8", "surrogatepass")) <= _MAX_SOURCE_BYTES:
        return source
    digest = hashlib.sha256(json.dumps(sorted(keys.items())).encode("utf-8", "surrogatepass"))
    return f"{source.split('#', 1)[0]}#~{digest.hexdigest()}"


def posting_of(image: Mapping[str, Any], ledger_currency: str) -> tuple[Posting | None, str | None]:
    """(what an item counts, why it counts nothing although it has an amount)."""
    if not image or ("amount" not in image and "customer_id" not in image):
        return None, None  # removed, or an order that carries no amount
    try:
        amount = parse_amount(image.get("amount"))
        if "currency" in image:
            normalize_currency(image["currency"], ledger_currency)
    except InvalidAmount as exc:
        return None, exc.message
    customer_id = image.get("customer_id")
    if not isinstance(customer_id, str) or not customer_id.strip():
        return None, "customer_id is missing or not a non-blank string"
    if len(customer_id) > MAX_KEY_CHARS:
        return None, f"customer_id is longer than {MAX_KEY_CHARS} characters"
    return Posting(customer_id=customer_id, amount=amount), None


def change_of(
    *,
    keys: Mapping[str, Any],
    new_image: Mapping[str, Any],
    old_image: Mapping[str, Any],
    sequence_number: str | None,
    ledger_currency: str,
) -> LedgerChange:
    """The ledger change a stream record stands for (images already deserialized)."""
    if sequence_number is None or not sequence_number.isdigit():
        raise UnknownRecord("a stream record without a numeric SequenceNumber")
    new, reason = posting_of(new_image, ledger_currency)
    old_customer = old_image.get("customer_id") if old_image else None
    return LedgerChange(
        source=source_of(keys),
        sequence=int(sequence_number),
        new=new,
        old_customer_id=old_customer if isinstance(old_customer, str) and old_customer else None,
        invalid_reason=reason,
    )
