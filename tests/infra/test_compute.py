"""Compute stack: functions, roles with exact actions on exact ARNs, the ALB and the mapping."""

from __future__ import annotations

import re
from typing import Any

from tests.infra.conftest import Synthesized, only, resources

API_FUNCTIONS = {"ingest", "process", "status"}  # in the VPC's private subnets
LEDGER_FUNCTIONS = {"files", "aggregator"}  # outside it (docs/decisions.md)


def _functions(dev: Synthesized) -> dict[str, dict[str, Any]]:
    """The app's functions by name (ingest/process/status/files/aggregator), not CDK's."""
    found = {}
    for function in resources(dev.json("Compute"), "AWS::Lambda::Function").values():
        if function["Properties"].get("Handler") != "handler.lambda_handler":
            continue
        name = function["Properties"]["Environment"]["Variables"]["POWERTOOLS_SERVICE_NAME"]
        found[name.removeprefix("orders-")] = function["Properties"]
    assert set(found) == API_FUNCTIONS | LEDGER_FUNCTIONS
    return found


def _role_statements(dev: Synthesized, function: dict[str, Any]) -> list[dict[str, Any]]:
    """Every statement granted to a function's role: inline and attached policies."""
    template = dev.json("Compute")
    role_id = function["Role"]["Fn::GetAtt"][0]
    role = template["Resources"][role_id]["Properties"]
    assert "ManagedPolicyArns" not in role, "no AWS managed policies: only what is used"
    statements = [s for p in role["Policies"] for s in p["PolicyDocument"]["Statement"]]
    for policy in resources(template, "AWS::IAM::Policy").values():
        if {"Ref": role_id} in policy["Properties"]["Roles"]:
            statements += policy["Properties"]["PolicyDocument"]["Statement"]
    return statements


def _actions(statement: dict[str, Any]) -> list[str]:
    action = statement["Action"]
    return [action] if isinstance(action, str) else list(action)


def test_runtime_architecture_handler_and_sizes(dev: Synthesized) -> None:
    functions = _functions(dev)
    for name, function in functions.items():
        assert function["Runtime"] == "python3.14"
        assert function["Architectures"] == ["arm64"]
        assert function["Handler"] == "handler.lambda_handler"
        assert function["TracingConfig"] == {"Mode": "Active"}
        assert len(function["Layers"]) == 2
        assert "LogGroup" in function["LoggingConfig"]
        if name in API_FUNCTIONS:
            assert len(function["VpcConfig"]["SubnetIds"]) == 2
            assert len(function["VpcConfig"]["SecurityGroupIds"]) == 1
        else:
            assert "VpcConfig" not in function
    assert functions["ingest"]["Timeout"] == 10
    assert functions["process"]["Timeout"] == 30
    assert functions["status"]["Timeout"] == 10
    assert functions["ingest"]["MemorySize"] == 512
    assert functions["status"]["MemorySize"] == 512
    # a file is read in one invocation: Lambda's longest timeout, one full vCPU
    assert (functions["files"]["Timeout"], functions["files"]["MemorySize"]) == (900, 1769)
    assert (functions["aggregator"]["Timeout"], functions["aggregator"]["MemorySize"]) == (60, 512)


def test_environment_wires_each_function_to_its_resource(dev: Synthesized) -> None:
    functions = _functions(dev)
    ingest_env = functions["ingest"]["Environment"]["Variables"]
    process_env = functions["process"]["Environment"]["Variables"]
    status_env = functions["status"]["Environment"]["Variables"]
    assert "Fn::ImportValue" in ingest_env["ORDERS_QUEUE_URL"]
    assert "ORDERS_TABLE_NAME" not in ingest_env
    assert "Fn::ImportValue" in process_env["ORDERS_TABLE_NAME"]
    assert "ORDERS_QUEUE_URL" not in process_env
    assert process_env["ORDERS_MAX_RECEIVE_COUNT"] == "5"  # the queue's redrive setting
    assert status_env["ORDERS_TABLE_NAME"] == process_env["ORDERS_TABLE_NAME"]
    assert "ORDERS_QUEUE_URL" not in status_env
    for name, function in functions.items():
        env = function["Environment"]["Variables"]
        assert env["POWERTOOLS_LOG_LEVEL"] == "INFO"
        assert env["POWERTOOLS_METRICS_NAMESPACE"] == "Orders-dev"
        # every function that checks amounts checks them against the one ledger currency
        assert env.get("LEDGER_CURRENCY") == (None if name == "status" else "IDR")


