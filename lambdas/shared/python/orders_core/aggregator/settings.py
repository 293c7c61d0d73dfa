"""The aggregator's environment (names as set by the compute stack)."""

from decimal import Decimal
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator, Field

from orders_core.money import check_ledger_currency, parse_amount
from orders_core.settings import CommonSettings


def _threshold(value: Any) -> Decimal:
    # An amount by the ledger's rule ("1000000" or "1000000.50"), never a float.
    return parse_amount(value)


class AggregatorSettings(CommonSettings):
    totals_table_name: str = Field(alias="TOTALS_TABLE_NAME", min_length=1)
    postings_table_name: str = Field(alias="POSTINGS_TABLE_NAME", min_length=1)
    ledger_currency: Annotated[str, AfterValidator(check_ledger_currency)] = Field(
        alias="LEDGER_CURRENCY"
    )
    # A total strictly above this is "high": crossing it upwards publishes one alert.
    high_balance_threshold: Annotated[Decimal, BeforeValidator(_threshold)] = Field(
        alias="HIGH_BALANCE_THRESHOLD"
    )
    high_balance_topic_arn: str = Field(alias="HIGH_BALANCE_TOPIC_ARN", min_length=1)
