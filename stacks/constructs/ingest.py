"""Ingest: the function that validates orders and queues them, and its route on the ALB."""

from __future__ import annotations

from aws_cdk import aws_elasticloadbalancingv2 as elbv2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from stacks.constructs.api import ApiLoadBalancer
from stacks.constructs.capability import Capability
from stacks.constructs.functions import FunctionSpec, PythonFunctions
from stacks.contract import API_PATH, INGEST, Env
from stacks.settings import Settings

# ALB rule priorities: a lower number is tried first.
INGEST_RULE_PRIORITY = 10


class Ingest(Capability):
    """POST orders -> the orders queue. The role may only send to that queue."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        settings: Settings,
        functions: PythonFunctions,
        queue: sqs.IQueue,
    ) -> None:
        super().__init__(scope, construct_id)
        self.function = functions.build(
            self,
            FunctionSpec(
                contract=INGEST,
                timeout_seconds=settings.ingest_timeout_seconds,
                memory_mb=settings.ingest_memory_mb,
                environment={
                    Env.ORDERS_QUEUE_URL: queue.queue_url,
                    Env.EDGE_ENABLED: str(settings.edge_on).lower(),
                    # an order's optional currency must be the ledger's (issue 8)
                    Env.LEDGER_CURRENCY: settings.ledger_currency,
                },
                statements=(
                    # SendMessageBatch is authorized by sqs:SendMessage too.
                    iam.PolicyStatement(actions=["sqs:SendMessage"], resources=[queue.queue_arn]),
                ),
            ),
        )

    def route(self, api: ApiLoadBalancer) -> None:
        """The API path and everything below it (ALB passes the full path)."""
        api.route(
            "Ingest",
            self.function,
            priority=INGEST_RULE_PRIORITY,
            conditions=[elbv2.ListenerCondition.path_patterns([API_PATH, f"{API_PATH}/*"])],
        )