def test_powertools_layer_comes_from_the_pinned_public_ssm_parameter(dev: Synthesized) -> None:
    parameters = dev.json("Compute")["Parameters"]
    defaults = [p["Default"] for p in parameters.values()]
    assert "/aws/service/powertools/python/arm64/python3.14/3.37.0" in defaults


def _flat(resource: Any) -> str:
    """A resource as text: an import by its export name, a join joined (as cdk-nag does)."""
    if isinstance(resource, str):
        return resource
    if "Fn::ImportValue" in resource:
        return str(resource["Fn::ImportValue"])
    if "Fn::Join" in resource:
        delimiter, parts = resource["Fn::Join"]
        return str(delimiter).join(_flat(part) for part in parts)
    if "Fn::GetAtt" in resource:
        return "<{}.{}>".format(*resource["Fn::GetAtt"])
    return f"<{resource['Ref']}>"


def _export(stack: str, logical_id: str, attribute: str) -> str:
    """A pattern for the export of `logical_id`'s attribute from Orders-dev-<stack>."""
    return rf"Orders-dev-{stack}:ExportsOutputFnGetAtt{logical_id}[0-9A-F]{{8}}{attribute}\w+"


BUCKET = _export("Data", "OrderFilesBucket", "Arn")
# action -> patterns of the exact resources it is granted on (one match each)
EXPECTED_DATA_ACTIONS: dict[str, dict[str, list[str]]] = {
    "ingest": {"sqs:SendMessage": [_export("Queue", "OrdersQueue", "Arn")]},
    # read-only, and only the two reads it makes (no Scan, no BatchGetItem)
    "status": {
        "dynamodb:GetItem": [_export("Data", "OrdersTable", "Arn")],
        "dynamodb:Query": [_export("Data", "OrdersTable", "Arn")],
    },
    "process": {
        "dynamodb:PutItem": [_export("Data", "OrdersTable", "Arn")],
        **{
            action: [_export("Queue", "OrdersQueue", "Arn")]
            for action in ("sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes")
        },
    },
    "files": {
        "s3:GetObject": [f"{BUCKET}/incoming/\\*"],
        "s3:GetObjectVersion": [f"{BUCKET}/incoming/\\*"],
        "s3:DeleteObjectVersion": [f"{BUCKET}/incoming/\\*"],
        "s3:PutObject": [f"{BUCKET}/processed/\\*", f"{BUCKET}/rejected/\\*"],
        "s3:AbortMultipartUpload": [f"{BUCKET}/processed/\\*", f"{BUCKET}/rejected/\\*"],
        "s3:DeleteObject": [f"{BUCKET}/rejected/\\*"],
        "s3:ListBucket": [BUCKET],
        "dynamodb:BatchWriteItem": [_export("Data", "TransactionsTable", "Arn")],
        "dynamodb:UpdateItem": [_export("Data", "CustomersTable", "Arn")],
        "sqs:SendMessage": [_export("Queue", "FilesDeadLetterQueue", "Arn")],
    },
    "aggregator": {
        "dynamodb:BatchGetItem": [
            _export("Data", "PostingsTable", "Arn"),
            _export("Data", "TotalsTable", "Arn"),
        ],
        "dynamodb:PutItem": [_export("Data", "PostingsTable", "Arn")],
        "dynamodb:UpdateItem": [_export("Data", "TotalsTable", "Arn")],
        **{
            action: [
                _export("Data", "OrdersTable", "StreamArn"),
                _export("Data", "TransactionsTable", "StreamArn"),
            ]
            for action in (
                "dynamodb:DescribeStream",
                "dynamodb:GetRecords",
                "dynamodb:GetShardIterator",
            )
        },
        "dynamodb:ListStreams": [
            _export("Data", "OrdersTable", "Arn") + "/stream/\\*",
            _export("Data", "TransactionsTable", "Arn") + "/stream/\\*",
        ],
        "sns:Publish": [r"Orders-dev-Queue:ExportsOutputRefHighBalanceAlertTopic\w+"],
        "sqs:SendMessage": [_export("Queue", "AggregatorFailureQueue", "Arn")],
    },
}


