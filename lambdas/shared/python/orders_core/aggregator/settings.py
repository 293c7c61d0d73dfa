"""The aggregator's environment (names as set by the compute stack)."""

from dataclasses import dataclass
from decimal import Decimal

from orders_core.money import parse_amount
from orders_core.settings import CommonSettings, ledger_currency, variable


@dataclass(frozen=True, kw_only=True)
class AggregatorSettings(CommonSettings):
    totals_table_name: str = variable("TOTALS_TABLE_NAME")
    postings_table_name: str = variable("POSTINGS_TABLE_NAME")
    ledger_currency: str = variable("LEDGER_CURRENCY", ledger_currency)
    # A total strictly above this is "high": crossing it upwards publishes one alert. An
    # amount by the ledger's rule ("1000000" or "1000000.50"), never a float.
    high_balance_threshold: Decimal = variable("HIGH_BALANCE_THRESHOLD", parse_amount)
    high_balance_topic_arn: str = variable("HIGH_BALANCE_TOPIC_ARN")
