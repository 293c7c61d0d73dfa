"""The synth floor: a CDK app that declares the real app's resources and nothing else.

    BENCH_TEMPLATES=<the real app's cdk.out> CDK_OUTDIR=<out> python benchmarks/minimal_app.py

One stack per stack of the real assembly (same names, same order), one ``CfnResource``
per resource with the synthesized type and properties, the template's parameters; no
settings, no constructs computing anything, no aspects, no cdk-nag, no validations, no
assets to stage. What the real synth takes beyond this is what our code and checks cost.
Derived from the assembly, so it follows the app as stacks and resources are added.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from aws_cdk import App, CfnParameter, CfnResource, Stack


def stacks(assembly: Path) -> list[tuple[str, dict[str, Any]]]:
    """(stack name, template) for every CloudFormation stack of the assembly."""
    manifest = json.loads((assembly / "manifest.json").read_text(encoding="utf-8"))
    found = []
    for artifact in manifest["artifacts"].values():
        if artifact.get("type") != "aws:cloudformation:stack":
            continue
        template_file = artifact["properties"]["templateFile"]
        template = json.loads((assembly / template_file).read_text(encoding="utf-8"))
        found.append((artifact.get("displayName", template_file), template))
    return found


def build(app: App, assembly: Path) -> None:
    for name, template in stacks(assembly):
        stack = Stack(app, name.split("/")[-1].replace(" ", ""))
        for logical_id, parameter in template.get("Parameters", {}).items():
            if logical_id == "BootstrapVersion":  # every stack gets its own
                continue
            CfnParameter(
                stack, logical_id, type=parameter["Type"], default=parameter.get("Default")
            )
        for logical_id, resource in template.get("Resources", {}).items():
            CfnResource(
                stack, logical_id, type=resource["Type"], properties=resource.get("Properties")
            )


def main() -> None:
    app = App()
    build(app, Path(os.environ["BENCH_TEMPLATES"]))
    app.synth()


if __name__ == "__main__":
    main()
