"""The EventBridge "Object Created" event from the files bucket, as a model.

Shape: docs.aws.amazon.com/AmazonS3/latest/userguide/ev-events.html. ``version-id`` is
absent when the bucket is not versioned.
"""

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from orders_core.files.bucket import ObjectRef


class InvalidEvent(ValueError):
    """Not an S3 object event this function can act on (a wiring mistake)."""


class _Bucket(BaseModel):
    name: str = Field(min_length=1)


class _Object(BaseModel):
    model_config = ConfigDict(populate_by_name=False)

    key: str = Field(min_length=1)
    version_id: str | None = Field(default=None, alias="version-id")


class _Detail(BaseModel):
    bucket: _Bucket
    object: _Object


class ObjectCreatedEvent(BaseModel):
    detail_type: str = Field(alias="detail-type")
    source: str
    detail: _Detail

    @classmethod
    def parse(cls, event: Any) -> ObjectRef:
        try:
            parsed = cls.model_validate(event)
        except ValidationError as exc:
            errors = exc.error_count()
            raise InvalidEvent(f"not an S3 EventBridge event: {errors} error(s)") from None
        if parsed.source != "aws.s3" or parsed.detail_type != "Object Created":
            raise InvalidEvent(f"unexpected event {parsed.source} / {parsed.detail_type}")
        return ObjectRef(
            bucket=parsed.detail.bucket.name,
            key=parsed.detail.object.key,
            version_id=parsed.detail.object.version_id,
        )
