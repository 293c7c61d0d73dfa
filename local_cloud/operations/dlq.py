"""`dlq` and `redrive`: what sits in the dead-letter queues and why, and moving it back."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from local_cloud.aws import client
from local_cloud.operations.queues import dead_letter_queues, peek_messages

REASON_FIELDS = ("reason", "detail", "error_code", "error")


@dataclass(frozen=True)
class DeadLetter:
    dlq_url: str
    sources: tuple[str, ...]  # the queues that redrive into the DLQ
    message_id: str
    body: str
    reason: str


@dataclass(frozen=True)
class Redrive:
    dlq_url: str
    source: str | None  # None when the DLQ serves several queues: not redriven
    moved: int


def logged_reason(log_dir: str | Path | None, message_id: str) -> str | None:
    """What the functions last logged about a message (structured JSON logs), if anything.

    Lambda handlers log the SQS message id with their failures; this finds the last
    warning or error line about it in the function logs, preferring one that names a
    reason, and keeps its message and reason fields.
    """
    if not log_dir or not Path(log_dir).is_dir():
        return None
    last: dict[str, Any] | None = None
    last_with_reason: dict[str, Any] | None = None
    for path in sorted(Path(log_dir).glob("*.log")):
        for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
            if message_id not in line or not line.startswith("{"):
                continue
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if isinstance(record, dict) and record.get("level") in ("ERROR", "WARNING"):
                last = record
                if any(record.get(key) is not None for key in REASON_FIELDS):
                    last_with_reason = record
    found = last_with_reason or last
    if found is None:
        return None
    fields = [str(found.get("message", ""))]
    fields += [f"{key}={found[key]}" for key in REASON_FIELDS if found.get(key) is not None]
    return "; ".join(fields)


def _attribute_reason(message: dict[str, Any]) -> str | None:
    for name, value in message.get("MessageAttributes", {}).items():
        if any(word in name.lower() for word in ("error", "reason", "cause")):
            return f"{name}={value.get('StringValue', '')}"
    return None


def dead_letters(sqs: Any, log_dir: str | Path | None = None) -> list[DeadLetter]:
    """Every message in every dead-letter queue (not consumed), with why it is there:
    a message attribute naming an error, else what the functions logged about it, else
    its receive count."""
    letters = []
    for dlq, sources in dead_letter_queues(sqs).items():
        for message in peek_messages(sqs, dlq):
            receives = message.get("Attributes", {}).get("ApproximateReceiveCount", "?")
            reason = (
                _attribute_reason(message)
                or logged_reason(log_dir, message["MessageId"])
                or f"received {receives} times without being deleted (maxReceiveCount reached)"
            )
            letters.append(
                DeadLetter(dlq, tuple(sources), message["MessageId"], message["Body"], reason)
            )
    return letters


def _move(sqs: Any, source: str, destination: str) -> int:
    moved = 0
    while True:
        batch = sqs.receive_message(
            QueueUrl=source, MaxNumberOfMessages=10, VisibilityTimeout=30,
            MessageAttributeNames=["All"],
        ).get("Messages", [])  # fmt: skip
        if not batch:
            return moved
        for message in batch:
            attributes = message.get("MessageAttributes")
            sqs.send_message(
                QueueUrl=destination,
                MessageBody=message["Body"],
                **({"MessageAttributes": attributes} if attributes else {}),
            )
            sqs.delete_message(QueueUrl=source, ReceiptHandle=message["ReceiptHandle"])
            moved += 1


def redrive(sqs: Any) -> list[Redrive]:
    """Move every dead-letter queue's messages back to its source queue, one by one (moto
    has no StartMessageMoveTask: asking it only prints its traceback on up's console)."""
    done = []
    for dlq, sources in dead_letter_queues(sqs).items():
        if len(sources) == 1:
            done.append(Redrive(dlq, sources[0], _move(sqs, dlq, sources[0])))
        else:
            done.append(Redrive(dlq, None, 0))  # which queue a message came from is unknown
    return done


def print_dlq(aws_url: str, region: str, log_dir: str | None) -> int:
    sqs = client("sqs", aws_url, region)
    dlqs = dead_letter_queues(sqs)
    letters = dead_letters(sqs, log_dir)
    for dlq, sources in dlqs.items():
        mine = [letter for letter in letters if letter.dlq_url == dlq]
        print(f"# {dlq} (dead-letter queue of {', '.join(sources)}): {len(mine)} messages")
        for letter in mine:
            print(
                json.dumps(
                    {"message_id": letter.message_id, "reason": letter.reason, "body": letter.body}
                )
            )
    if not dlqs:
        print("# no dead-letter queues (no queue has a redrive policy)")
    return 0


def print_redrive(aws_url: str, region: str) -> int:
    for done in redrive(client("sqs", aws_url, region)):
        if done.source is None:
            print(f"# {done.dlq_url}: not redriven, it serves several queues")
        else:
            print(f"# {done.dlq_url}: moved {done.moved} messages back to {done.source}")
    return 0
