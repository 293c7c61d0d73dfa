"""Status: the read-only function that says whether an order is stored, and its route."""

from __future__ import annotations

from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_elasticloadbalancingv2 as elbv2
from aws_cdk import aws_iam as iam
from constructs import Construct

from stacks.constructs.api import ApiLoadBalancer
from stacks.constructs.capability import Capability
from stacks.constructs.functions import FunctionSpec, PythonFunctions
from stacks.constructs.ingest import INGEST_RULE_PRIORITY
from stacks.contract import STATUS, STATUS_METHODS, STATUS_PATH, Env
from stacks.settings import Settings

# Tried before ingest's rule, which covers every path below the API.
STATUS_RULE_PRIORITY = INGEST_RULE_PRIORITY - 5


class Status(Capability):
    """GET/HEAD an order's status. The role may only read the orders table (GetItem and
    Query, strongly consistent), so ingest stays write-only and status read-only."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        settings: Settings,
        functions: PythonFunctions,
        table: dynamodb.ITable,
    ) -> None:
        super().__init__(scope, construct_id)
        self.function = functions.build(
            self,
            FunctionSpec(
                contract=STATUS,
                timeout_seconds=settings.status_timeout_seconds,
                memory_mb=settings.status_memory_mb,
                environment={
                    Env.ORDERS_TABLE_NAME: table.table_name,
                    Env.EDGE_ENABLED: str(settings.edge_on).lower(),
                },
                statements=(
                    iam.PolicyStatement(
                        actions=["dynamodb:GetItem", "dynamodb:Query"],
                        resources=[table.table_arn],
                    ),
                ),
            ),
        )

    def route(self, api: ApiLoadBalancer) -> None:
        """GET and HEAD below the status path; other methods there fall through to ingest,
        which answers 405 (as the edge does)."""
        api.route(
            "Status",
            self.function,
            priority=STATUS_RULE_PRIORITY,
            conditions=[
                elbv2.ListenerCondition.path_patterns([f"{STATUS_PATH}/*"]),
                elbv2.ListenerCondition.http_request_methods(list(STATUS_METHODS)),
            ],
        )
