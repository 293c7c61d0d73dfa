"""What moto's CloudFormation skips, completed through the AWS APIs after each stack.

moto cannot create some resource types (template_prep leaves them out of the deployed
copy) and ignores some properties of types it does create. For the ones the emulated
services act on, the template's values are evaluated by moto's own CloudFormation in the
deployed stack (services/evaluate.py: Ref, Fn::GetAtt, Fn::Sub, Fn::ImportValue... as
CloudFormation resolves them) and applied with the service's API, each recorded as a
"patch" difference (emulated, differently). A resource that cannot be completed stays
reported as left out, with the reason.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from local_cloud.aws import client
from local_cloud.deploy.differences import Difference
from local_cloud.services.evaluate import EvaluationError, evaluate

if TYPE_CHECKING:
    from local_cloud.deploy.deployer import DeployedStack
    from local_cloud.deploy.template_prep import Omission

EVENT_INVOKE_CONFIG_TYPE = "AWS::Lambda::EventInvokeConfig"
SUBSCRIPTION_TYPE = "AWS::SNS::Subscription"
_SUBSCRIPTION_JSON_ATTRIBUTES = ("RedrivePolicy", "FilterPolicy", "DeliveryPolicy")
BUCKET_TYPE = "AWS::S3::Bucket"
# CloudFormation's NotificationConfiguration lists -> the S3 API's, and their ARN keys
_NOTIFICATION_KINDS = (
    ("LambdaConfigurations", "LambdaFunctionConfigurations", "Function", "LambdaFunctionArn"),
    ("QueueConfigurations", "QueueConfigurations", "Queue", "QueueArn"),
    ("TopicConfigurations", "TopicConfigurations", "Topic", "TopicArn"),
)


def notification_configuration(cfn: dict[str, Any]) -> dict[str, Any]:
    """A bucket's NotificationConfiguration as PutBucketNotificationConfiguration takes it."""
    api: dict[str, Any] = {}
    bridge = cfn.get("EventBridgeConfiguration")
    if isinstance(bridge, dict) and bridge.get("EventBridgeEnabled", True) in (True, "true"):
        api["EventBridgeConfiguration"] = {}
    for cfn_key, api_key, cfn_arn, api_arn in _NOTIFICATION_KINDS:
        entries = []
        for entry in cfn.get(cfn_key) or []:
            converted: dict[str, Any] = {api_arn: entry[cfn_arn], "Events": [entry["Event"]]}
            rules = ((entry.get("Filter") or {}).get("S3Key") or {}).get("Rules")
            if rules:
                converted["Filter"] = {
                    "Key": {
                        "FilterRules": [{"Name": r["Name"], "Value": r["Value"]} for r in rules]
                    }
                }
            entries.append(converted)
        if entries:
            api[api_key] = entries
    return api


