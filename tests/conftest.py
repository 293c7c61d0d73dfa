"""How the suite is spread over pytest-xdist's workers (`make test` runs `-n 4`).

One test file is one unit of work, kept on one worker in its order, because its module
fixtures (a local cloud booted for the file, generated keys) are built once per worker
that runs it; in a file whose tests each boot their own cloud, each test is a unit. The
infrastructure tier and the contract test share one unit: their session fixtures
synthesize the app (dev, prod, the edge variants) in-process, and one worker building
each once beats four workers building each four times.

The units go out in the order below, longest first, so the slowest end-to-end files
start at once instead of being the tail of the run (xdist's default order, by number of
tests, would send the many quick unit tests first).

(xdist's own `--dist loadgroup` would do the grouping with a marker, but 3.8 renames the
node id through an attribute pytest 9.2 no longer reads, so every test became its own
group; the scheduler below groups by path instead, through xdist's scheduler hook.)
"""

from __future__ import annotations

from typing import Any

import pytest

SYNTHESIZED = "synthesized"  # the infra tier and the contract test

# Files whose tests each boot a cloud of their own (function-scoped fixtures): every test
# is a unit, so the longest of them do not run one after the other on one worker.
ONE_UNIT_PER_TEST = ("tests/e2e/test_guarantees.py",)

# Measured (`pytest --durations=0`, one worker): the end-to-end units that run for minutes,
# longest first (a unit is ranked by the first entry it starts with).
FIRST = (
    "tests/e2e/test_guarantees.py::test_poison_messages",
    "tests/e2e/test_ledger.py",
    "tests/e2e/test_guarantees.py",
    "tests/e2e/test_ledger_large_file.py",
    "tests/e2e/test_large_files.py",
    SYNTHESIZED,
)


def work_unit(nodeid: str) -> str:
    """The unit a test belongs to, from its node id (`tests/<tier>/<file>.py::<name>`)."""
    path = nodeid.split("::", 1)[0]
    if path.startswith("tests/infra/") or path == "tests/test_contract.py":
        return SYNTHESIZED
    if path in ONE_UNIT_PER_TEST:
        return nodeid
    return path


def _rank(unit: str) -> tuple[int, int]:
    first = [n for n, name in enumerate(FIRST) if unit.startswith(name)]
    if first:
        return (0, first[0])
    return (1 if unit.startswith(("tests/e2e/", "tests/local_cloud/")) else 2, 0)


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # sort() is stable: within a rank, files and tests keep their collected order
    items.sort(key=lambda item: _rank(work_unit(item.nodeid)))


@pytest.hookimpl(tryfirst=True, optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    if config.getvalue("dist") != "loadfile":
        return None  # xdist's own schedulers for every other mode
    from xdist.scheduler import LoadScopeScheduling  # noqa: PLC0415 - only under xdist

    class WorkUnitScheduling(LoadScopeScheduling):  # type: ignore[misc]
        def _split_scope(self, nodeid: str) -> str:
            return work_unit(nodeid)

    return WorkUnitScheduling(config, log)
