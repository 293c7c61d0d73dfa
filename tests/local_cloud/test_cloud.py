"""The sample app running on LocalCloud, driven over HTTP and the AWS API."""

from __future__ import annotations

import base64
import json
import logging
import threading
import time
import urllib.error
import urllib.request
from http.client import HTTPConnection
from pathlib import Path
from typing import Any

import pytest

from local_cloud.cli import main
from local_cloud.operations.banner import render
from local_cloud.operations.dlq import redrive
from local_cloud.operations.queues import peek_messages, queue_depth
from local_cloud.operations.state import write_state
from local_cloud.operations.status import status_report, write_status
from tests.local_cloud.conftest import wait_for


def http(
    cloud, path: str, body: bytes | None = None, content_type: str | None = None, method=None
) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(
        cloud.http_url + path,
        data=body,
        method=method or ("POST" if body is not None else "GET"),
        headers={"Content-Type": content_type} if content_type else {},
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


def stored(cloud) -> dict[str, dict[str, Any]]:
    table = cloud.outputs["ThingsTableName"]
    items = cloud.client("dynamodb").scan(TableName=table, ConsistentRead=True)["Items"]
    return {item["pk"]["S"]: item for item in items}


def test_outputs_and_resources_come_from_the_deployed_stacks(cloud):
    assert cloud.outputs["ThingsTableName"] in cloud.resources("AWS::DynamoDB::Table")
    assert cloud.stack_outputs["Sample-Queue"]["WorkQueueUrl"].endswith(
        cloud.outputs["WorkQueueUrl"].rsplit("/", 1)[-1]
    )


def test_the_alb_event_and_lambda_context_reach_the_handler(cloud):
    status, headers, body = http(cloud, "/svc/api/echo?q=a%20b", method="GET")

    assert status == 200
    assert headers["X-Echo"] == "yes"
    answer = json.loads(body)
    event = answer["event"]
    assert event["path"] == "/svc/api/echo"
    assert event["queryStringParameters"] == {"q": "a%20b"}
    assert event["requestContext"]["elb"]["targetGroupArn"].startswith("arn:aws:elastic")
    assert event["headers"]["x-amzn-trace-id"].startswith("Root=1-")
    # the function's own deployed environment, its asset-backed layer, its context
    assert answer["role"] == "api"
    assert answer["greeting"] == "from-layer"
    assert answer["function_name"].startswith("Sample-Compute-Api")
    assert answer["memory"] == "256"
    assert 0 < answer["remaining_ms"] <= 3000


def test_the_handler_sees_only_its_code_its_layers_and_the_runtime(cloud):
    answer = json.loads(http(cloud, "/svc/api/echo", method="GET")[2])

    code_dir = answer["sys_path"][0]
    assert Path(code_dir).name.startswith("asset.")
    assert answer["cwd"] == code_dir  # Lambda runs in /var/task
    assert any(p.endswith("/python") and "asset." in p for p in answer["sys_path"])
    repo = str(Path(__file__).resolve().parents[2])
    assert repo not in answer["sys_path"]  # the project is never importable by handlers


def test_binary_content_types_arrive_base64_encoded(cloud):
    status, _, body = http(cloud, "/svc/api/echo", b"\x00\x01raw", "application/octet-stream")
    event = json.loads(body)["event"]
    assert status == 200
    assert event["isBase64Encoded"] is True
    assert base64.b64decode(event["body"]) == b"\x00\x01raw"


def test_a_text_body_that_is_not_utf8_reaches_the_handler_as_the_bytes_sent(cloud):
    raw = b'{"id": "\xff\xfe"}'
    status, _, body = http(cloud, "/svc/api/echo", raw, "application/json")
    event = json.loads(body)["event"]
    assert status == 200
    assert event["isBase64Encoded"] is True
    assert base64.b64decode(event["body"]) == raw


def raw_request(cloud, headers: list[tuple[str, bytes]]) -> tuple[int, bytes]:
    """GET /svc/api/echo with header bytes exactly as given (urllib would re-encode them)."""
    connection = HTTPConnection(cloud.http_url.removeprefix("http://"), timeout=30)
    try:
        connection.putrequest("GET", "/svc/api/echo")
        for name, value in headers:
            connection.putheader(name, value)
        connection.endheaders()
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def test_headers_arrive_as_sent_and_invalid_names_are_dropped_as_the_alb_says(cloud):
    status, body = raw_request(
        cloud, [("X-Name", "café".encode()), ("X_Under", b"1"), ("X-Fine", b"2")]
    )
    headers = json.loads(body)["event"]["headers"]
    assert status == 200
    assert headers["x-name"] == "café"
    assert headers["x-fine"] == "2"
    assert "x_under" not in headers  # the sample ALB sets drop_invalid_header_fields


def test_a_header_that_is_not_utf8_is_a_502(cloud):
    assert raw_request(cloud, [("X-Name", b"\xff")])[0] == 502


def test_an_event_over_lambdas_6_mb_quota_is_a_502_without_an_invoke(cloud, caplog):
    # 1 MB of control characters is within ALB's 1 MB body limit but 6 MB as JSON
    body = b"\x01" * (1024 * 1024)
    with caplog.at_level(logging.INFO, logger="local_cloud"):
        status, _, _ = http(cloud, "/svc/api/echo", body, "text/plain")
        # the front door logs the request once it has answered it
        wait_for(lambda: "RequestEntityTooLargeException" in caplog.text, timeout=10)
    assert status == 502


def test_a_binary_response_is_decoded_back(cloud):
    status, headers, body = http(cloud, "/svc/api/binary", b"{}", "application/json")
    assert status == 200
    assert headers["Content-Type"] == "application/octet-stream"
    assert body == b"\x00\x01\x02binary"


def test_posted_bodies_flow_through_queue_mapping_and_worker_into_the_table(cloud):
    status, _, _ = http(cloud, "/svc/api", b'{"id": "http-1"}', "application/json")
    status_b64, _, _ = http(cloud, "/svc/api", b'{"id": "http-2"}', "application/x-ndjson")

    assert (status, status_b64) == (202, 202)
    items = wait_for(lambda: {"http-1", "http-2"} <= stored(cloud).keys() and stored(cloud))
    # the worker runs its own handler module with its own environment (ROLE=worker)
    assert items["http-1"]["source"]["S"] == "aws:sqs"


def test_listener_fixed_responses_and_default_action(cloud):
    assert http(cloud, "/teapot")[::2] == (418, b"short and stout")
    status, _, body = http(cloud, "/nowhere")
    assert (status, json.loads(body)) == (404, {"error": "no route"})


def test_function_errors_become_502(cloud):
    assert http(cloud, "/svc/api/crash", method="GET")[0] == 502


def test_a_timed_out_environment_is_replaced(cloud):
    started = time.monotonic()
    assert http(cloud, "/svc/api/sleep", method="GET")[0] == 502
    assert time.monotonic() - started < 10  # the function's 3 s timeout, not the 30 s sleep
    assert http(cloud, "/svc/api/echo", method="GET")[0] == 200


def test_poison_goes_to_the_dlq_and_its_batch_mates_are_stored(cloud):
    sqs = cloud.client("sqs")
    queue, dlq = cloud.outputs["WorkQueueUrl"], cloud.outputs["WorkDlqUrl"]
    cloud.pause_mappings()
    try:
        sqs.set_queue_attributes(QueueUrl=queue, Attributes={"VisibilityTimeout": "3"})
        sqs.send_message_batch(
            QueueUrl=queue,
            Entries=[
                {"Id": "p", "MessageBody": '{"id": "bad", "poison": true}'},
                {"Id": "a", "MessageBody": '{"id": "mate-a"}'},
                {"Id": "b", "MessageBody": '{"id": "mate-b"}'},
            ],
        )
    finally:
        cloud.resume_mappings()

    dead = wait_for(lambda: peek_messages(sqs, dlq))  # looked at, not consumed
    assert json.loads(dead[0]["Body"])["id"] == "bad"
    # maxReceiveCount is 3: received three times, moved on the fourth receive
    assert int(dead[0]["Attributes"]["ApproximateReceiveCount"]) >= 3
    items = stored(cloud)
    assert {"mate-a", "mate-b"} <= items.keys()
    assert "bad" not in items
    assert items["mate-a"]["receive_count"]["S"] == "1"  # stored on the first delivery
    # redrive moves it back to its source queue (where it fails again)
    (done,) = redrive(sqs)
    assert (done.source.rsplit("/", 1)[-1], done.moved) == (queue.rsplit("/", 1)[-1], 1)
    assert queue_depth(sqs, dlq) == 0  # it needs three more receives (6 s) to come back
    # and it does come back, leaving the work queue empty for the tests after this one
    wait_for(lambda: queue_depth(sqs, dlq) == 1 and queue_depth(sqs, queue) == 0)


def test_a_long_poll_hands_out_the_visibility_timeout_in_force_at_delivery(cloud):
    # Given a queue with a long timeout and a consumer already long-polling it
    sqs = cloud.client("sqs")
    url = sqs.create_queue(QueueName="visibility-now", Attributes={"VisibilityTimeout": "600"})[
        "QueueUrl"
    ]
    received: list[Any] = []
    poll = threading.Thread(
        target=lambda: received.extend(
            sqs.receive_message(QueueUrl=url, WaitTimeSeconds=10).get("Messages", [])
        )
    )
    poll.start()
    time.sleep(1)  # the poll is waiting
    # When an operator shortens the timeout and a message arrives during that poll
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"VisibilityTimeout": "1"})
    sqs.send_message(QueueUrl=url, MessageBody="m")
    poll.join()
    assert [m["Body"] for m in received] == ["m"]
    # Then the message, not deleted, is back after the new timeout, not the old one
    again = wait_for(
        lambda: sqs.receive_message(QueueUrl=url, WaitTimeSeconds=1).get("Messages"), timeout=20
    )
    assert again[0]["Body"] == "m"
    sqs.delete_queue(QueueUrl=url)


