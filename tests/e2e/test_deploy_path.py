"""The user's deploy path, exercised: the project's own `make bootstrap`, `make deploy` and
`make destroy` (the pinned CDK CLI: synthesis, asset publishing, change sets, the outputs
file) against a running local cloud, non-interactively as CI runs them (CDK_YES=true),
deploying a second copy of the app under another app_name beside the one the local cloud
already runs.
"""

from __future__ import annotations

import json
import os
import subprocess
import uuid
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from local_cloud.aws import FAKE_CREDENTIALS
from local_cloud.cloud import LocalCloud
from tests.e2e.conftest import ROOT, post, stored_keys
from tests.polling import wait_for

pytestmark = pytest.mark.e2e

SECOND = "E2eCopy"
STACKS = [f"{SECOND}-dev-{part}" for part in ("Network", "Data", "Queue", "Compute")]


def make(cloud: LocalCloud, target: str, work: Path, *, synthesized: bool = False) -> str:
    """Run `make <target>` for the second copy, pointed at the local cloud; its output.

    synthesized: the CLI takes the assembly the previous target synthesized into OUT (the
    same app and settings) instead of running the app again, as `cdk deploy --app cdk.out`
    does in a pipeline; it saves a synthesis per target and changes nothing deployed.
    """
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "CDK_"))}
    environment.update(
        AWS_ENDPOINT_URL=cloud.aws_url,  # http://127.0.0.1:<port>, as the README says
        AWS_ACCESS_KEY_ID=FAKE_CREDENTIALS["aws_access_key_id"],
        AWS_SECRET_ACCESS_KEY=FAKE_CREDENTIALS["aws_secret_access_key"],
        AWS_REGION=cloud.region,
        AWS_DEFAULT_REGION=cloud.region,
        AWS_CONFIG_FILE=os.devnull,  # never a profile of this machine's
        AWS_SHARED_CREDENTIALS_FILE=os.devnull,
        CDK_YES="true",  # as CI: the CLI's --yes answers its prompts
    )
    command = [
        "make",
        "--no-print-directory",
        target,
        "STAGE=dev",
        f"CDK_ARGS=-c app_name={SECOND}" + (f" -a {work / 'cdk.out'}" if synthesized else ""),
        f"OUT={work / 'cdk.out'}",
        f"OUTPUTS={work / 'outputs.json'}",
    ]
    done = subprocess.run(
        command, cwd=ROOT, env=environment, capture_output=True, text=True, timeout=600, check=False
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    return output


def stack_outputs(cloud: LocalCloud, stack: str) -> dict[str, str]:
    (described,) = cloud.client("cloudformation").describe_stacks(StackName=stack)["Stacks"]
    assert described["StackStatus"] == "CREATE_COMPLETE", described
    return {o["OutputKey"]: o["OutputValue"] for o in described.get("Outputs", [])}


def resource_ids(cloud: LocalCloud, stack: str, kind: str) -> list[str]:
    pages = (
        cloud.client("cloudformation")
        .get_paginator("list_stack_resources")
        .paginate(StackName=stack)
    )
    return [
        r["PhysicalResourceId"]
        for page in pages
        for r in page["StackResourceSummaries"]
        if r["ResourceType"] == kind
    ]


def place_order(cloud: LocalCloud) -> None:
    """The first copy (the one `make local` runs) still takes and stores an order."""
    order = {"order_id": uuid.uuid4().hex[:12], "item": "Kopi Susu", "qty": 1}
    status, _, _ = post(cloud, "/lambda/api", order)
    assert status == 202
    wait_for(lambda: (order["order_id"], "Kopi Susu") in stored_keys(cloud))


@pytest.fixture(scope="module")
def work(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("deploy-path")


@pytest.fixture(scope="module")
def second_copy(cloud: LocalCloud, work: Path) -> dict[str, Any]:
    """`make bootstrap` then `make deploy` of the second copy; the outputs file."""
    bootstrapped = make(cloud, "bootstrap", work)
    # the local cloud bootstrapped the environment as `cdk bootstrap` does
    assert "bootstrapped (no changes)" in bootstrapped, bootstrapped
    make(cloud, "deploy", work, synthesized=True)
    outputs: dict[str, Any] = json.loads((work / "outputs.json").read_text())
    return outputs


def test_make_deploy_writes_every_stacks_outputs(cloud, second_copy):
    assert set(second_copy) == set(STACKS)
    for stack in STACKS:
        assert second_copy[stack] == stack_outputs(cloud, stack)
    assert {"OrdersTableName"} <= second_copy[f"{SECOND}-dev-Data"].keys()
    assert {"OrdersQueueUrl", "OrdersDeadLetterQueueUrl"} <= second_copy[
        f"{SECOND}-dev-Queue"
    ].keys()
    assert {"ApiUrl", "LoadBalancerUrl", "AlarmTopicArn"} <= second_copy[
        f"{SECOND}-dev-Compute"
    ].keys()


def test_the_second_copys_resources_exist_beside_the_first(cloud, second_copy, work):
    table = second_copy[f"{SECOND}-dev-Data"]["OrdersTableName"]
    assert table.startswith(f"{SECOND}-dev-Data-")
    assert table != cloud.outputs["OrdersTableName"]
    cloud.client("dynamodb").describe_table(TableName=table)
    sqs = cloud.client("sqs")
    for key in ("OrdersQueueUrl", "OrdersDeadLetterQueueUrl"):
        sqs.get_queue_attributes(QueueUrl=second_copy[f"{SECOND}-dev-Queue"][key])
    functions = resource_ids(cloud, f"{SECOND}-dev-Compute", "AWS::Lambda::Function")
    for name in functions:
        cloud.client("lambda").get_function(FunctionName=name)
    assert len(functions) >= 3
    # the CLI published the stacks' templates to the bootstrap bucket
    for manifest in (work / "cdk.out").glob(f"{SECOND}-dev-*.assets.json"):
        for asset in json.loads(manifest.read_text())["files"].values():
            for destination in asset["destinations"].values():
                bucket = destination["bucketName"].replace("${AWS::AccountId}", "123456789012")
                bucket = bucket.replace("${AWS::Region}", cloud.region)
                cloud.client("s3").head_object(Bucket=bucket, Key=destination["objectKey"])
    # CDK's Node.js custom resource ran: the second VPC's default security group is shut
    (vpc,) = resource_ids(cloud, f"{SECOND}-dev-Network", "AWS::EC2::VPC")
    (group,) = cloud.client("ec2").describe_security_groups(
        Filters=[{"Name": "vpc-id", "Values": [vpc]}, {"Name": "group-name", "Values": ["default"]}]
    )["SecurityGroups"]
    assert (group["IpPermissions"], group["IpPermissionsEgress"]) == ([], [])
    place_order(cloud)


def test_make_destroy_removes_the_second_copy_and_leaves_the_first(cloud, second_copy, work):
    buckets = resource_ids(cloud, f"{SECOND}-dev-Compute", "AWS::S3::Bucket")
    (vpc,) = resource_ids(cloud, f"{SECOND}-dev-Network", "AWS::EC2::VPC")
    s3 = cloud.client("s3")
    for bucket in buckets:  # CDK's auto-delete custom resource must empty it first
        s3.put_object(Bucket=bucket, Key="logs/left-behind.txt", Body=b"x")

    make(cloud, "destroy", work, synthesized=True)

    cfn = cloud.client("cloudformation")
    for stack in STACKS:
        with pytest.raises(ClientError):
            cfn.describe_stacks(StackName=stack)
    with pytest.raises(ClientError):
        cloud.client("dynamodb").describe_table(
            TableName=second_copy[f"{SECOND}-dev-Data"]["OrdersTableName"]
        )
    with pytest.raises(ClientError):
        cloud.client("sqs").get_queue_attributes(
            QueueUrl=second_copy[f"{SECOND}-dev-Queue"]["OrdersQueueUrl"]
        )
    for bucket in buckets:
        with pytest.raises(ClientError):
            s3.head_bucket(Bucket=bucket)
    assert not cloud.client("ec2").describe_vpcs(Filters=[{"Name": "vpc-id", "Values": [vpc]}])[
        "Vpcs"
    ]
    functions = cloud.client("lambda").list_functions()["Functions"]
    assert not [f for f in functions if f["FunctionName"].startswith(SECOND)]
    # the first copy is untouched and still works
    for part in ("Network", "Data", "Queue", "Compute"):
        stack_outputs(cloud, f"Orders-dev-{part}")
    place_order(cloud)
