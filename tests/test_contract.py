"""The two sides of every name that crosses from infrastructure to runtime agree.

Infrastructure defines them once in stacks/contract.py, the runtime once in orders_core
(MetricName, the ingest routes, each function's settings model). Stacks may not import
handler code, so this test does it: it synthesizes the app, finds each Python function's
handler through its code asset, and checks, per function,
- the dashboard and the alarms read exactly the custom metrics its code emits, in the
  namespace and under the service dimension its own observability writes;
- it gets exactly the environment variables its settings model reads;
- the path the ALB routes to it is the path its handler serves.
Renaming a metric, a variable or the path on one side only fails here.
"""

from __future__ import annotations

import ast
import importlib
import json
import typing
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from boto3.dynamodb.types import TypeSerializer
from orders_core import observability
from orders_core.files import bucket
from orders_core.files.bucket import ObjectRef
from orders_core.files.event import ObjectCreatedEvent
from orders_core.model import AcceptedOrder, Order, Stamp
from orders_core.observability import MetricName
from orders_core.settings import CommonSettings, load_settings
from orders_core.versioning import format_accepted_at

from tests.infra.conftest import (
    ROOT,
    PythonFunction,
    Synthesized,
    only,
    python_functions,
    resources,
    synth,
)
from tests.unit.events import FakeContext, alb_event

LAYER_SOURCE = ROOT / "lambdas" / "shared" / "python"
AWS_NAMESPACE_PREFIX = "AWS/"  # AWS's own metrics; everything else is ours
ACCEPTED_AT = format_accepted_at(1_735_689_600_000_000_000)
REQUEST_ID = "11111111-1111-1111-1111-111111111111"
# (namespace, metric name, dimensions): one custom metric as CloudWatch identifies it.
Metric = tuple[str, str, frozenset[tuple[str, str]]]


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    return Synthesized(synth(tmp_path_factory.mktemp("contract")))


@pytest.fixture(scope="module")
def functions(app: Synthesized) -> dict[str, PythonFunction]:
    found = python_functions(app)
    assert found, "the app has no Python functions"
    return found


def _handler(function: PythonFunction) -> ModuleType:
    return importlib.import_module(f"lambdas.{function.source.name}.handler")


def _settings_model(function: PythonFunction) -> type[CommonSettings]:
    """The model the handler's `get_settings` builds from the environment."""
    get_settings = _handler(function).get_settings
    model: type[CommonSettings] = typing.get_type_hints(get_settings.__wrapped__)["return"]
    return model


# --- what the runtime emits: read from the code, not from a list kept beside it -----------


def _module_file(layer: Path, module: str) -> Path | None:
    base = layer.joinpath(*module.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _imported_modules(tree: ast.AST) -> Iterator[str]:
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            yield node.module
            yield from (f"{node.module}.{alias.name}" for alias in node.names)  # submodules


def _metric_members(tree: ast.AST) -> set[str]:
    """`MetricName.X` references (the enum's own definition assigns names, not attributes)."""
    return {
        node.attr
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute)
        and isinstance(node.value, ast.Name | ast.Attribute)
        and (getattr(node.value, "id", None) or getattr(node.value, "attr", None)) == "MetricName"
    }


def emitted_metrics(handler_file: Path, layer: Path) -> set[str]:
    """Every custom metric the handler, or any orders_core module of `layer` it imports
    (directly or not), may emit."""
    seen: set[Path] = set()
    pending = [handler_file]
    members: set[str] = set()
    while pending:
        path = pending.pop()
        if path in seen:
            continue
        seen.add(path)
        tree = ast.parse(path.read_text(), str(path))
        members |= _metric_members(tree)
        for module in _imported_modules(tree):
            if module.split(".")[0] == "orders_core" and (file := _module_file(layer, module)):
                pending.append(file)
    return {MetricName[member].value for member in members}


def test_every_metric_goes_through_the_one_module_that_names_them() -> None:
    # Otherwise a metric written with a literal name would escape emitted_metrics().
    emitters = {"add_metric", "single_metric", "EphemeralMetrics"}
    for path in sorted((ROOT / "lambdas").rglob("*.py")):
        if path == LAYER_SOURCE / "orders_core" / "observability.py":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            name = getattr(node, "attr", None) or getattr(node, "id", None)
            assert name not in emitters, f"{path}: emit metrics through orders_core.observability"


def test_the_scan_finds_what_the_code_emits() -> None:
    # A check on the check: known emitters are found, and nothing comes from nowhere.
    emitted = {
        name: emitted_metrics(ROOT / "lambdas" / name / "handler.py", LAYER_SOURCE)
        for name in ("ingest", "process", "files", "aggregator")
    }
    assert {"OrdersAccepted", "RequestsRejected"} <= emitted["ingest"]
    assert {"OrdersStored", "OrdersDeadLettered"} <= emitted["process"]
    assert {"FilesProcessed", "FileLinesRejected"} <= emitted["files"]
    assert {"LedgerRecordsApplied", "HighBalanceAlertsPublished"} <= emitted["aggregator"]
    assert set().union(*emitted.values()) == {member.value for member in MetricName}


