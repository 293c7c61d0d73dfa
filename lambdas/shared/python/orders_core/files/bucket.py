"""The S3 side of the file processor: the files bucket's prefixes, streaming, moving.

Layout: partners upload under ``incoming/``; a processed file moves to ``processed/``
(same name); its rejected lines go to ``rejected/<name>.jsonl``.

Versions: the bucket is versioned, so an event names the exact version it is about.
Only the current version of a key is processed (an older one was superseded by a
re-upload, whose own event follows). Moving copies that version and then deletes that
version only, so a re-upload that lands while a file is being processed stays in
``incoming/`` for its own event.
"""

from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO, Any, Final, Protocol
from urllib.parse import unquote_plus

from boto3.s3.transfer import TransferConfig
from botocore.exceptions import ClientError

from orders_core.limits import KIB

INCOMING: Final = "incoming/"
PROCESSED: Final = "processed/"
REJECTED: Final = "rejected/"
REPORT_SUFFIX: Final = ".jsonl"
CHUNK_BYTES: Final = 256 * KIB
_MIB: Final = 1024 * KIB
# CopyObject copies up to 5 GiB in one call; larger objects are copied in parts.
_TRANSFER: Final = TransferConfig(
    multipart_threshold=5 * 1024 * _MIB, multipart_chunksize=512 * _MIB, use_threads=False
)
_MISSING: Final = frozenset({"NoSuchKey", "404", "NotFound"})


class S3Client(Protocol):
    def get_object(self, **kwargs: Any) -> dict[str, Any]: ...

    def delete_object(self, **kwargs: Any) -> dict[str, Any]: ...

    def upload_fileobj(self, *args: Any, **kwargs: Any) -> None: ...

    def copy(self, *args: Any, **kwargs: Any) -> None: ...


@dataclass(frozen=True)
class ObjectRef:
    """The object an event is about (``version_id`` None in an unversioned bucket)."""

    bucket: str
    key: str
    version_id: str | None = None

    @property
    def name(self) -> str:
        """The key after ``incoming/``."""
        return self.key.removeprefix(INCOMING)

    @property
    def processed_key(self) -> str:
        return PROCESSED + self.name

    @property
    def report_key(self) -> str:
        return REJECTED + self.name + REPORT_SUFFIX


@dataclass
class OpenObject:
    """A streaming GetObject: the body is read chunk by chunk, never whole."""

    ref: ObjectRef
    version_id: str | None
    size: int
    _body: Any

    def chunks(self) -> Iterator[bytes]:
        chunks: Iterator[bytes] = self._body.iter_chunks(chunk_size=CHUNK_BYTES)
        return chunks

    def close(self) -> None:
        self._body.close()


def candidate_keys(event_key: str) -> list[str]:
    """The key as the event spells it, then URL-decoded: S3 notifications encode keys
    ("a b.csv" arrives as "a+b.csv"); EventBridge's documented examples do not."""
    decoded = unquote_plus(event_key)
    return [event_key] if decoded == event_key else [event_key, decoded]


class FilesBucket:
    def __init__(self, client: S3Client) -> None:
        self._client = client

    def open(self, ref: ObjectRef) -> OpenObject | None:
        """The object's current version, streaming; None if the key no longer exists."""
        try:
            response = self._client.get_object(Bucket=ref.bucket, Key=ref.key)
        except ClientError as exc:
            if str(exc.response.get("Error", {}).get("Code")) in _MISSING:
                return None
            raise
        return OpenObject(
            ref=ref,
            version_id=response.get("VersionId"),
            size=int(response.get("ContentLength", 0)),
            _body=response["Body"],
        )

    def put_report(self, ref: ObjectRef, report: IO[bytes]) -> None:
        self._client.upload_fileobj(
            report,
            ref.bucket,
            ref.report_key,
            ExtraArgs={"ContentType": "application/x-ndjson"},
        )

    def delete_report(self, ref: ObjectRef) -> None:
        """Remove a report left by an earlier upload of the same name (no error if none)."""
        self._client.delete_object(Bucket=ref.bucket, Key=ref.report_key)

    def move_to_processed(self, ref: ObjectRef, version_id: str | None) -> None:
        """Copy this version to ``processed/``, then delete this version from incoming."""
        source: dict[str, str] = {"Bucket": ref.bucket, "Key": ref.key}
        if version_id is not None:
            source["VersionId"] = version_id
        self._client.copy(source, ref.bucket, ref.processed_key, Config=_TRANSFER)
        if version_id is None:
            self._client.delete_object(Bucket=ref.bucket, Key=ref.key)
        else:
            self._client.delete_object(Bucket=ref.bucket, Key=ref.key, VersionId=version_id)
