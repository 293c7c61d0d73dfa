"""Which CloudFormation resource types moto's CloudFormation can create.

The emulation process answers (services/control.py, ``creatable_types``): it has moto
loaded already, and importing moto's CloudFormation in the runner took 2 s of every boot.
"""

from __future__ import annotations

from collections.abc import Callable

GENERIC_CUSTOM_RESOURCE = "AWS::CloudFormation::CustomResource"  # moto's, once patched


def creatable_in_moto() -> frozenset[str]:  # pragma: no cover - the emulation process
    """moto's registry of CloudFormation models (no backend is touched)."""
    from moto.cloudformation.parsing import NULL_MODELS, get_model_map  # noqa: PLC0415

    return frozenset(get_model_map()) - frozenset(NULL_MODELS)


def can_create(creatable: frozenset[str]) -> Callable[[str], bool]:
    """Whether moto's CloudFormation creates a type, given what the emulation reports."""

    def moto_can_create(resource_type: str) -> bool:
        return (
            resource_type.startswith("Custom::")
            or resource_type == GENERIC_CUSTOM_RESOURCE
            or resource_type in creatable
        )

    return moto_can_create
