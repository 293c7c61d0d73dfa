"""Capabilities (stacks/constructs) group the compute stack's code without moving a
resource: every logical id stays what it was, or CloudFormation would replace it."""

from __future__ import annotations

import pytest
from aws_cdk import App, CfnResource, Stack
from constructs import Construct

from stacks.constructs.capability import Capability, CapabilityStack, make_unique_id
from tests.infra.conftest import Synthesized

# The compute stack's resources as deployed before the split into capabilities
# (dev defaults). Replacing any of them would cost something: a new ALB is a new DNS
# name, new log groups and buckets orphan the retained prod ones.
DEPLOYED_IDS = {
    "SharedLayer27DFABF0": "AWS::Lambda::LayerVersion",
    "IngestLogGroup131E2484": "AWS::Logs::LogGroup",
    "IngestRoleAF8AE6D8": "AWS::IAM::Role",
    "IngestFunction4B2F2EB2": "AWS::Lambda::Function",
    "ProcessLogGroup7A881554": "AWS::Logs::LogGroup",
    "ProcessRole798D1B35": "AWS::IAM::Role",
    "ProcessFunction7E4ECD78": "AWS::Lambda::Function",
    "ProcessQueueMapping2994CA52": "AWS::Lambda::EventSourceMapping",
    "LoadBalancerBE9EEC3A": "AWS::ElasticLoadBalancingV2::LoadBalancer",
    "LoadBalancerHttpF4A6AC3E": "AWS::ElasticLoadBalancingV2::Listener",
    "LoadBalancerHttpIngestGroup12A881B5": "AWS::ElasticLoadBalancingV2::TargetGroup",
    "LoadBalancerHttpIngestRule14174A47": "AWS::ElasticLoadBalancingV2::ListenerRule",
    "AccessLogsServerAccessLogs077357A8": "AWS::S3::Bucket",
    "AccessLogsAlbAccessLogs929F38BB": "AWS::S3::Bucket",
    "MonitoringAlarmTopicKeyFFA45DC9": "AWS::KMS::Key",
    "MonitoringAlarmTopicAF62D4F1": "AWS::SNS::Topic",
    "MonitoringDashboard0C3675C6": "AWS::CloudWatch::Dashboard",
}


def test_the_split_kept_every_deployed_logical_id(dev: Synthesized) -> None:
    found = {k: v["Type"] for k, v in dev.json("Compute")["Resources"].items()}
    assert {k: found.get(k) for k in DEPLOYED_IDS} == DEPLOYED_IDS


@pytest.mark.parametrize(
    "path",
    [
        ["Topic"],
        ["Topic", "Resource"],
        ["Default", "Topic"],
        ["Alb", "Http", "IngestGroup"],
        ["Pipeline", "Pipeline", "Resource"],
        ["Odd-Name", "with.dots", "Resource"],
        ["Long" * 70, "Resource"],
    ],
)
def test_make_unique_id_is_cdks_own_rule(path: list[str]) -> None:
    stack = Stack(App(), "Plain")
    scope: Construct = stack
    for part in path[:-1]:
        scope = Construct(scope, part)
    resource = CfnResource(scope, path[-1], type="AWS::SNS::Topic")
    assert make_unique_id(path) == stack.resolve(resource.logical_id)


def test_a_capability_is_left_out_of_its_resources_ids() -> None:
    stack = CapabilityStack(App(), "Composed")
    inside = CfnResource(Capability(stack, "Part"), "PartTopic", type="AWS::SNS::Topic")
    nested = CfnResource(
        Construct(Capability(stack, "Other"), "Group"), "Resource", type="AWS::SNS::Topic"
    )
    assert stack.resolve(inside.logical_id) == "PartTopic"
    assert stack.resolve(nested.logical_id) == make_unique_id(["Group", "Resource"])


def test_two_capabilities_cannot_hand_out_one_id() -> None:
    app = App()
    stack = CapabilityStack(app, "Clash")
    CfnResource(Capability(stack, "One"), "Function", type="AWS::SNS::Topic")
    CfnResource(Capability(stack, "Two"), "Function", type="AWS::SNS::Topic")
    with pytest.raises(Exception, match="would share the logical id Function"):
        app.synth()
