"""The order model both functions share, and the stamped form that travels on the queue.

Ingest validates what clients send with ``Order``; process validates every queue message
with the same model (via ``AcceptedOrder``), so a message that ingest would have refused
can never be written, and anything ingest accepts can be stored by DynamoDB as is.
"""

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from decimal import Decimal, DecimalException
from typing import Any, ClassVar, Final, Self, cast

from boto3.dynamodb.types import DYNAMODB_CONTEXT

from orders_core.jsonutil import InvalidJson, dumps_json, parse_json, present_fields
from orders_core.limits import (
    DYNAMODB_MAX_EXPONENT,
    DYNAMODB_MIN_EXPONENT,
    MAX_EXTRA_FIELDS,
    MAX_FIELD_NAME_CHARS,
    MAX_KEY_CHARS,
    MAX_NESTING_DEPTH,
    MAX_QTY,
)
from orders_core.money import check_amount, check_currency
from orders_core.validation import Checks, Invalid, Problem, string
from orders_core.versioning import (
    ACCEPTED_AT_PATTERN,
    REQUEST_ID_PATTERN,
    SEPARATOR,
    SUBJECT_PATTERN,
    VERSION_PATTERN,
    make_version,
)

# Text SQS cannot carry and DynamoDB cannot store: lone surrogates (not UTF-8 at all) and
# the noncharacters U+FFFE/U+FFFF (outside SQS's allowed character ranges). Control
# characters are fine: JSON escapes them on the way to the queue.
_UNSTORABLE_TEXT: Final = re.compile(r"[\ud800-\udfff\ufffe\uffff]")
_SURROGATE: Final = re.compile(r"[\ud800-\udfff]")  # not text at all


def _is_storable_text(text: str) -> bool:
    return _UNSTORABLE_TEXT.search(text) is None


def _is_storable_number(number: int | Decimal) -> bool:
    """True if DynamoDB (and boto3's serializer) can store the number exactly."""
    value = Decimal(number)
    if not value.is_finite():
        return False
    if value.is_zero():
        return True
    try:
        DYNAMODB_CONTEXT.create_decimal(value)
    except DecimalException:
        return False
    return DYNAMODB_MIN_EXPONENT <= value.adjusted() <= DYNAMODB_MAX_EXPONENT


def _is_valid_field_name(name: object) -> bool:
    return (
        isinstance(name, str) and 0 < len(name) <= MAX_FIELD_NAME_CHARS and _is_storable_text(name)
    )


def _value_problem(value: Any, path: str, depth: int) -> str | None:
    """Why a free-form value cannot be kept, or None. Depth-bounded, so never deep recursion."""
    if isinstance(value, list | dict):
        return _container_problem(value, path, depth)
    return _scalar_problem(value, path)


def _scalar_problem(value: Any, path: str) -> str | None:
    where = f" at {path}" if path else ""
    if value is None or isinstance(value, bool):
        problem = None
    elif isinstance(value, str):
        problem = None if _is_storable_text(value) else f"text{where} has unstorable characters"
    elif isinstance(value, int | Decimal):
        problem = (
            None
            if _is_storable_number(value)
            else f"number{where} cannot be stored exactly (up to 38 significant digits, "
            "magnitude 1E-130 to 9.99E+125)"
        )
    else:
        problem = f"value{where} is not a JSON value"
    return problem


def _container_problem(value: list[Any] | dict[Any, Any], path: str, depth: int) -> str | None:
    where = f" at {path}" if path else ""
    if depth >= MAX_NESTING_DEPTH:
        return f"value{where} nests more than {MAX_NESTING_DEPTH} levels of objects/arrays"
    if isinstance(value, list):
        children = [(f"{path}[{index}]", element) for index, element in enumerate(value)]
    else:
        if not all(_is_valid_field_name(key) for key in value):
            return f"a key{where} is not 1-{MAX_FIELD_NAME_CHARS} characters of storable text"
        children = [(f"{path}.{key}" if path else key, element) for key, element in value.items()]
    for child_path, element in children:
        problem = _value_problem(element, child_path, depth + 1)
        if problem:
            return problem
    return None


