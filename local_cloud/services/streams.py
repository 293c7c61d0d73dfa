"""DynamoDB stream event source mappings, run the way the Lambda service runs them.

For each mapping (ListEventSourceMappings, a ``dynamodb`` stream ARN) one poller per shard
reads the stream through the DynamoDB Streams API (DescribeStream, GetShardIterator from
the mapping's StartingPosition, GetRecords), drops the records no filter matches
(FilterCriteria), gathers up to BatchSize records within MaximumBatchingWindowInSeconds and
invokes the function with Lambda's event. Records of a shard are delivered in order with
one batch in flight (ParallelizationFactor is emulated as 1). A failed batch is retried:

- a function error or timeout fails the whole batch; with ReportBatchItemFailures a
  valid report (``itemIdentifier`` = a record's SequenceNumber) checkpoints the records
  before the lowest failed one and retries from it; a malformed report fails the batch;
- BisectBatchOnFunctionError splits a failing batch in two and retries each half (a split
  does not count as a retry); a single record is retried up to MaximumRetryAttempts
  (-1: until it expires);
- records older than MaximumRecordAgeInSeconds (-1: never) are not retried;
- what is given up goes to DestinationConfig.OnFailure (SQS or SNS) as Lambda's record
  (``requestContext``, ``responseContext``, ``version``, ``timestamp``,
  ``DDBStreamBatchInfo``), and the shard moves on.
"""

from __future__ import annotations

import base64
import json
import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from local_cloud.aws import client
from local_cloud.services.environments import MAX_REQUEST_PAYLOAD, InvokeResult, serialize
from local_cloud.services.event_filter import parse_filters, passes
from local_cloud.services.invocations import qualified
from local_cloud.services.polling import PollerThreads

log = logging.getLogger("local_cloud")

POLL_INTERVAL_S = 0.25  # Lambda polls a DynamoDB stream shard four times a second
GET_RECORDS_LIMIT = 1000
RETRY_WAIT_S = 0.5  # between retries of a failed batch (doubling, at most MAX_RETRY_WAIT_S)
MAX_RETRY_WAIT_S = 5.0

Invoke = Callable[[str, dict[str, Any]], InvokeResult]


@dataclass(frozen=True)
class StreamMapping:
    uuid: str
    function_arn: str
    stream_arn: str
    batch_size: int = 100
    batching_window_s: float = 0.0
    starting_position: str = "TRIM_HORIZON"
    bisect: bool = False
    maximum_retry_attempts: int = -1  # -1: until the record expires
    maximum_record_age_s: int = -1  # -1: never
    report_batch_item_failures: bool = False
    on_failure: str | None = None
    filters: tuple[str, ...] = ()  # the patterns, as JSON text
    parallelization_factor: int = 1
    enabled: bool = True

    @property
    def table_name(self) -> str:
        return self.stream_arn.split(":table/", 1)[-1].split("/", 1)[0]

    @property
    def function_name(self) -> str:
        return self.function_arn.split(":")[6]

    def patterns(self) -> list[dict[str, Any]]:
        return [json.loads(p) for p in self.filters]


def load_stream_mappings(aws_url: str, region: str) -> list[StreamMapping]:
    """Every DynamoDB stream event source mapping in the emulation."""
    lambda_client = client("lambda", aws_url, region)
    found = []
    for raw in lambda_client.list_event_source_mappings()["EventSourceMappings"]:
        arn = str(raw.get("EventSourceArn", ""))
        if ":dynamodb:" not in arn:
            continue
        destination = ((raw.get("DestinationConfig") or {}).get("OnFailure") or {}).get(
            "Destination"
        )
        found.append(
            StreamMapping(
                uuid=raw["UUID"],
                function_arn=raw["FunctionArn"],
                stream_arn=arn,
                batch_size=int(raw.get("BatchSize") or 100),
                batching_window_s=float(raw.get("MaximumBatchingWindowInSeconds") or 0),
                starting_position=str(raw.get("StartingPosition") or "TRIM_HORIZON"),
                bisect=bool(raw.get("BisectBatchOnFunctionError")),
                maximum_retry_attempts=int(raw.get("MaximumRetryAttempts", -1)),
                maximum_record_age_s=int(raw.get("MaximumRecordAgeInSeconds", -1)),
                report_batch_item_failures="ReportBatchItemFailures"
                in (raw.get("FunctionResponseTypes") or []),
                on_failure=destination or None,
                filters=tuple(json.dumps(p) for p in parse_filters(raw.get("FilterCriteria"))),
                parallelization_factor=int(raw.get("ParallelizationFactor") or 1),
                enabled=raw.get("State", "Enabled") in {"Enabled", "Enabling", "Creating"},
            )
        )
    return found


def _plain(value: Any) -> Any:
    """A GetRecords record as JSON: binary attributes base64, times as epoch seconds."""
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    if isinstance(value, datetime):
        return int(value.timestamp())
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | set | tuple):
        return [_plain(v) for v in value]
    return value


def lambda_record(record: dict[str, Any], stream_arn: str, region: str) -> dict[str, Any]:
    """One stream record as Lambda puts it in the event."""
    out = _plain(record)
    out.setdefault("awsRegion", region)
    out["eventSourceARN"] = stream_arn
    return dict(out)


