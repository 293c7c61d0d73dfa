"""What the banner's upload and queue lines point at, found in the deployed assembly.

- Uploads that lead somewhere: a bucket whose EventBridge notifications are on (its
  template's ``NotificationConfiguration``) and an enabled rule on the default bus whose
  pattern names that bucket (``source`` ``aws.s3``, ``detail.bucket.name``), with the key
  prefix of ``detail.object.key``; or a bucket's own Lambda/SQS/SNS notification of
  created objects, with its ``prefix`` filter rule.
- Queues that receive a topic's messages: SQS subscriptions of the deployed topics.

Nothing here knows the app: bucket, prefix, target and queue names all come from the
emulation and the templates.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from local_cloud.deploy.completions import BUCKET_TYPE, notification_configuration

if TYPE_CHECKING:
    from local_cloud.cloud import LocalCloud

_DIRECT_KINDS = (
    ("LambdaFunctionConfigurations", "LambdaFunctionArn"),
    ("QueueConfigurations", "QueueArn"),
    ("TopicConfigurations", "TopicArn"),
)


@dataclass(frozen=True)
class Upload:
    """Objects put under ``prefix`` of ``bucket`` reach ``target`` (a function, queue or
    topic name)."""

    bucket: str
    prefix: str
    target: str

    def destination(self, file_name: str) -> str:
        """The `aws s3 cp` destination for a local file: the prefix itself when it is a
        folder (or empty), else the prefix followed by the file's name."""
        if not self.prefix or self.prefix.endswith("/"):
            return f"s3://{self.bucket}/{self.prefix}"
        return f"s3://{self.bucket}/{self.prefix}{file_name.rsplit('/', 1)[-1]}"


@dataclass(frozen=True)
class SubscribedQueue:
    topic: str
    queue_url: str


def _name(arn: str) -> str:
    return arn.rsplit(":", 1)[-1]


def key_prefixes(key_pattern: Any) -> list[str]:
    """The key prefixes an EventBridge ``detail.object.key`` pattern admits: ``[""]`` when
    it does not filter keys, else each ``{"prefix": ...}`` (other matchers are skipped)."""
    if key_pattern is None:
        return [""]
    if not isinstance(key_pattern, list):
        return []
    return [
        entry["prefix"]
        for entry in key_pattern
        if isinstance(entry, dict) and isinstance(entry.get("prefix"), str)
    ]


def rule_uploads(pattern: dict[str, Any], buckets: set[str], target: str) -> list[Upload]:
    """What one EventBridge rule pattern admits of S3's "Object Created" events."""
    sources = pattern.get("source")
    if not isinstance(sources, list) or "aws.s3" not in sources:
        return []
    detail_types = pattern.get("detail-type")
    if isinstance(detail_types, list) and "Object Created" not in detail_types:
        return []
    detail = pattern.get("detail")
    if not isinstance(detail, dict):
        detail = {}
    bucket_pattern = (detail.get("bucket") or {}).get("name")
    named = [b for b in bucket_pattern if isinstance(b, str)] if bucket_pattern else []
    chosen = [b for b in named if b in buckets] if named else sorted(buckets)
    prefixes = key_prefixes((detail.get("object") or {}).get("key"))
    return [Upload(bucket, prefix, target) for bucket in chosen for prefix in prefixes]


def direct_uploads(bucket: str, configuration: dict[str, Any]) -> list[Upload]:
    """A bucket's own notifications (GetBucketNotificationConfiguration) of created objects."""
    found = []
    for kind, arn_key in _DIRECT_KINDS:
        for entry in configuration.get(kind) or []:
            if not any(str(e).startswith("s3:ObjectCreated:") for e in entry.get("Events", [])):
                continue
            rules = ((entry.get("Filter") or {}).get("Key") or {}).get("FilterRules") or []
            prefix = next((r["Value"] for r in rules if r.get("Name", "").lower() == "prefix"), "")
            found.append(Upload(bucket, prefix, _name(entry[arn_key])))
    return found


def _eventbridge_buckets(cloud: LocalCloud) -> set[str]:
    """Physical names of the deployed buckets whose template turns EventBridge on."""
    assert cloud.assembly is not None, "start() first"
    assert cloud.deployment is not None, "start() first"
    deployed = {stack.name: stack.resources for stack in cloud.deployment.stacks}
    names = set()
    for stack in cloud.assembly.stacks:
        resources = deployed.get(stack.stack_name, {})
        for logical_id, resource in (stack.template.get("Resources") or {}).items():
            if resource.get("Type") != BUCKET_TYPE or logical_id not in resources:
                continue
            cfn = (resource.get("Properties") or {}).get("NotificationConfiguration")
            if not isinstance(cfn, dict):
                continue
            if "EventBridgeConfiguration" in notification_configuration(cfn):
                names.add(resources[logical_id][1])
    return names


def _rules(events: Any) -> Iterator[dict[str, Any]]:
    token: str | None = None
    while True:
        page = events.list_rules(**({"NextToken": token} if token else {}))
        yield from page.get("Rules", [])
        token = page.get("NextToken")
        if not token:
            return


def uploads(cloud: LocalCloud) -> list[Upload]:
    """Every (bucket, key prefix) whose uploads reach a function, queue or topic."""
    found: list[Upload] = []
    bridged = _eventbridge_buckets(cloud)
    if bridged:
        events = cloud.client("events")
        for rule in _rules(events):
            if rule.get("State") != "ENABLED" or not rule.get("EventPattern"):
                continue
            targets = events.list_targets_by_rule(Rule=rule["Name"]).get("Targets", [])
            pattern = json.loads(rule["EventPattern"])
            for target in targets:
                found += rule_uploads(pattern, bridged, _name(target["Arn"]))
    s3 = cloud.client("s3")
    for bucket in cloud.resources(BUCKET_TYPE):
        found += direct_uploads(bucket, s3.get_bucket_notification_configuration(Bucket=bucket))
    return list(dict.fromkeys(found))


def subscribed_queues(cloud: LocalCloud) -> list[SubscribedQueue]:
    """The SQS queues subscribed to a topic, with the topic's name."""
    sns, sqs = cloud.client("sns"), cloud.client("sqs")
    found = []
    for page in sns.get_paginator("list_subscriptions").paginate():
        for subscription in page["Subscriptions"]:
            if subscription["Protocol"] != "sqs":
                continue
            url = sqs.get_queue_url(QueueName=_name(subscription["Endpoint"]))["QueueUrl"]
            found.append(SubscribedQueue(_name(subscription["TopicArn"]), url))
    return sorted(found, key=lambda q: (q.topic, q.queue_url))
