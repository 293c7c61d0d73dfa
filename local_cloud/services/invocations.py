"""What the Lambda service does with invocations that do not come from the runner itself.

moto invokes functions for S3 notifications, EventBridge targets, SNS subscriptions,
CloudFormation custom resources and the Invoke API. In the emulation process those calls
are handed to the runner (services/moto_patches.py) over a loopback HTTP endpoint served
here, the *hook*; the runner runs them in its execution environments:

- ``RequestResponse``: synchronous, the answer goes back to moto (and to the API caller);
- ``Event`` (and every internal caller, as on AWS): accepted at once, then queued per
  function and run in the background; a function error is retried
  ``MaximumRetryAttempts`` times (default 2) after Lambda's waits (one minute, then two);
  an event older than ``MaximumEventAgeInSeconds`` (default 6 h) is dropped; the outcome
  goes to the on-failure / on-success destination of the function's EventInvokeConfig in
  Lambda's destination record format (SQS, SNS, Lambda, EventBridge);
- ``DryRun``: checks the function can run and answers at once.

The hook also takes the e-mails SNS would send (``/email``): one console line each, and
a line in ``<log dir>/email.log``.
"""

from __future__ import annotations

import heapq
import itertools
import json
import logging
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from local_cloud.aws import client
from local_cloud.services.environments import InvokeResult, serialize
from local_cloud.services.loopback import LoopbackServer

log = logging.getLogger("local_cloud")

INVOKE_PATH = "/invoke"
EMAIL_PATH = "/email"
# Lambda: "If the function returns an error, Lambda attempts to run it two more times, with
# a one-minute wait between the first two attempts, and two minutes between the second
# and third attempts."
RETRY_WAITS_S = (60.0, 120.0)
DEFAULT_MAXIMUM_RETRY_ATTEMPTS = 2
DEFAULT_MAXIMUM_EVENT_AGE_S = 6 * 60 * 60
# Lambda's quota for an asynchronous invocation's payload (the Invoke API answers 413)
MAX_ASYNC_PAYLOAD = 1024 * 1024
ASYNC_WORKERS_PER_FUNCTION = 2

Invoke = Callable[[str, Any], InvokeResult]  # function ARN, event


def _now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def qualified(function_arn: str) -> str:
    """The ARN Lambda reports for an unqualified invocation (``...:function:name:$LATEST``)."""
    parts = function_arn.split(":")
    return ":".join([*parts[:7], "$LATEST"]) if len(parts) == 7 else function_arn


@dataclass(frozen=True)
class AsyncConfig:
    """A function's EventInvokeConfig, as Lambda applies it to asynchronous invocations."""

    maximum_retry_attempts: int = DEFAULT_MAXIMUM_RETRY_ATTEMPTS
    maximum_event_age_s: float = DEFAULT_MAXIMUM_EVENT_AGE_S
    on_success: str | None = None
    on_failure: str | None = None

    @classmethod
    def from_api(cls, config: dict[str, Any]) -> AsyncConfig:
        destinations = config.get("DestinationConfig") or {}
        return cls(
            maximum_retry_attempts=int(
                config.get("MaximumRetryAttempts", DEFAULT_MAXIMUM_RETRY_ATTEMPTS)
            ),
            maximum_event_age_s=float(
                config.get("MaximumEventAgeInSeconds", DEFAULT_MAXIMUM_EVENT_AGE_S)
            ),
            on_success=(destinations.get("OnSuccess") or {}).get("Destination") or None,
            on_failure=(destinations.get("OnFailure") or {}).get("Destination") or None,
        )


def destination_record(
    function_arn: str,
    *,
    request_id: str,
    condition: str,
    attempts: int,
    payload: Any,
    result: InvokeResult | None,
) -> dict[str, Any]:
    """Lambda's invocation record for a destination (success or failure)."""
    response_context: dict[str, Any] = {"statusCode": 200, "executedVersion": "$LATEST"}
    record: dict[str, Any] = {
        "version": "1.0",
        "timestamp": _now_iso(),
        "requestContext": {
            "requestId": request_id,
            "functionArn": qualified(function_arn),
            "condition": condition,
            "approximateInvokeCount": attempts,
        },
        "requestPayload": payload,
        "responseContext": response_context,
    }
    if result is None:  # dropped before any attempt (event age): no response at all
        return record
    if result.ok:
        record["responsePayload"] = result.payload
    else:
        response_context["functionError"] = "Unhandled"
        error = dict(result.error or {})
        error.pop("requestId", None)
        record["responsePayload"] = error
    return record


