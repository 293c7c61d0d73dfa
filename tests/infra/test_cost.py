"""`make cost`: the inventory read from synthesized templates, the price table, README's block."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from cost.__main__ import build, main
from cost.inventory import load_inventory
from cost.model import (
    PRICES_FILE,
    Assumptions,
    PriceError,
    at_rest,
    load_prices,
    per_million_ledger,
    per_million_orders,
    variants,
)
from cost.report import readme_section
from tests.infra.conftest import ROOT, Front, Synthesized, resources

MILLION_GB = 1_000_000 / 1024**3


def outdir(synthesized: Synthesized) -> str:
    return str(synthesized.app.outdir)


def count(synthesized: Synthesized, cfn_type: str) -> int:
    return sum(len(resources(synthesized.json(part), cfn_type)) for part in synthesized.stacks)


def test_inventory_counts_what_the_templates_hold(dev: Synthesized) -> None:
    inventory = load_inventory(outdir(dev))
    assert inventory.region == "us-east-1"
    assert inventory.load_balancers == count(dev, "AWS::ElasticLoadBalancingV2::LoadBalancer")
    assert inventory.alarms == count(dev, "AWS::CloudWatch::Alarm")
    assert inventory.kms_keys == count(dev, "AWS::KMS::Key")
    assert inventory.dashboards == count(dev, "AWS::CloudWatch::Dashboard")
    assert inventory.nat_gateways == 0
    # the SQS interface endpoint, in each of the two AZs' private subnets
    assert inventory.interface_endpoint_azs == 2
    ingest = inventory.function("ingest")
    assert ingest is not None
    assert (ingest.architecture, ingest.traced) == ("arm64", True)
    mapping = inventory.mapping("process")
    assert mapping is not None
    assert mapping.source == "sqs"
    assert ("Orders-dev", "OrdersStored") in inventory.custom_metrics


def test_inventory_counts_the_ledger(dev: Synthesized) -> None:
    inventory = load_inventory(outdir(dev))
    files, aggregator = inventory.function("files"), inventory.function("aggregator")
    assert files is not None
    assert aggregator is not None
    assert (files.memory_mb, files.architecture, files.traced) == (1769, "arm64", True)
    streams = [m for m in inventory.mappings if m.source == "dynamodb"]
    assert [(m.service, m.batch_size) for m in streams] == [("orders-aggregator", 100)] * 2
    assert ("Orders-dev", "FilesFailed") in inventory.custom_metrics
    assert ("Orders-dev", "HighBalanceAlertsPublished") in inventory.custom_metrics
    # stream mappings poll for free: only the orders queue's mapping is idle SQS traffic
    table = at_rest(variants(inventory), load_prices("us-east-1"))
    by_item = {line.item: line.values for line in table.lines}
    idle = by_item["SQS: Lambda's idle long polling of each mapped queue"][0]
    assert idle == pytest.approx(5 * 3 * 60 * 730 / 1_000_000 * 0.4)
    assert per_million_ledger(inventory, load_prices("us-east-1"), Assumptions()) is not None


def test_nat_variant_swaps_endpoints_for_a_gateway_per_az(dev: Synthesized) -> None:
    configurations = variants(load_inventory(outdir(dev)))
    nat = configurations["NAT instead of endpoints"]
    assert (nat.interface_endpoint_azs, nat.nat_gateways) == (0, 2)
    prices = load_prices("us-east-1")
    table = at_rest(configurations, prices)
    by_item = {line.item: line.values for line in table.lines}
    assert by_item["NAT gateways (hours)"] == (0.0, 0.0, 2 * 0.045 * 730)
    assert by_item["Application Load Balancer (hours)"][0] == pytest.approx(0.0225 * 730)


def test_per_million_lines_follow_the_price_table(dev: Synthesized) -> None:
    configurations = variants(load_inventory(outdir(dev)))
    table = per_million_orders(configurations, load_prices("us-east-1"), Assumptions())
    by_item = {line.item: line.values for line in table.lines}
    assert by_item["DynamoDB writes (1 KB item)"][0] == pytest.approx(0.625)
    # SendMessage per order, ReceiveMessage + DeleteMessageBatch per batch of 10
    assert by_item["SQS requests"][0] == pytest.approx(1.2 * 0.4)
    # the tutorial's functions trace nothing
    assert by_item["X-Ray traces (default sampling)"][1] == 0.0


def test_every_region_prices_every_item_and_names_its_sources() -> None:
    table = json.loads(PRICES_FILE.read_text())
    assert table["as_of"]
    assert all(url.startswith("https://aws.amazon.com/") for url in table["sources"].values())
    keys = {region: set(items) for region, items in table["regions"].items()}
    assert len({frozenset(k) for k in keys.values()}) == 1, keys


def test_unknown_region_is_a_clear_error() -> None:
    with pytest.raises(PriceError, match="no prices for ap-south-2"):
        load_prices("ap-south-2")


def test_bad_assumption_and_missing_assembly_exit_2(tmp_path: Path) -> None:
    assert main([str(tmp_path), "--set", "orders_per_second=5"]) == 2
    with pytest.raises(ValueError, match="unknown assumption"):
        Assumptions().with_overrides(["nope=1"])


def test_readme_cost_section_is_generated_not_typed(dev: Synthesized, prod: Synthesized) -> None:
    """README's block is exactly what `make cost-readme` writes for the two stages."""
    expected = build([f"dev={outdir(dev)}", f"prod={outdir(prod)}"], Assumptions())
    assert readme_section(ROOT / "README.md") == expected, (
        "README.md's cost section is stale: run `make cost-readme`"
    )


