"""Typed settings from the environment, read once per container.

Each function's package holds its own model (``orders_core.ingest.settings``, ...), built
on ``CommonSettings``; the field aliases are the variable names the compute stack sets.
Handlers call ``load_settings`` on their first invocation (through a cached factory), so a
missing variable fails that invocation loudly, before any order is touched, and importing
a handler module never reads the environment.
"""

import os
from collections.abc import Mapping
from typing import Annotated, TypeVar

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError

from orders_core.money import check_ledger_currency


class SettingsError(RuntimeError):
    """The function's environment is incomplete: a deployment mistake, not a client error."""


class CommonSettings(BaseModel):
    """Variables every function needs (names as set by the compute stack)."""

    model_config = ConfigDict(frozen=True, extra="ignore", populate_by_name=False)

    service_name: str = Field(alias="POWERTOOLS_SERVICE_NAME", min_length=1)
    metrics_namespace: str = Field(alias="POWERTOOLS_METRICS_NAMESPACE", min_length=1)
    log_level: str = Field(alias="POWERTOOLS_LOG_LEVEL", default="INFO", min_length=1)


LedgerCurrency = Annotated[str, AfterValidator(check_ledger_currency)]
"""A settings field type: the ledger's one currency (env ``LEDGER_CURRENCY``), such as IDR."""

SettingsT = TypeVar("SettingsT", bound=CommonSettings)


def load_settings(model: type[SettingsT], environ: Mapping[str, str] | None = None) -> SettingsT:
    """Build ``model`` from the environment; SettingsError names every bad variable."""
    source = os.environ if environ is None else environ
    try:
        return model.model_validate(dict(source))
    except ValidationError as exc:
        names = sorted({str(error["loc"][0]) for error in exc.errors() if error["loc"]})
        raise SettingsError(f"missing or empty environment variables: {', '.join(names)}") from None
