"""Reading the emulation's queues without consuming them: depth, messages, dead-letter queues."""

from __future__ import annotations

import json
from typing import Any


def queue_depth(sqs: Any, queue_url: str) -> int:
    """Messages on a queue, visible or in flight."""
    attributes = sqs.get_queue_attributes(
        QueueUrl=queue_url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"]) + int(
        attributes["ApproximateNumberOfMessagesNotVisible"]
    )


def peek_messages(sqs: Any, queue_url: str, limit: int = 100) -> list[dict[str, Any]]:
    """Read messages without consuming them (received with a zero visibility timeout).

    A receive returns some of the messages: receive again until a batch brings nothing new
    (at most `limit` receives).
    """
    seen: dict[str, dict[str, Any]] = {}
    for _ in range(limit):
        batch = sqs.receive_message(
            QueueUrl=queue_url,
            MaxNumberOfMessages=10,
            VisibilityTimeout=0,
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
        ).get("Messages", [])
        new = [m for m in batch if m["MessageId"] not in seen]
        if not new:
            break
        seen.update((m["MessageId"], m) for m in new)
    return list(seen.values())


def dead_letter_queues(sqs: Any) -> dict[str, list[str]]:
    """DLQ URL -> URLs of the queues that redrive into it."""
    urls = sqs.list_queues().get("QueueUrls", [])
    arn_to_url: dict[str, str] = {}
    targets: dict[str, list[str]] = {}
    for url in urls:
        attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
        arn_to_url[attributes["QueueArn"]] = url
        if "RedrivePolicy" in attributes:
            dlq_arn = json.loads(attributes["RedrivePolicy"])["deadLetterTargetArn"]
            targets.setdefault(dlq_arn, []).append(url)
    return {arn_to_url[arn]: sources for arn, sources in targets.items() if arn in arn_to_url}
