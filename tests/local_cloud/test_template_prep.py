"""Template copy: custom resources left out with what serves them; SSM parameters to seed."""

from __future__ import annotations

import copy

from local_cloud.deploy.template_prep import prepare_template, references

CUSTOM = {
    "Resources": {
        "Vpc": {"Type": "AWS::EC2::VPC", "Properties": {}},
        "ProviderRole": {"Type": "AWS::IAM::Role", "Properties": {}},
        "ProviderHandler": {
            "Type": "AWS::Lambda::Function",
            "Properties": {"Role": {"Fn::GetAtt": ["ProviderRole", "Arn"]}},
            "DependsOn": ["ProviderRole"],
        },
        "Restrict": {
            "Type": "Custom::VpcRestrictDefaultSG",
            "Properties": {
                "ServiceToken": {"Fn::GetAtt": ["ProviderHandler", "Arn"]},
                "DefaultSecurityGroupId": {"Fn::GetAtt": ["Vpc", "DefaultSecurityGroup"]},
            },
        },
        "Reader": {
            "Type": "AWS::SSM::Parameter",
            "Properties": {"Value": {"Fn::Sub": "${Restrict.Value}"}},
        },
        "Waiter": {"Type": "AWS::SQS::Queue", "DependsOn": ["Restrict", "Vpc"]},
    },
    "Outputs": {
        "VpcId": {"Value": {"Ref": "Vpc"}},
        "Restricted": {"Value": {"Fn::GetAtt": ["Restrict", "Value"]}},
    },
}


def test_references_finds_ref_getatt_and_sub():
    node = {"a": [{"Ref": "A"}, {"Fn::GetAtt": "B.Arn"}, {"Fn::Sub": ["${C}-${AWS::Region}", {}]}]}
    assert set(references(node)) == {"A", "B", "C"}  # pseudo parameters are not resources


def test_custom_resource_its_provider_and_readers_are_left_out():
    prepared = prepare_template("Net", CUSTOM)

    left_out = {o.logical_id: o.reason for o in prepared.omissions}
    assert {o.logical_id: o.kind for o in prepared.omissions} == {
        "Restrict": "custom-resource",
        "ProviderHandler": "custom-resource-part",
        "ProviderRole": "custom-resource-part",
        "Reader": "reader",
    }
    assert "custom resource" in left_out["Restrict"]
    assert "Restrict" in left_out["Reader"]
    assert set(prepared.template["Resources"]) == {"Vpc", "Waiter"}
    # DependsOn on a left-out resource is dropped, the rest kept
    assert prepared.template["Resources"]["Waiter"]["DependsOn"] == ["Vpc"]
    assert prepared.dropped_outputs == ["Restricted"]
    assert "VpcId" in prepared.template["Outputs"]


def test_the_assembly_template_is_never_modified():
    original = copy.deepcopy(CUSTOM)
    prepare_template("Net", CUSTOM)
    assert original == CUSTOM


def test_a_provider_still_used_elsewhere_is_kept():
    template = copy.deepcopy(CUSTOM)
    template["Resources"]["User"] = {
        "Type": "AWS::SNS::Topic",
        "Properties": {"Name": {"Ref": "ProviderHandler"}},
    }
    prepared = prepare_template("Net", template)
    assert "ProviderHandler" in prepared.template["Resources"]
    assert "ProviderRole" in prepared.template["Resources"]


PARAMS = {
    "Parameters": {
        "Powertools": {
            "Type": "AWS::SSM::Parameter::Value<String>",
            "Default": "/aws/service/powertools/python/arm64/python3.14/3.37.0",
        },
        "Ami": {
            "Type": "AWS::SSM::Parameter::Value<String>",
            "Default": "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64",
        },
        "BootstrapVersion": {
            "Type": "AWS::SSM::Parameter::Value<String>",
            "Default": "/cdk-bootstrap/hnb659fds/version",
        },
        "Plain": {"Type": "String", "Default": "x"},
    },
    "Resources": {
        "Fn": {
            "Type": "AWS::Lambda::Function",
            "Properties": {"Layers": [{"Ref": "Powertools"}]},
        }
    },
}


def test_ssm_parameters_are_seeds_at_their_own_path_and_the_template_is_unchanged():
    prepared = prepare_template(
        "Compute",
        PARAMS,
        bootstrap_parameter="/cdk-bootstrap/hnb659fds/version",
        emulator_has=lambda path: "ami-amazon-linux" in path,
    )

    seeds = {s.template_parameter: s for s in prepared.seeds}
    # the public parameter is held by the emulation where the template names it, so the
    # same template deploys through the CDK CLI too
    assert prepared.template["Parameters"] == PARAMS["Parameters"]
    assert seeds["Powertools"].path == "/aws/service/powertools/python/arm64/python3.14/3.37.0"
    assert seeds["Powertools"].kind == "layer"
    assert seeds["BootstrapVersion"].kind == "bootstrap"
    # a public parameter the emulation already knows is no seed
    assert "Ami" not in seeds
    assert "Plain" not in seeds


def test_types_moto_cannot_create_are_left_out_with_their_readers():
    template = {
        "Resources": {
            "Alarm": {"Type": "AWS::CloudWatch::Alarm", "Properties": {}},
            "Dashboard": {
                "Type": "AWS::CloudWatch::Dashboard",
                "Properties": {"Body": {"Fn::GetAtt": ["Alarm", "Arn"]}},
            },
            "Queue": {"Type": "AWS::SQS::Queue", "Properties": {}},
        }
    }
    prepared = prepare_template(
        "Mon", template, supported=lambda kind: kind != "AWS::CloudWatch::Alarm"
    )

    reasons = {o.logical_id: o.reason for o in prepared.omissions}
    assert "does not implement" in reasons["Alarm"]
    assert "Alarm" in reasons["Dashboard"]
    assert set(prepared.template["Resources"]) == {"Queue"}
