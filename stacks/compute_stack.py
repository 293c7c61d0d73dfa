"""Compute: composes the capabilities (stacks/constructs) that run the order pipeline."""

from __future__ import annotations

from aws_cdk import CfnOutput
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from stacks.common import stack_props, stateful_removal
from stacks.constructs.aggregation import Aggregation
from stacks.constructs.api import ApiLoadBalancer
from stacks.constructs.capability import CapabilityStack
from stacks.constructs.files import FileProcessing
from stacks.constructs.functions import PythonFunctions
from stacks.constructs.ingest import Ingest
from stacks.constructs.process import Processing
from stacks.constructs.status import Status
from stacks.contract import INGEST, PROCESS, STATUS
from stacks.front import EdgeAuth, EdgeFront
from stacks.ledger import LedgerResources
from stacks.monitoring import LedgerWatch, Monitoring
from stacks.network_stack import HTTP_PORT, NetworkStack
from stacks.settings import Settings


class ComputeStack(CapabilityStack):
    """The functions, each with its own minimal role, the ALB before them, the alarms."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        settings: Settings,
        network: NetworkStack,
        table: dynamodb.ITable,
        queue: sqs.IQueue,
        dead_letter_queue: sqs.IQueue,
        ledger: LedgerResources,
    ) -> None:
        super().__init__(scope, construct_id, **stack_props(settings, "Compute"))
        functions = PythonFunctions(self, "Functions", settings=settings, network=network)
        self.ingest = Ingest(self, "Ingest", settings=settings, functions=functions, queue=queue)
        self.processing = Processing(
            self,
            "Processing",
            settings=settings,
            functions=functions,
            table=table,
            queue=queue,
        )
        self.status = Status(self, "Status", settings=settings, functions=functions, table=table)
        # -- the ledger (issue 8): files -> transactions/customers; streams -> totals --
        self.file_processing = FileProcessing(
            self,
            "FileProcessing",
            settings=settings,
            functions=functions,
            bucket=ledger.files_bucket,
            transactions=ledger.transactions_table,
            customers=ledger.customers_table,
            dead_letter_queue=ledger.files_dead_letter_queue,
        )
        self.aggregation = Aggregation(
            self,
            "Aggregation",
            settings=settings,
            functions=functions,
            orders=table,
            transactions=ledger.transactions_table,
            totals=ledger.totals_table,
            postings=ledger.postings_table,
            topic=ledger.high_balance_topic,
            failure_queue=ledger.aggregator_failure_queue,
        )
        # -- the API -----------------------------------------------------------------
        self.api = ApiLoadBalancer(self, "Api", settings=settings, network=network)
        self.ingest.route(self.api)
        self.status.route(self.api)
        self.front = self._build_front(settings, network) if settings.edge_on else None
        self.monitoring = Monitoring(
            self,
            "Monitoring",
            settings=settings,
            queue=queue,
            dead_letter_queue=dead_letter_queue,
            functions={
                INGEST: self.ingest.function,
                PROCESS: self.processing.function,
                STATUS: self.status.function,
            },
            load_balancer=self.api.load_balancer,
            ledger=LedgerWatch(
                files=self.file_processing.function,
                aggregator=self.aggregation.function,
                alert_queues=ledger.alert_queues,
                dead_letter_queues=ledger.dead_letter_queues,
            ),
        )
        CfnOutput(
            self,
            "ApiUrl",
            value=self.front.url if self.front else self.api.url,
            description="POST orders here; GET their status below /orders/",
        )
        CfnOutput(
            self,
            "LoadBalancerUrl",
            value=self.api.url,
            description="the ALB (internal, reached through CloudFront only, when the edge is on)",
        )
        CfnOutput(self, "AlarmTopicArn", value=self.monitoring.topic.topic_arn)

    def _build_front(self, settings: Settings, network: NetworkStack) -> EdgeFront:
        """CloudFront + Lambda@Edge before the (internal) ALB; its only way in."""
        auth = (
            EdgeAuth(
                issuer=settings.edge_auth_issuer,
                audience=settings.edge_auth_audience,
                jwks_url=settings.edge_auth_jwks_url,
                algorithms=settings.edge_auth_algorithms,
                required_scope=settings.edge_auth_required_scope or None,
                jwks_cache_seconds=settings.edge_auth_jwks_cache_seconds,
                leeway_seconds=settings.edge_auth_leeway_seconds,
            )
            if settings.edge_auth_issuer
            else None
        )
        return EdgeFront(
            self,
            "Front",
            name=settings.name_prefix,
            load_balancer=self.api.load_balancer,
            load_balancer_security_group=network.alb_security_group,
            removal_policy=stateful_removal(settings),
            log_retention=settings.log_retention,
            access_log_expiry_days=settings.access_log_expiry_days,
            origin_port=HTTP_PORT,
            status_cache_seconds=settings.status_cache_seconds,
            auth=auth,
            domain_names=settings.edge_domain_names,
            certificate_arn=settings.edge_certificate_arn,
            web_acl_arn=settings.edge_web_acl_arn,
            # in a region other than us-east-1, the edge function's stack
            edge_stack_name=settings.stack_name("Edge"),
        )
