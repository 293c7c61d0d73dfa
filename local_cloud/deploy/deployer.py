"""Deploys every stack of an assembly into the emulation, the way `cdk deploy` would.

Seeds what `cdk bootstrap` and AWS would already hold (the asset bucket with every asset
published, the bootstrap-version parameter, stand-ins for public SSM parameters), then
creates the stacks in dependency order through CloudFormation, and reports every template
resource that did not come out of it.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import logging
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

from local_cloud.aws import ACCOUNT_ID, client
from local_cloud.deploy import bootstrap
from local_cloud.deploy.assembly import Assembly, FileAsset
from local_cloud.deploy.completions import Completer
from local_cloud.deploy.differences import Difference
from local_cloud.deploy.moto_types import can_create
from local_cloud.deploy.template_prep import (
    CUSTOM_REASON,
    UNSUPPORTED_REASON,
    Omission,
    SsmSeed,
    prepare_template,
)
from local_cloud.services.control import creatable_types, hold_public_parameters
from local_cloud.services.custom_resources import CUSTOM_RESOURCE_FAILED
from local_cloud.services.environments import find_node

log = logging.getLogger("local_cloud")

DEFAULT_BOOTSTRAP_VERSION = 30
ALL_CAPABILITIES = ["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM", "CAPABILITY_AUTO_EXPAND"]
PLACEHOLDER_VALUE = "local-cloud-placeholder"
PLACEHOLDER_LAYER_FILE = "LOCAL_CLOUD_PLACEHOLDER.txt"  # what a stand-in layer holds
PUBLIC_PREFIX = "/aws/"  # parameters AWS publishes (moto's PutParameter refuses them)
FUNCTION_TYPE = "AWS::Lambda::Function"
LAYER_TYPE = "AWS::Lambda::LayerVersion"
TARGET_GROUP_TYPE = "AWS::ElasticLoadBalancingV2::TargetGroup"
LOAD_BALANCER_TYPE = "AWS::ElasticLoadBalancingV2::LoadBalancer"


class DeployError(Exception):
    """A stack could not be created in the emulation."""


class CustomResourceError(DeployError):
    """A custom resource's provider ran here and failed (or never answered)."""

    def __init__(self, logical_id: str, reason: str) -> None:
        super().__init__(f"custom resource {logical_id}: {reason}")
        self.logical_id = logical_id
        self.reason = reason


@dataclass(frozen=True)
class DeployedStack:
    name: str
    outputs: dict[str, str]
    # logical id -> (resource type, physical id), as CloudFormation reports them
    resources: dict[str, tuple[str, str]]


@dataclass
class Deployment:
    region: str
    stacks: list[DeployedStack] = field(default_factory=list)
    # what was left out, stood in or worked around, for the banner and `status`
    differences: list[Difference] = field(default_factory=list)
    # deployed function name -> its code on disk
    code_dirs: dict[str, Path] = field(default_factory=dict)
    # deployed functions that are custom resources' providers (listed last)
    providers: set[str] = field(default_factory=set)
    # base64 SHA-256 of a published zip (Lambda's CodeSha256) -> the asset directory
    asset_dirs_by_sha: dict[str, Path] = field(default_factory=dict)

    @property
    def outputs(self) -> dict[str, str]:
        """Every stack output by output id (ids are unique across a CDK app's stacks)."""
        merged: dict[str, str] = {}
        for stack in self.stacks:
            merged.update(stack.outputs)
        return merged

    def physical_ids(self, resource_type: str) -> list[str]:
        return [
            physical
            for stack in self.stacks
            for kind, physical in stack.resources.values()
            if kind == resource_type
        ]


def substitute(text: str, account_id: str, region: str) -> str:
    return (
        text.replace("${AWS::AccountId}", account_id)
        .replace("${AWS::Region}", region)
        .replace("${AWS::Partition}", "aws")
    )


