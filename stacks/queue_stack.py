"""Queue: the orders queue and its dead-letter queue; the ledger's alerts and failures."""

from __future__ import annotations

from aws_cdk import CfnOutput, Duration, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from stacks.common import acknowledge, checkov_skip, stack_props, stateful_removal
from stacks.settings import Settings

# Long enough to survive a weekend outage of the consumer.
QUEUE_RETENTION = Duration.days(4)
# SQS's maximum: a message keeps its original enqueue time in the DLQ, so the DLQ's
# retention must be longer than the source queue's or redriven messages expire early.
DLQ_RETENTION = Duration.days(14)
# An alert waits up to a week for the team that follows it up (its DLQ keeps it longer).
ALERT_QUEUE_RETENTION = Duration.days(7)
# SNS's AWS-managed key: no key to pay for or to grant; the aggregator publishes with
# sns:Publish alone (SNS uses the key on its behalf), and SSE-SQS queues need no key.
AWS_MANAGED_SNS_KEY = "alias/aws/sns"
SSE_SQS_REASON = (
    "encrypted with SSE-SQS (SqsManagedSseEnabled), which checkov does not recognise; "
    "SSE-KMS would need a customer key and grants for every producer and consumer"
)


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
        self._settings = settings
        self._build_ledger()

    # -- the ledger (issue 8) ----------------------------------------------------------

    def _build_ledger(self) -> None:
        """HighBalanceAlert fanned out to CreditCollection, CustomerNotify and e-mail; the
        queues where file and stream processing failures end."""
        self.files_dead_letter_queue = self._dead_letter_queue(
            "FilesDeadLetterQueue",
            "the file processor's dead-letter queue: files that failed after Lambda's "
            "retries (and events EventBridge could not deliver) wait here to be re-sent",
            redrive_target=False,
        )
        self._let_the_files_rule_send(self.files_dead_letter_queue)
        self.aggregator_failure_queue = self._dead_letter_queue(
            "AggregatorFailureQueue",
            "the aggregator's on-failure destination: each message names the stream "
            "records that failed after their retries",
            redrive_target=False,
        )
        self.high_balance_topic = sns.Topic(
            self,
            "HighBalanceAlertTopic",
            topic_name=f"{self._settings.name_prefix}-HighBalanceAlert",
            display_name="HighBalanceAlert",
            enforce_ssl=True,
        )
        # SSE by the key's alias, as SNS documents it (the L2 wants a key object and
        # would write an alias ARN; nothing here needs a grant on it).
        topic = self.high_balance_topic.node.default_child
        if not isinstance(topic, sns.CfnTopic):  # what an L2 topic always holds
            raise TypeError(f"{self.high_balance_topic.node.path} has no CfnTopic")
        topic.kms_master_key_id = AWS_MANAGED_SNS_KEY
        # A notification SNS cannot deliver (a queue deleted or refusing it) is kept here.
        self.alert_subscription_dead_letter_queue = self._dead_letter_queue(
            "AlertSubscriptionDeadLetterQueue",
            "the HighBalanceAlert subscriptions' dead-letter queue: alerts SNS could not "
            "deliver wait here",
            redrive_target=False,
        )
        self.credit_collection_queue, self.credit_collection_dead_letter_queue = self._alert_queue(
            "CreditCollection"
        )
        self.customer_notify_queue, self.customer_notify_dead_letter_queue = self._alert_queue(
            "CustomerNotify"
        )
        if self._settings.alert_email:
            subscription = self.high_balance_topic.add_subscription(
                subscriptions.EmailSubscription(self._settings.alert_email)
            )
            acknowledge(
                subscription,
                "Serverless-SNSRedrivePolicy",
                "an e-mail copy of an alert that is also in CreditCollection and "
                "CustomerNotify, whose subscriptions keep what they cannot deliver",
            )
        for output_id, value in (
            ("HighBalanceAlertTopicArn", self.high_balance_topic.topic_arn),
            ("CreditCollectionQueueUrl", self.credit_collection_queue.queue_url),
            ("CustomerNotifyQueueUrl", self.customer_notify_queue.queue_url),
            (
                "CreditCollectionDeadLetterQueueUrl",
                self.credit_collection_dead_letter_queue.queue_url,
            ),
            ("CustomerNotifyDeadLetterQueueUrl", self.customer_notify_dead_letter_queue.queue_url),
            (
                "AlertSubscriptionDeadLetterQueueUrl",
                self.alert_subscription_dead_letter_queue.queue_url,
            ),
            ("FilesDeadLetterQueueUrl", self.files_dead_letter_queue.queue_url),
            ("AggregatorFailureQueueUrl", self.aggregator_failure_queue.queue_url),
        ):
            CfnOutput(self, output_id, value=value)

    def _alert_queue(self, name: str) -> tuple[sqs.Queue, sqs.Queue]:
        """A queue subscribed to HighBalanceAlert (raw JSON bodies) and its own DLQ."""
        dead_letter_queue = self._dead_letter_queue(
            f"{name}DeadLetterQueue",
            f"{name}'s dead-letter queue: alerts its consumer failed "
            f"{self._settings.max_receive_count} times",
        )
        queue = sqs.Queue(
            self,
            f"{name}Queue",
            queue_name=f"{self._settings.name_prefix}-{name}",
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            retention_period=ALERT_QUEUE_RETENTION,
            dead_letter_queue=sqs.DeadLetterQueue(
                max_receive_count=self._settings.max_receive_count, queue=dead_letter_queue
            ),
            removal_policy=stateful_removal(self._settings),
        )
        checkov_skip(queue, "CKV_AWS_27", SSE_SQS_REASON)
        self.high_balance_topic.add_subscription(
            subscriptions.SqsSubscription(
                queue,
                # the alert's JSON is the message body, not wrapped in SNS's envelope
                raw_message_delivery=True,
                dead_letter_queue=self.alert_subscription_dead_letter_queue,
            )
        )
        return queue, dead_letter_queue

    def _dead_letter_queue(
        self, construct_id: str, role: str, *, redrive_target: bool = True
    ) -> sqs.Queue:
        """A queue nothing consumes automatically: encrypted, TLS only, 14 days."""
        queue = sqs.Queue(
            self,
            construct_id,
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            retention_period=DLQ_RETENTION,
            removal_policy=stateful_removal(self._settings),
        )
        acknowledge(queue, "Serverless-SQSRedrivePolicy", f"{role}; it has no DLQ of its own")
        if not redrive_target:  # a destination, not a queue's redrive target
            acknowledge(queue, "AwsSolutions-SQS3", f"{role}; it has no DLQ of its own")
        checkov_skip(queue, "CKV_AWS_27", SSE_SQS_REASON)
        return queue

    def _let_the_files_rule_send(self, queue: sqs.Queue) -> None:
        """EventBridge may put an event it cannot hand to the file processor here.

        The rule lives in the compute stack, which depends on this one, so it is named
        from the stage (Settings.files_rule_name) and only that rule is allowed.
        """
        rule_arn = self.format_arn(
            service="events", resource="rule", resource_name=self._settings.files_rule_name
        )
        queue.add_to_resource_policy(
            iam.PolicyStatement(
                sid="AllowTheFilesRule",
                principals=[iam.ServicePrincipal("events.amazonaws.com")],
                actions=["sqs:SendMessage"],
                resources=[queue.queue_arn],
                conditions={"ArnEquals": {"aws:SourceArn": rule_arn}},
            )
        )
