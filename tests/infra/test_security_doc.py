"""Every checkov skip written into a template is explained in docs/security.md."""

from __future__ import annotations

import re

from tests.infra.conftest import ROOT, Synthesized
from tests.infra.front_app import SynthesizedFront
from tests.infra.test_production import hardened  # noqa: F401  (fixture)

ROW = re.compile(r"^\| (CKV_AWS_\d+) \| (AWS::[\w:]+) \|", re.MULTILINE)


def _documented() -> set[tuple[str, str]]:
    return set(ROW.findall((ROOT / "docs" / "security.md").read_text()))


def _skips(synthesized: Synthesized) -> set[tuple[str, str]]:
    found = set()
    for part in synthesized.stacks:
        for resource in synthesized.json(part)["Resources"].values():
            for skip in resource.get("Metadata", {}).get("checkov", {}).get("skip", []):
                assert skip["comment"], "every skip carries its reason"
                found.add((skip["id"], resource["Type"]))
    return found


def test_every_checkov_skip_is_documented(
    dev: Synthesized,
    prod: Synthesized,
    hardened: Synthesized,  # noqa: F811
) -> None:
    documented = _documented()
    for synthesized in (dev, prod, hardened):
        missing = _skips(synthesized) - documented
        assert not missing, f"explain these in docs/security.md: {sorted(missing)}"


def test_no_stale_rows_in_the_doc(
    dev: Synthesized, front_us_east_1: SynthesizedFront, front_eu_west_1: SynthesizedFront
) -> None:
    # every documented row still corresponds to a skip the dev stage writes, or (until
    # app.py builds it) the edge front's test app in either region
    written = _skips(dev) | front_us_east_1.checkov_skips() | front_eu_west_1.checkov_skips()
    assert _documented() == written
