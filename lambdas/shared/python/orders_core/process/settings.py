"""What process reads from its environment (set by the compute stack)."""

from dataclasses import dataclass

from orders_core.settings import CommonSettings, integer, ledger_currency, variable


@dataclass(frozen=True, kw_only=True)
class ProcessSettings(CommonSettings):
    orders_table_name: str = variable("ORDERS_TABLE_NAME")
    # The queue's redrive maxReceiveCount: a record failing on that receive goes to the DLQ.
    max_receive_count: int = variable("ORDERS_MAX_RECEIVE_COUNT", integer(low=1))
    # Every message is validated again, by the same rules as at ingest (orders_core.money).
    ledger_currency: str = variable("LEDGER_CURRENCY", ledger_currency)
