"""python -m benchmarks [--baseline REF] [--only SECTION ...] [--no-write]

Runs the bench sections, prints one table, writes it with the machine to
docs/benchmarks.md and README.md's Performance block (unless --no-write).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from benchmarks import (
    cold_init,
    file_processing,
    handler_cpu,
    large_files,
    ledger_file,
    local,
    synth,
)
from benchmarks.report import (
    README_BEGIN,
    README_END,
    Section,
    machine,
    readme_block,
    render_document,
    render_table,
    replace_block,
)
from benchmarks.runtime import ROOT

SECTIONS = ("cold", "cpu", "synth", "files", "local", "ledger", "large")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument(
        "--baseline", help="also measure cold init of the functions at this git ref"
    )
    parser.add_argument("--only", nargs="+", choices=SECTIONS, default=list(SECTIONS))
    parser.add_argument("--rounds", type=int, default=4, help="cold-init rounds")
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args(argv)

    info = machine()
    sections: list[Section] = []
    started = time.monotonic()

    def step(name: str) -> None:
        print(f"bench: {name} ({time.monotonic() - started:.0f} s)", file=sys.stderr, flush=True)

    with tempfile.TemporaryDirectory(prefix="bench-") as tmp:
        work = Path(tmp)
        if "cold" in args.only:
            step("cold init")
            sections.append(cold_init.run(rounds=args.rounds, baseline=args.baseline))
        if "cpu" in args.only:
            step("handler CPU")
            sections.append(handler_cpu.run())
        assembly = None
        if "synth" in args.only or "local" in args.only or "ledger" in args.only:
            step("synth")
            section, assembly = synth.run(work)
            if "synth" in args.only:
                sections.append(section)
        if "files" in args.only:
            step("file path")
            sections.append(file_processing.run())
        if "local" in args.only and assembly is not None:
            step("local cloud")
            sections.append(local.run(assembly))
        if "ledger" in args.only and assembly is not None:
            step("ledger file path")
            sections.append(ledger_file.run(assembly))
        if "large" in args.only:
            step("large files")
            sections.append(large_files.run(work))
    step("done")

    baseline = args.baseline if "cold" in args.only else None
    print(render_table(sections, baseline))
    if not args.no_write:
        document = render_document(sections, info, baseline)
        (ROOT / "docs" / "benchmarks.md").write_text(document, encoding="utf-8")
        replace_block(ROOT / "README.md", README_BEGIN, README_END, readme_block(document, info))
        print("\nwritten: docs/benchmarks.md, README.md (Performance)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
