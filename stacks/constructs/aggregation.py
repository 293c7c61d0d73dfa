"""Aggregation (issue 8): the transactions and orders streams -> totals + HighBalanceAlert.

Two DynamoDB stream mappings feed one function: every change of a transaction, and the
changes of orders whose new or old image carries an amount (orders without one never
invoke it). Each mapping reports partial batch failures, bisects a failing batch, retries
a bounded number of times, drops records older than the stream can replay anyway, and
sends what it gives up on to the aggregator failure queue, so one bad record never
blocks its shard.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import jsii
from aws_cdk import Duration
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from stacks.constructs.capability import Capability
from stacks.constructs.functions import FunctionSpec, PythonFunctions
from stacks.contract import AGGREGATOR, ORDER_AMOUNT_ATTRIBUTE, Env
from stacks.settings import Settings

OUTSIDE_VPC = (
    "calls only AWS APIs (DynamoDB, SNS) over TLS, authorized by IAM on exact ARNs, and "
    "reaches nothing private; inside the VPC, which has no NAT, publishing to SNS would "
    "need an SNS interface endpoint, ~$15/month over two AZs (docs/decisions.md)"
)
FAILURES = (
    "invoked synchronously by its two stream mappings, whose on-failure destination "
    "(the aggregator failure queue) records what fails after the bounded retries"
)
# Stream actions with resource-level permissions: on exactly the two streams.
STREAM_READ_ACTIONS = (
    "dynamodb:DescribeStream",
    "dynamodb:GetRecords",
    "dynamodb:GetShardIterator",
)


def orders_with_an_amount() -> list[Mapping[str, Any]]:
    """Two OR'd patterns: the new image has an amount, or the old one had (a removed
    order, or a new version without one, must take its amount back out)."""
    return [
        lambda_.FilterCriteria.filter(
            {"dynamodb": {image: {ORDER_AMOUNT_ATTRIBUTE: {"N": lambda_.FilterRule.exists()}}}}
        )
        for image in ("NewImage", "OldImage")
    ]


@jsii.implements(lambda_.IEventSourceDlq)
class _QueueOnFailure:
    """A mapping's on-failure destination with no grant of its own.

    CDK's SqsOnFailureDestination grants sqs:GetQueueAttributes and sqs:GetQueueUrl as
    well; the role holds the one action Lambda uses, sqs:SendMessage.
    """

    def __init__(self, queue: sqs.IQueue) -> None:
        self._queue = queue

    def bind(self, target: Any, target_handler: Any) -> lambda_.DlqDestinationConfig:
        return lambda_.DlqDestinationConfig(destination=self._queue.queue_arn)


class Aggregation(Capability):
    """The aggregator and its two stream mappings."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        settings: Settings,
        functions: PythonFunctions,
        orders: dynamodb.ITable,
        transactions: dynamodb.ITable,
        totals: dynamodb.ITable,
        postings: dynamodb.ITable,
        topic: sns.ITopic,
        failure_queue: sqs.IQueue,
    ) -> None:
        super().__init__(scope, construct_id)
        self._settings = settings
        self._failure_queue = failure_queue
        streams = [_stream_arn(orders), _stream_arn(transactions)]
        self.function = functions.build(
            self,
            FunctionSpec(
                contract=AGGREGATOR,
                timeout_seconds=settings.aggregator_timeout_seconds,
                memory_mb=settings.aggregator_memory_mb,
                environment={
                    Env.TOTALS_TABLE_NAME: totals.table_name,
                    Env.POSTINGS_TABLE_NAME: postings.table_name,
                    Env.LEDGER_CURRENCY: settings.ledger_currency,
                    Env.HIGH_BALANCE_THRESHOLD: settings.high_balance_threshold,
                    Env.HIGH_BALANCE_TOPIC_ARN: topic.topic_arn,
                },
                statements=(
                    # Consistent reads of a posting and the totals it moves.
                    iam.PolicyStatement(
                        actions=["dynamodb:BatchGetItem"],
                        resources=[postings.table_arn, totals.table_arn],
                    ),
                    # TransactWriteItems is authorized item by item: the posting's Put
                    # and each total's Update (and clearing a published alert).
                    iam.PolicyStatement(
                        actions=["dynamodb:PutItem"], resources=[postings.table_arn]
                    ),
                    iam.PolicyStatement(
                        actions=["dynamodb:UpdateItem"], resources=[totals.table_arn]
                    ),
                    # What the stream mappings call with this role.
                    iam.PolicyStatement(actions=list(STREAM_READ_ACTIONS), resources=streams),
                    iam.PolicyStatement(
                        actions=["dynamodb:ListStreams"],
                        resources=[
                            f"{orders.table_arn}/stream/*",
                            f"{transactions.table_arn}/stream/*",
                        ],
                    ),
                    # The topic uses SNS's AWS-managed key: SNS uses it for the publisher.
                    iam.PolicyStatement(actions=["sns:Publish"], resources=[topic.topic_arn]),
                    # The mappings' on-failure destination, sent with this role.
                    iam.PolicyStatement(
                        actions=["sqs:SendMessage"], resources=[failure_queue.queue_arn]
                    ),
                ),
                wildcard_resources={
                    "/stream/*": "dynamodb:ListStreams on the orders and transactions "
                    "tables' streams, the form AWS documents for a function reading a "
                    "table's stream; the record-reading actions name the two stream ARNs",
                },
                outside_vpc=OUTSIDE_VPC,
                failures=FAILURES,
                checkov_reasons={
                    "CKV_AWS_115": "concurrency is bounded by the streams: at most "
                    "aggregator_parallelization_factor batches per shard at once; a "
                    "reservation would take from the account's pool",
                    "CKV_AWS_173": "the variables hold table names, a topic ARN, the ledger "
                    "currency and threshold and Powertools settings, no secrets; Lambda "
                    "encrypts them at rest with its AWS-managed key",
                },
            ),
        )
        self.transactions_mapping = self._build_mapping(
            "AggregatorTransactionsMapping", transactions
        )
        self.orders_mapping = self._build_mapping(
            "AggregatorOrdersMapping", orders, filters=orders_with_an_amount()
        )

    def _build_mapping(
        self,
        construct_id: str,
        table: dynamodb.ITable,
        *,
        filters: list[Mapping[str, Any]] | None = None,
    ) -> lambda_.EventSourceMapping:
        settings = self._settings
        return lambda_.EventSourceMapping(
            self,
            construct_id,
            target=self.function,
            event_source_arn=_stream_arn(table),
            # Everything the stream still holds: nothing written before the mapping
            # existed (within the stream's 24 hours) is skipped.
            starting_position=lambda_.StartingPosition.TRIM_HORIZON,
            batch_size=settings.aggregator_batch_size,
            max_batching_window=Duration.seconds(settings.aggregator_batching_window_seconds),
            parallelization_factor=settings.aggregator_parallelization_factor,
            # One failing record: the function names it, Lambda retries from it, halves
            # the batch around it, and after the retries gives it to the failure queue.
            report_batch_item_failures=True,
            bisect_batch_on_error=True,
            retry_attempts=settings.aggregator_retry_attempts,
            max_record_age=Duration.seconds(settings.aggregator_max_record_age_seconds),
            on_failure=_QueueOnFailure(self._failure_queue),
            filters=filters,
        )


def _stream_arn(table: dynamodb.ITable) -> str:
    arn = table.table_stream_arn
    if arn is None:
        raise ValueError(f"{table.node.path} has no stream for the aggregator to read")
    return arn
