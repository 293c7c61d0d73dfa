"""The two sides of every name that crosses from infrastructure to runtime agree.

Infrastructure defines them once in stacks/contract.py, the runtime once in orders_core
(MetricName, the ingest routes, each function's settings model). Stacks may not import
handler code, so this test does it: it synthesizes the app, finds each Python function's
handler through its code asset, and checks, per function,
- the dashboard and the alarms read exactly the custom metrics its code emits, in the
  namespace and under the service dimension its own observability writes;
- it gets exactly the environment variables its settings model reads;
- the paths the ALB routes to it are paths its handler serves, and the ALB's answers to
  other paths and methods are the edge function's.
Renaming a metric, a variable or the path on one side only fails here.
"""

from __future__ import annotations

import ast
import importlib
import json
import re
import typing
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from boto3.dynamodb.types import TypeSerializer
from orders_core import observability
from orders_core.files import bucket
from orders_core.files import task as files_task
from orders_core.files.bucket import ObjectRef
from orders_core.files.event import ObjectCreatedEvent
from orders_core.files.settings import FileTaskSettings, override_names
from orders_core.model import AcceptedOrder, Order, Stamp
from orders_core.observability import MetricName
from orders_core.settings import CommonSettings, load_settings, variables
from orders_core.versioning import format_accepted_at

from lambdas.edge.viewer_request.gate import ViewerRequestGate
from stacks import contract
from tests.infra.conftest import (
    ROOT,
    PythonFunction,
    Synthesized,
    python_functions,
    resources,
    synth,
)
from tests.unit.edge_support import cf_request
from tests.unit.events import FakeContext, alb_event

LAYER_SOURCE = ROOT / "lambdas" / "shared" / "python"
AWS_NAMESPACE_PREFIX = "AWS/"  # AWS's own metrics; everything else is ours
ACCEPTED_AT = format_accepted_at(1_735_689_600_000_000_000)
REQUEST_ID = "11111111-1111-1111-1111-111111111111"
# (namespace, metric name, dimensions): one custom metric as CloudWatch identifies it.
Metric = tuple[str, str, frozenset[tuple[str, str]]]


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    # with the large-file task (issue 10), so every variable either side names is set
    return Synthesized(synth(tmp_path_factory.mktemp("contract"), large_files_enabled=True))


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
        for name in ("ingest", "process", "status", "files", "aggregator")
    }
    assert {"OrdersAccepted", "RequestsRejected"} <= emitted["ingest"]
    assert {"OrdersStored", "OrdersDeadLettered"} <= emitted["process"]
    assert emitted["status"] == {"StatusReads", "RequestsRejected"}
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
        read = set(variables(model))
        assert set(function.environment) == read, name


@dataclass(frozen=True)
class Rule:
    """One listener rule: what it matches and the function it forwards to."""

    priority: int
    patterns: tuple[str, ...]
    methods: tuple[str, ...] | None
    function: PythonFunction

    def matches(self, method: str, path: str) -> bool:
        def wildcard(pattern: str) -> str:  # ALB knows "*" and "?"
            return "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)

        return any(re.fullmatch(wildcard(p), path) for p in self.patterns) and (
            self.methods is None or method in self.methods
        )


def listener_rules(app: Synthesized, functions: dict[str, PythonFunction]) -> list[Rule]:
    """The listener's rules in the order the ALB tries them."""
    template = app.json("Compute")
    rules = []
    for rule in resources(template, "AWS::ElasticLoadBalancingV2::ListenerRule").values():
        properties = rule["Properties"]
        conditions = {c["Field"]: c for c in properties["Conditions"]}
        assert set(conditions) <= {"path-pattern", "http-request-method"}
        methods = conditions.get("http-request-method", {}).get("HttpRequestMethodConfig")
        group_ref = properties["Actions"][0]["TargetGroupArn"]["Ref"]
        (target,) = template["Resources"][group_ref]["Properties"]["Targets"]
        (function,) = [
            f for f in functions.values() if target["Id"]["Fn::GetAtt"][0] == f.logical_id
        ]
        rules.append(
            Rule(
                priority=int(properties["Priority"]),
                patterns=tuple(conditions["path-pattern"]["PathPatternConfig"]["Values"]),
                methods=tuple(methods["Values"]) if methods else None,
                function=function,
            )
        )
    assert rules, "no listener rules"
    return sorted(rules, key=lambda rule: rule.priority)


@pytest.fixture
def through_the_alb(
    app: Synthesized, functions: dict[str, PythonFunction], monkeypatch: pytest.MonkeyPatch
) -> Iterator[Any]:
    """Answer a request line the way the ALB would: the first matching rule's handler,
    configured from the template's environment, or the listener's JSON 404."""
    rules = listener_rules(app, functions)
    for rule in rules:
        for name, value in rule.function.environment.items():
            monkeypatch.setenv(name, value if isinstance(value, str) else f"<{name}>")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("POWERTOOLS_TRACE_DISABLED", "true")
    # A request that gets as far as an AWS call fails fast here, and never leaves the host.
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(name, "testing")
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    handlers = {rule.function.source.name: _handler(rule.function) for rule in rules}

    def clear() -> None:
        for handler in handlers.values():
            handler.get_settings.cache_clear()
            handler.get_service.cache_clear()

    def answer(method: str, path: str) -> tuple[str, int]:
        rule = next((r for r in rules if r.matches(method, path)), None)
        if rule is None:
            return "listener", 404
        # text/plain: ingest answers 415 from its body reader, before any AWS call
        event = alb_event("{}", method=method, path=path, content_type="text/plain")
        handler = handlers[rule.function.source.name]
        clear()  # each function reads its own environment, set above
        return rule.function.source.name, int(
            handler.lambda_handler(event, FakeContext())["statusCode"]
        )

    clear()
    yield answer
    clear()


