"""Execution environments: Lambda's synchronous payload quotas."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from local_cloud.services.environments import (
    MAX_REQUEST_PAYLOAD,
    MAX_RESPONSE_PAYLOAD,
    FunctionPool,
    FunctionSpec,
)

HANDLER = """
def main(event, context):
    if "answer_bytes" in event:
        return "x" * event["answer_bytes"]
    return {"received": len(event["data"])}
"""


def spec(code_dir: Path, handler: str = "handler.main") -> FunctionSpec:
    return FunctionSpec(
        name="quota",
        arn="arn:aws:lambda:us-east-1:123456789012:function:quota",
        handler=handler,
        code_dir=str(code_dir),
        layer_dirs=(),
        environment={"PATH": os.environ.get("PATH", ""), "PYTHONPATH": ""},
        timeout_s=20,
        memory_mb=128,
    )


@pytest.fixture(scope="module")
def pool(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FunctionPool]:
    code = tmp_path_factory.mktemp("code")
    (code / "handler.py").write_text(HANDLER)
    running = FunctionPool(spec(code), max_environments=1)
    yield running
    running.close()


def test_a_payload_within_the_quota_is_delivered(pool):
    data = "d" * (MAX_REQUEST_PAYLOAD - 100)
    result = pool.invoke({"data": data})
    assert result.ok, result.error
    assert result.payload == {"received": len(data)}


def test_a_payload_over_the_quota_is_refused_before_any_environment_sees_it(tmp_path):
    # the handler cannot even be imported: only a check made first answers with the quota
    broken = FunctionPool(spec(tmp_path, handler="missing.main"))
    try:
        result = broken.invoke({"data": "d" * MAX_REQUEST_PAYLOAD})
    finally:
        broken.close()
    assert result.error is not None
    assert result.error["errorType"] == "RequestEntityTooLargeException"
    assert str(MAX_REQUEST_PAYLOAD) in result.error["errorMessage"]


def test_escapes_count_json_text_is_what_is_measured(pool):
    # 1 MB of control characters is 6 MB of JSON (each one becomes \\u0001)
    result = pool.invoke({"data": "\x01" * (MAX_REQUEST_PAYLOAD // 6 + 1)})
    assert result.error is not None
    assert result.error["errorType"] == "RequestEntityTooLargeException"


def test_an_answer_over_the_quota_is_an_error(pool):
    result = pool.invoke({"answer_bytes": MAX_RESPONSE_PAYLOAD})
    assert result.error is not None
    assert result.error["errorType"] == "Function.ResponseSizeTooLarge"
    assert pool.invoke({"answer_bytes": 10}).payload == "x" * 10
