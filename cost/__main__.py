"""python -m cost ASSEMBLY [ASSEMBLY ...] [--set name=value] [--readme README.md]

Prints the monthly cost of each synthesized assembly (label=path or path), line by line,
at rest and per million orders, beside the tutorial's configuration and a NAT variant.
With --readme, writes the same text into README.md's generated cost block.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from cost.inventory import AssemblyError, load_inventory
from cost.model import Assumptions, PriceError, load_prices
from cost.report import render, render_assumptions, update_readme


def build(assemblies: Sequence[str], assumptions: Assumptions) -> str:
    sections = []
    for spec in assemblies:
        label, _, path = spec.rpartition("=")
        inventory = load_inventory(path)
        sections.append(
            render(inventory, load_prices(inventory.region), assumptions, label or path)
        )
    return "\n\n".join([*sections, render_assumptions(assumptions)])


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m cost", description=__doc__.split("\n")[0])
    parser.add_argument("assemblies", nargs="+", help="cdk.out directories, optionally label=dir")
    parser.add_argument("--set", action="append", default=[], metavar="NAME=VALUE")
    parser.add_argument("--readme", type=Path, help="also write the block in this README")
    args = parser.parse_args(argv)
    try:
        text = build(args.assemblies, Assumptions().with_overrides(args.set))
    except (AssemblyError, PriceError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(text)
    if args.readme is not None and update_readme(args.readme, text):
        print(f"\n{args.readme}: cost section updated", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
