"""What process reads from its environment (set by the compute stack)."""

from pydantic import Field

from orders_core.settings import CommonSettings, LedgerCurrency


class ProcessSettings(CommonSettings):
    orders_table_name: str = Field(alias="ORDERS_TABLE_NAME", min_length=1)
    # The queue's redrive maxReceiveCount: a record failing on that receive goes to the DLQ.
    max_receive_count: int = Field(alias="ORDERS_MAX_RECEIVE_COUNT", ge=1)
    # Every message is validated again, by the same rules as at ingest (orders_core.money).
    ledger_currency: LedgerCurrency = Field(alias="LEDGER_CURRENCY")
