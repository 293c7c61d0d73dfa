"""What status reads from its environment (set by the compute stack)."""

from pydantic import Field

from orders_core.front import FrontSettings


class StatusSettings(FrontSettings):
    orders_table_name: str = Field(alias="ORDERS_TABLE_NAME", min_length=1)
