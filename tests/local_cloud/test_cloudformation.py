"""The emulation's CloudFormation as the CDK CLI drives it: change sets, template URLs,
resource types moto lacks, deletion, parameters, public parameters and deployed code."""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError

from local_cloud.aws import client
from local_cloud.services.control import deployed_code, hold_public_parameters
from local_cloud.services.emulator import Emulator, start_emulator
from local_cloud.services.functions import DeployedCode
from local_cloud.services.moto_patches import STAND_IN_PREFIX
from tests.local_cloud.conftest import wait_for

REGION = "us-east-1"


@pytest.fixture(scope="module")
def emulator() -> Iterator[Emulator]:
    running = start_emulator(port=0)
    yield running
    running.stop()


def aws(emulator: Emulator, service: str) -> Any:
    return client(service, emulator.url, REGION)


def deploy_with_change_set(cfn: Any, name: str, template: dict[str, Any], **more: Any) -> str:
    """What `cdk deploy` does: CreateChangeSet, wait, ExecuteChangeSet, wait."""
    created = cfn.create_change_set(
        StackName=name,
        ChangeSetName="cdk-deploy-change-set",  # the CLI's name, the same for every stack
        ChangeSetType="CREATE",
        TemplateBody=json.dumps(template),
        Capabilities=["CAPABILITY_IAM"],
        **more,
    )
    cfn.execute_change_set(ChangeSetName="cdk-deploy-change-set", StackName=name)
    return str(created["StackId"])


def status(cfn: Any, stack_id: str) -> dict[str, Any]:
    return dict(cfn.describe_stacks(StackName=stack_id)["Stacks"][0])


def test_a_stack_made_through_a_change_set_has_outputs_and_exports_for_the_next(emulator):
    cfn = aws(emulator, "cloudformation")
    exporter = {
        "Resources": {"Queue": {"Type": "AWS::SQS::Queue"}},
        "Outputs": {
            "QueueArn": {"Value": {"Fn::GetAtt": ["Queue", "Arn"]}, "Export": {"Name": "q-arn"}}
        },
    }
    importer = {
        "Resources": {
            "Param": {
                "Type": "AWS::SSM::Parameter",
                "Properties": {
                    "Name": "/imported",
                    "Type": "String",
                    "Value": {"Fn::ImportValue": "q-arn"},
                },
            }
        },
        "Outputs": {"Imported": {"Value": {"Fn::ImportValue": "q-arn"}}},
    }

    first = deploy_with_change_set(cfn, "Exporter", exporter)
    second = deploy_with_change_set(cfn, "Importer", importer)

    arn = status(cfn, first)["Outputs"][0]["OutputValue"]
    assert arn.startswith("arn:aws:sqs:")
    assert status(cfn, second)["StackStatus"] == "CREATE_COMPLETE"
    assert status(cfn, second)["Outputs"] == [{"OutputKey": "Imported", "OutputValue": arn}]
    assert {e["Name"] for e in cfn.list_exports()["Exports"]} >= {"q-arn"}
    assert aws(emulator, "ssm").get_parameter(Name="/imported")["Parameter"]["Value"] == arn


def test_a_change_set_that_fails_leaves_the_stack_rolled_back_with_the_reason(emulator):
    cfn = aws(emulator, "cloudformation")
    broken = {
        "Resources": {
            "Param": {
                "Type": "AWS::SSM::Parameter",
                "Properties": {"Type": "String", "Value": {"Fn::ImportValue": "no-such-export"}},
            }
        }
    }
    stack_id = deploy_with_change_set(cfn, "Broken", broken)

    assert status(cfn, stack_id)["StackStatus"] == "ROLLBACK_COMPLETE"
    reasons = [
        e.get("ResourceStatusReason") or ""
        for e in cfn.describe_stack_events(StackName=stack_id)["StackEvents"]
    ]
    assert any("no-such-export" in reason for reason in reasons)


def test_a_template_url_on_the_emulations_ip_address_is_read_path_style(emulator):
    s3, cfn = aws(emulator, "s3"), aws(emulator, "cloudformation")
    s3.create_bucket(Bucket="templates")
    template = {"Resources": {"Topic": {"Type": "AWS::SNS::Topic"}}}
    s3.put_object(Bucket="templates", Key="t.json", Body=json.dumps(template).encode())

    url = f"{emulator.url}/templates/t.json"  # http://127.0.0.1:<port>/..., as the CLI builds it
    assert url.startswith("http://127.0.0.1:")
    stack_id = cfn.create_stack(StackName="FromUrl", TemplateURL=url)["StackId"]
    assert status(cfn, stack_id)["StackStatus"] == "CREATE_COMPLETE"


