"""Node.js execution environments: CDK's custom-resource providers run the way Lambda's
Node.js runtime runs them (promise or callback handlers, errors, timeouts, the AWS SDK v3
from NODE_PATH, and their HTTPS answer to a plain-HTTP ResponseURL)."""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from local_cloud.services.environments import (
    FunctionPool,
    FunctionSpec,
    find_node,
    find_node_modules,
)

pytestmark = pytest.mark.skipif(find_node() is None, reason="no node executable")

INDEX = """
const https = require("https");
exports.handler = async (event, context) => {
  if (event.fail) throw new TypeError("asked to fail");
  if (event.sleep) await new Promise((r) => setTimeout(r, event.sleep));
  if (event.sdk) return typeof require("@aws-sdk/client-s3").S3;
  if (event.ResponseURL) {
    // as CDK's providers answer: https.request with the host and path only
    const url = new URL(event.ResponseURL);
    await new Promise((resolve, reject) => {
      const req = https.request(
        { hostname: url.hostname, path: url.pathname + url.search, method: "PUT" },
        (res) => { res.resume(); resolve(res.statusCode); });
      req.on("error", reject);
      req.end(JSON.stringify({ Status: "SUCCESS", RequestId: event.RequestId }));
    });
    return "answered";
  }
  return {
    echo: event,
    requestId: context.awsRequestId,
    left: context.getRemainingTimeInMillis() > 0,
    region: process.env.AWS_REGION,
  };
};
exports.callback = (event, context, callback) => callback(null, { called: event.n });
"""


def spec(code: Path, handler: str, timeout_s: float = 10) -> FunctionSpec:
    return FunctionSpec(
        name="node-fn",
        arn="arn:aws:lambda:us-east-1:123456789012:function:node-fn",
        handler=handler,
        code_dir=str(code),
        layer_dirs=(),
        environment={
            "PATH": os.environ.get("PATH", ""),
            "AWS_REGION": "eu-west-1",
            "LAMBDA_TASK_ROOT": str(code),
            "_HANDLER": handler,
        },
        timeout_s=timeout_s,
        memory_mb=128,
        runtime="nodejs24.x",
    )


@pytest.fixture(scope="module")
def code(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("node")
    (directory / "index.js").write_text(INDEX)
    return directory


@pytest.fixture(scope="module")
def pool(code: Path) -> Iterator[FunctionPool]:
    running = FunctionPool(spec(code, "index.handler"), max_environments=1)
    yield running
    running.close()


def test_an_async_handler_gets_the_event_its_context_and_environment(pool):
    result = pool.invoke({"a": [1, "two"]})

    assert result.ok, result.error
    assert result.payload["echo"] == {"a": [1, "two"]}
    assert result.payload["left"] is True
    assert result.payload["region"] == "eu-west-1"
    assert len(result.payload["requestId"]) == 36


def test_a_thrown_error_is_lambdas_error_and_the_environment_stays_warm(pool):
    result = pool.invoke({"fail": True})

    assert result.error is not None
    assert result.error["errorType"] == "TypeError"
    assert result.error["errorMessage"] == "asked to fail"
    assert pool.invoke({}).ok


def test_a_callback_handler_answers(code):
    callback = FunctionPool(spec(code, "index.callback"))
    try:
        assert callback.invoke({"n": 3}).payload == {"called": 3}
    finally:
        callback.close()


def test_a_handler_past_its_timeout_is_stopped(code):
    slow = FunctionPool(spec(code, "index.handler", timeout_s=1))
    try:
        result = slow.invoke({"sleep": 5000})
        assert result.error is not None
        assert result.error["errorType"] == "Sandbox.Timedout"
        assert slow.invoke({}).ok  # a cold start follows
    finally:
        slow.close()


def test_a_missing_module_is_an_init_error(code):
    broken = FunctionPool(spec(code, "missing.handler"))
    try:
        result = broken.invoke({})
    finally:
        broken.close()
    assert result.error is not None
    assert result.error["errorType"] == "Runtime.ImportModuleError"


@pytest.mark.skipif(find_node_modules() is None, reason="npm ci has not installed the SDK")
def test_the_aws_sdk_v3_is_there_as_the_runtime_provides_it(pool):
    assert pool.invoke({"sdk": True}).payload == "function"


def test_an_https_answer_to_a_plain_http_response_url_reaches_it(pool):
    received: list[dict[str, Any]] = []

    class Answer(BaseHTTPRequestHandler):
        def do_PUT(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            received.append({"path": self.path, "body": json.loads(self.rfile.read(length))})
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Answer)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_port}/cloudformation_us-east-1/cfnresponse?stack=s"
        result = pool.invoke({"ResponseURL": url, "RequestId": "r-1"})
    finally:
        server.shutdown()
        server.server_close()
    assert result.payload == "answered", result.error
    assert received == [
        {
            "path": "/cloudformation_us-east-1/cfnresponse?stack=s",
            "body": {"Status": "SUCCESS", "RequestId": "r-1"},
        }
    ]