def sequence(record: dict[str, Any]) -> str:
    return str(record["dynamodb"]["SequenceNumber"])


def failed_from(  # noqa: PLR0911 - one return per rule of Lambda's documented contract
    result: InvokeResult, batch: list[dict[str, Any]], report_batch_item_failures: bool
) -> int | None:
    """Index of the first record to retry (None: the batch succeeded), Lambda's rules."""
    if not result.ok:
        return 0
    payload = result.payload
    if not report_batch_item_failures or payload is None or payload == {}:
        return None
    if not isinstance(payload, dict):
        return 0
    failures = payload.get("batchItemFailures")
    if failures is None or failures == []:
        return None
    if not isinstance(failures, list):
        return 0
    positions = {sequence(r): i for i, r in enumerate(batch)}
    found = []
    for failure in failures:
        identifier = failure.get("itemIdentifier") if isinstance(failure, dict) else None
        if not identifier or str(identifier) not in positions:
            return 0  # a malformed report fails the whole batch
        found.append(positions[str(identifier)])
    return min(found)


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def failure_record(
    mapping: StreamMapping,
    *,
    shard_id: str,
    batch: list[dict[str, Any]],
    condition: str,
    attempts: int,
    result: InvokeResult | None,
) -> dict[str, Any]:
    """Lambda's on-failure record for a DynamoDB stream batch it gives up on."""
    response: dict[str, Any] = {"statusCode": 200, "executedVersion": "$LATEST"}
    if result is not None and not result.ok:
        response["functionError"] = "Unhandled"
    arrivals = [float(r["dynamodb"].get("ApproximateCreationDateTime", 0)) for r in batch]
    return {
        "requestContext": {
            "requestId": str(uuid.uuid4()),
            "functionArn": qualified(mapping.function_arn),
            "condition": condition,
            "approximateInvokeCount": attempts,
        },
        "responseContext": response,
        "version": "1.0",
        "timestamp": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z",
        "DDBStreamBatchInfo": {
            "shardId": shard_id,
            "startSequenceNumber": sequence(batch[0]),
            "endSequenceNumber": sequence(batch[-1]),
            "approximateArrivalOfFirstRecord": _iso(min(arrivals)),
            "approximateArrivalOfLastRecord": _iso(max(arrivals)),
            "batchSize": len(batch),
            "streamArn": mapping.stream_arn,
        },
    }


@dataclass
class BatchOutcome:
    invocations: int = 0
    delivered: int = 0  # records the function took
    given_up: int = 0  # records sent to the on-failure destination (or dropped)
    errors: list[str] = field(default_factory=list)


class BatchProcessor:
    """Lambda's retry, bisect, partial-failure and expiry rules for one shard's batches."""

    def __init__(
        self,
        mapping: StreamMapping,
        invoke: Invoke,
        give_up: Callable[[list[dict[str, Any]], str, int, InvokeResult | None], None],
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], Any] = time.sleep,
    ) -> None:
        self.mapping = mapping
        self._invoke = invoke
        self._give_up = give_up
        self._clock = clock
        self._sleep = sleep

    def _expired(self, record: dict[str, Any]) -> bool:
        age = self.mapping.maximum_record_age_s
        created = float(record["dynamodb"].get("ApproximateCreationDateTime", 0))
        return age >= 0 and self._clock() - created > age

    def process(self, batch: list[dict[str, Any]], outcome: BatchOutcome) -> None:
        """Deliver one batch (in order) until it succeeds or is given up."""
        pending = [(batch, 0)]  # (records, failed attempts so far), in shard order
        while pending:
            records, attempts = pending.pop(0)
            expired = [r for r in records if self._expired(r)]
            if expired:
                # Lambda discards records past their age: they go to the destination
                count = len(expired)
                self._give_up(expired, "RecordAgeExceeded", attempts, None)
                outcome.given_up += count
                records = [r for r in records if not self._expired(r)]
            if not records:
                continue
            if attempts:
                self._sleep(min(RETRY_WAIT_S * 2 ** (attempts - 1), MAX_RETRY_WAIT_S))
            event = {"Records": records}
            if serialize(event)[1] > MAX_REQUEST_PAYLOAD and len(records) > 1:
                half = len(records) // 2  # Lambda keeps a batch within the 6 MB payload
                pending[:0] = [(records[:half], attempts), (records[half:], attempts)]
                continue
            result = self._invoke(self.mapping.function_arn, event)
            outcome.invocations += 1
            first_failed = failed_from(result, records, self.mapping.report_batch_item_failures)
            if first_failed is None:
                outcome.delivered += len(records)
                continue
            if not result.ok:
                outcome.errors.append(result.error_summary)
            outcome.delivered += first_failed
            rest = records[first_failed:]
            if self.mapping.bisect and len(rest) > 1:
                half = len(rest) // 2
                pending[:0] = [(rest[:half], 0), (rest[half:], 0)]
                continue
            attempts += 1
            limit = self.mapping.maximum_retry_attempts
            if limit >= 0 and attempts > limit:
                self._give_up(rest, "RetryAttemptsExhausted", attempts, result)
                outcome.given_up += len(rest)
                continue
            pending.insert(0, (rest, attempts))


