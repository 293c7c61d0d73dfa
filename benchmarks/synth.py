"""Synth time: the app (settings, constructs, aspects, cdk-nag) against the minimal app.

Both run as the CDK CLI runs an app (``CDK_CONTEXT_JSON`` from cdk.json, a fresh
``CDK_OUTDIR``), each a new process with its jsii/Node.js child, timed as CPU seconds of
the process tree (benchmarks/cold_init_worker.py under pyperf), rounds alternating. The
minimal app (benchmarks/minimal_app.py) re-declares the resources the app synthesized.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from benchmarks.cold_init import Command, time_rounds
from benchmarks.report import Figure, Row, Section
from benchmarks.runtime import ROOT


def context() -> str:
    settings = json.loads((ROOT / "cdk.json").read_text(encoding="utf-8"))["context"]
    return json.dumps({**settings, "stage": "dev"})


def run(work: Path, *, rounds: int = 3) -> tuple[Section, Path]:
    """The synth row, and the app's assembly (the local cloud deploys it)."""
    app_out, minimal_out = work / "app.out", work / "minimal.out"
    environment = {
        **os.environ,
        "CDK_CONTEXT_JSON": context(),
        "CDK_DISABLE_CLI_TELEMETRY": "true",
        "PYTHONPATH": str(ROOT),
        # The venv's Node.js first, as `make` puts it (jsii needs 22+).
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
    }
    commands = [
        Command(
            "synth-app",
            "import runpy; runpy.run_path('app.py', run_name='__main__')",
            {**environment, "CDK_OUTDIR": str(app_out)},
        ),
        Command(
            "synth-minimal",
            "import runpy; runpy.run_path('benchmarks/minimal_app.py', run_name='__main__')",
            {**environment, "CDK_OUTDIR": str(minimal_out), "BENCH_TEMPLATES": str(app_out)},
        ),
    ]
    values = time_rounds(Path(sys.executable), commands, work, rounds=rounds, values=1, warmups=0)
    resources = sum(
        len(json.loads(path.read_text(encoding="utf-8")).get("Resources", {}))
        for path in app_out.glob("*.template.json")
    )
    row = Row(
        section="synth",
        what=f"the app, dev stage: 4 stacks, {resources} resources, cdk-nag",
        measured=Figure(_median(values["synth-app"])),
        floor=Figure(_median(values["synth-minimal"])),
        floor_what="the same resources as raw `CfnResource`s, no checks",
    )
    notes = (
        "The app and the minimal app (benchmarks/minimal_app.py: one `CfnResource` per "
        "resource the app synthesized, same stacks, no settings, aspects, cdk-nag or "
        "assets) run as the CDK CLI runs them; CPU seconds of the process and its "
        f"jsii/Node.js child, {rounds} alternating rounds after one run each; medians.",
    )
    return Section("Synth", (row,), notes), app_out


def _median(values: list[float]) -> float:
    ordered = sorted(values)
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2
