"""Turns a synthesized template into the copy that the emulation can deploy.

What stops moto's CloudFormation is handled here, in a copy (the assembly is never
modified), with every change reported: Lambda-backed custom resources whose provider
cannot run here (a runtime other than Python and Node.js, a provider framework, code that
is not in the assembly) are left out, with whatever exists only to serve them (typically
the provider function and its role), and anything that reads an attribute of them. A
custom resource whose provider runs here (``runnable``: a Python or Node.js function of
the same template with its code in the assembly) stays: the emulation's CloudFormation
sends it its events through the runner and waits for the answer. Types moto does not
implement are left out the same way (moto would skip them, then fail the stack on the
first Ref or Fn::GetAtt to one of them).

Template parameters typed ``AWS::SSM::Parameter::Value<...>`` are recorded as seeds: the
deployer makes each resolvable before the stack (a public ``/aws/...`` one, which moto
cannot hold through its API, is held by the emulation at its own path, so the template
stays as synthesized and deploys the same way through the CDK CLI).
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Literal

from local_cloud.deploy.differences import Difference, Kind

SSM_PARAMETER_TYPE_PREFIX = "AWS::SSM::Parameter::Value<"
CUSTOM_RESOURCE_TYPE = "AWS::CloudFormation::CustomResource"
_SUB_REFERENCE = re.compile(r"\$\{([A-Za-z0-9]+)(?:\.[A-Za-z0-9.]+)?\}")

SeedKind = Literal["layer", "bootstrap", "value"]


@dataclass(frozen=True)
class SsmSeed:
    """An SSM parameter the deployer must create before the stack (unless it exists)."""

    stack_name: str
    template_parameter: str
    path: str
    kind: SeedKind


@dataclass(frozen=True)
class Omission:
    """A template resource the emulated deploy leaves out, and why."""

    stack_name: str
    logical_id: str
    resource_type: str
    reason: str
    kind: Kind

    def as_difference(self) -> Difference:
        subject = f"{self.stack_name}/{self.logical_id} ({self.resource_type})"
        return Difference(self.kind, subject, self.reason)


@dataclass
class PreparedTemplate:
    stack_name: str
    template: dict[str, Any]
    omissions: list[Omission] = field(default_factory=list)
    seeds: list[SsmSeed] = field(default_factory=list)
    dropped_outputs: list[str] = field(default_factory=list)


def references(node: Any) -> Iterator[str]:
    """Logical ids that a template fragment refers to (Ref, Fn::GetAtt, Fn::Sub)."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "Ref" and isinstance(value, str):
                yield value
            elif key == "Fn::GetAtt":
                target = value[0] if isinstance(value, list) else str(value).split(".")[0]
                if isinstance(target, str):
                    yield target
            elif key == "Fn::Sub":
                text = value[0] if isinstance(value, list) else value
                if isinstance(text, str):
                    yield from _SUB_REFERENCE.findall(text)
                if isinstance(value, list) and len(value) > 1:
                    yield from references(value[1])
            else:
                yield from references(value)
    elif isinstance(node, list):
        for item in node:
            yield from references(item)


def _depends_on(resource: dict[str, Any]) -> list[str]:
    value = resource.get("DependsOn", [])
    return [value] if isinstance(value, str) else list(value)


def _is_custom(resource: dict[str, Any]) -> bool:
    kind = str(resource.get("Type", ""))
    return kind.startswith("Custom::") or kind == CUSTOM_RESOURCE_TYPE


def _refs_of(resource: dict[str, Any]) -> set[str]:
    return set(references(resource.get("Properties", {}))) | set(_depends_on(resource))


Removed = dict[str, tuple[Kind, str]]  # logical id -> (kind, reason)


def _add_readers(resources: dict[str, Any], removed: Removed) -> None:
    """Whatever reads a removed resource's value cannot be created either."""
    changed = True
    while changed:
        changed = False
        for lid, res in resources.items():
            hit = set(references(res.get("Properties", {}))) & removed.keys()
            if lid not in removed and hit:
                removed[lid] = ("reader", f"uses {sorted(hit)[0]}, which is left out")
                changed = True


def _add_servants(
    resources: dict[str, Any], outputs: dict[str, Any], removed: Removed, custom: set[str]
) -> None:
    """What exists only to serve custom resources goes too (provider function, its role)."""
    candidates: set[str] = set()
    frontier = set(custom)
    while frontier:
        found = {r for lid in frontier for r in _refs_of(resources[lid]) if r in resources}
        frontier = found - candidates
        candidates |= frontier
    changed = True
    while changed:
        changed = False
        for cand in sorted(candidates - removed.keys()):
            used = any(
                cand in _refs_of(res) for lid, res in resources.items() if lid not in removed
            )
            if used or any(cand in set(references(o)) for o in outputs.values()):
                continue
            removed[cand] = ("custom-resource-part", "exists only to serve a custom resource")
            changed = True


