"""Tracing left on, as in Lambda, but with no X-Ray daemon listening: nothing breaks."""

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = textwrap.dedent(
    """
    import json, os
    from moto import mock_aws
    import boto3

    with mock_aws():
        url = boto3.client("sqs").create_queue(QueueName="orders")["QueueUrl"]
        os.environ["ORDERS_QUEUE_URL"] = url
        os.environ["LEDGER_CURRENCY"] = "IDR"
        from lambdas.ingest import handler
        from tests.unit.events import FakeContext, json_event

        assert not handler.tracer._is_tracer_disabled(), "tracing should be on here"
        response = handler.lambda_handler(
            json_event({"order_id": "1", "item": "Kopi"}), FakeContext()
        )
        print("RESULT " + json.dumps({"status": response["statusCode"]}))
    """
)


def test_ingest_runs_with_tracing_enabled_and_no_daemon() -> None:
    # Given the variables Lambda sets (tracing on), and nothing listening for X-Ray
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("POWERTOOLS_", "AWS_", "ORDERS_"))
    }
    env.update(
        {
            "LAMBDA_TASK_ROOT": str(ROOT / "lambdas" / "ingest"),
            "AWS_LAMBDA_FUNCTION_NAME": "orders-ingest",
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

    # Then the handler answers normally
    assert completed.returncode == 0, completed.stderr
    [result] = [line for line in completed.stdout.splitlines() if line.startswith("RESULT ")]
    assert json.loads(result.removeprefix("RESULT ")) == {"status": 202}