def zip_directory(directory: Path) -> bytes:
    """Zip a directory the way the CDK CLI publishes a zip asset (sorted, relative paths)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(directory.rglob("*")):
            if path.is_file():
                archive.write(path, path.relative_to(directory).as_posix())
    return buffer.getvalue()


def layer_code_sha(lambda_client: Any, layer_version_arn: str) -> str:
    """CodeSha256 of a layer version (moto lacks GetLayerVersionByArn)."""
    parts = layer_version_arn.split(":")
    version = lambda_client.get_layer_version(LayerName=parts[6], VersionNumber=int(parts[7]))
    return str(version["Content"].get("CodeSha256", ""))


def _layer_name_for(path: str) -> str:
    name = re.sub(r"[^A-Za-z0-9_-]+", "-", path.strip("/")).strip("-")
    return ("public-" + name)[:64]


class Deployer:
    def __init__(
        self,
        assembly: Assembly,
        endpoint_url: str,
        work_dir: Path,
    ) -> None:
        self.assembly = assembly
        self.endpoint_url = endpoint_url
        self.region = assembly.region
        self.account_id = ACCOUNT_ID
        self.work_dir = work_dir
        self._s3 = client("s3", endpoint_url, self.region)
        self._ssm = client("ssm", endpoint_url, self.region)
        self._lambda = client("lambda", endpoint_url, self.region)
        self._cfn = client("cloudformation", endpoint_url, self.region)
        self._elbv2 = client("elbv2", endpoint_url, self.region)
        self._layer_arns: dict[str, str] = {}
        self._sha_by_key: dict[str, str] = {}  # asset object key -> Lambda-style CodeSha256

    # -- bootstrap ---------------------------------------------------------------------
    def bootstrap(self, deployment: Deployment) -> None:
        """The CDKToolkit stack, as `cdk bootstrap` makes it (deploy/bootstrap.py); without
        the CLI's template, publish_assets seeds the bucket alone (reported)."""
        qualifier = bootstrap.qualifier(
            [a.bucket_name for a in self.assembly.file_assets()],
            [s.bootstrap_version_parameter for s in self.assembly.stacks],
        )
        if qualifier is None:
            return  # not the default synthesizer's layout: its buckets are seeded as named
        template = bootstrap.find_template([self.assembly.directory.parent])
        if template is None:
            detail = (
                "no CDK CLI bootstrap template found (node_modules/aws-cdk, or set "
                f"{bootstrap.TEMPLATE_ENV}): the asset bucket and version parameter are "
                "seeded without a CDKToolkit stack, so `cdk bootstrap` against this "
                "emulation fails (BucketAlreadyExists)"
            )
            deployment.differences.append(Difference("stand-in", "bootstrap", detail))
            return
        bootstrap.create_toolkit_stack(self._cfn, template, qualifier)

    def publish_assets(self, deployment: Deployment) -> None:
        """Create the bootstrap asset bucket(s) unless the bootstrap made them and upload
        every file asset (Docker image assets cannot be built here: they are recorded as
        differences)."""
        self.bootstrap(deployment)
        buckets: set[str] = set()
        for asset in self.assembly.file_assets():
            bucket = substitute(asset.bucket_name, self.account_id, self.region)
            if bucket not in buckets:
                self._create_bucket(bucket)
                buckets.add(bucket)
            body = self._asset_bytes(asset)
            self._s3.put_object(Bucket=bucket, Key=asset.object_key, Body=body)
            sha = base64.b64encode(hashlib.sha256(body).digest()).decode()
            self._sha_by_key[asset.object_key] = sha
            if asset.source.is_dir():
                deployment.asset_dirs_by_sha[sha] = asset.source
        for image in self.assembly.docker_image_assets:
            detail = (
                f"built from {image.source}: not built or pushed, the local cloud cannot build "
                "container images; what runs from it does not run here"
            )
            deployment.differences.append(Difference("docker-image", image.asset_id, detail))

    def _create_bucket(self, bucket: str) -> None:
        try:
            if self.region == "us-east-1":
                self._s3.create_bucket(Bucket=bucket)
            else:
                self._s3.create_bucket(
                    Bucket=bucket,
                    CreateBucketConfiguration={"LocationConstraint": self.region},
                )
        except ClientError as exc:
            if exc.response["Error"]["Code"] not in {
                "BucketAlreadyOwnedByYou",
                "BucketAlreadyExists",
            }:
                raise

    @staticmethod
    def _asset_bytes(asset: FileAsset) -> bytes:
        if asset.source.is_dir():
            return zip_directory(asset.source)
        return asset.source.read_bytes()

    def _parameter_exists(self, path: str) -> bool:
        try:
            self._ssm.get_parameter(Name=path)
        except ClientError:
            return False
        return True

    def _seed(self, seed: SsmSeed, bootstrap_version: int, deployment: Deployment) -> None:
        """A parameter the template resolves: public ones are held at their own path (so
        CloudFormation resolves them for whoever deploys the template, the CDK CLI too)."""
        if self._parameter_exists(seed.path):
            return
        if seed.kind == "bootstrap":
            value = str(bootstrap_version)
        elif seed.kind == "layer":
            value = self._placeholder_layer(seed.path)
            detail = (
                f"a layer: stood in by the empty layer {value}; its packages come from the "
                "runner's own environment"
            )
            deployment.differences.append(Difference("stand-in", seed.path, detail))
        else:
            value = PLACEHOLDER_VALUE
            detail = f"seeded with {value!r} at {seed.path}"
            deployment.differences.append(Difference("stand-in", seed.path, detail))
        if seed.path.startswith(PUBLIC_PREFIX):
            hold_public_parameters(self.endpoint_url, self.region, {seed.path: value})
        else:
            self._ssm.put_parameter(Name=seed.path, Value=value, Type="String", Overwrite=True)

    def _placeholder_layer(self, path: str) -> str:
        """Publish an empty layer standing in for a public one; return its version ARN."""
        if path not in self._layer_arns:
            buffer = io.BytesIO()
            with zipfile.ZipFile(buffer, "w") as archive:
                archive.writestr(PLACEHOLDER_LAYER_FILE, f"stands in for {path}\n")
            published = self._lambda.publish_layer_version(
                LayerName=_layer_name_for(path),
                Description=f"local stand-in for {path}",
                Content={"ZipFile": buffer.getvalue()},
            )
            self._layer_arns[path] = str(published["LayerVersionArn"])
        return self._layer_arns[path]

    # -- stacks -------------------------------------------------------------------------
    def deploy(self, deployment: Deployment | None = None) -> Deployment:
        """Deploy every stack; into `deployment` when given, which then fills in as the
        stacks come up (the runner reads it to run custom resources' providers)."""
        deployment = deployment or Deployment(region=self.region)
        self.publish_assets(deployment)
        supported = can_create(creatable_types(self.endpoint_url))
        bootstrap_version = max(
            [DEFAULT_BOOTSTRAP_VERSION]
            + [s.requires_bootstrap_version or 0 for s in self.assembly.stacks]
        )
        for stack in self.assembly.stacks:
            failed: dict[str, str] = {}  # custom resources whose provider failed here

            def runnable(
                lid: str,
                res: dict[str, Any],
                template: dict[str, Any] = stack.template,
                failed: dict[str, str] = failed,
            ) -> str | None:
                return failed.get(lid) or self._provider_problem(template, res)

            while True:
                prepared = prepare_template(
                    stack.stack_name,
                    stack.template,
                    bootstrap_parameter=stack.bootstrap_version_parameter,
                    emulator_has=self._parameter_exists,
                    supported=supported,
                    runnable=runnable,
                )
                for seed in prepared.seeds:
                    self._seed(seed, bootstrap_version, deployment)
                try:
                    deployed = self._create_stack(stack.stack_name, prepared.template)
                    break
                except CustomResourceError as exc:
                    # Deploy again without it, as if its provider could not run here.
                    failed[exc.logical_id] = f"its provider ran here and failed: {exc.reason}"
                    self._cfn.delete_stack(StackName=stack.stack_name)
            completer = Completer(self.endpoint_url, self.region, stack.template, deployed)
            completed = completer.complete(prepared.omissions)
            deployment.differences += [
                o.as_difference() for o in prepared.omissions if o.logical_id not in completed
            ]
            deployment.differences += completer.differences
            deployment.differences += [
                Difference("dropped-output", f"{stack.stack_name}.{o}", "reads a left-out resource")
                for o in prepared.dropped_outputs
            ]
            deployment.stacks.append(deployed)
            self._record_skipped(prepared.template, deployed, deployment)
            self._register_targets(prepared.template, deployed, deployment)
            self._apply_elb_attributes(prepared.template, deployed, deployment)
            self._attach_layers(prepared.template, deployed, deployment)
            self._record_code(prepared.template, deployed, deployment)
            deployment.providers |= self._providers(prepared.template, deployed)
        return deployment

    @staticmethod
    def _providers(template: dict[str, Any], deployed: DeployedStack) -> set[str]:
        """The functions of this stack that serve its custom resources."""
        found = set()
        for resource in template.get("Resources", {}).values():
            token = resource.get("Properties", {}).get("ServiceToken")
            target = token.get("Fn::GetAtt", [None])[0] if isinstance(token, dict) else None
            kind, physical = deployed.resources.get(str(target), ("", ""))
            if kind == FUNCTION_TYPE:
                found.add(physical)
        return found

    def _provider_problem(self, template: dict[str, Any], resource: dict[str, Any]) -> str | None:
        """Why a custom resource's provider cannot run here, or None when it can: a Python
        function of the same template whose code is an asset directory of the assembly."""
        token = resource.get("Properties", {}).get("ServiceToken")
        target = token.get("Fn::GetAtt", [None])[0] if isinstance(token, dict) else None
        provider = template.get("Resources", {}).get(target) if isinstance(target, str) else None
        if provider is None or provider.get("Type") != FUNCTION_TYPE:
            return CUSTOM_REASON + " (not a function of this stack)"
        properties = provider.get("Properties", {})
        runtime = str(properties.get("Runtime", ""))
        if runtime.startswith("nodejs") and find_node() is None:
            return CUSTOM_REASON + f" ({runtime}: no node executable here)"
        if not runtime.startswith(("python", "nodejs")):
            return CUSTOM_REASON + f" ({runtime or 'no'} runtime)"
        key = properties.get("Code", {}).get("S3Key")
        asset = self.assembly.asset_for_key(key) if isinstance(key, str) else None
        if asset is None or not asset.source.is_dir():
            return CUSTOM_REASON + " (its code is not an asset directory)"
        return None

    def _create_stack(self, name: str, template: dict[str, Any]) -> DeployedStack:
        log.debug("creating stack %s", name)
        try:
            answer = self._cfn.create_stack(
                StackName=name,
                TemplateBody=json.dumps(template),
                Capabilities=ALL_CAPABILITIES,
            )
        except ClientError as exc:
            message = str(exc.response.get("Error", {}).get("Message", ""))
            if message.startswith(CUSTOM_RESOURCE_FAILED):
                logical_id, _, reason = message.removeprefix(
                    CUSTOM_RESOURCE_FAILED + ": "
                ).partition(": ")
                raise CustomResourceError(logical_id, reason) from exc
            raise DeployError(f"stack {name}: {exc}") from exc
        except Exception as exc:  # moto answers 500 when a resource crashes it
            raise DeployError(
                f"stack {name}: moto's CloudFormation crashed on a resource of it (its "
                f"traceback is above): {type(exc).__name__}"
            ) from exc
        described = self._cfn.describe_stacks(StackName=answer["StackId"])["Stacks"][0]
        status = described["StackStatus"]
        if status != "CREATE_COMPLETE":
            reason = described.get("StackStatusReason", "")
            raise DeployError(f"stack {name} ended in {status}: {reason}")
        outputs = {o["OutputKey"]: o["OutputValue"] for o in described.get("Outputs", [])}
        resources: dict[str, tuple[str, str]] = {}
        for page in self._cfn.get_paginator("list_stack_resources").paginate(StackName=name):
            for summary in page["StackResourceSummaries"]:
                resources[summary["LogicalResourceId"]] = (
                    summary["ResourceType"],
                    summary.get("PhysicalResourceId", ""),
                )
        return DeployedStack(name=name, outputs=outputs, resources=resources)

    @staticmethod
    def _record_skipped(
        template: dict[str, Any], deployed: DeployedStack, deployment: Deployment
    ) -> None:
        for logical_id, resource in template.get("Resources", {}).items():
            if logical_id not in deployed.resources:
                omission = Omission(
                    deployed.name,
                    logical_id,
                    str(resource.get("Type")),
                    UNSUPPORTED_REASON,
                    "unsupported-type",
                )
                deployment.differences.append(omission.as_difference())

    def _layer_arn(self, resource: dict[str, Any]) -> str | None:
        """The ARN of a layer moto created from a template (it reports no physical id)."""
        key = resource.get("Properties", {}).get("Content", {}).get("S3Key")
        sha = self._sha_by_key.get(key) if isinstance(key, str) else None
        if sha is None:
            return None
        for layer in self._lambda.list_layers()["Layers"]:
            for version in self._lambda.list_layer_versions(LayerName=layer["LayerName"])[
                "LayerVersions"
            ]:
                arn = str(version["LayerVersionArn"])
                if layer_code_sha(self._lambda, arn) == sha:
                    return arn
        return None

    def _resolve(  # noqa: PLR0911 - one return per supported intrinsic
        self, node: Any, template: dict[str, Any], deployed: DeployedStack
    ) -> str | None:
        """The value of a simple template expression, from the deployed stack."""
        if isinstance(node, str):
            return node
        if not isinstance(node, dict) or len(node) != 1:
            return None
        ((key, value),) = node.items()
        if key == "Ref" and value in deployed.resources:
            kind, physical = deployed.resources[value]
            if kind == LAYER_TYPE and not physical:
                return self._layer_arn(template.get("Resources", {}).get(value, {}))
            return physical
        if key == "Ref" and value in template.get("Parameters", {}):
            spec = template["Parameters"][value]
            if str(spec.get("Type", "")).startswith("AWS::SSM::Parameter::Value<"):
                return str(self._ssm.get_parameter(Name=spec["Default"])["Parameter"]["Value"])
            return str(spec["Default"]) if "Default" in spec else None
        if key == "Fn::GetAtt" and isinstance(value, list) and value[0] in deployed.resources:
            kind, physical = deployed.resources[value[0]]
            if kind == FUNCTION_TYPE and value[1] == "Arn":
                config = self._lambda.get_function_configuration(FunctionName=physical)
                return str(config["FunctionArn"])
            return None
        if key == "Fn::ImportValue" and isinstance(value, str):
            for page in self._cfn.get_paginator("list_exports").paginate():
                for export in page["Exports"]:
                    if export["Name"] == value:
                        return str(export["Value"])
        return None

    def _register_targets(
        self, template: dict[str, Any], deployed: DeployedStack, deployment: Deployment
    ) -> None:
        """Register TargetGroup.Targets, which moto's CloudFormation ignores."""
        for logical_id, resource in template.get("Resources", {}).items():
            if resource.get("Type") != TARGET_GROUP_TYPE or logical_id not in deployed.resources:
                continue
            targets = []
            for target in resource.get("Properties", {}).get("Targets", []):
                target_id = self._resolve(target.get("Id"), template, deployed)
                if target_id is None:
                    raise DeployError(
                        f"stack {deployed.name}: cannot resolve target {target} of {logical_id}"
                    )
                targets.append(
                    {"Id": target_id, **({"Port": target["Port"]} if "Port" in target else {})}
                )
            if targets:
                self._elbv2.register_targets(
                    TargetGroupArn=deployed.resources[logical_id][1], Targets=targets
                )
                deployment.differences.append(
                    Difference(
                        "patch",
                        f"{deployed.name}/{logical_id}",
                        "targets registered by the runner (moto's CloudFormation ignores "
                        "TargetGroup.Targets)",
                    )
                )

    def _apply_elb_attributes(
        self, template: dict[str, Any], deployed: DeployedStack, deployment: Deployment
    ) -> None:
        """Apply LoadBalancerAttributes and TargetGroupAttributes, which moto's
        CloudFormation ignores (the front door reads them back, e.g. whether to drop
        invalid header fields)."""
        for logical_id, resource in template.get("Resources", {}).items():
            kind = resource.get("Type")
            key = {
                LOAD_BALANCER_TYPE: "LoadBalancerAttributes",
                TARGET_GROUP_TYPE: "TargetGroupAttributes",
            }.get(kind)
            wanted = resource.get("Properties", {}).get(key) if key else None
            if not wanted or logical_id not in deployed.resources:
                continue
            arn = deployed.resources[logical_id][1]
            skipped: list[str] = []
            for attribute in wanted:
                value = self._resolve(attribute.get("Value"), template, deployed)
                try:
                    if value is None:
                        raise ValueError("its value cannot be resolved here")
                    change = [{"Key": attribute["Key"], "Value": value}]
                    if kind == LOAD_BALANCER_TYPE:
                        self._elbv2.modify_load_balancer_attributes(
                            LoadBalancerArn=arn, Attributes=change
                        )
                    else:
                        self._elbv2.modify_target_group_attributes(
                            TargetGroupArn=arn, Attributes=change
                        )
                except (ClientError, ValueError) as exc:
                    skipped.append(f"{attribute['Key']} ({exc})")
            detail = f"{key} applied by the runner (moto's CloudFormation ignores them)"
            if skipped:
                detail += f"; not applied: {', '.join(skipped)}"
            deployment.differences.append(
                Difference("patch", f"{deployed.name}/{logical_id}", detail)
            )

    def _attach_layers(
        self, template: dict[str, Any], deployed: DeployedStack, deployment: Deployment
    ) -> None:
        """Attach Function.Layers, which moto's CloudFormation ignores."""
        for logical_id, resource in template.get("Resources", {}).items():
            layers = resource.get("Properties", {}).get("Layers")
            if resource.get("Type") != FUNCTION_TYPE or not layers:
                continue
            if logical_id not in deployed.resources:
                continue
            arns = [self._resolve(layer, template, deployed) for layer in layers]
            if any(arn is None for arn in arns):
                raise DeployError(f"stack {deployed.name}: cannot resolve {logical_id}.Layers")
            self._lambda.update_function_configuration(
                FunctionName=deployed.resources[logical_id][1], Layers=arns
            )
            deployment.differences.append(
                Difference(
                    "patch",
                    f"{deployed.name}/{logical_id}",
                    "layers attached by the runner (moto's CloudFormation ignores Function.Layers)",
                )
            )

    def _record_code(
        self, template: dict[str, Any], deployed: DeployedStack, deployment: Deployment
    ) -> None:
        """Map each deployed function to its code directory in the assembly.

        (Layers are matched by their CodeSha256 instead: moto reports no physical id for them.)
        """
        for logical_id, resource in template.get("Resources", {}).items():
            kind = resource.get("Type")
            if kind != FUNCTION_TYPE or logical_id not in deployed.resources:
                continue
            code = resource.get("Properties", {}).get("Code", {})
            physical = deployed.resources[logical_id][1]
            key = code.get("S3Key")
            asset = self.assembly.asset_for_key(key) if isinstance(key, str) else None
            if asset is not None and asset.source.is_dir():
                deployment.code_dirs[physical] = asset.source
            elif isinstance(code.get("ZipFile"), str):
                # Inline code: Lambda stores it as index.<ext> (index.py for Python runtimes)
                inline_dir = self.work_dir / "inline" / logical_id
                inline_dir.mkdir(parents=True, exist_ok=True)
                (inline_dir / "index.py").write_text(code["ZipFile"], encoding="utf-8")
                deployment.code_dirs[physical] = inline_dir
