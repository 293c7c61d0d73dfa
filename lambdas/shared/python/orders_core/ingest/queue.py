"""Data access for the orders queue (SQS): the only code that calls SQS."""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol, Self

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from orders_core.ingest.settings import IngestSettings

# Ingest answers a waiting client, so a failing queue should become a quick 503 (the client
# retries) rather than a long stall: one SDK retry, short timeouts. `total_max_attempts`
# counts the first call too (botocore's `max_attempts` would count retries only).
SQS_CLIENT_CONFIG = Config(
    retries={"mode": "standard", "total_max_attempts": 2},
    connect_timeout=1,
    read_timeout=3,
)


class SqsClient(Protocol):
    def send_message(self, **kwargs: Any) -> dict[str, Any]: ...

    def send_message_batch(self, **kwargs: Any) -> dict[str, Any]: ...


@dataclass(frozen=True)
class SendOutcome:
    """What happened to one message: queued (``message_id``) or not (``error_code``)."""

    message_id: str | None = None
    error_code: str | None = None

    @property
    def queued(self) -> bool:
        return self.message_id is not None


class QueueSendError(Exception):
    """The send call failed as a whole: no message from it was queued."""

    def __init__(self, error_code: str) -> None:
        super().__init__(error_code)
        self.error_code = error_code


class OrdersQueue:
    def __init__(self, client: SqsClient, queue_url: str) -> None:
        self._client = client
        self._queue_url = queue_url

    @classmethod
    def from_settings(cls, settings: IngestSettings) -> Self:
        """The queue named by the function's environment, through a client built once."""
        return cls(boto3.client("sqs", config=SQS_CLIENT_CONFIG), settings.orders_queue_url)

    def send(self, bodies: Sequence[str]) -> list[SendOutcome]:
        """Queue the bodies (one SendMessage, or one SendMessageBatch of up to 10).

        Returns one outcome per body, in order; raises QueueSendError if the call failed.
        """
        try:
            if len(bodies) == 1:
                response = self._client.send_message(
                    QueueUrl=self._queue_url, MessageBody=bodies[0]
                )
                return [SendOutcome(message_id=response["MessageId"])]
            response = self._client.send_message_batch(
                QueueUrl=self._queue_url,
                Entries=[
                    {"Id": str(index), "MessageBody": body} for index, body in enumerate(bodies)
                ],
            )
        except ClientError as exc:
            raise QueueSendError(
                str(exc.response.get("Error", {}).get("Code", "ClientError"))
            ) from exc
        except BotoCoreError as exc:
            raise QueueSendError(type(exc).__name__) from exc
        # An entry SQS reports in neither list was not queued, as far as anyone can tell.
        outcomes = [SendOutcome(error_code="NotReported") for _ in bodies]
        for entry in response.get("Successful", []):
            outcomes[int(entry["Id"])] = SendOutcome(message_id=entry["MessageId"])
        for entry in response.get("Failed", []):
            outcomes[int(entry["Id"])] = SendOutcome(error_code=entry.get("Code", "Unknown"))
        return outcomes
