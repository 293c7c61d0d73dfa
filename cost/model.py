"""Line-by-line monthly cost: at rest, per million orders, per million ledger lines.

Three configurations side by side: this assembly (the current settings), the tutorial as
written (no endpoint, no NAT: its ingest function cannot reach SQS), and this assembly with
NAT gateways where it has interface endpoints. Usage figures rest on `Assumptions`, printed
with every report, so a reader can see what each line counts.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

from cost.inventory import Function, Inventory, Mapping

PRICES_FILE = Path(__file__).with_name("prices.json")
MILLION = 1_000_000
GB = 1024**3
SECONDS_PER_MONTH = 730 * 3600
# Lambda's SQS event source polls each mapped queue with five long-polling connections
# (20 s waits) while the queue is empty: about 3 ReceiveMessage calls a minute each.
SQS_IDLE_POLLERS = 5
SQS_IDLE_RECEIVES_PER_POLLER_MONTH = 3 * 60 * 730
# One ALB LCU covers 25 new connections/s, or 0.4 GB/hour to Lambda targets.
LCU_NEW_CONNECTIONS_PER_S = 25
LCU_LAMBDA_GB_PER_HOUR = 0.4
# X-Ray's default sampling rule: the first request each second, then 5% of the rest.
XRAY_RESERVOIR_PER_S = 1.0
XRAY_FIXED_RATE = 0.05
# CloudFront bills Lambda@Edge duration in 1 ms steps.
EDGE_MIN_BILLED_MS = 1


class PriceError(KeyError):
    """The price table has no entry for what is asked."""


@dataclass(frozen=True)
class Prices:
    region: str
    as_of: str
    hours_per_month: int
    items: dict[str, float]

    def __getitem__(self, key: str) -> float:
        try:
            return self.items[key]
        except KeyError:
            raise PriceError(f"cost/prices.json has no {key!r} for {self.region}") from None


def load_prices(region: str, path: Path = PRICES_FILE) -> Prices:
    table = json.loads(path.read_text(encoding="utf-8"))
    if region not in table["regions"]:
        known = ", ".join(sorted(table["regions"]))
        raise PriceError(
            f"cost/prices.json has no prices for {region} (it has {known}); add that "
            "region's figures from the pages listed under 'sources'"
        )
    return Prices(region, table["as_of"], table["hours_per_month"], table["regions"][region])


@dataclass(frozen=True)
class Assumptions:
    """The traffic the per-million figures describe (override with `python -m cost --set`)."""

    orders_per_second: float = 10.0  # steady rate: sets batch fill and X-Ray's sampled share
    request_bytes: int = 1024  # order body plus headers, each way through ALB and endpoints
    response_bytes: int = 300
    ingest_ms: float = 15.0  # billed duration of one ingest invocation (one order)
    process_ms_per_order: float = 6.0  # a batch of n orders bills about n times this
    edge_ms: float = 2.0
    edge_log_bytes: int = 350  # START/END/REPORT per request (it logs refusals only)
    status_reads_per_order: float = 1.0  # a client confirming its order once
    status_ms: float = 10.0
    status_log_bytes: int = 1000
    ingest_log_bytes: int = 1500  # structured lines + START/END/REPORT per request
    process_log_bytes_per_order: int = 700
    files_lines_per_second: float = 4000.0  # one file function on AWS (see make bench)
    aggregator_ms_per_record: float = 12.0
    lines_per_customer: int = 100  # customers upserted per chunk: one per this many lines

    def with_overrides(self, pairs: list[str]) -> Assumptions:
        known = {f.name: f.type for f in fields(self)}
        changes: dict[str, Any] = {}
        for pair in pairs:
            name, _, text = pair.partition("=")
            if name not in known:
                raise ValueError(f"unknown assumption {name!r}; known: {', '.join(known)}")
            changes[name] = int(text) if known[name] in ("int", int) else float(text)
        return replace(self, **changes)


@dataclass(frozen=True)
class Line:
    item: str
    values: tuple[float, ...]  # one per configuration


@dataclass(frozen=True)
class Table:
    title: str
    columns: tuple[str, ...]
    lines: tuple[Line, ...]

    @property
    def totals(self) -> tuple[float, ...]:
        return tuple(sum(line.values[i] for line in self.lines) for i in range(len(self.columns)))


TUTORIAL = Inventory(
    region="",
    load_balancers=1,
    functions={
        "ingest": Function("ingest", 128, "x86_64"),
        "process": Function("process", 128, "x86_64"),
    },
    mappings=[Mapping("sqs", 10, "process")],
)


def variants(inventory: Inventory) -> dict[str, Inventory]:
    """This assembly, the tutorial as written, and this assembly with NAT gateways."""
    # One NAT gateway per AZ (the VPC spans two), as AWS recommends for availability.
    with_nat = replace(
        inventory,
        interface_endpoint_azs=0,
        nat_gateways=inventory.nat_gateways or (2 if inventory.interface_endpoint_azs else 0),
    )
    return {
        "this stage": inventory,
        "tutorial as written": replace(TUTORIAL, region=inventory.region),
        "NAT instead of endpoints": with_nat,
    }


def _gb_second(prices: Prices, function: Function) -> float:
    return prices[f"lambda_gb_second_{function.architecture}"]


def at_rest(inventories: dict[str, Inventory], prices: Prices) -> Table:
    """Monthly cost with no traffic at all."""
    hours = prices.hours_per_month
    rows: list[tuple[str, list[float]]] = []

    def row(item: str, value: list[float]) -> None:
        if any(value):
            rows.append((item, value))

    each = list(inventories.values())
    row(
        "Application Load Balancer (hours)",
        [i.load_balancers * prices["alb_hour"] * hours for i in each],
    )
    row(
        "Interface VPC endpoints (per AZ-hour)",
        [i.interface_endpoint_azs * prices["interface_endpoint_az_hour"] * hours for i in each],
    )
    row("NAT gateways (hours)", [i.nat_gateways * prices["nat_gateway_hour"] * hours for i in each])
    row("KMS customer keys", [i.kms_keys * prices["kms_key_month"] for i in each])
    row("CloudWatch alarms", [i.alarms * prices["cloudwatch_alarm_month"] for i in each])
    row(
        "CloudWatch dashboards (first 3 per account are free)",
        [i.dashboards * prices["cloudwatch_dashboard_month"] for i in each],
    )
    row(
        "WAF web ACL and rules",
        [
            sum(prices["waf_web_acl_month"] + r * prices["waf_rule_month"] for r in i.web_acl_rules)
            for i in each
        ],
    )
    row(
        "CloudWatch custom metrics the dashboard reads (billed in months with traffic)",
        [len(i.custom_metrics) * prices["cloudwatch_metric_month"] for i in each],
    )
    row(
        "SQS: Lambda's idle long polling of each mapped queue",
        [
            sum(1 for m in i.mappings if m.source == "sqs")
            * SQS_IDLE_POLLERS
            * SQS_IDLE_RECEIVES_PER_POLLER_MONTH
            / MILLION
            * prices["sqs_requests_million"]
            for i in each
        ],
    )
    return Table(
        "At rest, per month (USD)", tuple(inventories), tuple(Line(i, tuple(v)) for i, v in rows)
    )


def _batch_fill(mapping: Mapping | None, rate: float) -> float:
    """Records per invocation: the batch size, or what one second of traffic brings."""
    size = mapping.batch_size if mapping else 10
    return max(1.0, min(float(size), rate))


def _xray_share(rate: float) -> float:
    if rate <= XRAY_RESERVOIR_PER_S:
        return 1.0
    return (XRAY_RESERVOIR_PER_S + XRAY_FIXED_RATE * (rate - XRAY_RESERVOIR_PER_S)) / rate


def per_million_orders(inventories: dict[str, Inventory], prices: Prices, a: Assumptions) -> Table:
    """What one million orders (one per request) add, in a month of steady traffic,
    with `status_reads_per_order` status reads each where there is a status function."""
    per_order: dict[str, list[float]] = {}
    names = list(inventories)

    def add(item: str, column: int, value: float) -> None:
        per_order.setdefault(item, [0.0] * len(names))[column] += value

    for column, inventory in enumerate(inventories.values()):
        ingest = inventory.function("ingest")
        process = inventory.function("process")
        status = inventory.function("status")
        mapping = inventory.mapping("process")
        fill = _batch_fill(mapping, a.orders_per_second)
        reads = a.status_reads_per_order if status else 0.0
        requests = 1.0 + reads  # HTTP requests per order: the POST and the status reads
        request_gb = (a.request_bytes + a.response_bytes + reads * a.response_bytes) / GB
        if inventory.load_balancers:
            # Each POST a new connection, unless CloudFront is in front: it keeps its
            # connections to the origin open, so only the bytes count.
            new_connections = 0.0 if inventory.distributions else requests
            lcu_hours = max(
                new_connections / (LCU_NEW_CONNECTIONS_PER_S * 3600),
                request_gb / LCU_LAMBDA_GB_PER_HOUR,
            )
            add("ALB capacity units", column, lcu_hours * prices["alb_lcu_hour"])
        if inventory.distributions:
            _add_edge(
                add, column=column, inventory=inventory, prices=prices, a=a, requests=requests
            )
        if inventory.web_acl_rules:
            add("WAF requests", column, requests * prices["waf_requests_million"] / MILLION)
        for role, function, invocations, seconds in (
            ("ingest", ingest, 1.0, a.ingest_ms / 1000),
            ("process", process, 1 / fill, a.process_ms_per_order * fill / 1000),
            ("status", status, reads, a.status_ms / 1000),
        ):
            if function is None or not invocations:
                continue
            add(
                f"Lambda {role}: requests and GB-seconds at its memory and architecture",
                column,
                invocations * prices["lambda_requests_million"] / MILLION
                + invocations * seconds * function.memory_mb / 1024 * _gb_second(prices, function),
            )
        # SendMessage per order; ReceiveMessage and DeleteMessageBatch per batch.
        add("SQS requests", column, (1 + 2 / fill) * prices["sqs_requests_million"] / MILLION)
        add("DynamoDB writes (1 KB item)", column, prices["dynamodb_write_units_million"] / MILLION)
        if reads:
            # a strongly consistent GetItem of an item under 4 KB: one read unit
            add(
                "DynamoDB consistent reads (status)",
                column,
                reads * prices["dynamodb_read_units_million"] / MILLION,
            )
        endpoint_gb = 3 * a.request_bytes / GB  # send, receive, (delete is small)
        if inventory.interface_endpoint_azs:
            add("VPC endpoint data", column, endpoint_gb * prices["interface_endpoint_gb"])
        if inventory.nat_gateways:
            add("NAT gateway data", column, endpoint_gb * prices["nat_gateway_gb"])
        log_bytes = (
            a.ingest_log_bytes
            + a.process_log_bytes_per_order
            + reads * a.status_log_bytes
            + (requests * a.edge_log_bytes if inventory.edge_functions else 0.0)
        )
        add(
            "CloudWatch Logs ingestion",
            column,
            log_bytes / GB * prices["cloudwatch_logs_ingest_gb"],
        )
        traces = _xray_share(a.orders_per_second) * (
            (1.0 if ingest and ingest.traced else 0.0)
            + (1 / fill if process and process.traced else 0.0)
            + (reads if status and status.traced else 0.0)
        )
        if traces:
            add(
                "X-Ray traces (default sampling)",
                column,
                traces * prices["xray_traces_million"] / MILLION,
            )
    lines = tuple(
        Line(item, tuple(v * MILLION for v in values)) for item, values in per_order.items()
    )
    title = (
        f"Per million orders (USD): {a.orders_per_second:g} orders/s steady, one order per "
        f"request, {a.status_reads_per_order:g} status read(s) per order, batches filled to "
        "the mapping's size or one second of traffic"
    )
    return Table(title, tuple(names), lines)


def _add_edge(
    add: Callable[[str, int, float], None],
    *,
    column: int,
    inventory: Inventory,
    prices: Prices,
    a: Assumptions,
    requests: float,
) -> None:
    """CloudFront and Lambda@Edge, per order: `requests` HTTP requests through the edge."""
    add(
        "CloudFront: HTTPS requests, data out to clients and to the origin",
        column,
        requests * prices["cloudfront_https_requests_10k"] / 10_000
        + requests * a.response_bytes / GB * prices["cloudfront_data_out_gb"]
        # the order's body goes on to the ALB (origin fetches back are free from AWS origins)
        + a.request_bytes / GB * prices["cloudfront_origin_data_gb"],
    )
    for function in inventory.edge_functions:  # each runs on every request (viewer events)
        add(
            "Lambda@Edge viewer request: requests and GB-seconds (1 ms steps)",
            column,
            requests
            * (
                prices["lambda_edge_requests_million"] / MILLION
                + function.memory_mb
                / 1024
                * max(a.edge_ms, EDGE_MIN_BILLED_MS)
                / 1000
                * prices["lambda_edge_gb_second"]
            ),
        )


def per_million_ledger(inventory: Inventory, prices: Prices, a: Assumptions) -> Table | None:
    """What the ledger adds: per million file lines, and per million orders with an amount."""
    files = inventory.function("files")
    aggregator = inventory.function("aggregator")
    if files is None or aggregator is None:
        return None
    mapping = inventory.mapping("aggregator")
    fill = _batch_fill(mapping, 1_000.0)
    aggregate = (
        prices["lambda_requests_million"] / MILLION / fill
        + a.aggregator_ms_per_record
        / 1000
        * aggregator.memory_mb
        / 1024
        * _gb_second(prices, aggregator)
        # posting and totals read (strongly consistent), one transaction of two items
        + 2 * prices["dynamodb_read_units_million"] / MILLION
        + 4 * prices["dynamodb_write_units_million"] / MILLION
    )
    line_cost = (
        files.memory_mb / 1024 / a.files_lines_per_second * _gb_second(prices, files)
        + prices["dynamodb_write_units_million"] / MILLION  # the transaction item
        + 2 / a.lines_per_customer * prices["dynamodb_write_units_million"] / MILLION
    )
    return Table(
        "The ledger (USD): per million file lines, per million orders carrying an amount",
        ("this stage",),
        (
            Line(
                "per million file lines: file function, transaction and customer writes",
                (line_cost * MILLION,),
            ),
            Line(
                "per million file lines or orders with an amount: aggregation",
                (aggregate * MILLION,),
            ),
        ),
    )