@pytest.mark.parametrize(
    ("method", "path", "served_by", "status"),
    [
        ("POST", "/lambda/api", "ingest", 415),
        ("POST", "/lambda/api/", "ingest", 415),
        ("GET", "/lambda/api", "ingest", 405),  # the API, another method
        ("POST", "/lambda/api/below", "ingest", 404),  # forwarded, no route in the handler
        ("POST", "/lambda/apix", "listener", 404),
        # status paths: GET/HEAD to status (a blank id is refused before any AWS call),
        # other methods through ingest, which answers 405 as the edge does
        ("GET", "/lambda/api/orders/%20", "status", 400),
        ("HEAD", "/lambda/api/orders/1/%20", "status", 400),
        ("GET", "/lambda/api/orders/", "status", 404),
        ("GET", "/lambda/api/orders/1/2/3", "status", 404),
        ("POST", "/lambda/api/orders/1", "ingest", 405),
        ("DELETE", "/lambda/api/orders/1/x", "ingest", 405),
        ("POST", "/lambda/api/orders/1/", "ingest", 404),
        ("GET", "/lambda/api/orders", "ingest", 404),
    ],
)
def test_each_routed_path_is_a_path_its_handler_serves(
    through_the_alb: Any, method: str, path: str, served_by: str, status: int
) -> None:
    assert through_the_alb(method, path) == (served_by, status)


@pytest.mark.parametrize(
    "path",
    [
        "/lambda/api",
        "/lambda/api/",
        "/lambda/api/x",
        "/lambda/api/orders",
        "/lambda/api/orders/",
        "/lambda/api/orders/1",
        "/lambda/api/orders/1/x",
        "/lambda/api/orders/1/",
        "/lambda/api/orders//x",
        "/lambda/api/orders/1/x/y",
        "/other",
    ],
)
@pytest.mark.parametrize("method", ["GET", "HEAD", "POST", "PUT", "DELETE"])
def test_the_alb_and_the_edge_refuse_paths_and_methods_alike(
    through_the_alb: Any, method: str, path: str
) -> None:
    # Where the edge refuses on path or method, the API behind the ALB gives the same
    # status (so the edge being on or off changes nothing a client can see there).
    gate = ViewerRequestGate(authenticator=None, new_request_id=lambda: "rid")
    headers = {"Content-Type": "text/plain"}
    edge = gate.handle(cf_request(method, path, headers))
    edge_status = int(edge.get("status", 0))
    if edge_status in (404, 405):
        assert through_the_alb(method, path)[1] == edge_status
    else:  # passed on (or refused for the body), so the path and method exist
        assert through_the_alb(method, path)[1] not in (404, 405)


# --- the ledger (issue 8): the files bucket's layout and the orders-stream filter ---------


def _files_rule(app: Synthesized) -> dict[str, Any]:
    (rule,) = [
        found["Properties"]
        for found in resources(app.json("Compute"), "AWS::Events::Rule").values()
        if found["Properties"]["EventPattern"]["source"] == ["aws.s3"]
    ]
    return rule  # type: ignore[no-any-return]


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
    order = Order.parse({"order_id": "1", "item": "x", "customer_id": "c", attribute: "12.50"})
    stored = AcceptedOrder(
        order=order, stamp=Stamp.create(accepted_at=ACCEPTED_AT, request_id=REQUEST_ID, position=0)
    ).to_item()
    assert TypeSerializer().serialize(stored[attribute]) == {"N": "12.50"}


# --- the large-file task (issue 10) --------------------------------------------------------


def test_the_task_gets_exactly_what_its_settings_read_less_what_the_function_sets(
    app: Synthesized,
) -> None:
    (definition,) = resources(app.json("Compute"), "AWS::ECS::TaskDefinition").values()
    (container,) = definition["Properties"]["ContainerDefinitions"]
    set_by_stack = {variable["Name"] for variable in container["Environment"]}
    read = set(variables(FileTaskSettings))
    per_run = set(override_names())  # the function's RunTask overrides
    assert set_by_stack == read - per_run
    assert container["Name"] == contract.FILES_TASK_CONTAINER


def test_the_task_exit_codes_and_command_are_the_ones_the_stack_expects() -> None:
    assert files_task.REPORTED_EXIT == contract.FILES_TASK_REPORTED_EXIT
    dockerfile = (ROOT / "containers" / "files-task" / "Dockerfile").read_text()
    assert f'CMD ["python", "-m", "{contract.FILES_TASK_MODULE}"]' in dockerfile
    assert files_task.__name__ == contract.FILES_TASK_MODULE
