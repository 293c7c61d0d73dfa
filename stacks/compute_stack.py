"""Compute: the ingest and process functions, the ALB in front, the queue mapping."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from aws_cdk import CfnOutput, Duration, Stack
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_elasticloadbalancingv2 as elbv2
from aws_cdk import aws_elasticloadbalancingv2_targets as elbv2_targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_ssm as ssm
from constructs import Construct

from stacks.common import acknowledge, checkov_skip, log_group, stack_props
from stacks.contract import API_PATH, INGEST, PROCESS, Env, FunctionContract
from stacks.edge import AccessLogs, WebAcl
from stacks.monitoring import Monitoring
from stacks.network_stack import HTTP_PORT, HTTPS_PORT, NetworkStack
from stacks.settings import Settings

LAMBDAS_DIR = Path(__file__).resolve().parent.parent / "lambdas"
# The runtime and architecture, set once for every function and the shared layer.
RUNTIME = lambda_.Runtime.PYTHON_3_14
ARCHITECTURE = lambda_.Architecture.ARM_64
HANDLER = "handler.lambda_handler"
# Byte-identical assets give identical hashes: keep interpreter caches out. Everything
# else ships, `__init__.py` too, so the layer is exactly the package the tests import
# (tests/infra/test_assets.py imports each handler from the synthesized assets alone).
ASSET_EXCLUDES = ["__pycache__", "*.pyc"]
CHECKOV_FUNCTION_REASONS = {
    "CKV_AWS_116": "never invoked asynchronously (ALB and the SQS mapping invoke "
    "synchronously); undeliverable orders land in the queue's DLQ instead",
    "CKV_AWS_115": "concurrency is bounded where it matters: the SQS mapping's "
    "max_concurrency for process, the WAF rate limit for ingest; a reservation would "
    "take from the account pool and turn bursts into 503s",
    "CKV_AWS_173": "the variables hold a queue URL, a table name and Powertools "
    "settings, no secrets; Lambda encrypts them at rest with its AWS-managed key",
}
NOT_FOUND_BODY = json.dumps({"error": {"code": "not_found", "message": "no route for this path"}})


@dataclass(frozen=True)
class FunctionSpec:
    """What differs between the two functions; `ComputeStack._build_function` does the rest."""

    contract: FunctionContract
    timeout_seconds: int
    memory_mb: int
    environment: dict[str, str]
    statements: tuple[iam.PolicyStatement, ...]


class ComputeStack(Stack):
    """Ingest (ALB target) and process (SQS consumer), each with its own minimal role."""

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
        self._settings = settings
        self._network = network
        self._layers = self._build_layers()
        self.ingest_function = self._build_function(
            FunctionSpec(
                contract=INGEST,
                timeout_seconds=settings.ingest_timeout_seconds,
                memory_mb=settings.ingest_memory_mb,
                environment={Env.ORDERS_QUEUE_URL: queue.queue_url},
                statements=(
                    # SendMessageBatch is authorized by sqs:SendMessage too.
                    iam.PolicyStatement(actions=["sqs:SendMessage"], resources=[queue.queue_arn]),
                ),
            )
        )
        self.process_function = self._build_function(
            FunctionSpec(
                contract=PROCESS,
                timeout_seconds=settings.process_timeout_seconds,
                memory_mb=settings.process_memory_mb,
                environment={
                    Env.ORDERS_TABLE_NAME: table.table_name,
                    # so the function can count what the redrive policy dead-letters
                    Env.ORDERS_MAX_RECEIVE_COUNT: str(settings.max_receive_count),
                },
                statements=(
                    iam.PolicyStatement(actions=["dynamodb:PutItem"], resources=[table.table_arn]),
                    # What the event source mapping calls with this role, nothing more.
                    iam.PolicyStatement(
                        actions=[
                            "sqs:ReceiveMessage",
                            "sqs:DeleteMessage",
                            "sqs:GetQueueAttributes",
                        ],
                        resources=[queue.queue_arn],
                    ),
                ),
            )
        )
        self.mapping = self._build_queue_mapping(queue)
        self.load_balancer, self.listener = self._build_load_balancer()
        self.monitoring = Monitoring(
            self,
            "Monitoring",
            settings=settings,
            queue=queue,
            dead_letter_queue=dead_letter_queue,
            functions={INGEST: self.ingest_function, PROCESS: self.process_function},
            load_balancer=self.load_balancer,
        )
        scheme = "https" if settings.https else "http"
        CfnOutput(
            self,
            "ApiUrl",
            value=f"{scheme}://{self.load_balancer.load_balancer_dns_name}{API_PATH}",
            description="POST orders here",
        )
        CfnOutput(self, "AlarmTopicArn", value=self.monitoring.topic.topic_arn)

    def _build_layers(self) -> list[lambda_.ILayerVersion]:
        shared = lambda_.LayerVersion(
            self,
            "SharedLayer",
            code=lambda_.Code.from_asset(str(LAMBDAS_DIR / "shared"), exclude=ASSET_EXCLUDES),
            compatible_runtimes=[RUNTIME],
            compatible_architectures=[ARCHITECTURE],
            description="orders_core: the order model and helpers both functions share",
        )
        # The AWS-published Powertools layer, pinned to the version the tests run
        # (requirements-dev.txt) through its public, version-named SSM parameter: the
        # ARN resolves at deploy time in the deploying region, synth needs no lookup.
        powertools_arn = ssm.StringParameter.value_for_string_parameter(
            self,
            f"/aws/service/powertools/python/{ARCHITECTURE.name}/{RUNTIME.name}/"
            f"{self._settings.powertools_version}",
        )
        powertools = lambda_.LayerVersion.from_layer_version_arn(
            self, "PowertoolsLayer", powertools_arn
        )
        return [powertools, shared]

    def _build_function(self, spec: FunctionSpec) -> lambda_.Function:
        settings = self._settings
        name = spec.contract.name
        logs = log_group(self, f"{name.title()}LogGroup", settings)
        role = iam.Role(
            self,
            f"{name.title()}Role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description=f"orders {name} function: only the calls it makes",
            inline_policies={
                "least-privilege": iam.PolicyDocument(
                    statements=[
                        iam.PolicyStatement(
                            actions=["logs:CreateLogStream", "logs:PutLogEvents"],
                            resources=[logs.log_group_arn],
                        ),
                        # Lambda creates the function's ENIs with the role; these EC2
                        # actions do not support resource-level permissions.
                        iam.PolicyStatement(
                            actions=[
                                "ec2:CreateNetworkInterface",
                                "ec2:DescribeNetworkInterfaces",
                                "ec2:DescribeSubnets",
                                "ec2:DeleteNetworkInterface",
                                "ec2:AssignPrivateIpAddresses",
                                "ec2:UnassignPrivateIpAddresses",
                            ],
                            resources=["*"],
                        ),
                        *spec.statements,
                    ]
                )
            },
        )
        star_reason = (
            "only for actions without resource-level permissions: the VPC ENI actions "
            "Lambda performs with the role, and X-Ray's PutTraceSegments/"
            "PutTelemetryRecords (added by active tracing); every data action is on one ARN"
        )
        acknowledge(role, "AwsSolutions-IAM5[Resource::*]", star_reason)
        acknowledge(role, "Serverless-LambdaStarPermissions", star_reason)
        checkov_skip(role, "CKV_AWS_111", star_reason)
        function = lambda_.Function(
            self,
            f"{name.title()}Function",
            description=f"orders {name}",
            runtime=RUNTIME,
            architecture=ARCHITECTURE,
            handler=HANDLER,
            code=lambda_.Code.from_asset(str(LAMBDAS_DIR / name), exclude=ASSET_EXCLUDES),
            layers=self._layers,
            role=role,
            log_group=logs,
            timeout=Duration.seconds(spec.timeout_seconds),
            memory_size=spec.memory_mb,
            vpc=self._network.vpc,
            vpc_subnets=self._network.private_subnets,
            security_groups=[self._network.lambda_security_group],
            tracing=lambda_.Tracing.ACTIVE,
            environment={
                **spec.environment,
                Env.SERVICE_NAME: spec.contract.service_name,
                Env.METRICS_NAMESPACE: settings.metrics_namespace,
                Env.LOG_LEVEL: settings.log_level,
            },
        )
        acknowledge(
            function,
            "Serverless-LambdaDLQ",
            "never invoked asynchronously: the ALB and the SQS mapping both invoke "
            "synchronously, and the orders queue's own DLQ catches what process cannot store",
        )
        for check, reason in CHECKOV_FUNCTION_REASONS.items():
            checkov_skip(function, check, reason)
        return function

    def _build_queue_mapping(self, queue: sqs.IQueue) -> lambda_.EventSourceMapping:
        settings = self._settings
        mapping = lambda_.EventSourceMapping(
            self,
            "ProcessQueueMapping",
            target=self.process_function,
            event_source_arn=queue.queue_arn,
            batch_size=settings.batch_size,
            max_batching_window=Duration.seconds(settings.batching_window_seconds),
            # One bad record must not make its batch-mates retry.
            report_batch_item_failures=True,
            max_concurrency=settings.max_concurrency,
        )
        acknowledge(
            mapping,
            "Serverless-LambdaEventSourceMappingDestination",
            "SQS mappings take no on-failure destination; the queue's redrive policy "
            "sends a record to the DLQ after max_receive_count failed receives",
        )
        return mapping

    def _build_load_balancer(
        self,
    ) -> tuple[elbv2.ApplicationLoadBalancer, elbv2.ApplicationListener]:
        settings = self._settings
        alb = elbv2.ApplicationLoadBalancer(
            self,
            "LoadBalancer",
            vpc=self._network.vpc,
            internet_facing=settings.alb_internet_facing,
            vpc_subnets=(
                self._network.public_subnets
                if settings.alb_internet_facing
                else self._network.private_subnets
            ),
            security_group=self._network.alb_security_group,
            drop_invalid_header_fields=True,
            deletion_protection=settings.is_prod,
        )
        alb.log_access_logs(AccessLogs(self, "AccessLogs", settings=settings).bucket, prefix="alb")
        if settings.waf_enabled:
            WebAcl(self, "WebAcl", settings=settings, load_balancer=alb)
        # Ingress comes from the network stack's allowed CIDRs (open=False), never from
        # a rule CDK would add for 0.0.0.0/0.
        not_found = elbv2.ListenerAction.fixed_response(
            404, content_type="application/json", message_body=NOT_FOUND_BODY
        )
        if settings.https:
            listener = alb.add_listener(
                "Https",
                port=HTTPS_PORT,
                protocol=elbv2.ApplicationProtocol.HTTPS,
                certificates=[elbv2.ListenerCertificate.from_arn(settings.certificate_arn)],
                ssl_policy=elbv2.SslPolicy.RECOMMENDED_TLS,
                open=False,
                default_action=not_found,
            )
            alb.add_listener(
                "Http",
                port=HTTP_PORT,
                protocol=elbv2.ApplicationProtocol.HTTP,
                open=False,
                default_action=elbv2.ListenerAction.redirect(
                    protocol="HTTPS", port=str(HTTPS_PORT), permanent=True
                ),
            )
        else:
            listener = alb.add_listener(
                "Http",
                port=HTTP_PORT,
                protocol=elbv2.ApplicationProtocol.HTTP,
                open=False,
                default_action=not_found,
            )
        listener.add_targets(
            "Ingest",
            priority=10,
            # ALB passes the full path: both the bare path and anything below it.
            conditions=[elbv2.ListenerCondition.path_patterns([API_PATH, f"{API_PATH}/*"])],
            targets=[elbv2_targets.LambdaTarget(self.ingest_function)],
        )
        for child in self.ingest_function.node.children:
            if isinstance(child, lambda_.CfnPermission):
                checkov_skip(
                    child,
                    "CKV_AWS_364",
                    "the ALB's invoke permission cannot name the target group (SourceArn): "
                    "the group registers the function only after the permission exists",
                )
        if not settings.https:
            for check in ("CKV_AWS_2", "CKV_AWS_103"):
                checkov_skip(
                    listener,
                    check,
                    "plain HTTP only until certificate_arn is set; then this listener "
                    "becomes a redirect to HTTPS:443 with a TLS 1.3/1.2 policy",
                )
        return alb, listener
