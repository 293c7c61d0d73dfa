"""Event source mapping runner: what the Lambda service does for an SQS mapping.

For every SQS mapping deployed in the emulation (ListEventSourceMappings) a few pollers
receive batches (BatchSize, MaximumBatchingWindowInSeconds), build the SQS event, invoke the
function and delete what succeeded. With ReportBatchItemFailures only the reported messages
stay; a function error or timeout leaves the whole batch. Messages left on the queue
reappear after the visibility timeout, and the queue's redrive policy (maxReceiveCount,
applied by moto on receive) moves poison messages to the dead-letter queue.
"""

from __future__ import annotations

import base64
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from local_cloud.aws import client
from local_cloud.services.environments import InvokeResult
from local_cloud.services.polling import PollerThreads

log = logging.getLogger("local_cloud")

DEFAULT_MAX_POLLERS = 2  # Lambda starts with 5 and scales; two keep a laptop responsive
LONG_POLL_S = 1  # short enough that stop() is quick
SQS_RECEIVE_MAX = 10


@dataclass(frozen=True)
class SqsMapping:
    uuid: str
    function_arn: str
    queue_arn: str
    batch_size: int
    batching_window_s: float
    report_batch_item_failures: bool
    maximum_concurrency: int | None
    enabled: bool

    @property
    def queue_name(self) -> str:
        return self.queue_arn.rsplit(":", 1)[-1]

    @property
    def function_name(self) -> str:
        return self.function_arn.split(":")[6]


def load_mappings(aws_url: str, region: str) -> list[SqsMapping]:
    """Every SQS event source mapping in the emulation."""
    lambda_client = client("lambda", aws_url, region)
    mappings = []
    for raw in lambda_client.list_event_source_mappings()["EventSourceMappings"]:
        if ":sqs:" not in raw.get("EventSourceArn", ""):
            continue
        mappings.append(
            SqsMapping(
                uuid=raw["UUID"],
                function_arn=raw["FunctionArn"],
                queue_arn=raw["EventSourceArn"],
                batch_size=int(raw.get("BatchSize") or 10),
                batching_window_s=float(raw.get("MaximumBatchingWindowInSeconds") or 0),
                report_batch_item_failures="ReportBatchItemFailures"
                in (raw.get("FunctionResponseTypes") or []),
                maximum_concurrency=(raw.get("ScalingConfig") or {}).get("MaximumConcurrency"),
                enabled=raw.get("State", "Enabled") in {"Enabled", "Enabling", "Creating"},
            )
        )
    return mappings


def _attribute_value(value: dict[str, Any]) -> dict[str, Any]:
    def b64(data: bytes | str) -> str:
        return base64.b64encode(data if isinstance(data, bytes) else data.encode()).decode()

    out: dict[str, Any] = {
        "stringListValues": list(value.get("StringListValues", [])),
        "binaryListValues": [b64(v) for v in value.get("BinaryListValues", [])],
        "dataType": value.get("DataType", "String"),
    }
    if "StringValue" in value:
        out["stringValue"] = value["StringValue"]
    if "BinaryValue" in value:
        out["binaryValue"] = b64(value["BinaryValue"])
    return out


def build_sqs_event(messages: list[dict[str, Any]], queue_arn: str, region: str) -> dict[str, Any]:
    """The event Lambda sends for a batch of SQS messages."""
    records = []
    for message in messages:
        record: dict[str, Any] = {
            "messageId": message["MessageId"],
            "receiptHandle": message["ReceiptHandle"],
            "body": message.get("Body", ""),
            "attributes": dict(message.get("Attributes", {})),
            "messageAttributes": {
                name: _attribute_value(value)
                for name, value in message.get("MessageAttributes", {}).items()
            },
            "md5OfBody": message.get("MD5OfBody", ""),
            "eventSource": "aws:sqs",
            "eventSourceARN": queue_arn,
            "awsRegion": region,
        }
        if "MD5OfMessageAttributes" in message:
            record["md5OfMessageAttributes"] = message["MD5OfMessageAttributes"]
        records.append(record)
    return {"Records": records}


def failed_message_ids(  # noqa: PLR0911 - one return per rule of Lambda's documented contract
    result: InvokeResult, message_ids: list[str], report_batch_item_failures: bool
) -> set[str]:
    """Which messages stay on the queue after an invoke (Lambda's rules)."""
    everything = set(message_ids)
    if not result.ok:
        return everything  # an error or timeout fails the whole batch
    if not report_batch_item_failures:
        return set()
    payload = result.payload
    if payload is None or payload == {}:
        return set()
    if not isinstance(payload, dict):
        return everything
    failures = payload.get("batchItemFailures")
    if failures is None:
        return set()
    if not isinstance(failures, list):
        return everything
    failed: set[str] = set()
    for failure in failures:
        identifier = failure.get("itemIdentifier") if isinstance(failure, dict) else None
        if not identifier or identifier not in everything:
            return everything  # a malformed report fails the whole batch, as on Lambda
        failed.add(identifier)
    return failed


