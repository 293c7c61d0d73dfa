"""The order model both functions share, and the stamped form that travels on the queue.

Ingest validates what clients send with ``Order``; process validates every queue message
with the same model (via ``AcceptedOrder``), so a message that ingest would have refused
can never be written, and anything ingest accepts can be stored by DynamoDB as is.
"""

import re
from collections.abc import Callable
from decimal import Decimal, DecimalException
from typing import Annotated, Any, Final, Self

from boto3.dynamodb.types import DYNAMODB_CONTEXT
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_core import InitErrorDetails, PydanticCustomError

from orders_core.jsonutil import InvalidJson, dumps_json, parse_json
from orders_core.limits import (
    DYNAMODB_MAX_EXPONENT,
    DYNAMODB_MIN_EXPONENT,
    MAX_EXTRA_FIELDS,
    MAX_FIELD_NAME_CHARS,
    MAX_KEY_CHARS,
    MAX_NESTING_DEPTH,
    MAX_QTY,
)
from orders_core.money import Amount, Currency
from orders_core.validation import Problem
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


def _check_extra_value(value: Any) -> Any:
    problem = _value_problem(value, "", 0)
    if problem:
        raise PydanticCustomError("unstorable_value", problem)
    return value


def _reject_reserved(value: Any) -> None:
    raise PydanticCustomError(
        "reserved_field", "this field is set by the service and cannot be sent"
    )


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


def _pydantic(check: Callable[..., str], *args: Any) -> str:
    try:
        return check(*args)
    except Problem as exc:
        raise PydanticCustomError(exc.kind, exc.message) from None


def _check_customer_id(value: Any) -> str:
    return _pydantic(id_text, value, "customer_id")


CustomerId = Annotated[str, BeforeValidator(_check_customer_id)]
"""The customer an amount counts toward, in orders and in files alike."""

ExtraValue = Annotated[Any, BeforeValidator(_check_extra_value)]
# A field that is present only to refuse it, so the error names the field.
Reserved = Annotated[None, BeforeValidator(_reject_reserved)]


