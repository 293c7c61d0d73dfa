"""Large files (issue 10): the Fargate task, its image build, the hand-off and its failures.

prod has the large-file path on by default; dev has it off (the endpoints have a fixed
monthly cost) and `large_files_enabled=true` turns it on there too.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from stacks.contract import FILES_TASK_REPORTED_EXIT
from tests.infra.conftest import ROOT, Synthesized, only, resources, synth

CONTAINER_DIR = ROOT / "containers" / "files-task"


def _one(template: dict[str, Any], cfn_type: str, prefix: str) -> tuple[str, dict[str, Any]]:
    (found,) = ((k, v) for k, v in resources(template, cfn_type).items() if k.startswith(prefix))
    return found


def _statements(role: dict[str, Any]) -> list[dict[str, Any]]:
    return [s for p in role["Properties"]["Policies"] for s in p["PolicyDocument"]["Statement"]]


def _actions(statement: dict[str, Any]) -> list[str]:
    actions = statement["Action"]
    return sorted([actions] if isinstance(actions, str) else actions)


def _files_function(template: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    for logical_id, function in resources(template, "AWS::Lambda::Function").items():
        variables = function["Properties"].get("Environment", {}).get("Variables", {})
        if variables.get("POWERTOOLS_SERVICE_NAME") == "orders-files":
            return logical_id, function
    raise AssertionError("no orders-files function")


@pytest.fixture(scope="module")
def compute(prod: Synthesized) -> dict[str, Any]:
    return prod.json("Compute")


def test_a_fargate_only_cluster_with_container_insights(compute: dict[str, Any]) -> None:
    cluster = only(compute, "AWS::ECS::Cluster")["Properties"]
    assert cluster["CapacityProviders"] == ["FARGATE"]
    assert cluster["DefaultCapacityProviderStrategy"] == [
        {"CapacityProvider": "FARGATE", "Weight": 1}
    ]
    assert {"Name": "containerInsights", "Value": "enabled"} in cluster["ClusterSettings"]
    # no EC2 capacity of any kind, and nothing that runs at rest
    for cfn_type in (
        "AWS::ECS::Service",
        "AWS::AutoScaling::AutoScalingGroup",
        "AWS::EC2::Instance",
    ):
        assert resources(compute, cfn_type) == {}


def test_the_task_definition_arm64_private_read_only_and_logged(compute: dict[str, Any]) -> None:
    logical_id, definition = _one(compute, "AWS::ECS::TaskDefinition", "LargeFilesTaskDefinition")
    props = definition["Properties"]
    assert props["RequiresCompatibilities"] == ["FARGATE"]
    assert props["NetworkMode"] == "awsvpc"
    assert props["RuntimePlatform"] == {
        "CpuArchitecture": "ARM64",
        "OperatingSystemFamily": "LINUX",
    }
    assert (props["Cpu"], props["Memory"]) == ("1024", "2048")
    assert props["TaskRoleArn"] != props["ExecutionRoleArn"]
    (container,) = props["ContainerDefinitions"]
    assert container["Name"] == "files-task"
    assert container["ReadonlyRootFilesystem"] is True
    assert "Command" not in container  # the image's CMD (containers/files-task/Dockerfile)
    assert container["MountPoints"] == [
        {"ContainerPath": "/tmp", "ReadOnly": False, "SourceVolume": "tmp"}
    ]
    assert props["Volumes"] == [{"Name": "tmp"}]
    log = container["LogConfiguration"]
    assert log["LogDriver"] == "awslogs"
    group_id = log["Options"]["awslogs-group"]["Ref"]
    assert compute["Resources"][group_id]["Properties"]["RetentionInDays"] == 30
    # the image: the repository's, tagged with the build context's hash, built first
    image = json.dumps(container["Image"])
    repository_id, _ = _one(compute, "AWS::ECR::Repository", "LargeFilesImageRepository")
    build_id, build = _one(compute, "Custom::ContainerImageBuild", "LargeFilesImageBuild")
    assert repository_id in image
    assert image.endswith(f':{build["Properties"]["ImageTag"]}"]]}}')
    assert definition["DependsOn"] == [build_id]
    env = {e["Name"]: e["Value"] for e in container["Environment"]}
    assert env["POWERTOOLS_SERVICE_NAME"] == "orders-files"  # one set of metrics for files
    assert "FILES_DEAD_LETTER_QUEUE_URL" in env
    assert logical_id.startswith("LargeFilesTaskDefinition")


def test_the_task_role_holds_the_file_processors_calls_and_its_report(
    compute: dict[str, Any],
) -> None:
    _, role = _one(compute, "AWS::IAM::Role", "LargeFilesTaskRole")
    assert role["Properties"]["AssumeRolePolicyDocument"]["Statement"][0]["Principal"] == {
        "Service": "ecs-tasks.amazonaws.com"
    }
    _, function = _files_function(compute)
    function_role = compute["Resources"][function["Properties"]["Role"]["Fn::GetAtt"][0]]
    function_calls = {
        json.dumps(s, sort_keys=True)
        for s in _statements(function_role)
        if not _actions(s)[0].startswith(("logs:", "xray:", "ecs:", "iam:"))
    }
    task_calls = {json.dumps(s, sort_keys=True) for s in _statements(role)}
    # exactly the function's S3/DynamoDB calls and SendMessage to the files DLQ, no more
    assert task_calls == function_calls
    assert "ManagedPolicyArns" not in role["Properties"]


def test_the_execution_role_pulls_the_one_image_and_writes_the_one_log_group(
    compute: dict[str, Any],
) -> None:
    _, role = _one(compute, "AWS::IAM::Role", "LargeFilesExecutionRole")
    by_action = {tuple(_actions(s)): s["Resource"] for s in _statements(role)}
    repository_id, _ = _one(compute, "AWS::ECR::Repository", "LargeFilesImageRepository")
    group_id, _ = _one(compute, "AWS::Logs::LogGroup", "LargeFilesTaskLogGroup")
    assert by_action == {
        ("ecr:GetAuthorizationToken",): "*",
        ("ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"): {"Fn::GetAtt": [repository_id, "Arn"]},
        ("logs:CreateLogStream", "logs:PutLogEvents"): {"Fn::GetAtt": [group_id, "Arn"]},
    }
    assert "ManagedPolicyArns" not in role["Properties"]


def test_the_file_function_may_run_the_task_and_pass_its_two_roles_only(
    compute: dict[str, Any],
) -> None:
    _, function = _files_function(compute)
    env = function["Properties"]["Environment"]["Variables"]
    task_definition_id, _ = _one(compute, "AWS::ECS::TaskDefinition", "LargeFilesTaskDefinition")
    cluster_id, _ = _one(compute, "AWS::ECS::Cluster", "LargeFilesCluster")
    assert env["LARGE_FILE_BYTES"] == "108000000"
    assert env["LARGE_FILES_TASK_DEFINITION"] == {"Ref": task_definition_id}
    assert env["LARGE_FILES_CLUSTER"] == {"Fn::GetAtt": [cluster_id, "Arn"]}
    assert env["LARGE_FILES_CONTAINER"] == "files-task"
    assert "Fn::Join" in env["LARGE_FILES_SUBNETS"]
    assert "LargeFilesSecurityGroup" in json.dumps(env["LARGE_FILES_SECURITY_GROUP"])
    role = compute["Resources"][function["Properties"]["Role"]["Fn::GetAtt"][0]]
    statements = {tuple(_actions(s)): s for s in _statements(role)}
    run_task = statements[("ecs:RunTask",)]
    assert run_task["Resource"] == {"Ref": task_definition_id}
    assert run_task["Condition"] == {
        "ArnEquals": {"ecs:cluster": {"Fn::GetAtt": [cluster_id, "Arn"]}}
    }
    pass_role = statements[("iam:PassRole",)]
    task_role_id, _ = _one(compute, "AWS::IAM::Role", "LargeFilesTaskRole")
    execution_role_id, _ = _one(compute, "AWS::IAM::Role", "LargeFilesExecutionRole")
    assert sorted(pass_role["Resource"], key=json.dumps) == sorted(
        [{"Fn::GetAtt": [task_role_id, "Arn"]}, {"Fn::GetAtt": [execution_role_id, "Arn"]}],
        key=json.dumps,
    )
    assert pass_role["Condition"] == {
        "StringEquals": {"iam:PassedToService": "ecs-tasks.amazonaws.com"}
    }


def test_a_task_that_stops_unreported_goes_to_the_files_dlq(
    prod: Synthesized, compute: dict[str, Any]
) -> None:
    _, rule = _one(compute, "AWS::Events::Rule", "LargeFilesTaskStoppedRule")
    props = rule["Properties"]
    cluster_id, _ = _one(compute, "AWS::ECS::Cluster", "LargeFilesCluster")
    assert props["Name"] == "Orders-prod-large-file-task-stopped"
    assert props["EventPattern"] == {
        "source": ["aws.ecs"],
        "detail-type": ["ECS Task State Change"],
        "detail": {
            "clusterArn": [{"Fn::GetAtt": [cluster_id, "Arn"]}],
            "lastStatus": ["STOPPED"],
            "$or": [
                {"stopCode": [{"anything-but": "EssentialContainerExited"}]},
                {"containers": {"exitCode": [{"anything-but": [0, FILES_TASK_REPORTED_EXIT]}]}},
            ],
        },
    }
    (target,) = props["Targets"]
    assert "FilesDeadLetterQueue" in json.dumps(target["Arn"])
    assert target["RetryPolicy"] == {"MaximumEventAgeInSeconds": 86400, "MaximumRetryAttempts": 185}
    # the queue stack lets exactly the two named rules send
    (allow,) = [
        statement
        for policy in resources(prod.json("Queue"), "AWS::SQS::QueuePolicy").values()
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
        if statement.get("Sid") == "AllowTheFilesRule"
    ]
    arns = json.dumps(allow["Condition"]["ArnEquals"]["aws:SourceArn"])
    assert "rule/Orders-prod-order-files" in arns
    assert "rule/Orders-prod-large-file-task-stopped" in arns


def test_the_image_is_built_by_codebuild_at_deploy_time(
    prod: Synthesized, compute: dict[str, Any]
) -> None:
    _, project = _one(compute, "AWS::CodeBuild::Project", "LargeFilesImageProject")
    environment = project["Properties"]["Environment"]
    assert environment["Type"] == "ARM_CONTAINER"
    assert environment["Image"] == "aws/codebuild/amazonlinux-aarch64-standard:3.0"
    assert environment["PrivilegedMode"] is True
    logs = project["Properties"]["LogsConfig"]["CloudWatchLogs"]
    assert compute["Resources"][logs["GroupName"]["Ref"]]["Properties"]["RetentionInDays"] == 30
    spec = json.loads(project["Properties"]["Source"]["BuildSpec"])
    commands = " ".join(spec["phases"]["build"]["commands"])
    assert "docker build --platform linux/arm64" in commands
    assert "CODEBUILD_BUILD_SUCCEEDING" in spec["phases"]["post_build"]["commands"][0]
    _, build_role = _one(compute, "AWS::IAM::Role", "LargeFilesImageBuildRole")
    actions = sorted(a for s in _statements(build_role) for a in _actions(s))
    assert actions == sorted(
        [
            "logs:CreateLogStream",
            "logs:PutLogEvents",
            "s3:GetObject",
            "ecr:GetAuthorizationToken",
            "ecr:BatchCheckLayerAvailability",
            "ecr:InitiateLayerUpload",
            "ecr:UploadLayerPart",
            "ecr:CompleteLayerUpload",
            "ecr:PutImage",
        ]
    )
    # nothing CDK added beside the inline policies (no default policies with wildcards)
    assert not [k for k in resources(compute, "AWS::IAM::Policy") if k.startswith("LargeFiles")]
    _, repository = _one(compute, "AWS::ECR::Repository", "LargeFilesImageRepository")
    assert repository["Properties"]["ImageTagMutability"] == "IMMUTABLE"
    assert repository["Properties"]["ImageScanningConfiguration"] == {"ScanOnPush": True}
    assert repository["UpdateReplacePolicy"] == "Retain"  # prod
    _, build = _one(compute, "Custom::ContainerImageBuild", "LargeFilesImageBuild")
    assert set(build["Properties"]) == {
        "ServiceToken", "ProjectName", "RepositoryName", "SourceBucket", "SourceKey", "ImageTag",
    }  # fmt: skip
    _, trigger = _one(compute, "AWS::Lambda::Function", "LargeFilesImageTrigger")
    assert trigger["Properties"]["Runtime"] == "python3.14"
    # no Docker anywhere: the build context is an ordinary file asset
    manifest_file = Path(prod.app.outdir) / f"{prod.stacks['Compute'].artifact_id}.assets.json"
    manifest = json.loads(manifest_file.read_text())
    assert manifest.get("dockerImages", {}) == {}
    assert build["Properties"]["SourceKey"] in json.dumps(manifest["files"])


def test_the_dockerfile_pins_its_base_by_digest_and_its_packages_by_hash() -> None:
    dockerfile = (CONTAINER_DIR / "Dockerfile").read_text()
    (base,) = re.findall(r"^FROM (\S+)", dockerfile, flags=re.MULTILINE)
    assert re.fullmatch(
        r"public\.ecr\.aws/docker/library/python:3\.14-slim@sha256:[0-9a-f]{64}", base
    )
    assert "--require-hashes" in dockerfile
    assert re.search(r'^CMD \["python", "-m", "orders_core\.files\.task"\]$', dockerfile, re.M)
    requirements = [
        line
        for line in (CONTAINER_DIR / "requirements.txt").read_text().split("\n")
        if line and not line.startswith((" ", "#"))
    ]
    assert requirements
    for line in requirements:
        assert re.fullmatch(r"[a-z0-9-]+==[0-9a-z.]+ \\", line), line
    assert dockerfile.count("USER 1000:1000") == 1


def test_dev_has_no_large_file_task_and_reports_large_files(dev: Synthesized) -> None:
    compute = dev.json("Compute")
    for cfn_type in ("AWS::ECS::Cluster", "AWS::ECS::TaskDefinition", "AWS::CodeBuild::Project"):
        assert resources(compute, cfn_type) == {}
    _, function = _files_function(compute)
    env = function["Properties"]["Environment"]["Variables"]
    assert env["LARGE_FILE_BYTES"] == "108000000"
    assert not [name for name in env if name.startswith("LARGE_FILES_")]
    assert "ecs:" not in json.dumps(compute)


def test_a_stage_can_switch_it_on_and_lower_the_limit(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    tuned = Synthesized(
        synth(
            tmp_path_factory.mktemp("large"),
            large_files_enabled=True,
            large_file_bytes=5000,
            large_file_task_cpu=2048,
            large_file_task_memory_mb=4096,
        )
    )
    compute = tuned.json("Compute")
    _, function = _files_function(compute)
    assert function["Properties"]["Environment"]["Variables"]["LARGE_FILE_BYTES"] == "5000"
    _, definition = _one(compute, "AWS::ECS::TaskDefinition", "LargeFilesTaskDefinition")
    assert (definition["Properties"]["Cpu"], definition["Properties"]["Memory"]) == ("2048", "4096")
    # its repository goes with a dev stack
    _, repository = _one(compute, "AWS::ECR::Repository", "LargeFilesImageRepository")
    assert repository["Properties"]["EmptyOnDelete"] is True