def _key_text(text: str, field: str) -> str:
    if not text.strip():
        raise Problem("blank", f"{field} must not be empty or blank")
    if len(text) > MAX_KEY_CHARS:
        raise Problem("too_long", f"{field} must be at most {MAX_KEY_CHARS} characters")
    if not _is_storable_text(text):
        raise Problem("unstorable_value", f"{field} has characters that cannot be stored")
    return text


def id_text(value: Any, field: str) -> str:
    """A client-chosen identifier: non-blank storable text (at most 256 characters) or an
    integer, kept as its decimal string (so 123 and "123" are the same customer)."""
    # bool is an int in Python, but true is not an identifier.
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise Problem(f"{field}_type", f"{field} must be a non-empty string or an integer")
    return _key_text(value if isinstance(value, str) else str(value), field)


def _check_extra_value(value: Any) -> Any:
    problem = _value_problem(value, "", 0)
    if problem:
        raise Problem("unstorable_value", problem)
    return value


def _check_order_id(value: Any) -> str:
    # bool is an int in Python, but true is not an order id.
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise Problem("order_id_type", "order_id must be a non-empty string or an integer")
    return _key_text(value if isinstance(value, str) else str(value), "order_id")


def _check_item(value: Any) -> str:
    if not isinstance(value, str):
        raise Problem("item_type", "item must be a non-empty string")
    return _key_text(value, "item")


def _check_qty(value: Any) -> int:
    if isinstance(value, Decimal | float):
        # A number written with a fraction or exponent (2.5, but also 2.0 or 2e0) is not
        # an integer literal: refused rather than silently truncated or normalized.
        raise Problem(
            "qty_not_integer",
            "qty must be written as an integer such as 2 (2.5, 2.0 and 2e0 are refused)",
        )
    if isinstance(value, bool) or not isinstance(value, int):
        raise Problem("qty_type", "qty must be a positive integer")
    if not 1 <= value <= MAX_QTY:
        raise Problem("qty_range", f"qty must be between 1 and {MAX_QTY}")
    return value


def check_customer_id(value: Any) -> str:
    """The customer an amount counts toward, in orders and in files alike."""
    return id_text(value, "customer_id")


@dataclass(frozen=True, kw_only=True)
class Stamp:
    """The system attributes ingest adds to an accepted order (see orders_core.versioning)."""

    accepted_at: str
    request_id: str
    version: str
    # The caller the edge authenticated (orders_core.front); absent without one.
    auth_subject: str | None = None

    @classmethod
    def create(
        cls, *, accepted_at: str, request_id: str, position: int, auth_subject: str | None = None
    ) -> Self:
        """The stamp of the order at ``position`` of a request; raises Invalid if a part is
        malformed (an unlikely subject, say)."""
        return cls.parse(
            {
                "accepted_at": accepted_at,
                "request_id": request_id,
                "version": make_version(accepted_at, request_id, position),
                "auth_subject": auth_subject,
            }
        )

    @classmethod
    def parse(cls, data: Mapping[str, Any]) -> Self:
        """A stamp from its attributes: strings matching their patterns, no other names,
        and a version made of this accepted_at and request_id; raises Invalid."""
        checks = Checks()
        accepted_at = checks.required(data, "accepted_at", _ACCEPTED_AT)
        request_id = checks.required(data, "request_id", _REQUEST_ID)
        version = checks.required(data, "version", _VERSION)
        auth_subject = checks.optional(data, "auth_subject", _SUBJECT)
        checks.only_known(data, _STAMP_NAMES)
        checks.done()
        # All three are str here: checks.done() raised otherwise.
        stamp = cls(
            accepted_at=cast(str, accepted_at),
            request_id=cast(str, request_id),
            version=cast(str, version),
            auth_subject=auth_subject,
        )
        prefix = f"{stamp.accepted_at}{SEPARATOR}{stamp.request_id}{SEPARATOR}"
        if not stamp.version.startswith(prefix):
            raise Invalid(
                [Problem("version_mismatch", "version does not match accepted_at and request_id")]
            )
        return stamp

    def attributes(self) -> dict[str, Any]:
        """The attributes as stored: auth_subject only when there is one, never null."""
        return present_fields(self)


