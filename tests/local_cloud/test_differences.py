"""The banner's one line of what is not emulated, and the status command's full list."""

from __future__ import annotations

from local_cloud.deploy.differences import Difference, full_list, summary


def diff(kind, n=1, subject="S/X (T)"):
    return [Difference(kind, f"{subject}{i}", "why") for i in range(n)]


def test_summary_counts_by_kind_on_one_line():
    line = summary(
        diff("custom-resource", 2)
        + diff("custom-resource-part", 4)
        + diff("unsupported-type", 18)
        + diff("reader")
        + diff("docker-image", 2)
        + diff("function")
        + diff("stand-in")
        + [Difference("runtime", "python3.14 runs as python3.11", "why")]
        + diff("patch", 5)
    )

    assert "\n" not in line
    assert line == (
        "not emulated: 2 custom resources (+4 serving them), 18 resources moto lacks "
        "(+1 reading them), 2 Docker image assets (cannot build images), 1 function not run, "
        "1 public parameter/layer stood in, python3.14 runs as python3.11; "
        "5 moto gaps worked around"
    )


def test_summary_of_a_faithful_deploy():
    assert summary([]) == "not emulated: nothing left out"


def test_full_list_groups_every_difference_under_its_kind():
    lines = full_list(diff("patch", 2) + diff("custom-resource"))

    assert lines[0].startswith("  Lambda-backed custom resources")  # kinds in a fixed order
    assert lines[0].endswith("(1):")
    assert sum(line.startswith("    S/X (T)") for line in lines) == 3
