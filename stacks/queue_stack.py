"""Queue: the orders queue and its dead-letter queue."""

from __future__ import annotations

from aws_cdk import CfnOutput, Duration, Stack
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from stacks.common import acknowledge, checkov_skip, stack_props, stateful_removal
from stacks.settings import Settings

# Long enough to survive a weekend outage of the consumer.
QUEUE_RETENTION = Duration.days(4)
# SQS's maximum: a message keeps its original enqueue time in the DLQ, so the DLQ's
# retention must be longer than the source queue's or redriven messages expire early.
DLQ_RETENTION = Duration.days(14)


class QueueStack(Stack):
    """SQS standard queue (SSE, TLS only) with a DLQ after `max_receive_count` receives."""

    def __init__(self, scope: Construct, construct_id: str, *, settings: Settings) -> None:
        super().__init__(scope, construct_id, **stack_props(settings, "Queue"))
        removal = stateful_removal(settings)
        self.dead_letter_queue = sqs.Queue(
            self,
            "OrdersDeadLetterQueue",
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            retention_period=DLQ_RETENTION,
            removal_policy=removal,
        )
        acknowledge(
            self.dead_letter_queue,
            "Serverless-SQSRedrivePolicy",
            "this is the dead-letter queue itself; its messages go back with `redrive`",
        )
        self.queue = sqs.Queue(
            self,
            "OrdersQueue",
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            retention_period=QUEUE_RETENTION,
            # Derived from the consumer (6 x its timeout + its batching window) so a
            # record is never visible again while a batch holding it still runs.
            visibility_timeout=Duration.seconds(settings.visibility_timeout_seconds),
            dead_letter_queue=sqs.DeadLetterQueue(
                max_receive_count=settings.max_receive_count, queue=self.dead_letter_queue
            ),
            removal_policy=removal,
        )
        for queue in (self.queue, self.dead_letter_queue):
            checkov_skip(
                queue,
                "CKV_AWS_27",
                "encrypted with SSE-SQS (SqsManagedSseEnabled), which checkov does not "
                "recognise; SSE-KMS would need kms:Decrypt/GenerateDataKey on both roles",
            )
        CfnOutput(self, "OrdersQueueUrl", value=self.queue.queue_url)
        CfnOutput(self, "OrdersDeadLetterQueueUrl", value=self.dead_letter_queue.queue_url)
