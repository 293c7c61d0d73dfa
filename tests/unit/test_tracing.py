"""Tracing as Lambda runs it: active tracing on, no X-Ray SDK, no daemon listening.

The functions do not import the X-Ray SDK (docs/decisions.md); what keeps a trace whole
is Lambda's own segment and the trace header botocore forwards on every AWS call, so the
queue carries the trace on to the process function.
"""

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TRACE_ROOT = "1-67891234-0123456789abcdef01234567"
TRACE_HEADER = f"Root={TRACE_ROOT};Parent=53995c3f42cd8ad8;Sampled=1"

SCRIPT = textwrap.dedent(
    """
    import json, os, sys
    from moto import mock_aws
    import boto3

    headers = []

    def capture(request, **_):
        headers.append(request.headers.get("X-Amzn-Trace-Id"))

    with mock_aws():
        url = boto3.client("sqs").create_queue(QueueName="orders")["QueueUrl"]
        os.environ["ORDERS_QUEUE_URL"] = url
        os.environ["LEDGER_CURRENCY"] = "IDR"
        boto3.DEFAULT_SESSION.events.register("before-sign.sqs.SendMessage", capture)
        from lambdas.ingest import handler
        from tests.unit.events import FakeContext, json_event

        response = handler.lambda_handler(
            json_event({"order_id": "1", "item": "Kopi"}), FakeContext()
        )
        result = {
            "status": response["statusCode"],
            "xray_sdk_loaded": any(name.startswith("aws_xray_sdk") for name in sys.modules),
            "trace_headers": [h if isinstance(h, str) else h.decode() for h in headers if h],
        }
        print("RESULT " + json.dumps(result))
    """
)


def test_ingest_keeps_the_trace_without_the_xray_sdk() -> None:
    # Given the variables Lambda sets for a traced invocation, and nothing listening for X-Ray
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("POWERTOOLS_", "AWS_", "ORDERS_", "_X_AMZN"))
    }
    env.update(
        {
            "LAMBDA_TASK_ROOT": str(ROOT / "lambdas" / "ingest"),
            "AWS_LAMBDA_FUNCTION_NAME": "orders-ingest",
            "_X_AMZN_TRACE_ID": TRACE_HEADER,
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "POWERTOOLS_SERVICE_NAME": "orders-ingest",
            "POWERTOOLS_METRICS_NAMESPACE": "OrdersTest",
            "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "lambdas" / "shared" / "python")]),
        }
    )

    # When an order is posted
    completed = subprocess.run(
        [sys.executable, "-c", SCRIPT],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    # Then the handler answers normally, without ever loading the X-Ray SDK
    assert completed.returncode == 0, completed.stderr
    lines = completed.stdout.splitlines()
    [result_line] = [line for line in lines if line.startswith("RESULT ")]
    result = json.loads(result_line.removeprefix("RESULT "))
    assert result["status"] == 202
    assert result["xray_sdk_loaded"] is False
    # And the SQS call carried the invocation's trace header (SQS keeps it with the message)
    assert result["trace_headers"] == [TRACE_HEADER]
    # And its log lines name the trace
    logs = [json.loads(line) for line in lines if line.startswith('{"level"')]
    assert logs, completed.stdout
    assert all(log.get("xray_trace_id") == TRACE_ROOT for log in logs)
