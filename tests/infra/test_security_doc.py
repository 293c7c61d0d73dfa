"""Every checkov skip written into a template is explained in docs/security.md."""

from __future__ import annotations

import re

from tests.infra.conftest import ROOT, Front, Synthesized
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
    front_eu_west_1: Front,
) -> None:
    documented = _documented()
    for synthesized in (dev, prod, hardened, front_eu_west_1.synthesized):
        missing = _skips(synthesized) - documented
        assert not missing, f"explain these in docs/security.md: {sorted(missing)}"


def test_no_stale_rows_in_the_doc(
    dev: Synthesized, prod: Synthesized, front_eu_west_1: Front
) -> None:
    # every documented row still corresponds to a skip the app writes: dev (no edge),
    # prod (the edge, in us-east-1), or the edge in eu-west-1 (its own us-east-1 stack)
    written = _skips(dev) | _skips(prod) | _skips(front_eu_west_1.synthesized)
    assert _documented() == written