@dataclass(order=True)
class _Queued:
    due: float
    seq: int
    function_arn: str = field(compare=False)
    payload: Any = field(compare=False)
    request_id: str = field(compare=False)
    received: float = field(compare=False)  # time.time() when accepted
    attempts: int = field(compare=False, default=0)
    config: AsyncConfig | None = field(compare=False, default=None)


class AsyncInvoker:
    """Lambda's internal queue for asynchronous invocations, one per function."""

    def __init__(
        self,
        invoke: Invoke,
        aws_url: str,
        region_of: Callable[[str], str],
        retry_scale: float = 1.0,
    ) -> None:
        self._invoke = invoke
        self._aws_url = aws_url
        self._region_of = region_of
        self.retry_scale = retry_scale
        self._queues: dict[str, list[_Queued]] = {}
        self._cond = threading.Condition()
        self._seq = itertools.count()
        self._threads: list[threading.Thread] = []
        self._busy = 0
        self._stopped = False
        self.completed = 0  # invocations finished (success, failure or dropped)

    # -- accepting ----------------------------------------------------------------------
    def submit(self, function_arn: str, payload: Any) -> str:
        """Queue an event; returns its request id (what Lambda answers a 202 with)."""
        request_id = str(uuid.uuid4())
        item = _Queued(
            time.monotonic(), next(self._seq), function_arn, payload, request_id, time.time()
        )
        with self._cond:
            if self._stopped:
                raise RuntimeError("the local cloud is stopping")
            queue = self._queues.get(function_arn)
            if queue is None:
                queue = self._queues[function_arn] = []
                for index in range(ASYNC_WORKERS_PER_FUNCTION):
                    thread = threading.Thread(
                        target=self._work,
                        args=(function_arn,),
                        name=f"async-{function_arn.rsplit(':', 1)[-1]}-{index}",
                        daemon=True,
                    )
                    thread.start()
                    self._threads.append(thread)
            heapq.heappush(queue, item)
            self._cond.notify_all()
        return request_id

    def pending(self) -> int:
        """Events queued or running (tests wait for 0)."""
        with self._cond:
            return self._busy + sum(len(q) for q in self._queues.values())

    def stop(self) -> None:
        with self._cond:
            self._stopped = True
            self._cond.notify_all()
        for thread in self._threads:
            thread.join(2.0)

    # -- running ------------------------------------------------------------------------
    def _next(self, function_arn: str) -> _Queued | None:
        with self._cond:
            queue = self._queues[function_arn]
            while not self._stopped:
                if queue and queue[0].due <= time.monotonic():
                    self._busy += 1
                    return heapq.heappop(queue)
                wait = queue[0].due - time.monotonic() if queue else None
                self._cond.wait(wait)
            return None

    def _work(self, function_arn: str) -> None:
        while (item := self._next(function_arn)) is not None:
            try:
                self._attempt(item)
            except Exception:  # a bug here must not stop the function's queue
                log.exception("async %s: invoker error", function_arn.rsplit(":", 1)[-1])
            finally:
                with self._cond:
                    self._busy -= 1
                    self._cond.notify_all()

    def _config(self, function_arn: str) -> AsyncConfig:
        lambda_client = client("lambda", self._aws_url, self._region_of(function_arn))
        try:
            raw = lambda_client.get_function_event_invoke_config(FunctionName=function_arn)
        except ClientError:
            return AsyncConfig()  # none configured: Lambda's defaults
        return AsyncConfig.from_api(raw)

    def _attempt(self, item: _Queued) -> None:
        name = item.function_arn.rsplit(":", 1)[-1]
        if item.config is None:
            item.config = self._config(item.function_arn)
        config = item.config
        if time.time() - item.received > config.maximum_event_age_s:
            self._finish(item, "EventAgeExceeded", None)
            return
        item.attempts += 1
        started = time.monotonic()
        result = self._invoke(item.function_arn, item.payload)
        elapsed = (time.monotonic() - started) * 1000
        if result.ok:
            log.info("async %s: ok on attempt %d (%.0f ms)", name, item.attempts, elapsed)
            self._finish(item, "Success", result)
            return
        retries_left = config.maximum_retry_attempts - (item.attempts - 1)
        if retries_left > 0:
            wait = RETRY_WAITS_S[min(item.attempts - 1, len(RETRY_WAITS_S) - 1)]
            wait *= self.retry_scale
            log.info(
                "async %s: attempt %d failed (%s); retry in %.1f s",
                name,
                item.attempts,
                result.error_summary,
                wait,
            )
            item.due = time.monotonic() + wait
            with self._cond:
                heapq.heappush(self._queues[item.function_arn], item)
                self._cond.notify_all()
            return
        log.info(
            "async %s: failed after %d attempts (%s)", name, item.attempts, result.error_summary
        )
        self._finish(item, "RetriesExhausted", result)

    def _finish(self, item: _Queued, condition: str, result: InvokeResult | None) -> None:
        config = item.config or AsyncConfig()
        destination = config.on_success if condition == "Success" else config.on_failure
        if condition == "EventAgeExceeded":
            log.info(
                "async %s: event dropped, older than %.0f s",
                item.function_arn.rsplit(":", 1)[-1],
                config.maximum_event_age_s,
            )
        if destination:
            record = destination_record(
                item.function_arn,
                request_id=item.request_id,
                condition=condition,
                attempts=item.attempts,
                payload=item.payload,
                result=result,
            )
            self._send(item.function_arn, destination, record, success=condition == "Success")
        with self._cond:
            self.completed += 1

    def _send(
        self, function_arn: str, destination: str, record: dict[str, Any], success: bool
    ) -> None:
        """Deliver a destination record the way Lambda does for each destination type."""
        service = destination.split(":")[2]
        region = destination.split(":")[3] or self._region_of(function_arn)
        body = json.dumps(record)
        try:
            if service == "sqs":
                sqs = client("sqs", self._aws_url, region)
                account, queue = destination.split(":")[4], destination.split(":")[5]
                url = sqs.get_queue_url(QueueName=queue, QueueOwnerAWSAccountId=account)
                sqs.send_message(QueueUrl=url["QueueUrl"], MessageBody=body)
            elif service == "sns":
                client("sns", self._aws_url, region).publish(TopicArn=destination, Message=body)
            elif service == "lambda":
                client("lambda", self._aws_url, region).invoke(
                    FunctionName=destination, InvocationType="Event", Payload=body.encode()
                )
            elif service == "events":
                outcome = "Success" if success else "Failure"
                client("events", self._aws_url, region).put_events(
                    Entries=[
                        {
                            "Source": "lambda",
                            "DetailType": f"Lambda Function Invocation Result - {outcome}",
                            "Detail": body,
                            "Resources": [qualified(function_arn), destination],
                            "EventBusName": destination,
                        }
                    ]
                )
            else:
                log.warning("async: destination %s is not a type Lambda supports", destination)
        except (ClientError, BotoCoreError) as exc:
            log.warning("async: could not deliver to %s: %s", destination, exc)


