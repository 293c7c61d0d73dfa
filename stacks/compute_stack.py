"""Compute: composes the capabilities (stacks/constructs) that run the order pipeline."""

from __future__ import annotations

from aws_cdk import CfnOutput
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from stacks.common import stack_props
from stacks.constructs.api import ApiLoadBalancer
from stacks.constructs.capability import CapabilityStack
from stacks.constructs.functions import PythonFunctions
from stacks.constructs.ingest import Ingest
from stacks.constructs.process import Processing
from stacks.contract import API_PATH, INGEST, PROCESS
from stacks.monitoring import Monitoring
from stacks.network_stack import NetworkStack
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
        self.api = ApiLoadBalancer(self, "Api", settings=settings, network=network)
        self.ingest.route(self.api)
        self.monitoring = Monitoring(
            self,
            "Monitoring",
            settings=settings,
            queue=queue,
            dead_letter_queue=dead_letter_queue,
            functions={INGEST: self.ingest.function, PROCESS: self.processing.function},
            load_balancer=self.api.load_balancer,
        )
        CfnOutput(
            self,
            "ApiUrl",
            value=f"{self.api.url_scheme}://{self.api.load_balancer.load_balancer_dns_name}"
            f"{API_PATH}",
            description="POST orders here",
        )
        CfnOutput(self, "AlarmTopicArn", value=self.monitoring.topic.topic_arn)
