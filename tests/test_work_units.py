"""How tests/conftest.py cuts the suite into units of work for the xdist workers."""

from __future__ import annotations

from tests.conftest import SYNTHESIZED, _rank, work_unit

GUARANTEES = "tests/e2e/test_guarantees.py"


def test_a_file_is_one_unit_and_the_synthesizing_tiers_share_one():
    assert work_unit("tests/e2e/test_ledger.py::test_a") == "tests/e2e/test_ledger.py"
    assert work_unit("tests/e2e/test_ledger.py::test_b[x]") == "tests/e2e/test_ledger.py"
    assert work_unit("tests/infra/test_front.py::test_a") == SYNTHESIZED
    assert work_unit("tests/test_contract.py::test_a") == SYNTHESIZED


def test_each_guarantee_run_is_a_unit_of_its_own():
    poison = f"{GUARANTEES}::test_poison_messages_and_only_they_reach_the_dlq"
    fault = f"{GUARANTEES}::test_fault_run_loses_nothing"
    assert work_unit(poison) == poison
    assert work_unit(fault) == fault


def test_the_longest_units_go_out_first():
    units = [
        "tests/unit/test_ingest_handler.py",
        "tests/local_cloud/test_streams.py",
        SYNTHESIZED,
        f"{GUARANTEES}::test_fault_run_loses_nothing",
        "tests/e2e/test_ledger.py",
        f"{GUARANTEES}::test_poison_messages_and_only_they_reach_the_dlq",
    ]
    assert sorted(units, key=_rank) == [
        f"{GUARANTEES}::test_poison_messages_and_only_they_reach_the_dlq",
        "tests/e2e/test_ledger.py",
        f"{GUARANTEES}::test_fault_run_loses_nothing",
        SYNTHESIZED,
        "tests/local_cloud/test_streams.py",
        "tests/unit/test_ingest_handler.py",
    ]
