"""A capability is one construct of a stack; it does not move its resources' logical ids.

CloudFormation knows a resource by its logical id, and CDK derives that id from the
construct path. Moving a deployed resource into a new construct would change its id, and
CloudFormation would replace it: a new load balancer (a new DNS name), new log groups
and buckets (the retained prod ones orphaned). So a `CapabilityStack` allocates logical
ids as though every `Capability` were not in the path: a resource at
``Compute/Ingest/IngestFunction`` keeps the id it had at ``Compute/IngestFunction``.

The price is one namespace for the children of all capabilities of a stack: they are
named with their capability's prefix (``IngestFunction``, ``ProcessQueueMapping``), and
the stack refuses two resources that would get the same id.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from typing import Any, Final

from aws_cdk import CfnElement, Stack
from constructs import Construct

# CDK's own rules (aws-cdk-lib core/lib/private/uniqueid.ts, makeUniqueId).
_HIDDEN_ID: Final = "Default"
_HIDDEN_FROM_HUMAN_ID: Final = "Resource"
_HASH_LEN: Final = 8
_MAX_HUMAN_LEN: Final = 240
_MAX_ID_LEN: Final = 255
_NON_ALPHANUMERIC: Final = re.compile(r"[^A-Za-z0-9]")


class Capability(Construct):
    """One part of a stack's job (serving the API, processing the queue, ...).

    Left out of its resources' logical ids by `CapabilityStack` (see the module doc).
    """


class CapabilityStack(Stack):
    """A stack whose `Capability` constructs do not count in its logical ids."""

    def __init__(self, scope: Construct, construct_id: str, **kwargs: Any) -> None:
        super().__init__(scope, construct_id, **kwargs)
        self._allocated: dict[str, str] = {}  # logical id -> construct path

    def _allocate_logical_id(self, cfn_element: CfnElement) -> str:
        scopes = cfn_element.node.scopes
        stack_index = max(i for i, scope in enumerate(scopes) if Stack.is_stack(scope))
        below = scopes[stack_index + 1 :]
        if not any(isinstance(scope, Capability) for scope in below):
            return super()._allocate_logical_id(cfn_element)
        logical_id = make_unique_id(
            [scope.node.id for scope in below if not isinstance(scope, Capability)]
        )
        path = cfn_element.node.path
        if self._allocated.setdefault(logical_id, path) != path:
            raise ValueError(
                f"{path} and {self._allocated[logical_id]} would share the logical id "
                f"{logical_id}: children of capabilities share the stack's namespace, so "
                "name them with their capability's prefix"
            )
        return logical_id


def make_unique_id(components: Sequence[str]) -> str:
    """CDK's logical id for a path below a stack (tests compare it with CDK's own)."""
    parts = [part for part in components if part != _HIDDEN_ID]
    if not parts:
        raise ValueError("a logical id needs at least one path component")
    if len(parts) == 1:
        candidate = _NON_ALPHANUMERIC.sub("", parts[0])
        if len(candidate) <= _MAX_ID_LEN:
            return candidate
    digest = hashlib.md5("/".join(parts).encode(), usedforsecurity=False).hexdigest()
    human = "".join(
        _NON_ALPHANUMERIC.sub("", part)
        for part in _without_repeats(parts)
        if part != _HIDDEN_FROM_HUMAN_ID
    )
    return human[:_MAX_HUMAN_LEN] + digest[:_HASH_LEN].upper()


def _without_repeats(parts: Sequence[str]) -> list[str]:
    """`Pipeline/Pipeline` reads as `Pipeline` (a part ending its predecessor is dropped)."""
    kept: list[str] = []
    for part in parts:
        if not kept or not kept[-1].endswith(part):
            kept.append(part)
    return kept
