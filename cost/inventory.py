"""What in a synthesized assembly costs money: counted from the CloudFormation templates.

Only the cloud assembly is read (manifest.json and the templates), so the figures follow
whatever the settings synthesized: a stage, the edge on or off, another region.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

STACK_ARTIFACT = "aws:cloudformation:stack"
NESTED_ASSEMBLY = "cdk:cloud-assembly"
SERVICE_VARIABLE = "POWERTOOLS_SERVICE_NAME"


class AssemblyError(ValueError):
    """The directory is not a synthesized assembly this tool can read."""


@dataclass(frozen=True)
class Function:
    """A Lambda function's billing-relevant settings."""

    service: str  # POWERTOOLS_SERVICE_NAME, or the logical id when it has none
    memory_mb: int
    architecture: str  # "arm64" or "x86_64"
    traced: bool = False  # active X-Ray tracing


@dataclass(frozen=True)
class Mapping:
    """An event source mapping: what it polls and how many records a call carries."""

    source: str  # "sqs" or "dynamodb"
    batch_size: int
    service: str  # the function it invokes


@dataclass
class Inventory:
    """Counts and settings of everything with a price, for one assembly."""

    region: str
    stacks: list[str] = field(default_factory=list)
    load_balancers: int = 0
    interface_endpoint_azs: int = 0  # one entry per endpoint per AZ (subnet)
    nat_gateways: int = 0
    kms_keys: int = 0
    alarms: int = 0
    dashboards: int = 0
    web_acl_rules: list[int] = field(default_factory=list)  # rules per web ACL
    distributions: int = 0
    functions: dict[str, Function] = field(default_factory=dict)
    edge_functions: list[Function] = field(default_factory=list)
    mappings: list[Mapping] = field(default_factory=list)
    custom_metrics: set[tuple[str, str]] = field(default_factory=set)  # (namespace, name)
    fargate_tasks: list[tuple[float, float]] = field(default_factory=list)  # (vCPU, GB)

    def function(self, suffix: str) -> Function | None:
        """The function whose service name ends with `-suffix` (e.g. "ingest")."""
        for name, function in self.functions.items():
            if name == suffix or name.endswith(f"-{suffix}"):
                return function
        return None

    def mapping(self, suffix: str) -> Mapping | None:
        for mapping in self.mappings:
            if mapping.service == suffix or mapping.service.endswith(f"-{suffix}"):
                return mapping
        return None