def test_each_role_holds_exactly_the_actions_its_function_calls(dev: Synthesized) -> None:
    functions = _functions(dev)
    no_resource_level = {
        "ec2:CreateNetworkInterface",
        "ec2:DescribeNetworkInterfaces",
        "ec2:DescribeSubnets",
        "ec2:DeleteNetworkInterface",
        "ec2:AssignPrivateIpAddresses",
        "ec2:UnassignPrivateIpAddresses",
        "xray:PutTraceSegments",
        "xray:PutTelemetryRecords",
    }
    for name, function in functions.items():
        granted: dict[str, list[str]] = {}
        for statement in _role_statements(dev, function):
            assert statement["Effect"] == "Allow"
            assert "Condition" not in statement
            found = statement["Resource"]
            for action in _actions(statement):
                assert "*" not in action, f"wildcard action {action} on {name}"
                granted.setdefault(action, []).extend(
                    _flat(resource) for resource in (found if isinstance(found, list) else [found])
                )
        data_actions = {
            a: r for a, r in granted.items() if not a.startswith(("ec2:", "xray:", "logs:"))
        }
        expected = EXPECTED_DATA_ACTIONS[name]
        assert set(data_actions) == set(expected), name
        for action, patterns in expected.items():
            # the exact ARNs, imported from the stack that owns them, nothing more
            assert len(data_actions[action]) == len(patterns), (name, action)
            for pattern in patterns:
                matches = [r for r in data_actions[action] if re.fullmatch(pattern, r)]
                assert len(matches) == 1, (name, action, pattern, data_actions[action])
        for action, found in granted.items():
            if "*" in found:
                assert action in no_resource_level, f"{action} on * for {name}"
        # only functions in the VPC manage ENIs
        assert any(a.startswith("ec2:") for a in granted) == (name in API_FUNCTIONS)
        assert {a for a in granted if a.startswith("logs:")} == {
            "logs:CreateLogStream",
            "logs:PutLogEvents",
        }


def test_each_function_logs_to_its_own_group_with_retention(dev: Synthesized) -> None:
    template = dev.json("Compute")
    groups = resources(template, "AWS::Logs::LogGroup")
    assert len(groups) == 5  # one per function
    assert all(g["Properties"]["RetentionInDays"] == 30 for g in groups.values())
    used = [f["LoggingConfig"]["LogGroup"]["Ref"] for f in _functions(dev).values()]
    assert sorted(used) == sorted(groups)
    for function in _functions(dev).values():  # and may write to that group only
        group = function["LoggingConfig"]["LogGroup"]["Ref"]
        (logs,) = [s for s in _role_statements(dev, function) if _actions(s)[0].startswith("logs:")]
        assert logs["Resource"] == {"Fn::GetAtt": [group, "Arn"]}


def test_queue_mapping_batches_and_reports_item_failures(dev: Synthesized) -> None:
    mappings = resources(dev.json("Compute"), "AWS::Lambda::EventSourceMapping")
    (mapping,) = (m["Properties"] for k, m in mappings.items() if k.startswith("ProcessQueue"))
    assert mapping["BatchSize"] == 10
    assert mapping["MaximumBatchingWindowInSeconds"] == 1
    assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert mapping["ScalingConfig"] == {"MaximumConcurrency": 5}
    assert "Orders-dev-Queue:" in mapping["EventSourceArn"]["Fn::ImportValue"]