def test_moto_itself_never_consumes_mapped_queues(cloud):
    # With moto's own delivery on, SendMessage would receive the message at once (and fail
    # without Docker); with it off, a message waits for the runner's pollers.
    sqs = cloud.client("sqs")
    queue = cloud.outputs["WorkQueueUrl"]
    cloud.pause_mappings()
    try:
        sqs.send_message(QueueUrl=queue, MessageBody='{"id": "waits"}')
        attributes = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["All"])["Attributes"]
        assert attributes["ApproximateNumberOfMessages"] == "1"
    finally:
        cloud.resume_mappings()
    wait_for(lambda: "waits" in stored(cloud))


def test_banner_fits_one_screen_with_what_runs_what_to_try_and_one_line_of_gaps(cloud):
    text = render(cloud, '{"id": 1}')
    lines = text.splitlines()

    assert len(lines) <= 30
    assert f"curl -X POST {cloud.http_url}/svc/api -H 'Content-Type: application/json'" in text
    table = cloud.outputs["ThingsTableName"]
    assert f"aws --endpoint-url {cloud.aws_url} dynamodb scan --table-name {table}" in text
    assert "python -m local_cloud orders" in text
    assert "python -m local_cloud status" in text
    # an upload where the bucket's EventBridge rule leads (its pattern's key prefix), and a
    # peek at the queue the topic delivers to
    bucket = cloud.outputs["UploadsBucketName"]
    function = cloud.outputs["NotifiedFunctionName"]
    assert f"s3 cp <file> s3://{bucket}/incoming/    # -> {function}" in text
    inbox = cloud.outputs["AlertInboxUrl"].rsplit("/", 1)[-1]
    (peek,) = [line for line in lines if "sqs receive-message" in line]
    assert f"/{inbox} --visibility-timeout 0" in peek
    topic = cloud.outputs["AlertsTopicArn"].rsplit(":", 1)[-1]
    assert peek.endswith(f"# what {topic} delivered")
    assert "export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test" in text
    # one summary line, by kind with counts; the full list is not in the banner
    (gaps,) = [line for line in lines if line.startswith("not emulated:")]
    assert "1 custom resource" in gaps  # refused here; the Node.js one runs
    assert "1 Docker image asset (cannot build images)" in gaps
    assert "1 public parameter/layer stood in" in gaps
    assert "moto gaps worked around" in gaps
    assert "Custom::VpcRestrictDefaultSG" not in text