class Order(BaseModel):
    """One order as a client sends it.

    ``order_id`` and ``item`` are the table's keys; ``qty`` is optional; any other field is
    kept as sent (bounded), except the names the service stamps (see ``Stamp``).
    """

    model_config = ConfigDict(extra="allow", frozen=True)

    __pydantic_extra__: dict[str, ExtraValue] = Field(init=False)

    order_id: str
    item: str
    qty: int | None = None
    # The ledger (orders_core.money): both or neither of customer_id and amount; currency
    # is checked against context={"ledger_currency": ...} (money.validation_context).
    customer_id: CustomerId | None = None
    amount: Amount | None = None
    currency: Currency | None = None

    # System attributes (Stamp's fields): refused with a precise location when sent.
    accepted_at: Reserved = Field(default=None, exclude=True, repr=False)
    request_id: Reserved = Field(default=None, exclude=True, repr=False)
    version: Reserved = Field(default=None, exclude=True, repr=False)
    auth_subject: Reserved = Field(default=None, exclude=True, repr=False)

    @model_validator(mode="before")
    @classmethod
    def _check_shape(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            raise PydanticCustomError("order_type", "an order must be a JSON object")
        extra_names = [name for name in data if name not in cls.model_fields]
        if len(extra_names) > MAX_EXTRA_FIELDS:
            raise PydanticCustomError(
                "too_many_fields",
                f"an order may have at most {MAX_EXTRA_FIELDS} fields besides order_id, "
                "item and qty",
            )
        if not all(_is_valid_field_name(name) for name in extra_names):
            raise PydanticCustomError(
                "field_name",
                f"field names must be 1-{MAX_FIELD_NAME_CHARS} characters of storable text",
            )
        return data

    @model_validator(mode="after")
    def _check_ledger_fields(self) -> Self:
        """customer_id and amount come together; the error names the missing one."""
        if (self.customer_id is None) == (self.amount is None):
            return self
        missing, given = (
            ("customer_id", "amount") if self.customer_id is None else ("amount", "customer_id")
        )
        error = PydanticCustomError(
            "ledger_fields", f"{missing} is required when {given} is given (both or neither)"
        )
        raise ValidationError.from_exception_data(
            type(self).__name__, [InitErrorDetails(type=error, loc=(missing,), input=None)]
        )

    @field_validator("order_id", mode="before")
    @classmethod
    def _check_order_id(cls, value: Any) -> str:
        # bool is an int in Python, but true is not an order id.
        if isinstance(value, bool) or not isinstance(value, str | int):
            raise PydanticCustomError(
                "order_id_type", "order_id must be a non-empty string or an integer"
            )
        return _pydantic(_key_text, value if isinstance(value, str) else str(value), "order_id")

    @field_validator("item", mode="before")
    @classmethod
    def _check_item(cls, value: Any) -> str:
        if not isinstance(value, str):
            raise PydanticCustomError("item_type", "item must be a non-empty string")
        return _pydantic(_key_text, value, "item")

    @field_validator("qty", mode="before")
    @classmethod
    def _check_qty(cls, value: Any) -> int:
        if isinstance(value, Decimal | float):
            # A number written with a fraction or exponent (2.5, but also 2.0 or 2e0) is not
            # an integer literal: refused rather than silently truncated or normalized.
            raise PydanticCustomError(
                "qty_not_integer",
                "qty must be written as an integer such as 2 (2.5, 2.0 and 2e0 are refused)",
            )
        if isinstance(value, bool) or not isinstance(value, int):
            raise PydanticCustomError("qty_type", "qty must be a positive integer")
        if not 1 <= value <= MAX_QTY:
            raise PydanticCustomError("qty_range", f"qty must be between 1 and {MAX_QTY}")
        return value

    def attributes(self) -> dict[str, Any]:
        """The order's fields as stored: order_id, item, qty if given, then the extras."""
        result: dict[str, Any] = {"order_id": self.order_id, "item": self.item}
        if self.qty is not None:
            result["qty"] = self.qty
        for name in ("customer_id", "amount", "currency"):
            value = getattr(self, name)
            if value is not None:
                result[name] = value
        result.update(self.model_extra or {})
        return result


class Stamp(BaseModel):
    """The system attributes ingest adds to an accepted order (see orders_core.versioning)."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    accepted_at: str = Field(pattern=ACCEPTED_AT_PATTERN)
    request_id: str = Field(pattern=REQUEST_ID_PATTERN)
    version: str = Field(pattern=VERSION_PATTERN)
    # The caller the edge authenticated (orders_core.front); absent without one.
    auth_subject: str | None = Field(default=None, pattern=SUBJECT_PATTERN)

    @classmethod
    def create(
        cls, *, accepted_at: str, request_id: str, position: int, auth_subject: str | None = None
    ) -> Self:
        return cls(
            accepted_at=accepted_at,
            request_id=request_id,
            version=make_version(accepted_at, request_id, position),
            auth_subject=auth_subject,
        )

    @model_validator(mode="after")
    def _check_version_matches(self) -> Self:
        prefix = f"{self.accepted_at}{SEPARATOR}{self.request_id}{SEPARATOR}"
        if not self.version.startswith(prefix):
            raise PydanticCustomError(
                "version_mismatch", "version does not match accepted_at and request_id"
            )
        return self


SYSTEM_ATTRIBUTES: Final[tuple[str, ...]] = tuple(Stamp.model_fields)


class InvalidMessage(ValueError):
    """A queue message that can never be stored, however often it is retried."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


class AcceptedOrder(BaseModel):
    """An order ingest accepted, with its stamp: the queue message and the table item."""

    model_config = ConfigDict(frozen=True)

    order: Order
    stamp: Stamp

    def to_message(self) -> dict[str, Any]:
        return {**self.order.attributes(), **self.stamp.model_dump(exclude_none=True)}

    def to_message_body(self) -> str:
        return dumps_json(self.to_message())

    def to_item(self) -> dict[str, Any]:
        """The DynamoDB item (plain Python values; numbers are int or Decimal)."""
        return self.to_message()

    @classmethod
    def from_message_body(cls, body: str, *, context: dict[str, Any] | None = None) -> Self:
        """Parse and validate a queue message; raises InvalidMessage if it can never succeed.

        ``context`` is the order's validation context (money.validation_context): an
        order carrying ``currency`` needs it.
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
            stamp = Stamp.model_validate(stamp_fields)
        except ValidationError as exc:
            raise InvalidMessage("invalid_stamp", summarize(exc)) from None
        try:
            order = Order.model_validate(order_fields, context=context)
        except ValidationError as exc:
            raise InvalidMessage("invalid_order", summarize(exc)) from None
        return cls(order=order, stamp=stamp)


def error_details(exc: ValidationError) -> list[dict[str, Any]]:
    """Client-safe error details: where, what, and a machine-readable type (no input echo)."""
    return [
        {"loc": list(error["loc"]), "msg": error["msg"], "type": error["type"]}
        for error in exc.errors(include_url=False, include_input=False, include_context=False)
    ]


def summarize(exc: ValidationError) -> str:
    """One line for logs: each failing location and its message."""
    return "; ".join(
        f"{'.'.join(str(part) for part in detail['loc']) or '<order>'}: {detail['msg']}"
        for detail in error_details(exc)
    )


def check_key_text(text: str, field: str) -> str:
    """A key attribute (``order_id``, ``item``) by the order model's rules, for text that
    arrives elsewhere than in an order (the status path); raises Problem."""
    return _key_text(text, field)
