"""A 50,000-line file through the ledger on a local cloud of its own (its stream backlog
dies with it): every line is written and the file's stream reaches the aggregator.

Its rate next to raw BatchWriteItem is `make bench`'s (tests/e2e/ledger_throughput.py).
A file of its own, so that it runs beside tests/e2e/test_ledger.py rather than after it.
"""

from __future__ import annotations

import pytest

from tests.e2e.ledger_throughput import run_large_file

pytestmark = pytest.mark.e2e


def test_a_50_000_line_file_is_written_whole_and_its_stream_reaches_the_aggregator(
    ledger_assembly, tmp_path, capsys
):
    run = run_large_file(ledger_assembly, lines=50_000, log_dir=tmp_path / "logs")
    with capsys.disabled():
        print("\n" + run.line())
    assert run.lines_accepted == 50_000  # every line written: no timing asserted
    assert run.aggregated > 0