CUSTOM_REASON = "Lambda-backed custom resource: its provider cannot run here"
UNSUPPORTED_REASON = "not created: moto's CloudFormation does not implement this type"


def _first_left_out(
    resources: dict[str, Any],
    supported: Callable[[str], bool],
    runnable: Callable[[str, dict[str, Any]], str | None],
) -> tuple[Removed, set[str]]:
    """Custom resources whose provider cannot run and types moto lacks; and the custom
    resources kept (their provider runs here)."""
    removed: Removed = {}
    kept: set[str] = set()
    for lid, res in resources.items():
        if _is_custom(res):
            why_not = runnable(lid, res)
            if why_not is None:
                kept.add(lid)
            else:
                removed[lid] = ("custom-resource", why_not)
        elif not supported(str(res.get("Type", ""))):
            removed[lid] = ("unsupported-type", UNSUPPORTED_REASON)
    return removed, kept


def _leave_out(
    prepared: PreparedTemplate,
    supported: Callable[[str], bool],
    runnable: Callable[[str, dict[str, Any]], str | None],
) -> None:
    """Leave out custom resources and types moto cannot create, and what depends on them."""
    resources: dict[str, Any] = prepared.template.get("Resources", {})
    outputs: dict[str, Any] = prepared.template.get("Outputs", {})
    removed, kept = _first_left_out(resources, supported, runnable)
    if not removed:
        return
    custom = {lid for lid, res in resources.items() if _is_custom(res)} - kept
    _add_readers(resources, removed)
    if custom:
        _add_servants(resources, outputs, removed, custom)
    for lid, (kind, reason) in removed.items():
        prepared.omissions.append(
            Omission(prepared.stack_name, lid, str(resources[lid].get("Type")), reason, kind)
        )
        del resources[lid]
    for res in resources.values():
        if "DependsOn" in res:
            still = [d for d in _depends_on(res) if d not in removed]
            if still:
                res["DependsOn"] = still
            else:
                del res["DependsOn"]
    for key in list(outputs):
        if set(references(outputs[key])) & removed.keys():
            prepared.dropped_outputs.append(key)
            del outputs[key]


def _layer_parameter_names(template: dict[str, Any]) -> set[str]:
    names: set[str] = set()
    for res in template.get("Resources", {}).values():
        if res.get("Type") == "AWS::Lambda::Function":
            names |= set(references(res.get("Properties", {}).get("Layers", [])))
    return names


def _record_ssm_parameters(
    prepared: PreparedTemplate,
    bootstrap_parameter: str | None,
    emulator_has: Callable[[str], bool],
) -> None:
    template = prepared.template
    layer_params = _layer_parameter_names(template)
    for name, spec in template.get("Parameters", {}).items():
        kind_text = str(spec.get("Type", ""))
        default = spec.get("Default")
        if not kind_text.startswith(SSM_PARAMETER_TYPE_PREFIX) or not isinstance(default, str):
            continue
        kind: SeedKind = "value"
        if name in layer_params:
            kind = "layer"
        elif default == bootstrap_parameter or name == "BootstrapVersion":
            kind = "bootstrap"
        if default.startswith("/aws/") and emulator_has(default):
            continue  # moto ships some public parameters (regions, AMIs): use them
        prepared.seeds.append(SsmSeed(prepared.stack_name, name, default, kind))


def prepare_template(
    stack_name: str,
    template: dict[str, Any],
    *,
    bootstrap_parameter: str | None = None,
    emulator_has: Callable[[str], bool] = lambda _path: False,
    supported: Callable[[str], bool] = lambda _type: True,
    runnable: Callable[[str, dict[str, Any]], str | None] = lambda _lid, _res: CUSTOM_REASON,
) -> PreparedTemplate:
    """A deployable copy of template, with what was changed recorded on the result.

    runnable(logical id, custom resource) says why a custom resource's provider cannot run
    here, or None when it can (the resource then stays in the copy).
    """
    prepared = PreparedTemplate(stack_name=stack_name, template=copy.deepcopy(template))
    _leave_out(prepared, supported, runnable)
    _record_ssm_parameters(prepared, bootstrap_parameter, emulator_has)
    return prepared
