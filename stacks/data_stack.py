"""Data: the orders table."""

from __future__ import annotations

from aws_cdk import CfnOutput, Stack
from aws_cdk import aws_dynamodb as dynamodb
from constructs import Construct

from stacks.common import checkov_skip, stack_props, stateful_removal
from stacks.settings import Settings


class DataStack(Stack):
    """The orders table: one row per (order_id, item), latest accepted version."""

    def __init__(self, scope: Construct, construct_id: str, *, settings: Settings) -> None:
        super().__init__(scope, construct_id, **stack_props(settings, "Data"))
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
            # Stateful: a prod table outlives its stack and cannot be deleted by
            # accident; a dev table goes away with `make destroy`.
            removal_policy=stateful_removal(settings),
            deletion_protection=settings.is_prod,
        )
        checkov_skip(
            self.table,
            "CKV_AWS_119",
            "encrypted at rest with the AWS-managed DynamoDB key; a customer key adds "
            "cost and key-policy upkeep without changing who can read the table (IAM does)",
        )
        CfnOutput(self, "OrdersTableName", value=self.table.table_name)
