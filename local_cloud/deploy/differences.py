"""Every way the emulated system differs from what the assembly declares, by kind.

The deployer, the template copy and the function catalog record one Difference for each
thing they leave out, stand in for or work around; the banner prints one summary line of
them and `python -m local_cloud status` the full list.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

Kind = Literal[
    "custom-resource",
    "custom-resource-part",
    "unsupported-type",
    "reader",
    "dropped-output",
    "docker-image",
    "function",
    "stand-in",
    "runtime",
    "patch",
]

# The headings `status` groups the list under, in this order.
HEADINGS: dict[Kind, str] = {
    "custom-resource": "Lambda-backed custom resources, left out (their providers cannot run here)",
    "custom-resource-part": "resources that only serve a left-out custom resource, left out",
    "unsupported-type": "resources of types moto's CloudFormation cannot create, left out",
    "reader": "resources that read a left-out resource, left out",
    "dropped-output": "stack outputs that read a left-out resource, dropped",
    "docker-image": "Docker image assets, not built (the local cloud cannot build images)",
    "function": "functions that do not run",
    "stand-in": "public SSM parameters and layers (cannot be downloaded), stood in",
    "runtime": "runtimes",
    "patch": "moto gaps worked around (emulated, differently)",
}


@dataclass(frozen=True)
class Difference:
    kind: Kind
    subject: str  # "Stack/LogicalId (Type)", an output, an asset, a parameter path...
    detail: str


def _count(n: int, singular: str, plural: str | None = None) -> str:
    return f"{n} {singular if n == 1 else plural or singular + 's'}"


def summary(differences: Iterable[Difference]) -> str:
    """One line: what is not emulated, by kind, with counts."""
    found = list(differences)
    n = Counter(d.kind for d in found)
    parts: list[str] = []
    if n["custom-resource"]:
        serving = (
            f" (+{n['custom-resource-part']} serving them)" if n["custom-resource-part"] else ""
        )
        parts.append(_count(n["custom-resource"], "custom resource") + serving)
    if n["unsupported-type"]:
        readers = f" (+{n['reader']} reading them)" if n["reader"] else ""
        parts.append(_count(n["unsupported-type"], "resource") + " moto lacks" + readers)
    elif n["reader"]:
        parts.append(_count(n["reader"], "resource") + " reading left-out ones")
    if n["dropped-output"]:
        parts.append(_count(n["dropped-output"], "output") + " dropped")
    if n["docker-image"]:
        parts.append(_count(n["docker-image"], "Docker image asset") + " (cannot build images)")
    if n["function"]:
        parts.append(_count(n["function"], "function") + " not run")
    if n["stand-in"]:
        parts.append(_count(n["stand-in"], "public parameter/layer", "public parameters/layers"))
        parts[-1] += " stood in"
    runtimes = [d for d in found if d.kind == "runtime"]
    if len(runtimes) == 1:
        parts.append(runtimes[0].subject)
    elif runtimes:
        parts.append(_count(len(runtimes), "runtime") + " differ")
    line = "not emulated: " + (", ".join(parts) if parts else "nothing left out")
    if n["patch"]:
        line += "; " + _count(n["patch"], "moto gap") + " worked around"
    return line


def full_list(differences: Iterable[Difference]) -> list[str]:
    """Every difference, grouped under its kind's heading."""
    found = list(differences)
    lines: list[str] = []
    for kind, heading in HEADINGS.items():
        mine = [d for d in found if d.kind == kind]
        if mine:
            lines.append(f"  {heading} ({len(mine)}):")
            lines += [f"    {d.subject}: {d.detail}" for d in mine]
    return lines
