"""What ingest reads from its environment (set by the compute stack)."""

from pydantic import Field

from orders_core.front import FrontSettings


class IngestSettings(FrontSettings):
    orders_queue_url: str = Field(alias="ORDERS_QUEUE_URL", min_length=1)
