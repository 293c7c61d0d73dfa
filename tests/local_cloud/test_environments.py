"""Execution environments: Lambda's synchronous payload quotas; forked from the zygote
with the runtime's setup, or spawned when a function brings its own copy of a preloaded
package."""

from __future__ import annotations

import importlib.machinery
import os
import sys
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from local_cloud.services.environments import (
    MAX_REQUEST_PAYLOAD,
    MAX_RESPONSE_PAYLOAD,
    ExecutionEnvironment,
    FunctionPool,
    FunctionSpec,
    environment_zygote,
    shipped_top_level,
)
from local_cloud.services.zygote import ZygoteChild, enabled

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


SITE_PACKAGES = f"python/lib/python{sys.version_info.major}.{sys.version_info.minor}/site-packages"


def test_the_names_a_function_ships_are_its_code_s_and_its_layers_top_level_modules(tmp_path):
    code, layer = tmp_path / "code", tmp_path / "layer"
    for path in ("code/pkg", "layer/python/shared", f"layer/{SITE_PACKAGES}/vendored"):
        (tmp_path / path).mkdir(parents=True)
    extension = "native" + importlib.machinery.EXTENSION_SUFFIXES[0]
    for path in ("code/handler.py", f"code/{extension}", "code/data.json", "layer/top.py"):
        (tmp_path / path).write_text("")

    names = shipped_top_level(replace(spec(code), layer_dirs=(str(layer),)))

    # the layer's own top level is not on sys.path, only its python/ and site-packages/
    assert names == {"pkg", "handler", "native", "shared", "lib", "vendored"}


BOTO3_USER = """
import os
import sys

GREETING = os.environ.get("GREETING")  # read at import: set before any function code
FIRST_PATH = sys.path[0]
import boto3


def main(event, context):
    return {
        "boto3": getattr(boto3, "MARKER", "the runtime's"),
        "greeting": GREETING,
        "first_path": FIRST_PATH,
        "developer": os.environ.get("ZYGOTE_DEVELOPER"),
    }
"""


@pytest.mark.parametrize("where", ["code", "layer python", "layer site-packages"])
def test_a_function_that_ships_its_own_boto3_imports_its_own_copy(tmp_path, where):
    code, layer = tmp_path / "code", tmp_path / "layer"
    code.mkdir()
    (code / "handler.py").write_text(BOTO3_USER)
    home = {"code": code, "layer python": layer / "python"}.get(where, layer / SITE_PACKAGES)
    (home / "boto3").mkdir(parents=True)
    (home / "boto3" / "__init__.py").write_text('MARKER = "its own"\n')
    function = replace(spec(code), layer_dirs=(str(layer),) if where != "code" else ())

    environment = ExecutionEnvironment(function)
    try:
        assert environment.start(), environment.init_error
        result = environment.invoke("{}", "request", "Root=1-0-0")
        spawned = not isinstance(environment._process, ZygoteChild)
    finally:
        environment.stop()
    assert result.payload["boto3"] == "its own"
    assert spawned  # a fresh interpreter, as on Lambda
    assert environment_zygote(function) is None


def test_other_functions_are_forked_and_set_up_as_the_runtime_does(tmp_path, monkeypatch):
    monkeypatch.setenv("ZYGOTE_DEVELOPER", "the runner's own variable")
    answers = []
    for greeting in ("hello", "hej"):  # two functions, both with a module called handler
        code = tmp_path / greeting
        code.mkdir()
        (code / "handler.py").write_text(BOTO3_USER)
        function = replace(spec(code), environment={**spec(code).environment, "GREETING": greeting})
        environment = ExecutionEnvironment(function)
        try:
            assert environment.start(), environment.init_error
            # forked where zygotes are on; the same setup either way (LOCAL_ZYGOTE=0 spawns)
            assert isinstance(environment._process, ZygoteChild) == enabled()
            answers.append(environment.invoke("{}", "request", "Root=1-0-0").payload)
        finally:
            environment.stop()

    assert [a["greeting"] for a in answers] == ["hello", "hej"]
    assert [a["first_path"] for a in answers] == [str(tmp_path / "hello"), str(tmp_path / "hej")]
    assert {a["boto3"] for a in answers} == {"the runtime's"}
    assert {a["developer"] for a in answers} == {None}


FRAGILE = """
import os
import time

if os.environ.get("EXIT_AT_INIT"):
    os._exit(3)
print("init ran", flush=True)


def main(event, context):
    time.sleep(event.get("sleep", 0))
    if "exit" in event:
        os._exit(event["exit"])
    return "ok"
"""


@pytest.fixture
def fragile(tmp_path) -> FunctionSpec:
    (tmp_path / "handler.py").write_text(FRAGILE)
    return replace(spec(tmp_path), timeout_s=1.0, log_path=str(tmp_path / "function.log"))


def test_init_failures_read_as_the_runtime_reports_them(fragile):
    cases = {
        "Runtime.ExitError": replace(
            fragile, environment={**fragile.environment, "EXIT_AT_INIT": "1"}
        ),
        "Runtime.ImportModuleError": replace(fragile, handler="missing.main"),
        "Runtime.HandlerNotFound": replace(fragile, handler="handler.absent"),
    }
    for error_type, function in cases.items():
        environment = ExecutionEnvironment(function)
        assert not environment.start()
        assert environment.init_error is not None
        assert environment.init_error["errorType"] == error_type
        assert not environment.alive
    exited = ExecutionEnvironment(cases["Runtime.ExitError"])
    exited.start()
    assert exited.init_error == {
        "errorType": "Runtime.ExitError",
        "errorMessage": "process exited at init (code 3)",
    }


def test_a_timeout_or_a_crash_ends_the_environment_and_the_next_invoke_is_cold(fragile):
    pool = FunctionPool(fragile, max_environments=1)
    try:
        timed_out = pool.invoke({"sleep": 5})
        after_timeout = pool.invoke({})
        crashed = pool.invoke({"exit": 7})
        after_crash = pool.invoke({})
    finally:
        pool.close()

    assert timed_out.error is not None
    assert timed_out.error["errorType"] == "Sandbox.Timedout"
    assert timed_out.error["errorMessage"] == "Task timed out after 1.00 seconds"
    assert crashed.error == {"errorType": "Runtime.ExitError", "errorMessage": "process exited"}
    assert after_timeout.payload == after_crash.payload == "ok"
    log = Path(fragile.log_path or "").read_text()
    assert log.count("init ran") == 3  # the first start and two cold ones
    assert "START RequestId: " in log