def _latest_copies(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One record per message: a message whose visibility timeout ran out while the batch
    was gathering comes back with a new receipt handle, and only the newest one deletes."""
    latest: dict[str, dict[str, Any]] = {}
    for message in messages:
        latest[message["MessageId"]] = message
    return list(latest.values())


Invoke = Callable[[str, dict[str, Any]], InvokeResult]


class MappingRunner(PollerThreads):
    """Polls one mapping's queue with a few threads until stop()."""

    def __init__(
        self,
        mapping: SqsMapping,
        invoke: Invoke,
        aws_url: str,
        region: str,
        max_pollers: int = DEFAULT_MAX_POLLERS,
    ) -> None:
        self.mapping = mapping
        self._invoke = invoke
        self._aws_url = aws_url
        self._region = region
        self.pollers = max(1, min(mapping.maximum_concurrency or max_pollers, max_pollers))
        super().__init__()

    def start(self) -> None:
        if not self.mapping.enabled:
            return
        for index in range(self.pollers):
            self._spawn(self._run, f"esm-{self.mapping.queue_name}-{index}")

    def _run(self) -> None:
        sqs = client("sqs", self._aws_url, self._region)
        account = self.mapping.queue_arn.split(":")[4]
        queue_url = None
        while not self._stop.is_set():
            if self._parked_while_paused():
                continue
            try:
                if queue_url is None:
                    queue_url = sqs.get_queue_url(
                        QueueName=self.mapping.queue_name, QueueOwnerAWSAccountId=account
                    )["QueueUrl"]
                messages = self._gather(sqs, queue_url)
                if messages and not self._stop.is_set():
                    self._process(sqs, queue_url, messages)
            except (ClientError, BotoCoreError) as exc:
                if self._stop.is_set():
                    return
                log.warning("sqs   %s: poll failed: %s", self.mapping.queue_name, exc)
                self._stop.wait(1.0)
            except Exception:  # a bug here must not silently stop the mapping
                log.exception("sqs   %s: poller error", self.mapping.queue_name)
                self._stop.wait(1.0)

    def _gather(self, sqs: Any, queue_url: str) -> list[dict[str, Any]]:
        """Up to BatchSize messages, waiting at most the batching window after the first."""
        messages: list[dict[str, Any]] = []
        deadline = 0.0
        while not self._stop.is_set() and len(messages) < self.mapping.batch_size:
            wait = LONG_POLL_S
            if messages:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                wait = 1 if remaining >= 1 else 0
            got = sqs.receive_message(
                QueueUrl=queue_url,
                MaxNumberOfMessages=min(SQS_RECEIVE_MAX, self.mapping.batch_size - len(messages)),
                WaitTimeSeconds=wait,
                AttributeNames=["All"],
                MessageAttributeNames=["All"],
            ).get("Messages", [])
            if not got and not messages:
                return messages  # an empty long poll: back to the loop (stop, pause)
            if got and not messages:
                deadline = time.monotonic() + self.mapping.batching_window_s
            messages = _latest_copies(messages + got)
            if messages and not got and wait == 0:
                self._stop.wait(min(0.05, max(0.0, deadline - time.monotonic())))
        return messages

    def _process(self, sqs: Any, queue_url: str, messages: list[dict[str, Any]]) -> None:
        started = time.monotonic()
        event = build_sqs_event(messages, self.mapping.queue_arn, self._region)
        result = self._invoke(self.mapping.function_arn, event)
        ids = [m["MessageId"] for m in messages]
        failed = failed_message_ids(result, ids, self.mapping.report_batch_item_failures)
        done = [m for m in messages if m["MessageId"] not in failed]
        for start in range(0, len(done), SQS_RECEIVE_MAX):
            chunk = done[start : start + SQS_RECEIVE_MAX]
            answer = sqs.delete_message_batch(
                QueueUrl=queue_url,
                Entries=[
                    {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(chunk)
                ],
            )
            for failure in answer.get("Failed", []):
                log.warning("sqs   %s: delete failed: %s", self.mapping.queue_name, failure)
        receives = max(
            int(m.get("Attributes", {}).get("ApproximateReceiveCount", 1)) for m in messages
        )
        outcome = "" if result.ok else f"; {result.error_summary}"
        log.info(
            "sqs   %s -> %s: %d msgs, %d ok, %d failed, max receive %d%s (%.0f ms)",
            self.mapping.queue_name,
            self.mapping.function_name,
            len(messages),
            len(done),
            len(failed),
            receives,
            outcome,
            (time.monotonic() - started) * 1000,
        )
