"""Process: the function that drains the orders queue into the table, and its mapping."""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from stacks.common import acknowledge
from stacks.constructs.capability import Capability
from stacks.constructs.functions import FunctionSpec, PythonFunctions
from stacks.contract import PROCESS, Env
from stacks.settings import Settings


class Processing(Capability):
    """Orders queue -> conditional PutItem. The role may only consume that queue and put."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        settings: Settings,
        functions: PythonFunctions,
        table: dynamodb.ITable,
        queue: sqs.IQueue,
    ) -> None:
        super().__init__(scope, construct_id)
        self._settings = settings
        self.function = functions.build(
            self,
            FunctionSpec(
                contract=PROCESS,
                timeout_seconds=settings.process_timeout_seconds,
                memory_mb=settings.process_memory_mb,
                environment={
                    Env.ORDERS_TABLE_NAME: table.table_name,
                    # so the function can count what the redrive policy dead-letters
                    Env.ORDERS_MAX_RECEIVE_COUNT: str(settings.max_receive_count),
                    # each message is validated again, currency included (issue 8)
                    Env.LEDGER_CURRENCY: settings.ledger_currency,
                },
                statements=(
                    iam.PolicyStatement(actions=["dynamodb:PutItem"], resources=[table.table_arn]),
                    # What the event source mapping calls with this role, nothing more.
                    iam.PolicyStatement(
                        actions=[
                            "sqs:ReceiveMessage",
                            "sqs:DeleteMessage",
                            "sqs:GetQueueAttributes",
                        ],
                        resources=[queue.queue_arn],
                    ),
                ),
            ),
        )
        self.mapping = self._build_queue_mapping(queue)

    def _build_queue_mapping(self, queue: sqs.IQueue) -> lambda_.EventSourceMapping:
        settings = self._settings
        mapping = lambda_.EventSourceMapping(
            self,
            "ProcessQueueMapping",
            target=self.function,
            event_source_arn=queue.queue_arn,
            batch_size=settings.batch_size,
            max_batching_window=Duration.seconds(settings.batching_window_seconds),
            # One bad record must not make its batch-mates retry.
            report_batch_item_failures=True,
            max_concurrency=settings.max_concurrency,
        )
        acknowledge(
            mapping,
            "Serverless-LambdaEventSourceMappingDestination",
            "SQS mappings take no on-failure destination; the queue's redrive policy "
            "sends a record to the DLQ after max_receive_count failed receives",
        )
        return mapping
