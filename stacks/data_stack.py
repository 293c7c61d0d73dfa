"""Data: the orders table; the ledger's files bucket and tables (issue 8)."""

from __future__ import annotations

from aws_cdk import CfnOutput, Duration, Stack
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_s3 as s3
from constructs import Construct

from stacks.common import acknowledge, checkov_skip, stack_props, stateful_removal
from stacks.contract import FILES_PROCESSED_PREFIX, FILES_REJECTED_PREFIX
from stacks.settings import Settings

TABLE_ENCRYPTION_REASON = (
    "encrypted at rest with the AWS-managed DynamoDB key; a customer key adds "
    "cost and key-policy upkeep without changing who can read the table (IAM does)"
)
# How long an overwritten or deleted file version stays recoverable.
NONCURRENT_VERSION_EXPIRY = Duration.days(30)
# A multipart upload that never completed (a partner's client died) is abandoned.
INCOMPLETE_UPLOAD_EXPIRY = Duration.days(7)


class DataStack(Stack):
    """The orders table: one row per (order_id, item), latest accepted version.

    The ledger (issue 8): the files bucket partners upload to, and its tables:
    transactions (one item per transaction line), customers (profiles), totals (one per
    customer) and postings (what the ledger currently counts for each source item).
    """

    def __init__(self, scope: Construct, construct_id: str, *, settings: Settings) -> None:
        super().__init__(scope, construct_id, **stack_props(settings, "Data"))
        self._settings = settings
        self.table = dynamodb.Table(
            self,
            "OrdersTable",
            partition_key=dynamodb.Attribute(name="order_id", type=dynamodb.AttributeType.STRING),
            sort_key=dynamodb.Attribute(name="item", type=dynamodb.AttributeType.STRING),
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            encryption=dynamodb.TableEncryption.AWS_MANAGED,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            # The ledger counts orders that carry an amount: the aggregator reads this
            # stream (adding a stream updates the table in place; it is not replaced).
            stream=dynamodb.StreamViewType.NEW_AND_OLD_IMAGES,
            # Stateful: a prod table outlives its stack and cannot be deleted by
            # accident; a dev table goes away with `make destroy`.
            removal_policy=stateful_removal(settings),
            deletion_protection=settings.is_prod,
        )
        checkov_skip(self.table, "CKV_AWS_119", TABLE_ENCRYPTION_REASON)
        CfnOutput(self, "OrdersTableName", value=self.table.table_name)

        # -- the ledger (issue 8) ------------------------------------------------------
        self.files_bucket = self._build_files_bucket()
        self.transactions_table = self._ledger_table(
            "TransactionsTable",
            "transaction_id",
            # the aggregator reads every change; OLD too, so it can tell moves apart
            stream=dynamodb.StreamViewType.NEW_AND_OLD_IMAGES,
        )
        self.customers_table = self._ledger_table("CustomersTable", "customer_id")
        self.totals_table = self._ledger_table("TotalsTable", "customer_id")
        self.postings_table = self._ledger_table("PostingsTable", "source")
        CfnOutput(self, "OrderFilesBucketName", value=self.files_bucket.bucket_name)
        for output_id, table in (
            ("TransactionsTableName", self.transactions_table),
            ("CustomersTableName", self.customers_table),
            ("TotalsTableName", self.totals_table),
            ("PostingsTableName", self.postings_table),
        ):
            CfnOutput(self, output_id, value=table.table_name)

    def _ledger_table(
        self, construct_id: str, key: str, *, stream: dynamodb.StreamViewType | None = None
    ) -> dynamodb.Table:
        """A ledger table keyed by one string attribute, kept like the orders table."""
        settings = self._settings
        table = dynamodb.Table(
            self,
            construct_id,
            partition_key=dynamodb.Attribute(name=key, type=dynamodb.AttributeType.STRING),
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            encryption=dynamodb.TableEncryption.AWS_MANAGED,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            stream=stream,
            removal_policy=stateful_removal(settings),
            deletion_protection=settings.is_prod,
        )
        checkov_skip(table, "CKV_AWS_119", TABLE_ENCRYPTION_REASON)
        return table

    def _build_files_bucket(self) -> s3.Bucket:
        """Where partners drop files: private, encrypted, TLS only, versioned, logged.

        New objects are announced to EventBridge (the compute stack's rule picks
        `incoming/`). That is switched on in the L1 bucket's NotificationConfiguration:
        the L2 `event_bridge_enabled` would add a custom resource (a Lambda function
        calling PutBucketNotificationConfiguration), and S3 notifications straight to the
        function would need the bucket to know the function, a reference from this stack
        to the compute stack, which already depends on it.
        """
        settings = self._settings
        removal = stateful_removal(settings)
        access_logs = s3.Bucket(
            self,
            "OrderFilesAccessLogs",
            encryption=s3.BucketEncryption.S3_MANAGED,  # what S3 server access logging takes
            enforce_ssl=True,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            versioned=True,
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="expire-access-logs",
                    expiration=Duration.days(settings.access_log_expiry_days),
                    noncurrent_version_expiration=Duration.days(1),
                    abort_incomplete_multipart_upload_after=Duration.days(1),
                )
            ],
            removal_policy=removal,
            # Dev buckets empty themselves on destroy; prod's are retained.
            auto_delete_objects=not settings.is_prod,
        )
        acknowledge(
            access_logs,
            "AwsSolutions-S1",
            "this bucket receives the files bucket's server access logs; logging it in "
            "turn would only recurse",
        )
        checkov_skip(
            access_logs,
            "CKV_AWS_18",
            "the server-access-log destination itself; logging it would only recurse",
        )
        bucket = s3.Bucket(
            self,
            "OrderFilesBucket",
            encryption=s3.BucketEncryption.S3_MANAGED,
            enforce_ssl=True,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            # Every event names the version it is about; the processor reads and moves
            # exactly that version, so a re-upload during processing is not lost.
            versioned=True,
            server_access_logs_bucket=access_logs,
            server_access_logs_prefix="order-files/",
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="expire-processed-files",
                    prefix=FILES_PROCESSED_PREFIX,
                    expiration=Duration.days(settings.processed_file_expiry_days),
                ),
                s3.LifecycleRule(
                    id="expire-rejected-reports",
                    prefix=FILES_REJECTED_PREFIX,
                    expiration=Duration.days(settings.rejected_report_expiry_days),
                ),
                s3.LifecycleRule(
                    id="expire-old-versions",
                    noncurrent_version_expiration=NONCURRENT_VERSION_EXPIRY,
                    abort_incomplete_multipart_upload_after=INCOMPLETE_UPLOAD_EXPIRY,
                ),
                s3.LifecycleRule(
                    # the delete markers that expiry and moves leave behind
                    id="remove-expired-delete-markers",
                    expired_object_delete_marker=True,
                ),
            ],
            removal_policy=removal,
            auto_delete_objects=not settings.is_prod,
        )
        cfn_bucket = bucket.node.default_child
        if not isinstance(cfn_bucket, s3.CfnBucket):  # what an L2 bucket always holds
            raise TypeError(f"{bucket.node.path} has no CfnBucket")
        cfn_bucket.notification_configuration = s3.CfnBucket.NotificationConfigurationProperty(
            event_bridge_configuration=s3.CfnBucket.EventBridgeConfigurationProperty(
                event_bridge_enabled=True
            )
        )
        return bucket
