"""A large file through the ledger on the local cloud, against raw BatchWriteItem.

``measure_file_throughput`` (tests/e2e/ledger_throughput.py) boots the dev assembly on a
local cloud of its own with the stream mappings paused, uploads a generated CSV of valid
lines and times it from the end of the upload until the object is under ``processed/``
(S3 -> EventBridge -> the files function: streaming, validation, BatchWriteItem on its
writer threads, customer upserts, the move). The floor is raw BatchWriteItem of as many
items of the same shape, 25 per call, on as many threads as the function writes with,
into a table keyed and streamed like the transactions table, on the same emulator in the
same run. Then the mappings resume and the aggregator works through the file's stream
for a fixed window: its postings per second, against the same raw rate.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from benchmarks.report import Figure, Row, Section
from tests.e2e.ledger_throughput import measure_file_throughput

LINES = 50_000
AGGREGATOR_WINDOW_S = 15.0


def run(assembly: Path, *, lines: int = LINES) -> Section:
    with tempfile.TemporaryDirectory(prefix="bench-ledger-") as tmp:  # the functions' logs
        figure = measure_file_throughput(
            assembly, lines=lines, aggregator_window_s=AGGREGATOR_WINDOW_S, log_dir=Path(tmp)
        )
    if figure.lines_accepted != figure.lines:
        raise RuntimeError(f"{figure.lines_accepted} of {figure.lines} lines written")
    floor_what = f"raw BatchWriteItem, 25 per call, {figure.raw_threads} threads, same emulator"
    raw = Figure(figure.raw_items_per_s, "items")
    rows = (
        Row(
            "ledger",
            f"file path: lines/s, {figure.lines:,} lines ({figure.file_bytes / 1e6:.1f} MB) "
            "in one file, on the local cloud",
            Figure(figure.lines_per_s, "lines"),
            raw,
            floor_what,
        ),
        Row(
            "ledger",
            f"aggregator: postings/s through that file's stream, {AGGREGATOR_WINDOW_S:g} s window",
            Figure(figure.aggregated_per_s, "postings"),
            raw,
            floor_what,
        ),
    )
    notes = (
        f"The dev assembly booted on a local cloud of its own, its stream mappings paused. "
        f"One CSV of {figure.lines:,} valid lines over 1,000 customers went under "
        f"`incoming/` and took {figure.file_seconds:.1f} s to reach `processed/`; then "
        f"{figure.raw_items:,} items of the same shape went in by raw BatchWriteItem "
        f"({figure.raw_seconds:.1f} s). Then the mappings resumed and the aggregator, one "
        f"transaction per record on the emulation's one shard, wrote {figure.aggregated:,} "
        f"postings in {figure.aggregator_seconds:g} s. "
        "tests/e2e/test_ledger_large_file.py puts the same 50,000-line file through and "
        "asserts every line is written; it times nothing.",
    )
    return Section("Ledger file path", rows, notes)
