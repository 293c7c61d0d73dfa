"""File processing (issue 8): a file under `incoming/` -> transactions + customers.

S3 announces every new object to EventBridge (the data stack switches that on); one rule
forwards the files bucket's `Object Created` events under `incoming/` to the function,
which EventBridge invokes asynchronously. Lambda retries a failed file twice, then puts
the event with the error in the files dead-letter queue, where an event EventBridge
could not deliver ends too.
"""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from stacks.constructs.capability import Capability
from stacks.constructs.functions import FunctionSpec, PythonFunctions
from stacks.contract import (
    FILES,
    FILES_INCOMING_PREFIX,
    FILES_PROCESSED_PREFIX,
    FILES_REJECTED_PREFIX,
    Env,
)
from stacks.settings import Settings

# Lambda's most for asynchronous invocations: a failed file is tried three times.
FILES_RETRY_ATTEMPTS = 2
# Lambda's longest: a file waiting out throttling (or a retry) is not given up early.
FILES_MAX_EVENT_AGE = Duration.hours(6)
# EventBridge's own defaults for handing the event to Lambda, written out.
EVENTS_RETRY_ATTEMPTS = 185
EVENTS_MAX_EVENT_AGE = Duration.hours(24)
OUTSIDE_VPC = (
    "calls only AWS APIs (S3, DynamoDB) over TLS, authorized by IAM on exact ARNs, and "
    "reaches nothing private; inside the VPC, which has no NAT, it would need an S3 "
    "gateway endpoint, and the planned Fargate hand-off of large files an ECS interface "
    "endpoint (~$15/month) (docs/decisions.md)"
)
FAILURES = (
    "invoked asynchronously by EventBridge; its on-failure destination (the files "
    "dead-letter queue, SQS) keeps each failed event with the error after two retries, "
    "which a plain DLQ (the event alone) would not"
)