def _matching(pattern: str) -> Callable[[Any], str]:
    """A check for a string matching ``pattern`` as a whole. The messages quote the
    pattern, as they always have."""
    compiled = re.compile(pattern)

    def check(value: Any) -> str:
        text = string(value)
        if not compiled.fullmatch(text):
            # No pattern matches a lone surrogate: only a mismatch can be one.
            if _SURROGATE.search(text):
                raise Problem(
                    "string_unicode",
                    "Input should be a valid string, unable to parse raw data as a unicode string",
                )
            raise Problem("string_pattern_mismatch", f"String should match pattern '{pattern}'")
        return text

    return check


_ACCEPTED_AT: Final = _matching(ACCEPTED_AT_PATTERN)
_REQUEST_ID: Final = _matching(REQUEST_ID_PATTERN)
_VERSION: Final = _matching(VERSION_PATTERN)
_SUBJECT: Final = _matching(SUBJECT_PATTERN)

SYSTEM_ATTRIBUTES: Final[tuple[str, ...]] = tuple(f.name for f in fields(Stamp))
_STAMP_NAMES: Final = frozenset(SYSTEM_ATTRIBUTES)


@dataclass(frozen=True, kw_only=True)
class Order:
    """One order as a client sends it.

    ``order_id`` and ``item`` are the table's keys; ``qty`` is optional; any other field is
    kept as sent in ``extras`` (bounded), except the names the service stamps (see
    ``Stamp``), which are refused, each at its own location.
    """

    order_id: str
    item: str
    qty: int | None = None
    # The ledger (orders_core.money): both or neither of customer_id and amount; currency
    # must be the ledger currency.
    customer_id: str | None = None
    amount: Decimal | None = None
    currency: str | None = None
    extras: dict[str, Any] = field(default_factory=dict)

    FIELDS: ClassVar[tuple[str, ...]] = (
        "order_id",
        "item",
        "qty",
        "customer_id",
        "amount",
        "currency",
    )
    # Stamp's attributes: a client may not send them.
    RESERVED: ClassVar[tuple[str, ...]] = SYSTEM_ATTRIBUTES
    _NAMED: ClassVar[frozenset[str]] = frozenset(FIELDS + RESERVED)

    @classmethod
    def parse(cls, data: Any, *, ledger_currency: str | None = None) -> Self:
        """An order from a parsed JSON value; raises Invalid naming every bad field.

        A ``currency`` is checked against ``ledger_currency``, and refused without one.
        """
        cls._check_shape(data)
        checks = Checks()
        order_id = checks.required(data, "order_id", _check_order_id)
        item = checks.required(data, "item", _check_item)
        # Present means checked: qty null is not an integer.
        qty = checks.value("qty", _check_qty, data["qty"]) if "qty" in data else None
        customer_id = checks.optional(data, "customer_id", check_customer_id)
        amount = checks.optional(data, "amount", check_amount)
        currency = checks.optional(
            data, "currency", lambda value: check_currency(value, ledger_currency)
        )
        for name in cls.RESERVED:
            if name in data:
                checks.add(
                    Problem(
                        "reserved_field",
                        "this field is set by the service and cannot be sent",
                        (name,),
                    )
                )
        extras = {
            name: checks.value(name, _check_extra_value, value)
            for name, value in data.items()
            if name not in cls._NAMED
        }
        # Last, once every field is valid (a malformed amount is not reported as missing);
        # the error names the missing one.
        if not checks.problems and (customer_id is None) != (amount is None):
            missing, given = (
                ("customer_id", "amount") if customer_id is None else ("amount", "customer_id")
            )
            checks.add(
                Problem(
                    "ledger_fields",
                    f"{missing} is required when {given} is given (both or neither)",
                    (missing,),
                )
            )
        checks.done()
        # Both are str here: checks.done() raised if either was missing or bad.
        return cls(
            order_id=cast(str, order_id),
            item=cast(str, item),
            qty=qty,
            customer_id=customer_id,
            amount=amount,
            currency=currency,
            extras=extras,
        )

    @classmethod
    def _check_shape(cls, data: Any) -> None:
        """An object with a bounded set of well-named fields, before any field is read."""
        if not isinstance(data, dict):
            raise Invalid([Problem("order_type", "an order must be a JSON object")])
        extra_names = [name for name in data if name not in cls._NAMED]
        if len(extra_names) > MAX_EXTRA_FIELDS:
            raise Invalid(
                [
                    Problem(
                        "too_many_fields",
                        f"an order may have at most {MAX_EXTRA_FIELDS} fields besides "
                        "order_id, item and qty",
                    )
                ]
            )
        if not all(_is_valid_field_name(name) for name in extra_names):
            raise Invalid(
                [
                    Problem(
                        "field_name",
                        f"field names must be 1-{MAX_FIELD_NAME_CHARS} characters of storable text",
                    )
                ]
            )

    def attributes(self) -> dict[str, Any]:
        """The order's fields as stored: order_id, item, qty if given, then the extras."""
        result: dict[str, Any] = {"order_id": self.order_id, "item": self.item}
        if self.qty is not None:
            result["qty"] = self.qty
        for name in ("customer_id", "amount", "currency"):
            value = getattr(self, name)
            if value is not None:
                result[name] = value
        result.update(self.extras)
        return result


