"""Invocations moto makes, run by the runner: the Invoke API, asynchronous retries and
destinations, custom resources whose provider is a Python or Node.js function (Create,
Update and Delete), and the bootstrap the deployer makes."""

from __future__ import annotations

import json
import threading
import time
from typing import Any

import pytest
from botocore.exceptions import ClientError

from local_cloud.operations.queues import peek_messages
from local_cloud.services.environments import InvokeResult
from local_cloud.services.invocations import (
    AsyncConfig,
    AsyncInvoker,
    destination_record,
    handle_invoke,
    qualified,
)
from tests.local_cloud.conftest import wait_for

ARN = "arn:aws:lambda:us-east-1:123456789012:function:fn"


def test_a_failure_record_has_lambdas_destination_format():
    error = InvokeResult(error={"errorType": "KeyError", "errorMessage": "'x'", "requestId": "r"})
    record = destination_record(
        ARN,
        request_id="req-1",
        condition="RetriesExhausted",
        attempts=3,
        payload={"in": 1},
        result=error,
    )

    assert record["version"] == "1.0"
    assert record["timestamp"].endswith("Z")
    assert record["requestContext"] == {
        "requestId": "req-1",
        "functionArn": ARN + ":$LATEST",
        "condition": "RetriesExhausted",
        "approximateInvokeCount": 3,
    }
    assert record["requestPayload"] == {"in": 1}
    assert record["responseContext"] == {
        "statusCode": 200,
        "executedVersion": "$LATEST",
        "functionError": "Unhandled",
    }
    assert record["responsePayload"] == {"errorType": "KeyError", "errorMessage": "'x'"}


def test_a_success_record_carries_the_answer():
    record = destination_record(
        ARN,
        request_id="r",
        condition="Success",
        attempts=1,
        payload={},
        result=InvokeResult(payload={"ok": True}),
    )
    assert record["requestContext"]["condition"] == "Success"
    assert "functionError" not in record["responseContext"]
    assert record["responsePayload"] == {"ok": True}


def test_event_invoke_config_defaults_are_lambdas():
    assert AsyncConfig.from_api({}) == AsyncConfig(2, 21600, None, None)
    assert qualified(ARN + ":live") == ARN + ":live"