class FileProcessing(Capability):
    """The file processor, the rule that feeds it, and where failed files end."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        settings: Settings,
        functions: PythonFunctions,
        bucket: s3.IBucket,
        transactions: dynamodb.ITable,
        customers: dynamodb.ITable,
        dead_letter_queue: sqs.IQueue,
    ) -> None:
        super().__init__(scope, construct_id)
        self._settings = settings
        self.function = functions.build(
            self,
            FunctionSpec(
                contract=FILES,
                timeout_seconds=settings.files_timeout_seconds,
                memory_mb=settings.files_memory_mb,
                environment={
                    Env.TRANSACTIONS_TABLE_NAME: transactions.table_name,
                    Env.CUSTOMERS_TABLE_NAME: customers.table_name,
                    Env.LEDGER_CURRENCY: settings.ledger_currency,
                    Env.FILE_MAX_BYTES: str(settings.file_max_bytes),
                    Env.FILE_WRITER_THREADS: str(settings.file_writer_threads),
                },
                statements=_statements(bucket, transactions, customers, dead_letter_queue),
                wildcard_resources={
                    f"/{prefix}*": f"the objects under {prefix} only, which the processor "
                    "handles by any name a partner chose"
                    for prefix in (
                        FILES_INCOMING_PREFIX,
                        FILES_PROCESSED_PREFIX,
                        FILES_REJECTED_PREFIX,
                    )
                },
                outside_vpc=OUTSIDE_VPC,
                failures=FAILURES,
                checkov_reasons={
                    "CKV_AWS_115": "one invocation per uploaded file, as many as partners "
                    "upload at once; a throttled file waits in Lambda's queue (up to 6 "
                    "hours) instead of failing, and a reservation would take from the "
                    "account's pool",
                    "CKV_AWS_173": "the variables hold table names, the ledger currency, "
                    "limits and Powertools settings, no secrets; Lambda encrypts them at "
                    "rest with its AWS-managed key",
                },
            ),
        )
        self.invoke_config = self._build_invoke_config(dead_letter_queue)
        self.rule = self._build_rule(bucket, dead_letter_queue)

    def _build_invoke_config(self, dead_letter_queue: sqs.IQueue) -> lambda_.CfnEventInvokeConfig:
        """Two retries, then the event and the error go to the files dead-letter queue.

        L1, because the L2 destination also grants sqs:GetQueueAttributes and
        sqs:GetQueueUrl; the role holds the one action Lambda uses, sqs:SendMessage.
        """
        return lambda_.CfnEventInvokeConfig(
            self,
            "FilesInvokeConfig",
            function_name=self.function.function_name,
            qualifier="$LATEST",
            maximum_retry_attempts=FILES_RETRY_ATTEMPTS,
            maximum_event_age_in_seconds=int(FILES_MAX_EVENT_AGE.to_seconds()),
            destination_config=lambda_.CfnEventInvokeConfig.DestinationConfigProperty(
                on_failure=lambda_.CfnEventInvokeConfig.OnFailureProperty(
                    destination=dead_letter_queue.queue_arn
                )
            ),
        )

    def _build_rule(self, bucket: s3.IBucket, dead_letter_queue: sqs.IQueue) -> events.Rule:
        """`Object Created` in the files bucket under `incoming/` -> the function."""
        rule = events.Rule(
            self,
            "FilesObjectCreatedRule",
            rule_name=self._settings.files_rule_name,
            description="new files under incoming/ in the order files bucket -> file processor",
            event_pattern=events.EventPattern(
                source=["aws.s3"],
                detail_type=["Object Created"],
                detail={
                    "bucket": {"name": [bucket.bucket_name]},
                    "object": {"key": [{"prefix": FILES_INCOMING_PREFIX}]},
                },
            ),
        )
        rule.add_target(
            targets.LambdaFunction(
                self.function,
                retry_attempts=EVENTS_RETRY_ATTEMPTS,
                max_event_age=EVENTS_MAX_EVENT_AGE,
                # An imported reference, so CDK adds no statement to the queue's policy
                # (in the queue stack: a reference back here); that stack allows this
                # rule by its name instead (QueueStack._let_the_files_rule_send).
                dead_letter_queue=sqs.Queue.from_queue_arn(
                    self, "FilesRuleDeadLetterQueue", dead_letter_queue.queue_arn
                ),
            )
        )
        return rule


def _statements(
    bucket: s3.IBucket,
    transactions: dynamodb.ITable,
    customers: dynamodb.ITable,
    dead_letter_queue: sqs.IQueue,
) -> tuple[iam.PolicyStatement, ...]:
    """Exactly what orders_core.files calls, each on its prefix or table."""
    return (
        # Read the uploaded version (GetObject, and HeadObject/CopyObject of that
        # version), then delete exactly that version once it is copied.
        iam.PolicyStatement(
            actions=["s3:GetObject", "s3:GetObjectVersion", "s3:DeleteObjectVersion"],
            resources=[bucket.arn_for_objects(f"{FILES_INCOMING_PREFIX}*")],
        ),
        # The copy to processed/ (multipart for objects over 5 GiB, aborted on failure).
        iam.PolicyStatement(
            actions=["s3:PutObject", "s3:AbortMultipartUpload"],
            resources=[bucket.arn_for_objects(f"{FILES_PROCESSED_PREFIX}*")],
        ),
        # The rejected-lines report (multipart when large), or removing a stale one.
        iam.PolicyStatement(
            actions=["s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload"],
            resources=[bucket.arn_for_objects(f"{FILES_REJECTED_PREFIX}*")],
        ),
        # Never called: with it, S3 answers a missing key with 404 (the file was moved
        # already: skip) instead of 403 (which would look like a failure to retry).
        iam.PolicyStatement(actions=["s3:ListBucket"], resources=[bucket.bucket_arn]),
        iam.PolicyStatement(
            actions=["dynamodb:BatchWriteItem"], resources=[transactions.table_arn]
        ),
        iam.PolicyStatement(actions=["dynamodb:UpdateItem"], resources=[customers.table_arn]),
        # The on-failure destination: Lambda sends with the function's role.
        iam.PolicyStatement(actions=["sqs:SendMessage"], resources=[dead_letter_queue.queue_arn]),
    )
