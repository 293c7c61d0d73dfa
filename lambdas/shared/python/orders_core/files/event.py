"""The EventBridge "Object Created" event from the files bucket, read into an ObjectRef.

Shape: docs.aws.amazon.com/AmazonS3/latest/userguide/ev-events.html. ``version-id`` is
absent when the bucket is not versioned. Only the fields used here are checked; any
other field is ignored.
"""

from collections.abc import Mapping
from typing import Any

from orders_core.files.bucket import ObjectRef
from orders_core.validation import Checks, Invalid, Problem, string


class InvalidEvent(ValueError):
    """Not an S3 object event this function can act on (a wiring mistake)."""


def _nonempty_text(value: Any) -> str:
    text = string(value)
    if not text:
        raise Problem("string_too_short", "String should have at least 1 character")
    return text


def _section(value: Any) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise Problem("model_type", "Input should be a valid dictionary")
    return value


def _bucket(value: Any) -> str:
    checks = Checks()
    name = checks.required(_section(value), "name", _nonempty_text)
    checks.done()
    assert name is not None  # done() raised otherwise
    return name


def _object(value: Any) -> tuple[str, str | None]:
    data = _section(value)
    checks = Checks()
    key = checks.required(data, "key", _nonempty_text)
    version_id = checks.optional(data, "version-id", string)
    checks.done()
    assert key is not None  # done() raised otherwise
    return key, version_id


def _detail(value: Any) -> ObjectRef:
    data = _section(value)
    checks = Checks()
    bucket = checks.required(data, "bucket", _bucket)
    obj = checks.required(data, "object", _object)
    checks.done()
    assert bucket is not None  # done() raised otherwise
    assert obj is not None
    return ObjectRef(bucket=bucket, key=obj[0], version_id=obj[1])


class ObjectCreatedEvent:
    """Reads the event the files bucket's rule delivers."""

    @classmethod
    def parse(cls, event: Any) -> ObjectRef:
        """The object the event names; raises InvalidEvent for anything else."""
        try:
            data = _section(event)
            checks = Checks()
            detail_type = checks.required(data, "detail-type", string)
            source = checks.required(data, "source", string)
            ref = checks.required(data, "detail", _detail)
            checks.done()
        except (Problem, Invalid) as exc:
            errors = len(exc.problems) if isinstance(exc, Invalid) else 1
            raise InvalidEvent(f"not an S3 EventBridge event: {errors} error(s)") from None
        if source != "aws.s3" or detail_type != "Object Created":
            raise InvalidEvent(f"unexpected event {source} / {detail_type}")
        assert ref is not None  # done() raised otherwise
        return ref
