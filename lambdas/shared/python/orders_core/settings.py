"""Typed settings from the environment, read once per container.

Each function's package holds its own settings class (``orders_core.ingest.settings``,
...), a frozen keyword-only dataclass built on ``CommonSettings``, whose fields are
declared with ``variable(NAME, read)``: the variable the compute stack sets and the
function that turns its text into the field's value (raising ValueError if it cannot).
Handlers call ``load_settings`` on their first invocation (through a cached factory), so
a missing variable fails that invocation loudly, before any order is touched, and
importing a handler module never reads the environment.

Plain dataclasses rather than pydantic: see orders_core.validation for why.
"""

import dataclasses
import os
from collections.abc import Callable, Mapping
from typing import Any, Final, TypeVar

from orders_core.money import check_ledger_currency

_ENV: Final = "env"
_READ: Final = "read"
_TRUE: Final = frozenset({"1", "true", "t", "yes", "y", "on"})
_FALSE: Final = frozenset({"0", "false", "f", "no", "n", "off"})


class SettingsError(RuntimeError):
    """The function's environment is incomplete: a deployment mistake, not a client error."""


def text(value: str) -> str:
    """A non-empty string."""
    if not value:
        raise ValueError("empty")
    return value


def optional_text(value: str) -> str | None:
    """A string, or None when blank (how the stack writes "not set")."""
    return value if value.strip() else None


def flag(value: str) -> bool:
    """A boolean written 1/0, true/false, yes/no or on/off (any case)."""
    word = value.strip().lower()
    if word in _TRUE:
        return True
    if word in _FALSE:
        return False
    raise ValueError(f"not a boolean: {value!r}")


def integer(low: int | None = None, high: int | None = None) -> Callable[[str], int]:
    """A reader of a decimal integer between ``low`` and ``high`` (inclusive)."""

    def read(value: str) -> int:
        number = int(value.strip())
        if (low is not None and number < low) or (high is not None and number > high):
            raise ValueError(f"{number} is outside {low}..{high}")
        return number

    return read


def comma_list(value: str) -> tuple[str, ...]:
    """``subnet-a,subnet-b`` (how the stack writes a list into one variable)."""
    return tuple(part.strip() for part in value.split(",") if part.strip())


def ledger_currency(value: str) -> str:
    """The ledger's one currency (``LEDGER_CURRENCY``), such as IDR."""
    return check_ledger_currency(value)


def variable(
    name: str, read: Callable[[str], Any] = text, default: Any = dataclasses.MISSING
) -> Any:
    """A settings field read from the environment variable ``name`` with ``read``."""
    return dataclasses.field(default=default, metadata={_ENV: name, _READ: read})


@dataclasses.dataclass(frozen=True, kw_only=True)
class CommonSettings:
    """Variables every function needs (names as set by the compute stack)."""

    service_name: str = variable("POWERTOOLS_SERVICE_NAME")
    metrics_namespace: str = variable("POWERTOOLS_METRICS_NAMESPACE")
    log_level: str = variable("POWERTOOLS_LOG_LEVEL", default="INFO")


SettingsT = TypeVar("SettingsT", bound=CommonSettings)


def variables(model: type[CommonSettings]) -> tuple[str, ...]:
    """The environment variables ``model`` reads, in field order."""
    return tuple(
        field.metadata[_ENV] for field in dataclasses.fields(model) if _ENV in field.metadata
    )


def load_settings(model: type[SettingsT], environ: Mapping[str, str] | None = None) -> SettingsT:
    """Build ``model`` from the environment; SettingsError names every bad variable."""
    source = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    bad: list[str] = []
    for field in dataclasses.fields(model):
        if _ENV not in field.metadata:
            continue
        name = field.metadata[_ENV]
        raw = source.get(name)
        if raw is None:
            if field.default is dataclasses.MISSING:
                bad.append(name)
            continue
        try:
            values[field.name] = field.metadata[_READ](raw)
        except ValueError:
            bad.append(name)
    if bad:
        raise SettingsError(f"missing or empty environment variables: {', '.join(sorted(bad))}")
    try:
        return model(**values)
    except ValueError as exc:  # a rule across variables (__post_init__)
        raise SettingsError(str(exc)) from None