def _rules(dev: Synthesized) -> dict[str, dict[str, Any]]:
    """Listener rules by the service of the function they forward to."""
    template = dev.json("Compute")
    functions = {
        logical_id: f["Properties"]["Environment"]["Variables"]["POWERTOOLS_SERVICE_NAME"]
        for logical_id, f in resources(template, "AWS::Lambda::Function").items()
        if "Environment" in f["Properties"]
    }
    found = {}
    for rule in resources(template, "AWS::ElasticLoadBalancingV2::ListenerRule").values():
        (action,) = rule["Properties"]["Actions"]
        assert action["Type"] == "forward"
        group = template["Resources"][action["TargetGroupArn"]["Ref"]]["Properties"]
        assert group["TargetType"] == "lambda"
        (target,) = group["Targets"]
        found[functions[target["Id"]["Fn::GetAtt"][0]]] = rule["Properties"]
    return found


def test_listener_rules_route_the_api_and_default_to_json_404(dev: Synthesized) -> None:
    template = dev.json("Compute")
    listener = only(template, "AWS::ElasticLoadBalancingV2::Listener")["Properties"]
    assert (listener["Port"], listener["Protocol"]) == (80, "HTTP")
    (default,) = listener["DefaultActions"]
    assert default["Type"] == "fixed-response"
    assert default["FixedResponseConfig"]["StatusCode"] == "404"
    assert default["FixedResponseConfig"]["ContentType"] == "application/json"
    rules = _rules(dev)
    assert set(rules) == {"orders-ingest", "orders-status"}
    assert rules["orders-ingest"]["Conditions"] == [
        {"Field": "path-pattern", "PathPatternConfig": {"Values": ["/lambda/api", "/lambda/api/*"]}}
    ]
    # status reads only: GET/HEAD below /orders/, tried before ingest's catch-all; other
    # methods there reach ingest, which answers 405 as the edge does
    assert rules["orders-status"]["Conditions"] == [
        {"Field": "path-pattern", "PathPatternConfig": {"Values": ["/lambda/api/orders/*"]}},
        {"Field": "http-request-method", "HttpRequestMethodConfig": {"Values": ["GET", "HEAD"]}},
    ]
    assert rules["orders-status"]["Priority"] < rules["orders-ingest"]["Priority"]


def test_load_balancer_placement_and_hardening(
    dev: Synthesized, prod: Synthesized, synth_with
) -> None:
    alb = only(dev.json("Compute"), "AWS::ElasticLoadBalancingV2::LoadBalancer")["Properties"]
    assert alb["Scheme"] == "internet-facing"
    attributes = {a["Key"]: a["Value"] for a in alb["LoadBalancerAttributes"]}
    assert attributes["routing.http.drop_invalid_header_fields.enabled"] == "true"
    prod_alb = only(prod.json("Compute"), "AWS::ElasticLoadBalancingV2::LoadBalancer")
    prod_attributes = {
        a["Key"]: a["Value"] for a in prod_alb["Properties"]["LoadBalancerAttributes"]
    }
    assert prod_attributes["deletion_protection.enabled"] == "true"
    internal = synth_with(alb_internet_facing="false")
    alb = only(internal.json("Compute"), "AWS::ElasticLoadBalancingV2::LoadBalancer")["Properties"]
    assert alb["Scheme"] == "internal"


def test_alb_may_invoke_the_http_functions_only(dev: Synthesized) -> None:
    template = dev.json("Compute")
    by_service = {
        f["Properties"]["Environment"]["Variables"]["POWERTOOLS_SERVICE_NAME"]: logical_id
        for logical_id, f in resources(template, "AWS::Lambda::Function").items()
        if "Environment" in f["Properties"]
    }
    invoked = set()
    for permission in resources(template, "AWS::Lambda::Permission").values():
        properties = permission["Properties"]
        assert properties["Action"] == "lambda:InvokeFunction"
        if properties["Principal"] == "events.amazonaws.com":
            continue  # the files rule's, tested with the rule (tests/infra/test_ledger.py)
        assert properties["Principal"] == "elasticloadbalancing.amazonaws.com"
        invoked.add(properties["FunctionName"]["Fn::GetAtt"][0])
    assert invoked == {by_service["orders-ingest"], by_service["orders-status"]}


def test_stage_names_every_stack(prod: Synthesized) -> None:
    names = sorted(stack.stack_name for stack in prod.stacks.values())
    assert names == [
        "Orders-prod-Compute",
        "Orders-prod-Data",
        "Orders-prod-Network",
        "Orders-prod-Queue",
    ]