# --------------------------------------------------------------------------------------
# The hook: a loopback HTTP endpoint the emulation process calls
# --------------------------------------------------------------------------------------
class HookServer(LoopbackServer):
    """Serves the emulation's calls into the runner on 127.0.0.1 until stop().

    POST /invoke {"function": ARN, "type": "RequestResponse"|"Event"|"DryRun",
                  "payload": JSON text}
      -> 200 {"payload": ...} | 200 {"error": {...}} | 202 {"requestId": ...}
         | 204 (DryRun) | 4xx {"errorType": ..., "errorMessage": ...} (refused)
    POST /email {"topic": ARN, "endpoint": address, "protocol": "email"|"email-json",
                 "subject": ..., "message": ...} -> 204
    """

    def __init__(
        self,
        invoke: Invoke,
        can_run: Callable[[str], bool],
        asynchronous: Callable[[], AsyncInvoker | None],
        log_dir: Callable[[], Path | None],
        host: str = "127.0.0.1",
    ) -> None:
        handler = _make_handler(invoke, can_run, asynchronous, log_dir)
        super().__init__(handler, host, 0, "invoke-hook")


def _refusal(status: int, error_type: str, message: str) -> tuple[int, dict[str, Any]]:
    return status, {"errorType": error_type, "errorMessage": message}


