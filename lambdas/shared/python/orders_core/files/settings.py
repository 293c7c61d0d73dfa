"""The file processor's environment (names as set by the compute stack)."""

from typing import Annotated

from pydantic import AfterValidator, Field

from orders_core.money import check_ledger_currency
from orders_core.settings import CommonSettings

LedgerCurrency = Annotated[str, AfterValidator(check_ledger_currency)]


class FilesSettings(CommonSettings):
    transactions_table_name: str = Field(alias="TRANSACTIONS_TABLE_NAME", min_length=1)
    customers_table_name: str = Field(alias="CUSTOMERS_TABLE_NAME", min_length=1)
    ledger_currency: LedgerCurrency = Field(alias="LEDGER_CURRENCY")
    # A larger file is not read: it is reported as unreadable (one entry) and moved.
    file_max_bytes: int = Field(alias="FILE_MAX_BYTES", ge=1)
    # Threads writing to DynamoDB while the main thread reads (see files/writers.py).
    writer_threads: int = Field(alias="FILE_WRITER_THREADS", default=8, ge=1, le=32)