class InvalidMessage(ValueError):
    """A queue message that can never be stored, however often it is retried."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True)
class AcceptedOrder:
    """An order ingest accepted, with its stamp: the queue message and the table item."""

    order: Order
    stamp: Stamp

    def to_message(self) -> dict[str, Any]:
        return {**self.order.attributes(), **self.stamp.attributes()}

    def to_message_body(self) -> str:
        return dumps_json(self.to_message())

    def to_item(self) -> dict[str, Any]:
        """The DynamoDB item (plain Python values; numbers are int or Decimal)."""
        return self.to_message()

    @classmethod
    def from_message_body(cls, body: str, *, ledger_currency: str | None = None) -> Self:
        """Parse and validate a queue message; raises InvalidMessage if it can never succeed.

        An order carrying ``currency`` needs ``ledger_currency``, as at ingest.
        """
        try:
            data = parse_json(body)
        except InvalidJson as exc:
            raise InvalidMessage(exc.code, exc.message) from None
        if not isinstance(data, dict):
            raise InvalidMessage("invalid_order", "the message is not a JSON object")
        stamp_fields = {name: data[name] for name in SYSTEM_ATTRIBUTES if name in data}
        order_fields = {name: v for name, v in data.items() if name not in SYSTEM_ATTRIBUTES}
        try:
            stamp = Stamp.parse(stamp_fields)
        except Invalid as exc:
            raise InvalidMessage("invalid_stamp", summarize(exc)) from None
        try:
            order = Order.parse(order_fields, ledger_currency=ledger_currency)
        except Invalid as exc:
            raise InvalidMessage("invalid_order", summarize(exc)) from None
        return cls(order=order, stamp=stamp)


def summarize(exc: Invalid) -> str:
    """One line for logs: each failing location and its message (``<order>`` for the
    message as a whole)."""
    return "; ".join(
        f"{'.'.join(str(part) for part in problem.loc) or '<order>'}: {problem.message}"
        for problem in exc.problems
    )


def check_key_text(text: str, field: str) -> str:
    """A key attribute (``order_id``, ``item``) by the order model's rules, for text that
    arrives elsewhere than in an order (the status path); raises Problem."""
    return _key_text(text, field)