def test_types_moto_lacks_are_stood_in_and_what_reads_them_is_created(emulator):
    cfn = aws(emulator, "cloudformation")
    template = {
        "Resources": {
            "Alarm": {"Type": "AWS::CloudWatch::Alarm", "Properties": {"Threshold": 1}},
            "Dashboard": {
                "Type": "AWS::CloudWatch::Dashboard",
                "Properties": {
                    "DashboardBody": {
                        "Fn::Join": ["", ['{"alarm": "', {"Fn::GetAtt": ["Alarm", "Arn"]}, '"}']]
                    }
                },
            },
        },
        "Outputs": {"AlarmName": {"Value": {"Ref": "Alarm"}}},
    }
    stack_id = deploy_with_change_set(cfn, "Monitoring", template)

    assert status(cfn, stack_id)["StackStatus"] == "CREATE_COMPLETE"
    physical = {
        r["LogicalResourceId"]: r["PhysicalResourceId"]
        for r in cfn.list_stack_resources(StackName=stack_id)["StackResourceSummaries"]
    }
    assert physical["Alarm"].startswith(STAND_IN_PREFIX)
    body = aws(emulator, "cloudwatch").get_dashboard(DashboardName=physical["Dashboard"])
    assert json.loads(body["DashboardBody"])["alarm"].startswith("arn:aws:cloudwatch:")


def test_kms_keys_take_cloudformation_tags(emulator):
    cfn = aws(emulator, "cloudformation")
    template = {
        "Resources": {
            "Key": {
                "Type": "AWS::KMS::Key",
                "Properties": {
                    "KeyPolicy": {"Version": "2012-10-17", "Statement": []},
                    "Tags": [{"Key": "stage", "Value": "dev"}],
                },
            }
        }
    }
    stack_id = cfn.create_stack(StackName="Keys", TemplateBody=json.dumps(template))["StackId"]

    assert status(cfn, stack_id)["StackStatus"] == "CREATE_COMPLETE"
    (key,) = cfn.list_stack_resources(StackName=stack_id)["StackResourceSummaries"]
    tags = aws(emulator, "kms").list_resource_tags(KeyId=key["PhysicalResourceId"])["Tags"]
    assert {"TagKey": "stage", "TagValue": "dev"} in tags


NETWORK = {
    "Resources": {
        "Vpc": {"Type": "AWS::EC2::VPC", "Properties": {"CidrBlock": "10.9.0.0/16"}},
        "Subnet": {
            "Type": "AWS::EC2::Subnet",
            "Properties": {"VpcId": {"Ref": "Vpc"}, "CidrBlock": "10.9.0.0/24"},
        },
        "Table": {"Type": "AWS::EC2::RouteTable", "Properties": {"VpcId": {"Ref": "Vpc"}}},
        "Association": {
            "Type": "AWS::EC2::SubnetRouteTableAssociation",
            "Properties": {"RouteTableId": {"Ref": "Table"}, "SubnetId": {"Ref": "Subnet"}},
        },
        "Gateway": {"Type": "AWS::EC2::InternetGateway"},
        "Attachment": {
            "Type": "AWS::EC2::VPCGatewayAttachment",
            "Properties": {"VpcId": {"Ref": "Vpc"}, "InternetGatewayId": {"Ref": "Gateway"}},
        },
        "Route": {
            "Type": "AWS::EC2::Route",
            "Properties": {
                "RouteTableId": {"Ref": "Table"},
                "DestinationCidrBlock": "0.0.0.0/0",
                "GatewayId": {"Ref": "Gateway"},
            },
            "DependsOn": ["Attachment"],
        },
        "Endpoint": {
            "Type": "AWS::EC2::VPCEndpoint",
            "Properties": {
                "VpcId": {"Ref": "Vpc"},
                "ServiceName": "com.amazonaws.us-east-1.dynamodb",
                "RouteTableIds": [{"Ref": "Table"}],
            },
        },
    },
    "Outputs": {"VpcId": {"Value": {"Ref": "Vpc"}}},
}


def test_a_network_stack_is_deleted_whole_and_stays_deleted(emulator):
    cfn, ec2 = aws(emulator, "cloudformation"), aws(emulator, "ec2")
    stack_id = deploy_with_change_set(cfn, "Network", NETWORK)
    vpc = status(cfn, stack_id)["Outputs"][0]["OutputValue"]

    cfn.delete_stack(StackName="Network")

    assert status(cfn, stack_id)["StackStatus"] == "DELETE_COMPLETE"
    # describing the deleted stack (the CLI polls it) creates nothing again
    assert not ec2.describe_vpcs(Filters=[{"Name": "cidr", "Values": ["10.9.0.0/16"]}])["Vpcs"]
    assert not ec2.describe_route_tables(Filters=[{"Name": "vpc-id", "Values": [vpc]}])[
        "RouteTables"
    ]
    assert not [g for g in ec2.describe_internet_gateways()["InternetGateways"] if g["Attachments"]]