class StreamRunner(PollerThreads):
    """Polls one mapping's stream (one thread per shard) until stop()."""

    def __init__(self, mapping: StreamMapping, invoke: Invoke, aws_url: str, region: str) -> None:
        self.mapping = mapping
        self._invoke = invoke
        self._aws_url = aws_url
        self._region = region
        super().__init__()
        self._patterns = mapping.patterns()

    def start(self) -> None:
        if not self.mapping.enabled:
            return
        streams = client("dynamodbstreams", self._aws_url, self._region)
        description = streams.describe_stream(StreamArn=self.mapping.stream_arn)
        for shard in description["StreamDescription"].get("Shards", []):
            name = f"ddb-{self.mapping.table_name}-{shard['ShardId'][-8:]}"
            self._spawn(self._run, name, shard["ShardId"])

    # -- one shard ----------------------------------------------------------------------
    def _run(self, shard_id: str) -> None:
        streams = client("dynamodbstreams", self._aws_url, self._region)
        processor = BatchProcessor(
            self.mapping,
            self._invoke,
            lambda batch, condition, attempts, result: self._give_up(
                shard_id, batch, condition, attempts, result
            ),
            sleep=self._stop.wait,
        )
        iterator: str | None = None
        buffer: list[dict[str, Any]] = []
        first_seen = 0.0
        while not self._stop.is_set():
            if self._parked_while_paused():
                continue
            try:
                if iterator is None:
                    position = self.mapping.starting_position
                    iterator = streams.get_shard_iterator(
                        StreamArn=self.mapping.stream_arn,
                        ShardId=shard_id,
                        ShardIteratorType=position if position == "LATEST" else "TRIM_HORIZON",
                    )["ShardIterator"]
                answer = streams.get_records(ShardIterator=iterator, Limit=GET_RECORDS_LIMIT)
                iterator = answer.get("NextShardIterator")
                fetched = [
                    lambda_record(r, self.mapping.stream_arn, self._region)
                    for r in answer.get("Records", [])
                ]
                kept = [r for r in fetched if passes(self._patterns, r)]
                if kept and not buffer:
                    first_seen = time.monotonic()
                buffer += kept
                window_open = time.monotonic() - first_seen < self.mapping.batching_window_s
                if not buffer or (len(buffer) < self.mapping.batch_size and window_open):
                    self._stop.wait(POLL_INTERVAL_S)
                    continue
                while buffer and not self._stop.is_set():
                    batch = buffer[: self.mapping.batch_size]
                    self._deliver(processor, batch)
                    buffer = buffer[len(batch) :]
                    if len(buffer) < self.mapping.batch_size and self.mapping.batching_window_s:
                        first_seen = time.monotonic()
                        break
            except (ClientError, BotoCoreError) as exc:
                if self._stop.is_set():
                    return
                log.warning("ddb   %s: poll failed: %s", self.mapping.table_name, exc)
                iterator = None
                self._stop.wait(1.0)
            except Exception:  # a bug here must not silently stop the mapping
                log.exception("ddb   %s: poller error", self.mapping.table_name)
                self._stop.wait(1.0)

    def _deliver(self, processor: BatchProcessor, batch: list[dict[str, Any]]) -> None:
        started = time.monotonic()
        outcome = BatchOutcome()
        processor.process(batch, outcome)
        errors = f"; {outcome.errors[-1]}" if outcome.errors else ""
        log.info(
            "ddb   %s -> %s: %d records, %d delivered, %d given up, %d invocations%s (%.0f ms)",
            self.mapping.table_name,
            self.mapping.function_name,
            len(batch),
            outcome.delivered,
            outcome.given_up,
            outcome.invocations,
            errors,
            (time.monotonic() - started) * 1000,
        )

    def _give_up(
        self,
        shard_id: str,
        batch: list[dict[str, Any]],
        condition: str,
        attempts: int,
        result: InvokeResult | None,
    ) -> None:
        destination = self.mapping.on_failure
        if not destination:
            return  # without a destination Lambda just moves on
        body = json.dumps(
            failure_record(
                self.mapping,
                shard_id=shard_id,
                batch=batch,
                condition=condition,
                attempts=attempts,
                result=result,
            )
        )
        parts = destination.split(":")
        try:
            if parts[2] == "sqs":
                sqs = client("sqs", self._aws_url, parts[3] or self._region)
                url = sqs.get_queue_url(QueueName=parts[5], QueueOwnerAWSAccountId=parts[4])
                sqs.send_message(QueueUrl=url["QueueUrl"], MessageBody=body)
            elif parts[2] == "sns":
                sns = client("sns", self._aws_url, parts[3] or self._region)
                sns.publish(TopicArn=destination, Message=body)
            else:
                log.warning("ddb   %s: destination %s not supported", shard_id, destination)
        except (ClientError, BotoCoreError) as exc:
            log.warning("ddb   %s: could not deliver to %s: %s", shard_id, destination, exc)
