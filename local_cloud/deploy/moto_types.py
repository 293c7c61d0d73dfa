"""Which CloudFormation resource types moto's CloudFormation can create."""

from __future__ import annotations

from functools import cache


@cache
def _creatable() -> frozenset[str]:
    # Only moto's registry of CloudFormation models is read; no backend is touched.
    from moto.cloudformation.parsing import NULL_MODELS, get_model_map  # noqa: PLC0415

    return frozenset(get_model_map()) - frozenset(NULL_MODELS)


GENERIC_CUSTOM_RESOURCE = "AWS::CloudFormation::CustomResource"  # moto's, once patched


def moto_can_create(resource_type: str) -> bool:
    return (
        resource_type.startswith("Custom::")
        or resource_type == GENERIC_CUSTOM_RESOURCE
        or resource_type in _creatable()
    )