# --- what the infrastructure reads ----------------------------------------------------


def _dashboard_metrics(app: Synthesized) -> list[list[Any]]:
    """Every metric line of every dashboard widget (tokens rendered as placeholders)."""
    found: list[list[Any]] = []
    for dashboard in resources(app.json("Compute"), "AWS::CloudWatch::Dashboard").values():
        body = dashboard["Properties"]["DashboardBody"]
        parts = body["Fn::Join"][1] if isinstance(body, dict) else [body]
        text = "".join(part if isinstance(part, str) else "<token>" for part in parts)
        for widget in json.loads(text)["widgets"]:
            found += widget.get("properties", {}).get("metrics", [])
    assert found, "no dashboard metrics found"
    return found


def _metric(namespace: str, name: str, dimensions: dict[str, Any]) -> Metric:
    return namespace, name, frozenset((str(k), str(v)) for k, v in dimensions.items())


def dashboard_reads(app: Synthesized) -> set[Metric]:
    """Each custom metric a dashboard widget shows."""
    read = set()
    for line in _dashboard_metrics(app):
        namespace, name, *rest = line
        if namespace.startswith(AWS_NAMESPACE_PREFIX):
            continue
        pairs = [item for item in rest if not isinstance(item, dict)]
        read.add(_metric(namespace, name, dict(zip(pairs[::2], pairs[1::2], strict=True))))
    return read


def alarms_read(app: Synthesized) -> set[Metric]:
    """Each custom metric an alarm watches (the file processor's FilesFailed)."""
    read = set()
    for alarm in resources(app.json("Compute"), "AWS::CloudWatch::Alarm").values():
        properties = alarm["Properties"]
        stats = [properties] + [
            query["MetricStat"]["Metric"]
            for query in properties.get("Metrics", [])
            if "MetricStat" in query
        ]
        for metric in stats:
            namespace = metric.get("Namespace")
            if namespace and not namespace.startswith(AWS_NAMESPACE_PREFIX):
                dimensions = {d["Name"]: d["Value"] for d in metric.get("Dimensions", [])}
                read.add(_metric(namespace, metric["MetricName"], dimensions))
    return read


# --- the ties -------------------------------------------------------------------------


def _runtime_record(function: PythonFunction, metric: str) -> dict[str, Any]:
    """The EMF record the function's observability writes for `metric`, under its env."""
    environment = {
        name: value if isinstance(value, str) else f"<{name}>"  # deploy-time tokens
        for name, value in function.environment.items()
    }
    observability.configure(load_settings(_settings_model(function), environment))
    try:
        observability.count(MetricName(metric))
        record: dict[str, Any] = observability.metrics.serialize_metric_set()
    finally:
        observability.metrics.clear_metrics()
    return record


def test_dashboard_and_alarms_read_exactly_what_each_function_emits(
    app: Synthesized, functions: dict[str, PythonFunction]
) -> None:
    emitted = set()
    for function in functions.values():
        for name in emitted_metrics(function.code / "handler.py", function.layer):
            # where the runtime writes it, configured as the template configures it
            record = _runtime_record(function, name)
            (directive,) = record["_aws"]["CloudWatchMetrics"]
            (dimensions,) = directive["Dimensions"]
            values = {dimension: record[dimension] for dimension in dimensions}
            emitted.add(_metric(directive["Namespace"], name, values))
    assert emitted, "no function emits a custom metric"
    assert {"ingest", "process", "files", "aggregator"} <= set(functions)
    assert dashboard_reads(app) == emitted
    assert alarms_read(app)  # FilesFailed: an alarm on a name the code must really emit
    assert alarms_read(app) <= emitted


def test_each_function_gets_exactly_the_variables_its_settings_read(
    functions: dict[str, PythonFunction],
) -> None:
    for name, function in functions.items():
        model = _settings_model(function)
        read = {field.alias for field in model.model_fields.values()}
        assert set(function.environment) == read, name


def _routed_paths(app: Synthesized, functions: dict[str, PythonFunction]) -> tuple[str, Any]:
    """The path pattern base of the one listener rule, and the handler it forwards to."""
    template = app.json("Compute")
    rule = only(template, "AWS::ElasticLoadBalancingV2::ListenerRule")["Properties"]
    (condition,) = rule["Conditions"]
    patterns = condition["PathPatternConfig"]["Values"]
    (base,) = [p for p in patterns if not p.endswith("/*")]
    assert patterns == [base, f"{base}/*"]  # the bare path and everything below it
    group_ref = rule["Actions"][0]["TargetGroupArn"]["Ref"]
    (target,) = template["Resources"][group_ref]["Properties"]["Targets"]
    (function,) = [f for f in functions.values() if target["Id"]["Fn::GetAtt"][0] == f.logical_id]
    return base, function