def handle_invoke(  # noqa: PLR0911 - one return per outcome of Lambda's Invoke
    request: dict[str, Any],
    invoke: Invoke,
    can_run: Callable[[str], bool],
    asynchronous: AsyncInvoker | None,
) -> tuple[int, dict[str, Any]]:
    """One invocation handed over by the emulation: (HTTP status, JSON answer)."""
    function_arn = str(request.get("function", ""))
    kind = str(request.get("type") or "RequestResponse")
    text = request.get("payload") or "{}"
    if not can_run(function_arn):
        return _refusal(
            404,
            "ResourceNotFoundException",
            f"Function not found: {function_arn} (its code cannot run in the local cloud)",
        )
    try:
        payload = json.loads(text)
    except ValueError:
        return _refusal(400, "InvalidRequestContentException", "Could not parse request body")
    if kind == "DryRun":
        return 204, {}
    if kind == "Event":
        size = len(str(text).encode("utf-8", "surrogatepass"))
        if size > MAX_ASYNC_PAYLOAD:
            return _refusal(
                413,
                "RequestEntityTooLargeException",
                f"Request must be smaller than {MAX_ASYNC_PAYLOAD} bytes for the "
                f"InvokeAsync operation (was {size})",
            )
        if asynchronous is None:
            return _refusal(503, "ServiceException", "the local cloud is not running")
        return 202, {"requestId": asynchronous.submit(function_arn, payload)}
    result = invoke(function_arn, payload)
    if not result.ok and (result.error or {}).get("errorType") == (
        "RequestEntityTooLargeException"
    ):
        return 413, dict(result.error or {})
    if result.ok:
        return 200, {"payload": serialize(result.payload)[0]}
    return 200, {"error": result.error}


def write_email(log_dir: Path | None, message: dict[str, Any]) -> str:
    """The console line for an e-mail SNS would send; also appended to email.log."""
    line = (
        f"email {message.get('protocol', 'email')} to {message.get('endpoint')} from topic "
        f"{str(message.get('topic', '')).rsplit(':', 1)[-1]}: "
        f"subject {json.dumps(message.get('subject'))}, "
        f"message {json.dumps(message.get('message'))}"
    )
    if log_dir is not None:
        log_dir.mkdir(parents=True, exist_ok=True)
        entry = {"time": _now_iso(), **message}
        with (log_dir / "email.log").open("a", encoding="utf-8") as out:
            out.write(json.dumps(entry) + "\n")
    return line


def _make_handler(
    invoke: Invoke,
    can_run: Callable[[str], bool],
    asynchronous: Callable[[], AsyncInvoker | None],
    log_dir: Callable[[], Path | None],
) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            try:
                request = json.loads(self.rfile.read(length) or b"{}")
                if self.path == INVOKE_PATH:
                    status, answer = handle_invoke(request, invoke, can_run, asynchronous())
                elif self.path == EMAIL_PATH:
                    log.info("%s", write_email(log_dir(), request))
                    status, answer = 204, {}
                else:
                    status, answer = _refusal(404, "NotFound", self.path)
            except Exception as exc:  # the emulation must get an answer whatever happens
                log.exception("invoke hook failed")
                status, answer = _refusal(500, "ServiceException", str(exc))
            body = json.dumps(answer).encode() if status != 204 else b""
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    return Handler
