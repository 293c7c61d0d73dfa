"""What status reads from its environment (set by the compute stack)."""

from dataclasses import dataclass

from orders_core.front import FrontSettings
from orders_core.settings import variable


@dataclass(frozen=True, kw_only=True)
class StatusSettings(FrontSettings):
    orders_table_name: str = variable("ORDERS_TABLE_NAME")