def test_edge_functions_are_found_beside_the_distribution_or_in_their_own_stack(
    front_us_east_1: Front, front_eu_west_1: Front
) -> None:
    beside = load_inventory(front_us_east_1.outdir)
    elsewhere = load_inventory(front_eu_west_1.outdir)
    assert beside.region == "us-east-1"
    # the app's region, not the edge stack's
    assert elsewhere.region == "eu-west-1"
    for inventory in (beside, elsewhere):
        assert inventory.distributions == 1
        (edge,) = inventory.edge_functions  # the viewer-request function, once
        assert (edge.memory_mb, edge.architecture) == (128, "x86_64")
        # the app's own functions, and neither the edge function nor deploy-time helpers
        assert set(inventory.functions) == {
            "orders-ingest",
            "orders-process",
            "orders-status",
            "orders-files",
            "orders-aggregator",
        }


def test_the_edge_is_priced_per_request_and_costs_nothing_at_rest(
    front_us_east_1: Front, dev: Synthesized
) -> None:
    prices = load_prices("us-east-1")
    edge, no_edge = load_inventory(front_us_east_1.outdir), load_inventory(outdir(dev))
    a = Assumptions(status_reads_per_order=2)
    rows = {
        line.item: line.values[0] for line in per_million_orders(variants(edge), prices, a).lines
    }
    requests = 3  # the POST and two status reads
    assert rows["CloudFront: HTTPS requests, data out to clients and to the origin"] == (
        pytest.approx(
            requests * 0.01 * 100
            + requests * a.response_bytes * MILLION_GB * 0.085
            + a.request_bytes * MILLION_GB * 0.02
        )
    )
    assert rows["Lambda@Edge viewer request: requests and GB-seconds (1 ms steps)"] == (
        pytest.approx(requests * (0.6 + 128 / 1024 * 0.002 * 0.00005001 * 1_000_000))
    )
    assert rows["DynamoDB consistent reads (status)"] == pytest.approx(2 * 0.125)
    without = {line.item for line in per_million_orders(variants(no_edge), prices, a).lines}
    assert not {item for item in without if "CloudFront" in item or "Edge" in item}
    # at rest the distribution, its VPC origin and Lambda@Edge cost nothing: prod (edge)
    # and dev (no edge) have the same fixed lines, once prod's large-file task (its three
    # endpoints and its image repository, tested below) is set aside
    without_large_files = replace(
        edge, interface_endpoint_azs=no_edge.interface_endpoint_azs, image_repositories=0
    )
    assert at_rest(variants(without_large_files), prices) == at_rest(variants(no_edge), prices)


def test_the_large_file_task_is_priced_per_file_and_its_endpoints_at_rest(
    dev: Synthesized, prod: Synthesized
) -> None:
    from cost.model import large_files  # noqa: PLC0415

    inventory = load_inventory(outdir(prod))
    assert inventory.fargate_tasks == [(1.0, 2.0)]
    assert inventory.image_repositories == 1
    # SQS, ECR API, ECR Docker, CloudWatch Logs: one interface each in both AZs
    assert inventory.interface_endpoint_azs == 8
    prices = load_prices("us-east-1")
    table = large_files(inventory, prices, Assumptions(large_file_mb=1024, line_bytes=100))
    assert table is not None
    one_file, _, per_hundred_million, _ = (line.values[0] for line in table.lines)
    lines = 1024 * 1024 * 1024 / 100
    hour = prices["fargate_vcpu_hour_arm64"] + 2 * prices["fargate_gb_hour_arm64"]
    assert one_file == pytest.approx((60 + lines / 4000) / 3600 * hour)
    assert per_hundred_million == pytest.approx(100_000_000 / 4000 / 3600 * hour)
    rest = {line.item: line.values[0] for line in at_rest(variants(inventory), prices).lines}
    assert rest["Interface VPC endpoints (per AZ-hour)"] == pytest.approx(8 * 0.01 * 730)
    # dev has the large-file path off: no task, no repository, no extra endpoints
    assert large_files(load_inventory(outdir(dev)), prices, Assumptions()) is None
