"""Data access for the orders table (DynamoDB): the only code that calls DynamoDB.

Writes are conditional so the table converges on the newest version of each
(order_id, item), whatever order SQS delivers copies in: a copy whose version is not
greater than the stored one is skipped, not written.
"""

import random
import time
from collections.abc import Callable, Mapping
from enum import StrEnum
from typing import Any, Final, Protocol, Self

import boto3
from boto3.dynamodb.types import TypeSerializer
from botocore.config import Config
from botocore.exceptions import ClientError, ConnectionError, HTTPClientError

from orders_core.process.settings import ProcessSettings
from orders_core.retry import RetryPolicy

# Retries are ours (RetryPolicy, bounded by the Lambda's remaining time, counted in the
# WriteRetries metric), so the SDK makes exactly one attempt per call. Left to its defaults
# the DynamoDB client would retry up to 10 times with its own backoff, unaware of the
# function's deadline. Short timeouts bound how long one attempt can take, which
# RetryPolicy.safety_margin_ms must cover.
# `total_max_attempts` counts the first call too: botocore's `max_attempts` counts retries
# only, so `max_attempts=1` would still retry once behind the handler's back.
DYNAMODB_CLIENT_CONFIG: Final = Config(
    retries={"mode": "standard", "total_max_attempts": 1},
    connect_timeout=1,
    read_timeout=2,
)

TRANSIENT_ERROR_CODES: Final = frozenset(
    {
        "ProvisionedThroughputExceededException",
        "ThrottlingException",
        "RequestLimitExceeded",
        "InternalServerError",
        "ServiceUnavailable",
    }
)
_CONDITION_FAILED: Final = "ConditionalCheckFailedException"
CONDITION_EXPRESSION: Final = "attribute_not_exists(order_id) OR #version < :version"


class DynamoDbClient(Protocol):
    def put_item(self, **kwargs: Any) -> dict[str, Any]: ...


class WriteOutcome(StrEnum):
    STORED = "stored"
    STALE = "stale"  # an equal or newer version is already in the table


class StoreError(Exception):
    """The item was not written; the record should fail and be redelivered."""

    def __init__(self, reason: str, error_code: str, attempts: int) -> None:
        super().__init__(f"{reason} ({error_code}) after {attempts} attempt(s)")
        self.reason = reason
        self.error_code = error_code
        self.attempts = attempts


RetryHook = Callable[[str, int, float], None]
"""Called before each retry with (error code, retry number, delay in seconds)."""


class OrdersTable:
    def __init__(
        self,
        client: DynamoDbClient,
        table_name: str,
        *,
        policy: RetryPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
        jitter: Callable[[], float] = random.random,
    ) -> None:
        self._client = client
        self._table_name = table_name
        self._policy = policy or RetryPolicy()
        self._sleep = sleep
        self._jitter = jitter
        self._serializer = TypeSerializer()

    @classmethod
    def from_settings(cls, settings: ProcessSettings) -> Self:
        """The table named by the function's environment, through a client built once."""
        return cls(
            boto3.client("dynamodb", config=DYNAMODB_CLIENT_CONFIG), settings.orders_table_name
        )

    def put_if_newer(
        self,
        item: Mapping[str, Any],
        *,
        remaining_ms: Callable[[], int],
        on_retry: RetryHook | None = None,
    ) -> WriteOutcome:
        """Write ``item`` unless the table holds an equal or newer ``version`` of it.

        Transient errors are retried with backoff while the budget allows; then, or on any
        other error, StoreError is raised.
        """
        request = {
            "TableName": self._table_name,
            "Item": {name: self._serializer.serialize(value) for name, value in item.items()},
            "ConditionExpression": CONDITION_EXPRESSION,
            "ExpressionAttributeNames": {"#version": "version"},
            "ExpressionAttributeValues": {":version": {"S": item["version"]}},
        }
        policy = self._policy
        attempts = 0
        if not policy.can_attempt(remaining_ms()):
            raise StoreError("write_budget_exhausted", "NoTimeLeft", attempts)
        while True:
            attempts += 1
            try:
                self._client.put_item(**request)
            except ClientError as exc:
                code = str(exc.response.get("Error", {}).get("Code", ""))
                if code == _CONDITION_FAILED:
                    return WriteOutcome.STALE
                if code not in TRANSIENT_ERROR_CODES:
                    raise StoreError("write_rejected", code or "ClientError", attempts) from exc
                error_code, cause = code, exc
            except (ConnectionError, HTTPClientError) as exc:
                error_code, cause = type(exc).__name__, exc
            else:
                return WriteOutcome.STORED
            delay = policy.delay_s(attempts, self._jitter())
            if attempts >= policy.max_attempts or not policy.can_attempt(remaining_ms(), delay):
                raise StoreError("write_budget_exhausted", error_code, attempts) from cause
            if on_retry is not None:
                on_retry(error_code, attempts, delay)
            self._sleep(delay)