def test_the_banner_uploads_the_example_file_and_still_fits_one_screen(cloud):
    text = render(cloud, '{"id": 1}', example_file="samples/my file.csv")
    bucket = cloud.outputs["UploadsBucketName"]

    assert f"s3 cp 'samples/my file.csv' s3://{bucket}/incoming/" in text
    assert len(text.splitlines()) <= 30


def test_status_lists_everything_not_emulated_by_kind(cloud):
    report = status_report(cloud)

    assert "Sample-Custom/Refused (AWS::CloudFormation::CustomResource)" in report
    assert "Custom::VpcRestrictDefaultSG" not in report  # its Node.js provider runs
    assert "AWS::SQS::QueuePolicy" in report
    assert "/aws/service/powertools" in report
    # the sample app's container image is reported, not silently skipped
    image = "Docker image assets, not built (the local cloud cannot build images) (1):"
    assert image in report
    (asset,) = cloud.assembly.docker_image_assets
    assert f"{asset.asset_id}: built from {asset.source}: not built" in report
    for spec in cloud.functions.specs.values():
        assert spec.name in report
    # custom resources' providers (CDK's Node.js one among them) come after the app's own
    lines = [line for line in report.splitlines() if line.strip().startswith("function ")]
    marked = [i for i, line in enumerate(lines) if "(a custom resource's provider)" in line]
    assert any("CustomVpcRestrictDefaultSG" in lines[i] for i in marked)
    assert marked == list(range(len(lines) - len(marked), len(lines)))


@pytest.mark.parametrize(
    ("command", "expected"),
    [
        ("orders", "ThingsTableName"),
        ("dlq", "dead-letter queue of"),
        ("redrive", "WorkDlq"),
        ("faults", '"rate": 0.0'),
        ("status", "live:"),
    ],
)
def test_cli_commands_find_the_running_cloud_from_its_state_file(
    cloud, capsys, tmp_path, command, expected
):
    state_file = tmp_path / "state.json"
    write_state(state_file, cloud.aws_url, cloud.region, cloud.log_dir)
    write_status(state_file, cloud)

    assert main([command, "--state-file", str(state_file)]) == 0

    out = capsys.readouterr().out
    assert cloud.outputs.get(expected, expected) in out


def test_status_without_a_running_cloud_says_so(tmp_path, capsys):
    assert main(["status", "--state-file", str(tmp_path / "state.json")]) == 1
    assert "no local cloud is running here" in capsys.readouterr().err
