"""What ingest reads from its environment (set by the compute stack)."""

from pydantic import Field

from orders_core.front import FrontSettings
from orders_core.settings import LedgerCurrency


class IngestSettings(FrontSettings):
    orders_queue_url: str = Field(alias="ORDERS_QUEUE_URL", min_length=1)
    # An order's optional currency must be this one (orders_core.money).
    ledger_currency: LedgerCurrency = Field(alias="LEDGER_CURRENCY")