def test_a_bucket_that_holds_objects_fails_the_deletion_as_on_aws(emulator):
    cfn, s3 = aws(emulator, "cloudformation"), aws(emulator, "s3")
    template = {
        "Resources": {
            "Bucket": {"Type": "AWS::S3::Bucket"},
            "Queue": {"Type": "AWS::SQS::Queue"},
        }
    }
    stack_id = cfn.create_stack(StackName="Files", TemplateBody=json.dumps(template))["StackId"]
    bucket = cfn.describe_stack_resource(StackName=stack_id, LogicalResourceId="Bucket")[
        "StackResourceDetail"
    ]["PhysicalResourceId"]
    s3.put_object(Bucket=bucket, Key="kept.txt", Body=b"x")

    cfn.delete_stack(StackName="Files")

    described = status(cfn, stack_id)
    assert described["StackStatus"] == "DELETE_FAILED"
    events = cfn.describe_stack_events(StackName=stack_id)["StackEvents"]
    assert any("BucketNotEmpty" in (e.get("ResourceStatusReason") or "") for e in events)
    # the rest went; emptied, the bucket goes too
    assert [
        r["LogicalResourceId"]
        for r in cfn.list_stack_resources(StackName=stack_id)["StackResourceSummaries"]
    ] == ["Bucket"]
    s3.delete_object(Bucket=bucket, Key="kept.txt")
    cfn.delete_stack(StackName=stack_id)
    assert status(cfn, stack_id)["StackStatus"] == "DELETE_COMPLETE"
    with pytest.raises(ClientError):
        s3.head_bucket(Bucket=bucket)


def test_list_parameters_are_reported_as_given(emulator):
    cfn = aws(emulator, "cloudformation")
    template = {
        "Parameters": {
            "Accounts": {"Type": "CommaDelimitedList", "Default": ""},
            "Zones": {"Type": "CommaDelimitedList"},
        },
        "Resources": {"Topic": {"Type": "AWS::SNS::Topic"}},
    }
    stack_id = cfn.create_stack(
        StackName="Lists",
        TemplateBody=json.dumps(template),
        Parameters=[{"ParameterKey": "Zones", "ParameterValue": "a,b"}],
    )["StackId"]

    parameters = {
        p["ParameterKey"]: p["ParameterValue"] for p in status(cfn, stack_id)["Parameters"]
    }
    assert parameters == {"Accounts": "", "Zones": "a,b"}


def test_public_parameters_are_held_at_their_own_path_for_cloudformation_too(emulator):
    path = "/aws/service/powertools/python/x86_64/python3.12/9.9.9"
    hold_public_parameters(emulator.url, REGION, {path: "arn:aws:lambda:layer-stand-in"})

    ssm, cfn = aws(emulator, "ssm"), aws(emulator, "cloudformation")
    assert ssm.get_parameter(Name=path)["Parameter"]["Value"] == "arn:aws:lambda:layer-stand-in"
    template = {
        "Parameters": {"Layer": {"Type": "AWS::SSM::Parameter::Value<String>", "Default": path}},
        "Resources": {"Topic": {"Type": "AWS::SNS::Topic"}},
        "Outputs": {"Layer": {"Value": {"Ref": "Layer"}}},
    }
    stack_id = deploy_with_change_set(cfn, "Public", template)
    assert status(cfn, stack_id)["Outputs"][0]["OutputValue"] == "arn:aws:lambda:layer-stand-in"


def test_deployed_code_is_the_zip_the_function_was_created_with(emulator):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("index.py", "def handler(event, context):\n    return 1\n")
    lambda_client = aws(emulator, "lambda")
    role = aws(emulator, "iam").create_role(
        RoleName="code-role", AssumeRolePolicyDocument=json.dumps({"Statement": []})
    )["Role"]["Arn"]
    arn = lambda_client.create_function(
        FunctionName="zipped",
        Runtime="python3.12",
        Role=role,
        Handler="index.handler",
        Code={"ZipFile": buffer.getvalue()},
    )["FunctionArn"]
    wait_for(lambda: lambda_client.get_function(FunctionName=arn))

    assert deployed_code(emulator.url, arn) == buffer.getvalue()


def test_code_deployed_by_someone_else_is_unpacked_once_for_its_environments(emulator, tmp_path):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("app/index.js", "exports.handler = async () => 1;\n")
    lambda_client = aws(emulator, "lambda")
    role = aws(emulator, "iam").create_role(
        RoleName="cli-role", AssumeRolePolicyDocument=json.dumps({"Statement": []})
    )["Role"]["Arn"]
    created = lambda_client.create_function(
        FunctionName="from-the-cli",
        Runtime="nodejs24.x",
        Role=role,
        Handler="app/index.handler",
        Code={"ZipFile": buffer.getvalue()},
    )
    code = DeployedCode(emulator.url, tmp_path / "code")

    directory = code.directory(created["FunctionArn"], created["CodeSha256"])

    assert directory is not None
    assert (directory / "app" / "index.js").read_text().startswith("exports.handler")
    assert code.directory(created["FunctionArn"], created["CodeSha256"]) == directory
    assert code.directory(created["FunctionArn"] + "-gone", "other-sha") is None
