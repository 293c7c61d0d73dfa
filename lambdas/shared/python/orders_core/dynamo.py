"""What the ledger's DynamoDB callers share: one-attempt clients, error codes, backoff.

As for the orders table (see orders_core.retry), retries are ours, bounded by the
invocation's remaining time and counted in metrics; the SDK makes one attempt per call.
"""

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Final

from botocore.config import Config
from botocore.exceptions import ClientError

from orders_core.retry import RetryPolicy

TRANSIENT_ERROR_CODES: Final = frozenset(
    {
        "ProvisionedThroughputExceededException",
        "ThrottlingException",
        "RequestLimitExceeded",
        "InternalServerError",
        "ServiceUnavailable",
        "TransactionInProgressException",
    }
)
CONDITION_FAILED: Final = "ConditionalCheckFailedException"
TRANSACTION_CANCELED: Final = "TransactionCanceledException"


def client_config(*, max_pool_connections: int = 10, read_timeout_s: int = 2) -> Config:
    """One attempt per call (``total_max_attempts`` counts the first), short timeouts."""
    return Config(
        retries={"mode": "standard", "total_max_attempts": 1},
        connect_timeout=1,
        read_timeout=read_timeout_s,
        max_pool_connections=max_pool_connections,
    )


def error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", "")) or "ClientError"


class RetriesExhausted(Exception):
    """A transient failure outlasted the attempts or the time budget; the caller fails so
    that the whole unit of work (file, stream record) is retried later."""

    def __init__(self, what: str, error_code: str, attempts: int) -> None:
        super().__init__(f"{what}: {error_code} after {attempts} attempt(s)")
        self.what = what
        self.error_code = error_code
        self.attempts = attempts


RetryHook = Callable[[str, int, float], None]
"""Called before each retry with (error code, retry number, delay in seconds)."""


@dataclass(frozen=True)
class Backoff:
    """Sleeps between attempts, or raises RetriesExhausted when no attempt fits any more."""

    remaining_ms: Callable[[], int]
    policy: RetryPolicy = field(default_factory=RetryPolicy)
    sleep: Callable[[float], None] = time.sleep
    jitter: Callable[[], float] = random.random
    on_retry: RetryHook | None = None

    def check(self, what: str) -> None:
        """Raise RetriesExhausted if not even a first attempt fits in the budget."""
        if not self.policy.can_attempt(self.remaining_ms()):
            raise RetriesExhausted(what, "NoTimeLeft", 0)

    def pause(self, what: str, error_code: str, attempts: int) -> None:
        """Wait before attempt ``attempts + 1``, or raise RetriesExhausted."""
        delay = self.policy.delay_s(attempts, self.jitter())
        if attempts >= self.policy.max_attempts or not self.policy.can_attempt(
            self.remaining_ms(), delay
        ):
            raise RetriesExhausted(what, error_code, attempts)
        if self.on_retry is not None:
            self.on_retry(error_code, attempts, delay)
        self.sleep(delay)
