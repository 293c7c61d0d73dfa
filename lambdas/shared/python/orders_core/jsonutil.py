"""JSON in and out without losing a digit.

Floats are parsed as Decimal (DynamoDB and exact arithmetic need it), NaN and Infinity are
rejected (they are not JSON), duplicate keys are rejected (parsers disagree on which one
wins), and serialization writes Decimals back as the same JSON numbers.
"""

import dataclasses
import json
from collections.abc import Mapping
from decimal import Decimal
from typing import Any, Literal

# Python refuses to turn integer strings longer than 4300 digits into int; such numbers can
# never be stored anyway, so they become Decimals and fail validation like any huge number.
_MAX_INT_DIGITS = 4000

JsonErrorCode = Literal["malformed_json", "nesting_too_deep"]


class InvalidJson(ValueError):
    """The text is not a JSON document this service can read."""

    def __init__(self, code: JsonErrorCode, message: str) -> None:
        super().__init__(message)
        self.code: JsonErrorCode = code
        self.message = message


def _parse_int(text: str) -> int | Decimal:
    if len(text) > _MAX_INT_DIGITS:
        return Decimal(text)
    return int(text)


def _reject_constant(name: str) -> Any:
    raise InvalidJson("malformed_json", f"{name} is not a valid JSON number")


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise InvalidJson("malformed_json", "an object has a duplicate key")
        result[key] = value
    return result


def parse_json(text: str) -> Any:
    """Parse a JSON document, numbers with a fraction or exponent as Decimal.

    Raises InvalidJson for anything that is not one well-formed JSON document.
    """
    try:
        return json.loads(
            text,
            parse_float=Decimal,
            parse_int=_parse_int,
            parse_constant=_reject_constant,
            object_pairs_hook=_unique_keys,
        )
    except InvalidJson:
        raise
    except json.JSONDecodeError as exc:
        raise InvalidJson(
            "malformed_json", f"malformed JSON at line {exc.lineno} column {exc.colno}"
        ) from None
    except RecursionError:
        raise InvalidJson("nesting_too_deep", "the JSON document is nested too deeply") from None
    except ValueError:
        raise InvalidJson("malformed_json", "malformed JSON") from None


def present_fields(instance: Any) -> dict[str, Any]:
    """A dataclass instance's fields in declaration order, without those that are None:
    how answers and stored items leave out what does not apply (never a JSON null)."""
    return {
        field.name: value
        for field in dataclasses.fields(instance)
        if (value := getattr(instance, field.name)) is not None
    }


def dumps_json(value: Any) -> str:
    """Serialize parsed JSON values compactly; Decimals are written exactly as numbers.

    Accepts what parse_json produces (dict, list, str, int, Decimal, bool, None); anything
    else raises TypeError. Non-ASCII text is kept as UTF-8 (json escapes control characters).
    """
    parts: list[str] = []
    _dump_into(value, parts)
    return "".join(parts)


def _dump_into(value: Any, parts: list[str]) -> None:
    if value is None or isinstance(value, bool | str):
        parts.append(json.dumps(value, ensure_ascii=False))
    elif isinstance(value, int):
        parts.append(str(value))
    elif isinstance(value, Decimal):
        if not value.is_finite():
            raise TypeError("NaN and Infinity cannot be written as JSON")
        parts.append(str(value))
    elif isinstance(value, Mapping):
        parts.append("{")
        for position, (key, item) in enumerate(value.items()):
            if not isinstance(key, str):
                raise TypeError("JSON object keys must be strings")
            if position:
                parts.append(",")
            parts.append(json.dumps(key, ensure_ascii=False))
            parts.append(":")
            _dump_into(item, parts)
        parts.append("}")
    elif isinstance(value, list | tuple):
        parts.append("[")
        for position, item in enumerate(value):
            if position:
                parts.append(",")
            _dump_into(item, parts)
        parts.append("]")
    else:
        raise TypeError(f"{type(value).__name__} is not a JSON value")