@pytest.fixture
def routed(
    app: Synthesized, functions: dict[str, PythonFunction], monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[str, Any]]:
    """The routed path and its handler, configured from the template's environment."""
    base, function = _routed_paths(app, functions)
    for name, value in function.environment.items():
        monkeypatch.setenv(name, value if isinstance(value, str) else "https://queue.invalid/1/q")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("POWERTOOLS_TRACE_DISABLED", "true")
    handler = _handler(function)
    handler.get_settings.cache_clear()
    handler.get_service.cache_clear()
    yield base, handler
    handler.get_settings.cache_clear()
    handler.get_service.cache_clear()


def test_the_routed_path_is_the_path_the_handler_serves(routed: tuple[str, Any]) -> None:
    base, handler = routed

    def status(path: str, method: str = "POST") -> int:
        # text/plain: a served route answers 415 from its body reader, before any AWS call
        event = alb_event("{}", method=method, path=path, content_type="text/plain")
        return int(handler.lambda_handler(event, FakeContext())["statusCode"])

    assert status(base) == 415
    assert status(f"{base}/") == 415
    assert status(base, method="GET") == 405  # the API, another method
    assert status(f"{base}/below") == 404  # forwarded by the ALB, no route in the handler
    assert status(f"{base}x") == 404


# --- the ledger (issue 8): the files bucket's layout and the orders-stream filter ---------


def _files_rule(app: Synthesized) -> dict[str, Any]:
    rule: dict[str, Any] = only(app.json("Compute"), "AWS::Events::Rule")["Properties"]
    return rule


def test_the_rule_forwards_exactly_the_events_the_file_processor_parses(app: Synthesized) -> None:
    pattern = _files_rule(app)["EventPattern"]
    ((key_rule,),) = [pattern["detail"]["object"]["key"]]
    # an event as S3 sends it to EventBridge, built from what the rule matches
    event = {
        "source": pattern["source"][0],
        "detail-type": pattern["detail-type"][0],
        "detail": {
            "bucket": {"name": "order-files"},
            "object": {"key": f"{key_rule['prefix']}partner/2025-01-31.csv", "version-id": "v1"},
        },
    }
    ref = ObjectCreatedEvent.parse(event)
    assert (ref.bucket, ref.version_id) == ("order-files", "v1")
    # the rule's prefix is the one the processor takes files from
    assert key_rule == {"prefix": bucket.INCOMING}
    assert ref.processed_key == f"{bucket.PROCESSED}partner/2025-01-31.csv"


def test_the_bucket_expires_what_the_processor_writes(app: Synthesized) -> None:
    files_bucket = [
        b["Properties"]
        for b in resources(app.json("Data"), "AWS::S3::Bucket").values()
        if "NotificationConfiguration" in b["Properties"]
    ]
    ((rules,),) = [[b["LifecycleConfiguration"]["Rules"] for b in files_bucket]]
    prefixes = {rule["Prefix"] for rule in rules if "Prefix" in rule}
    assert prefixes == {bucket.PROCESSED, bucket.REJECTED}
    assert ObjectRef("b", f"{bucket.INCOMING}a.csv").report_key.startswith(bucket.REJECTED)


def test_the_orders_filter_looks_for_the_amount_process_stores_as_a_number(
    app: Synthesized,
) -> None:
    mappings = resources(app.json("Compute"), "AWS::Lambda::EventSourceMapping").values()
    (filters,) = [
        m["Properties"]["FilterCriteria"]["Filters"]
        for m in mappings
        if "FilterCriteria" in m["Properties"]
    ]
    attributes = set()
    for entry in filters:
        pattern = json.loads(entry["Pattern"])
        ((image, fields),) = pattern["dynamodb"].items()
        assert image in ("NewImage", "OldImage")
        ((name, typed),) = fields.items()
        assert typed == {"N": [{"exists": True}]}
        attributes.add(name)
    (attribute,) = attributes
    # the Order field of that name is an exact Decimal, which boto3 writes as a Number
    order = Order.model_validate(
        {"order_id": "1", "item": "x", "customer_id": "c", attribute: "12.50"}
    )
    stored = AcceptedOrder(
        order=order, stamp=Stamp.create(accepted_at=ACCEPTED_AT, request_id=REQUEST_ID, position=0)
    ).to_item()
    assert TypeSerializer().serialize(stored[attribute]) == {"N": "12.50"}
