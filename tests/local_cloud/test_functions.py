"""The environment a function's execution environment gets."""

from __future__ import annotations

from pathlib import Path

from local_cloud.services.functions import lambda_environment

CONFIG = {
    "FunctionName": "orders-ingest",
    "MemorySize": 512,
    "Runtime": "python3.14",
    "Handler": "handler.lambda_handler",
    "Environment": {"Variables": {"QUEUE_URL": "q", "AWS_REGION": "eu-west-1"}},
}


def test_deployed_variables_plus_the_runtime_s_own_and_nothing_of_the_developer(monkeypatch):
    monkeypatch.setenv("AWS_PROFILE", "production")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAREALKEY")

    env = lambda_environment(CONFIG, Path("/code"), "us-east-1", "http://127.0.0.1:4566")

    assert env["QUEUE_URL"] == "q"
    assert env["AWS_REGION"] == "us-east-1"  # reserved names win over the function's own
    assert env["AWS_LAMBDA_FUNCTION_NAME"] == "orders-ingest"
    assert env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] == "512"
    assert env["_HANDLER"] == "handler.lambda_handler"
    assert env["LAMBDA_TASK_ROOT"] == "/code"
    assert env["AWS_ENDPOINT_URL"] == "http://127.0.0.1:4566"
    assert env["AWS_ACCESS_KEY_ID"] == "testing"  # never a real key
    assert "AWS_PROFILE" not in env
