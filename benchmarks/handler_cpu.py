"""Handler CPU per order or record (benchmarks/test_handler_cpu.py under pytest-benchmark)."""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

from benchmarks.report import Figure, Row, Section
from benchmarks.runtime import ROOT

FLOOR_TEXT = "`json.loads` of the event"


def run() -> Section:
    with tempfile.TemporaryDirectory(prefix="bench-cpu-") as tmp:
        out = Path(tmp) / "cpu.json"
        done = subprocess.run(  # noqa: S603
            [
                sys.executable,
                "-m",
                "pytest",
                str(Path(__file__).with_name("test_handler_cpu.py")),
                "-q",
                "-p",
                "no:cacheprovider",
                "--benchmark-timer=time.process_time",
                f"--benchmark-json={out}",
            ],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(f"handler CPU benchmarks failed:\n{done.stdout[-3000:]}")
        results = json.loads(out.read_text(encoding="utf-8"))["benchmarks"]
    per_call = {
        entry["name"].removeprefix("test_"): (
            entry["stats"]["median"] / entry["extra_info"]["per"],
            entry["extra_info"],
        )
        for entry in results
    }
    rows = []
    for function in ("ingest", "process", "aggregator"):
        handler_s, info = per_call[f"{function}_handler"]
        floor_s, _ = per_call[f"{function}_floor"]
        batch = f", batches of {info['per']}" if info["per"] > 1 else ""
        rows.append(
            Row(
                section="handler CPU",
                what=f"{function}: per {info['unit']}{batch}, AWS faked",
                measured=Figure(handler_s),
                floor=Figure(floor_s),
                floor_what=FLOOR_TEXT,
            )
        )
    notes = (
        "Each handler called as Lambda calls it (Powertools decorators, logs and EMF "
        "metrics written) with fake AWS clients that answer at once, 200 rounds after 20 "
        "warm-ups under pytest-benchmark with `time.process_time` as the timer (CPU, not "
        "wall time); medians per order or record. The floor is parsing the event's JSON, "
        "which Lambda's runtime does before any handler runs.",
    )
    return Section("Handler CPU", tuple(rows), notes)
