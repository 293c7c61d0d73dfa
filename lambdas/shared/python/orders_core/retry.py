"""Backoff for transient DynamoDB errors, bounded by the invocation's remaining time."""

from dataclasses import dataclass


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with full jitter, inside a time budget.

    ``safety_margin_ms`` is the time a write attempt needs to be worth starting: one
    DynamoDB call at worst (connect + read timeout of the client, see
    orders_core.process.table.DYNAMODB_CLIENT_CONFIG) plus time to return the batch
    response. A record that would start a call with less time left fails instead, so the
    invocation always reports its partial failures rather than timing out (which would
    redeliver the whole batch).
    """

    base_delay_s: float = 0.05
    max_delay_s: float = 1.0
    max_attempts: int = 8
    safety_margin_ms: int = 3_500

    def delay_s(self, retry_number: int, jitter: float) -> float:
        """Delay before retry ``retry_number`` (1-based); ``jitter`` is uniform in [0, 1)."""
        ceiling = min(self.max_delay_s, self.base_delay_s * 2.0 ** (retry_number - 1))
        return ceiling * jitter

    def can_attempt(self, remaining_ms: int, delay_s: float = 0.0) -> bool:
        """True if, after sleeping ``delay_s``, one more call still fits in the budget."""
        return remaining_ms - delay_s * 1000 >= self.safety_margin_ms