def _read(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise AssemblyError(f"{path} not found: synthesize first (make synth)") from exc
    if not isinstance(data, dict):
        raise AssemblyError(f"{path} is not a JSON object")
    return data


def _stacks(directory: Path) -> list[tuple[str, str | None, dict[str, Any]]]:
    """(stack name, region or None, template) for every stack, nested assemblies included."""
    found = []
    for artifact_id, artifact in _read(directory / "manifest.json").get("artifacts", {}).items():
        props = artifact.get("properties", {})
        if artifact.get("type") == STACK_ARTIFACT:
            environment = str(artifact.get("environment", ""))
            region = environment.rsplit("/", 1)[-1] if environment.startswith("aws://") else ""
            found.append(
                (
                    str(props.get("stackName", artifact_id)),
                    None if not region or region.startswith("unknown-") else region,
                    _read(directory / props["templateFile"]),
                )
            )
        elif artifact.get("type") == NESTED_ASSEMBLY:
            found += _stacks(directory / props["directoryName"])
    return found


def _service(resource: dict[str, Any], logical_id: str) -> str:
    variables = resource.get("Properties", {}).get("Environment", {}).get("Variables", {})
    name = variables.get(SERVICE_VARIABLE)
    return name if isinstance(name, str) else logical_id


def _function(resource: dict[str, Any], logical_id: str) -> Function:
    props = resource.get("Properties", {})
    architectures = props.get("Architectures") or ["x86_64"]
    return Function(
        service=_service(resource, logical_id),
        memory_mb=int(props.get("MemorySize", 128)),
        architecture=str(architectures[0]),
        traced=props.get("TracingConfig", {}).get("Mode") == "Active",
    )


def _referenced(resource: Any, kind: str) -> list[str]:
    """Logical ids a resource's properties name with `Ref` (kind "Ref") or `Fn::GetAtt`."""
    found: list[str] = []
    if isinstance(resource, dict):
        for key, value in resource.items():
            if key == kind == "Ref" and isinstance(value, str):
                found.append(value)
            elif key == kind == "Fn::GetAtt" and isinstance(value, list) and value:
                found.append(str(value[0]))
            else:
                found += _referenced(value, kind)
    elif isinstance(resource, list):
        for value in resource:
            found += _referenced(value, kind)
    return found


def _edge_functions(stacks: list[tuple[str, str | None, dict[str, Any]]]) -> set[tuple[str, str]]:
    """(stack, logical id) of every function a CloudFront distribution runs (Lambda@Edge).

    A distribution names a function version: in its own stack (`Ref` to an
    AWS::Lambda::Version), or, when the app lives outside us-east-1, through CDK's
    cross-region reader of the SSM parameter the us-east-1 edge stack writes the version
    ARN into. Both lead to the version's function, in whichever stack it is.
    """
    versions: dict[tuple[str, str], tuple[str, str]] = {}  # version -> its function
    parameters: dict[str, tuple[str, str]] = {}  # SSM parameter name -> the version it holds
    wanted_versions: set[tuple[str, str]] = set()
    wanted_parameters: set[str] = set()
    for name, _, template in stacks:
        resources: dict[str, Any] = template.get("Resources", {})
        for logical_id, resource in resources.items():
            kind, props = resource.get("Type"), resource.get("Properties", {})
            if kind == "AWS::Lambda::Version":
                for function_id in _referenced(props.get("FunctionName"), "Ref"):
                    versions[(name, logical_id)] = (name, function_id)
            elif kind == "AWS::SSM::Parameter" and isinstance(props.get("Name"), str):
                for version_id in _referenced(props.get("Value"), "Ref"):
                    parameters[props["Name"]] = (name, version_id)
            elif kind == "AWS::CloudFront::Distribution":
                associations = [
                    association
                    for behavior in _behaviors(props.get("DistributionConfig", {}))
                    for association in behavior.get("LambdaFunctionAssociations", [])
                ]
                arns = [association.get("LambdaFunctionARN") for association in associations]
                for version_id in _referenced(arns, "Ref"):
                    wanted_versions.add((name, version_id))
                for reader_id in _referenced(arns, "Fn::GetAtt"):
                    reader = resources.get(reader_id, {}).get("Properties", {})
                    if isinstance(reader.get("ParameterName"), str):
                        wanted_parameters.add(reader["ParameterName"])
    wanted_versions |= {parameters[p] for p in wanted_parameters if p in parameters}
    return {versions[v] for v in wanted_versions if v in versions}


def _behaviors(config: dict[str, Any]) -> list[dict[str, Any]]:
    return [config.get("DefaultCacheBehavior", {}), *config.get("CacheBehaviors", [])]


def _dashboard_body(body: Any) -> dict[str, Any]:
    """A dashboard's JSON body, with CloudFormation tokens (ARNs, names) as placeholders."""
    if isinstance(body, dict) and "Fn::Join" in body:
        body = "".join(part if isinstance(part, str) else "TOKEN" for part in body["Fn::Join"][1])
    try:
        parsed = json.loads(body) if isinstance(body, str) else {}
    except ValueError:
        return {}
    return parsed if isinstance(parsed, dict) else {}


def _custom_metrics(template: dict[str, Any]) -> set[tuple[str, str]]:
    """Custom (non-AWS/) metrics that a dashboard or an alarm reads."""
    metrics: set[tuple[str, str]] = set()
    for resource in template.get("Resources", {}).values():
        props = resource.get("Properties", {})
        if resource.get("Type") == "AWS::CloudWatch::Alarm":
            namespace, name = props.get("Namespace"), props.get("MetricName")
            if isinstance(namespace, str) and not namespace.startswith("AWS/"):
                metrics.add((namespace, str(name)))
        elif resource.get("Type") == "AWS::CloudWatch::Dashboard":
            for widget in _dashboard_body(props.get("DashboardBody")).get("widgets", []):
                for metric in widget.get("properties", {}).get("metrics", []):
                    if (
                        (
                            len(metric) >= 2
                            and isinstance(metric[0], str)
                            and isinstance(metric[1], str)
                        )
                        and metric[0] != "."
                        and not metric[0].startswith("AWS/")
                    ):
                        metrics.add((metric[0], metric[1]))
    return metrics


def _fargate_size(resource: dict[str, Any]) -> tuple[float, float]:
    props = resource.get("Properties", {})
    return int(props.get("Cpu", 256)) / 1024, int(props.get("Memory", 512)) / 1024


def load_inventory(directory: str | Path) -> Inventory:
    """Count what costs money in the assembly at `directory` (usually cdk.out)."""
    stacks = _stacks(Path(directory))
    if not stacks:
        raise AssemblyError(f"{directory} holds no CloudFormation stacks")
    # The app's region: where most of its stacks are (an app outside us-east-1 has its
    # Lambda@Edge function in a small us-east-1 stack of its own).
    regions = Counter(region for _, region, _ in stacks if region)
    inventory = Inventory(
        region=min(regions, key=lambda r: (-regions[r], r)) if regions else "us-east-1"
    )
    services: dict[str, str] = {}  # function logical id -> service, per template
    edge_functions = _edge_functions(stacks)
    for name, _, template in stacks:
        inventory.stacks.append(name)
        resources: dict[str, Any] = template.get("Resources", {})
        edge_ids = {logical_id for stack, logical_id in edge_functions if stack == name}
        services.clear()
        for logical_id, resource in resources.items():
            _count(inventory, logical_id, resource, edge_ids, services)
        for resource in resources.values():
            if resource.get("Type") == "AWS::Lambda::EventSourceMapping":
                props = resource.get("Properties", {})
                source = json.dumps(props.get("EventSourceArn", ""))
                target = json.dumps(props.get("FunctionName", ""))
                service = next((s for lid, s in services.items() if f'"{lid}"' in target), "")
                inventory.mappings.append(
                    Mapping(
                        source="dynamodb" if "Stream" in source else "sqs",
                        batch_size=int(props.get("BatchSize", 10)),
                        service=service,
                    )
                )
        inventory.custom_metrics |= _custom_metrics(template)
    return inventory


def _count(  # noqa: PLR0912 - one branch per priced resource type
    inventory: Inventory,
    logical_id: str,
    resource: dict[str, Any],
    edge_ids: set[str],
    services: dict[str, str],
) -> None:
    kind = resource.get("Type")
    props = resource.get("Properties", {})
    if kind == "AWS::ElasticLoadBalancingV2::LoadBalancer":
        if props.get("Type", "application") == "application":
            inventory.load_balancers += 1
    elif kind == "AWS::EC2::VPCEndpoint":
        if props.get("VpcEndpointType") == "Interface" or "SubnetIds" in props:
            inventory.interface_endpoint_azs += len(props.get("SubnetIds", []))
    elif kind == "AWS::EC2::NatGateway":
        inventory.nat_gateways += 1
    elif kind == "AWS::KMS::Key":
        inventory.kms_keys += 1
    elif kind == "AWS::CloudWatch::Alarm":
        inventory.alarms += 1
    elif kind == "AWS::CloudWatch::Dashboard":
        inventory.dashboards += 1
    elif kind == "AWS::WAFv2::WebACL":
        inventory.web_acl_rules.append(len(props.get("Rules", [])))
    elif kind == "AWS::CloudFront::Distribution":
        inventory.distributions += 1
    elif kind == "AWS::Lambda::Function":
        function = _function(resource, logical_id)
        if logical_id in edge_ids:
            inventory.edge_functions.append(function)
        elif SERVICE_VARIABLE in json.dumps(props.get("Environment", {})):
            inventory.functions[function.service] = function
            services[logical_id] = function.service
    elif kind == "AWS::ECS::TaskDefinition":
        inventory.fargate_tasks.append(_fargate_size(resource))
