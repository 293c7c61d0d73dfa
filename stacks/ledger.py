"""What the ledger's stateful stacks hand to the compute stack (issue 8).

The data stack owns the files bucket and the ledger's tables, the queue stack the
HighBalanceAlert topic and every queue around it; the compute stack takes them as one
argument and wires the file processor, the aggregator and their alarms to them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs

from stacks.data_stack import DataStack
from stacks.queue_stack import QueueStack


@dataclass(frozen=True)
class LedgerResources:
    files_bucket: s3.IBucket
    transactions_table: dynamodb.ITable
    customers_table: dynamodb.ITable
    totals_table: dynamodb.ITable
    postings_table: dynamodb.ITable
    high_balance_topic: sns.ITopic
    files_dead_letter_queue: sqs.IQueue
    aggregator_failure_queue: sqs.IQueue
    # The alert queues (CreditCollection, CustomerNotify) and every queue where something
    # the ledger could not deliver waits, by the name their alarms and widgets use.
    alert_queues: Mapping[str, sqs.IQueue]
    dead_letter_queues: Mapping[str, sqs.IQueue]

    @classmethod
    def of(cls, data: DataStack, queue: QueueStack) -> LedgerResources:
        return cls(
            files_bucket=data.files_bucket,
            transactions_table=data.transactions_table,
            customers_table=data.customers_table,
            totals_table=data.totals_table,
            postings_table=data.postings_table,
            high_balance_topic=queue.high_balance_topic,
            files_dead_letter_queue=queue.files_dead_letter_queue,
            aggregator_failure_queue=queue.aggregator_failure_queue,
            alert_queues={
                "CreditCollection": queue.credit_collection_queue,
                "CustomerNotify": queue.customer_notify_queue,
            },
            dead_letter_queues={
                "FilesDeadLetterQueue": queue.files_dead_letter_queue,
                "AggregatorFailureQueue": queue.aggregator_failure_queue,
                "CreditCollectionDeadLetterQueue": queue.credit_collection_dead_letter_queue,
                "CustomerNotifyDeadLetterQueue": queue.customer_notify_dead_letter_queue,
                "AlertSubscriptionDeadLetterQueue": queue.alert_subscription_dead_letter_queue,
            },
        )
