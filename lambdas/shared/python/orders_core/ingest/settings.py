"""What ingest reads from its environment (set by the compute stack)."""

from dataclasses import dataclass

from orders_core.front import FrontSettings
from orders_core.settings import ledger_currency, variable


@dataclass(frozen=True, kw_only=True)
class IngestSettings(FrontSettings):
    orders_queue_url: str = variable("ORDERS_QUEUE_URL")
    # An order's optional currency must be this one (orders_core.money).
    ledger_currency: str = variable("LEDGER_CURRENCY", ledger_currency)