class Recorder:
    """A fake function: fails the first `failures` calls, records when each came."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.calls: list[float] = []
        self.lock = threading.Lock()

    def __call__(self, _arn: str, _event: Any) -> InvokeResult:
        with self.lock:
            self.calls.append(time.monotonic())
            if len(self.calls) <= self.failures:
                return InvokeResult(error={"errorType": "Boom", "errorMessage": "no"})
        return InvokeResult(payload="done")


def run_async(failures: int, config: AsyncConfig) -> tuple[Recorder, list[tuple[str, str]]]:
    function = Recorder(failures)
    finished: list[tuple[str, str]] = []
    invoker = AsyncInvoker(function, "http://127.0.0.1:9", lambda _arn: "us-east-1", 0.001)
    invoker._config = lambda _arn: config  # type: ignore[method-assign]
    invoker._send = lambda _fn, dest, record, success: finished.append(  # type: ignore[method-assign]
        (dest, record["requestContext"]["condition"])
    )
    try:
        invoker.submit(ARN, {"n": 1})
        wait_for(lambda: invoker.completed == 1, timeout=10)
    finally:
        invoker.stop()
    return function, finished


def test_a_failing_event_is_retried_then_sent_to_the_failure_destination():
    config = AsyncConfig(on_failure="arn:aws:sqs:us-east-1:123456789012:q", on_success="ok")
    function, finished = run_async(failures=10, config=config)
    assert len(function.calls) == 3  # the first attempt and MaximumRetryAttempts (2)
    assert finished == [("arn:aws:sqs:us-east-1:123456789012:q", "RetriesExhausted")]


def test_lambdas_waits_between_retries_scale_with_the_setting():
    function, _ = run_async(failures=10, config=AsyncConfig(maximum_retry_attempts=2))
    first, second, third = function.calls
    # Lambda waits one minute, then two; here scaled by 0.001 (60 ms, 120 ms)
    assert second - first >= 0.06
    assert third - second >= 0.12


def test_a_retry_that_succeeds_goes_to_the_success_destination():
    config = AsyncConfig(maximum_retry_attempts=1, on_success="arn:aws:sns:us-east-1:1:t")
    function, finished = run_async(failures=1, config=config)
    assert len(function.calls) == 2
    assert finished == [("arn:aws:sns:us-east-1:1:t", "Success")]


def test_an_event_older_than_the_maximum_age_is_dropped_without_a_retry():
    config = AsyncConfig(maximum_retry_attempts=2, maximum_event_age_s=0.05, on_failure="f")
    function = Recorder(failures=10)
    finished: list[str] = []
    invoker = AsyncInvoker(function, "http://127.0.0.1:9", lambda _arn: "us-east-1", 1.0)
    invoker._config = lambda _arn: config  # type: ignore[method-assign]
    invoker._send = lambda _fn, _dest, record, success: finished.append(  # type: ignore[method-assign]
        record["requestContext"]["condition"]
    )
    try:
        invoker.submit(ARN, {})
        # the first attempt fails; the retry (60 s later) would be past the 50 ms age
        wait_for(lambda: len(function.calls) == 1, timeout=5)
        invoker._queues[ARN][0].due = time.monotonic()  # do not wait the minute
        with invoker._cond:
            invoker._cond.notify_all()
        wait_for(lambda: invoker.completed == 1, timeout=5)
    finally:
        invoker.stop()
    assert len(function.calls) == 1
    assert finished == ["EventAgeExceeded"]


def test_the_hook_refuses_what_lambda_refuses():
    def never(_arn: str, _event: Any) -> InvokeResult:
        raise AssertionError("not invoked")

    assert handle_invoke({"function": ARN}, never, lambda _arn: False, None)[0] == 404
    status, answer = handle_invoke(
        {"function": ARN, "payload": "{not json"}, never, lambda _arn: True, None
    )
    assert (status, answer["errorType"]) == (400, "InvalidRequestContentException")
    big = json.dumps({"d": "x" * (1024 * 1024)})
    status, answer = handle_invoke(
        {"function": ARN, "type": "Event", "payload": big}, never, lambda _arn: True, None
    )
    assert (status, answer["errorType"]) == (413, "RequestEntityTooLargeException")


# -- on the running sample app -----------------------------------------------------------
def items(cloud) -> dict[str, dict[str, Any]]:
    table = cloud.outputs["ThingsTableName"]
    found = cloud.client("dynamodb").scan(TableName=table, ConsistentRead=True)["Items"]
    return {item["pk"]["S"]: item for item in found}


def test_the_invoke_api_runs_the_function_in_its_environment(cloud):
    lambda_client = cloud.client("lambda")
    name = cloud.outputs["NotifiedFunctionName"]

    answer = lambda_client.invoke(FunctionName=name, Payload=json.dumps({"name": "sync-1"}))

    assert answer["StatusCode"] == 200
    assert "FunctionError" not in answer
    assert json.loads(answer["Payload"].read()) == {"took": "sync-1"}
    assert "event#sync-1" in items(cloud)


def test_a_function_error_is_the_invokes_answer(cloud):
    answer = cloud.client("lambda").invoke(
        FunctionName=cloud.outputs["NotifiedFunctionName"], Payload=json.dumps({"name": "fail-s"})
    )
    assert answer["FunctionError"] == "Unhandled"
    error = json.loads(answer["Payload"].read())
    assert (error["errorType"], error["errorMessage"]) == ("RuntimeError", "cannot take fail-s")


def test_dry_run_and_unknown_functions(cloud):
    lambda_client = cloud.client("lambda")
    name = cloud.outputs["NotifiedFunctionName"]
    assert lambda_client.invoke(FunctionName=name, InvocationType="DryRun")["StatusCode"] == 204
    with pytest.raises(ClientError) as missing:
        lambda_client.invoke(FunctionName="no-such-function", Payload=b"{}")
    assert missing.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404


def test_an_event_invocation_is_accepted_then_run(cloud):
    answer = cloud.client("lambda").invoke(
        FunctionName=cloud.outputs["NotifiedFunctionName"],
        InvocationType="Event",
        Payload=json.dumps({"name": "async-1"}),
    )
    assert answer["StatusCode"] == 202
    assert answer["Payload"].read() == b""
    wait_for(lambda: "event#async-1" in items(cloud))


def test_event_invoke_config_comes_from_the_template(cloud):
    config = cloud.client("lambda").get_function_event_invoke_config(
        FunctionName=cloud.outputs["NotifiedFunctionName"]
    )
    assert config["MaximumRetryAttempts"] == 2
    assert config["MaximumEventAgeInSeconds"] == 600
    failures = config["DestinationConfig"]["OnFailure"]["Destination"]
    assert failures.endswith(cloud.outputs["AsyncFailuresUrl"].rsplit("/", 1)[-1])


def test_a_failing_event_ends_in_the_on_failure_destination_after_its_retries(cloud):
    cloud.client("lambda").invoke(
        FunctionName=cloud.outputs["NotifiedFunctionName"],
        InvocationType="Event",
        Payload=json.dumps({"name": "fail-async-1"}),
    )
    sqs = cloud.client("sqs")

    def record() -> dict[str, Any] | None:
        for message in peek_messages(sqs, cloud.outputs["AsyncFailuresUrl"]):
            body = json.loads(message["Body"])
            if body["requestPayload"] == {"name": "fail-async-1"}:
                return dict(body)
        return None

    found = wait_for(record)
    assert found["requestContext"]["condition"] == "RetriesExhausted"
    assert found["requestContext"]["approximateInvokeCount"] == 3
    assert found["responsePayload"]["errorMessage"] == "cannot take fail-async-1"
    assert found["responseContext"]["functionError"] == "Unhandled"


def test_a_python_custom_resource_runs_and_answers_its_stack(cloud):
    assert cloud.outputs["GreetingText"] == "hello sample"
    # a resource that reads the answer is created after it, with the real value
    parameter = cloud.client("ssm").get_parameter(Name="/sample/greeting")["Parameter"]
    assert parameter["Value"] == "hello sample"


def test_a_custom_resource_whose_provider_fails_here_is_left_out_and_reported(cloud):
    (refused,) = [d for d in cloud.differences if "Sample-Custom/Refused" in d.subject]
    assert refused.kind == "custom-resource"
    assert "its provider ran here and failed: asked to fail" in refused.detail
    assert "RefusedText" not in cloud.outputs


def test_a_python_providers_physical_id_is_what_ref_gives(cloud):
    detail = cloud.client("cloudformation").describe_stack_resource(
        StackName="Sample-Custom", LogicalResourceId="Greeting"
    )["StackResourceDetail"]
    assert detail["PhysicalResourceId"] == "greeting-sample"  # the provider's answer


def rules(ec2: Any, group: str) -> tuple[int, int]:
    (found,) = ec2.describe_security_groups(GroupIds=[group])["SecurityGroups"]
    return len(found["IpPermissions"]), len(found["IpPermissionsEgress"])


def test_cdks_node_provider_restricted_the_default_security_group(cloud):
    ec2 = cloud.client("ec2")
    (vpc,) = cloud.resources("AWS::EC2::VPC")
    (group,) = ec2.describe_security_groups(
        Filters=[{"Name": "vpc-id", "Values": [vpc]}, {"Name": "group-name", "Values": ["default"]}]
    )["SecurityGroups"]
    assert rules(ec2, group["GroupId"]) == (0, 0)
    assert not [d for d in cloud.differences if "VpcRestrictDefaultSG" in d.subject]


def test_a_node_provider_gets_create_update_and_delete_as_its_stack_changes(cloud):
    # CDK's Node.js provider of the sample app, serving a stack of its own
    ec2, cfn = cloud.client("ec2"), cloud.client("cloudformation")
    (provider,) = [
        arn
        for arn in (
            cloud.client("lambda").get_function(FunctionName=name)["Configuration"]["FunctionArn"]
            for name in cloud.resources("AWS::Lambda::Function")
        )
        if "CustomVpcRestrictDefaultSG" in arn
    ]
    vpc = ec2.create_vpc(CidrBlock="10.77.0.0/16")["Vpc"]["VpcId"]
    first, second = (
        ec2.create_security_group(GroupName=name, Description=name, VpcId=vpc)["GroupId"]
        for name in ("first", "second")
    )
    assert rules(ec2, first) == (0, 1)  # a new group lets everything out

    def template(group: str) -> str:
        restrict = {
            "Type": "Custom::VpcRestrictDefaultSG",
            "Properties": {
                "ServiceToken": provider,
                "DefaultSecurityGroupId": group,
                "Account": "123456789012",
            },
        }
        return json.dumps({"Resources": {"Restrict": restrict}})

    cfn.create_stack(StackName="Probe", TemplateBody=template(first))
    assert rules(ec2, first) == (0, 0)  # Create: restricted
    cfn.update_stack(StackName="Probe", TemplateBody=template(second))
    assert rules(ec2, first) == (1, 1)  # Update to another group: the old one is restored
    assert rules(ec2, second) == (0, 0)
    cfn.delete_stack(StackName="Probe")
    assert rules(ec2, second) == (1, 1)  # Delete: restored
    with pytest.raises(ClientError):
        cfn.describe_stacks(StackName="Probe")


def test_the_bootstrap_is_the_cdk_clis_own_toolkit_stack(cloud):
    cfn = cloud.client("cloudformation")
    (toolkit,) = cfn.describe_stacks(StackName="CDKToolkit")["Stacks"]
    outputs = {o["OutputKey"]: o["OutputValue"] for o in toolkit["Outputs"]}

    assert toolkit["StackStatus"] == "CREATE_COMPLETE"
    assert outputs["BucketName"] == "cdk-hnb659fds-assets-123456789012-us-east-1"
    version = cloud.client("ssm").get_parameter(Name="/cdk-bootstrap/hnb659fds/version")
    assert version["Parameter"]["Value"] == outputs["BootstrapVersion"]
    parameters = {p["ParameterKey"]: p["ParameterValue"] for p in toolkit["Parameters"]}
    assert parameters["FileAssetsBucketKmsKeyId"] == "AWS_MANAGED_KEY"  # as `cdk bootstrap`
    assert parameters["TrustedAccounts"] == ""
