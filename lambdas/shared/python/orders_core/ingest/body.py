"""Reading an ALB request body: content type, base64, size, UTF-8, then JSON.

Works on the event dict alone, not on the router, so it is tested by building events
directly. Every refusal is an ``orders_core.http`` error.
"""

import base64
import binascii
from typing import Any, Final

from orders_core.http import (
    BadRequest,
    Event,
    PayloadTooLarge,
    UnsupportedMediaType,
    ValidationFailed,
    body_text,
    header,
    is_base64_encoded,
)
from orders_core.jsonutil import InvalidJson, parse_json
from orders_core.limits import MAX_BODY_BYTES

JSON_MEDIA_TYPE: Final = "application/json"
_UTF8_CHARSETS: Final = frozenset({"utf-8", "utf8"})
# A base64 text longer than this decodes to more than MAX_BODY_BYTES: refuse it undecoded.
MAX_BASE64_CHARS: Final = 4 * ((MAX_BODY_BYTES + 2) // 3)

__all__ = ["header", "is_json_content_type", "read_body", "read_payload"]


def read_payload(event: Event) -> Any:
    """The request's JSON document (numbers with a fraction or exponent as Decimal)."""
    return parse_body(read_body(event))


def is_json_content_type(value: str | None) -> bool:
    """application/json, optionally with charset=utf-8 (JSON is UTF-8 by definition)."""
    if value is None:
        return False
    media_type, _, parameters = value.partition(";")
    if media_type.strip().lower() != JSON_MEDIA_TYPE:
        return False
    for parameter in parameters.split(";"):
        name, _, argument = parameter.partition("=")
        charset = argument.strip().strip('"').lower()
        if name.strip().lower() == "charset" and charset not in _UTF8_CHARSETS:
            return False
    return True


def read_body(event: Event) -> str:
    """The body as text: content type checked, base64 undone, size bounded, UTF-8 decoded."""
    if not is_json_content_type(header(event, "content-type")):
        raise UnsupportedMediaType(f"send the order as {JSON_MEDIA_TYPE}")
    raw = body_text(event)
    if is_base64_encoded(event):
        if len(raw) > MAX_BASE64_CHARS:
            raise PayloadTooLarge(f"the body exceeds {MAX_BODY_BYTES} bytes")
        try:
            data = base64.b64decode(raw, validate=True)
        except (binascii.Error, ValueError):
            raise BadRequest("the body is not valid base64", code="invalid_base64") from None
    else:
        # surrogatepass: a text body carrying lone surrogates fails the UTF-8 check below.
        data = raw.encode("utf-8", "surrogatepass")
    if len(data) > MAX_BODY_BYTES:
        raise PayloadTooLarge(f"the body exceeds {MAX_BODY_BYTES} bytes")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise BadRequest("the body is not valid UTF-8", code="invalid_utf8") from None


def parse_body(text: str) -> Any:
    """Parse the body text; unreadable JSON is 400, JSON nested past the parser is 422."""
    try:
        return parse_json(text)
    except InvalidJson as exc:
        if exc.code == "nesting_too_deep":
            raise ValidationFailed(exc.message, code=exc.code) from None
        raise BadRequest(exc.message, code=exc.code) from None