class Completer:
    """Completes one deployed stack from its template (the assembly's, not the copy)."""

    def __init__(
        self, aws_url: str, region: str, template: dict[str, Any], deployed: DeployedStack
    ) -> None:
        self.aws_url = aws_url
        self.region = region
        self.template = template
        self.deployed = deployed
        self.differences: list[Difference] = []
        self._types: dict[str, Callable[[str, dict[str, Any]], str]] = {
            EVENT_INVOKE_CONFIG_TYPE: self._event_invoke_config,
            SUBSCRIPTION_TYPE: self._subscription,
        }

    def _evaluate(self, value: Any) -> Any:
        return evaluate(self.aws_url, self.deployed.name, self.region, value)

    def _patch(self, logical_id: str, detail: str) -> None:
        self.differences.append(Difference("patch", f"{self.deployed.name}/{logical_id}", detail))

    def complete(self, omissions: list[Omission]) -> set[str]:
        """Create what moto left out (when its type is known here) and apply the properties
        moto ignores; the logical ids of the left-out resources now created."""
        done: set[str] = set()
        resources = self.template.get("Resources", {})
        for omission in omissions:
            create = self._types.get(omission.resource_type)
            if create is None or omission.kind != "unsupported-type":
                continue
            properties = resources[omission.logical_id].get("Properties", {})
            try:
                detail = create(omission.logical_id, self._evaluate(properties))
            except (EvaluationError, ClientError, BotoCoreError, KeyError, ValueError) as exc:
                self.differences.append(
                    Difference(
                        "patch",
                        f"{self.deployed.name}/{omission.logical_id}",
                        f"{omission.resource_type} could not be completed here: {exc}",
                    )
                )
                continue
            self._patch(omission.logical_id, detail)
            done.add(omission.logical_id)
        self._complete_properties()
        return done

    def _complete_properties(self) -> None:
        """Properties moto's CloudFormation ignores on resources it did create."""
        for logical_id, resource in self.template.get("Resources", {}).items():
            if logical_id not in self.deployed.resources:
                continue
            if resource.get("Type") == BUCKET_TYPE:
                self._bucket(logical_id, resource.get("Properties", {}))

    # -- AWS::S3::Bucket ------------------------------------------------------------------
    def _bucket(self, logical_id: str, properties: dict[str, Any]) -> None:
        """Versioning and event notifications (EventBridge, Lambda, SQS, SNS): what the
        emulated S3 acts on. Lifecycle rules, logging, replication are not applied."""
        wanted = {
            k: properties[k]
            for k in ("VersioningConfiguration", "NotificationConfiguration")
            if k in properties
        }
        if not wanted:
            return
        bucket = self.deployed.resources[logical_id][1]
        s3 = client("s3", self.aws_url, self.region)
        try:
            values = self._evaluate(wanted)
            if "VersioningConfiguration" in values:
                status = values["VersioningConfiguration"].get("Status", "Suspended")
                s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": status})
            if "NotificationConfiguration" in values:
                s3.put_bucket_notification_configuration(
                    Bucket=bucket,
                    NotificationConfiguration=notification_configuration(
                        values["NotificationConfiguration"]
                    ),
                )
        except (EvaluationError, ClientError, BotoCoreError, KeyError) as exc:
            self._patch(logical_id, f"{', '.join(wanted)} could not be applied here: {exc}")
            return
        self._patch(
            logical_id,
            f"{' and '.join(wanted)} applied through the S3 API (moto's CloudFormation "
            "ignores them)",
        )

    # -- AWS::SNS::Subscription -----------------------------------------------------------
    def _subscription(self, _logical_id: str, properties: dict[str, Any]) -> str:
        attributes: dict[str, str] = {}
        if "RawMessageDelivery" in properties:
            raw = properties["RawMessageDelivery"]
            attributes["RawMessageDelivery"] = str(raw in (True, "true", "True")).lower()
        for key in _SUBSCRIPTION_JSON_ATTRIBUTES:
            if key in properties:
                value = properties[key]
                attributes[key] = value if isinstance(value, str) else json.dumps(value)
        if "FilterPolicyScope" in properties:
            attributes["FilterPolicyScope"] = str(properties["FilterPolicyScope"])
        topic = str(properties["TopicArn"])
        region = str(properties.get("Region") or topic.split(":")[3] or self.region)
        client("sns", self.aws_url, region).subscribe(
            TopicArn=topic,
            Protocol=str(properties["Protocol"]),
            Endpoint=str(properties["Endpoint"]),
            Attributes=attributes,
            ReturnSubscriptionArn=True,
        )
        return (
            f"{SUBSCRIPTION_TYPE} made through the SNS API (moto's CloudFormation cannot "
            f"create it), with {', '.join(attributes) or 'no attributes'}"
        )

    # -- AWS::Lambda::EventInvokeConfig --------------------------------------------------
    def _event_invoke_config(self, _logical_id: str, properties: dict[str, Any]) -> str:
        config: dict[str, Any] = {"FunctionName": properties["FunctionName"]}
        qualifier = properties.get("Qualifier")
        if qualifier and qualifier != "$LATEST":
            config["Qualifier"] = qualifier
        for key in ("MaximumRetryAttempts", "MaximumEventAgeInSeconds"):
            if key in properties:
                config[key] = int(properties[key])
        if properties.get("DestinationConfig"):
            config["DestinationConfig"] = properties["DestinationConfig"]
        client("lambda", self.aws_url, self.region).put_function_event_invoke_config(**config)
        return (
            f"{EVENT_INVOKE_CONFIG_TYPE} put through the Lambda API (moto's CloudFormation "
            "cannot create it): async retries, event age and destinations apply"
        )
