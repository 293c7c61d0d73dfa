"""Large files (issue 10): an ECS task on Fargate for files one invocation cannot finish.

The file function hands a file over `large_file_bytes` to this task (one RunTask, the
file in the container's environment); the task runs the same code without Lambda's
15-minute limit. What is here:

- a cluster that runs Fargate only (its one capacity provider), Container Insights on;
- the task definition: ARM64 (Graviton), `large_file_task_cpu`/`_memory_mb`, a read-only
  root filesystem with /tmp as a task volume (the rejected-lines report spools there),
  logs to its own group with the configured retention, the image built at deploy time
  from `containers/files-task` (stacks/constructs/image_build.py);
- its task role (exactly the file processor's calls, and sending its own failure report
  to the files DLQ) and its execution role (pull the one image, write the one log group);
- an EventBridge rule: a task that stops any other way than "processed" (exit 0) or
  "failed and reported" (exit FILES_TASK_REPORTED_EXIT), or never started its container,
  goes to the files DLQ as ECS's own event (the file is in its overrides).

Nothing runs at rest: a task exists only while a large file is being read.
"""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import Annotations, Duration
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from stacks.common import (
    LAMBDAS_DIR,
    acknowledge,
    acknowledge_wildcard_resources,
    checkov_skip,
    log_group,
    stateful_removal,
)
from stacks.constructs.capability import Capability
from stacks.constructs.image_build import DeployTimeImage
from stacks.contract import (
    FILES,
    FILES_TASK_CONTAINER,
    FILES_TASK_REPORTED_EXIT,
    Env,
)
from stacks.network_stack import NetworkStack
from stacks.settings import Settings

CONTAINER_DIR = LAMBDAS_DIR.parent / "containers" / "files-task"
CORE_DIR = LAMBDAS_DIR / "shared" / "python" / "orders_core"
TMP_VOLUME = "tmp"
# The task's writable scratch space (the root filesystem is read-only): a task volume on
# Fargate's ephemeral storage, private to the task.
TMP_PATH = "/tmp"  # noqa: S108
# ECS stops a task with SIGTERM, then SIGKILL after this (Fargate's most is 120 s).
STOP_TIMEOUT = Duration.seconds(30)
# EventBridge's own defaults for delivering the stop event, written out.
EVENTS_RETRY_ATTEMPTS = 185
EVENTS_MAX_EVENT_AGE = Duration.hours(24)
ECS_TASKS = "ecs-tasks.amazonaws.com"


@dataclass(frozen=True)
class LargeFilesTarget:
    """What the file function needs to start the task (its LARGE_FILES_* variables and
    its ecs:RunTask / iam:PassRole statements)."""

    cluster: ecs.ICluster
    task_definition: ecs.TaskDefinition
    container_name: str
    subnet_ids: list[str]
    security_group: ec2.ISecurityGroup
    task_role: iam.IRole
    execution_role: iam.IRole

    def environment(self) -> dict[str, str]:
        return {
            Env.LARGE_FILES_CLUSTER: self.cluster.cluster_arn,
            Env.LARGE_FILES_TASK_DEFINITION: self.task_definition.task_definition_arn,
            Env.LARGE_FILES_CONTAINER: self.container_name,
            Env.LARGE_FILES_SUBNETS: ",".join(self.subnet_ids),
            Env.LARGE_FILES_SECURITY_GROUP: self.security_group.security_group_id,
        }

    def statements(self) -> tuple[iam.PolicyStatement, ...]:
        """Start this task definition on this cluster only, passing its two roles only."""
        return (
            iam.PolicyStatement(
                actions=["ecs:RunTask"],
                resources=[self.task_definition.task_definition_arn],
                conditions={"ArnEquals": {"ecs:cluster": self.cluster.cluster_arn}},
            ),
            iam.PolicyStatement(
                actions=["iam:PassRole"],
                resources=[self.task_role.role_arn, self.execution_role.role_arn],
                conditions={"StringEquals": {"iam:PassedToService": ECS_TASKS}},
            ),
        )


class LargeFileProcessing(Capability):
    """The Fargate cluster, the task, its image and roles, and where its failures end."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        settings: Settings,
        network: NetworkStack,
        bucket: s3.IBucket,
        transactions: dynamodb.ITable,
        customers: dynamodb.ITable,
        dead_letter_queue: sqs.IQueue,
        file_statements: tuple[iam.PolicyStatement, ...],
        wildcard_reasons: dict[str, str],
    ) -> None:
        super().__init__(scope, construct_id)
        if network.large_files_security_group is None:
            raise ValueError("the large-file task needs the network stack's large-files group")
        self._settings = settings
        self.image = DeployTimeImage(
            self,
            "LargeFilesImage",
            context={
                "Dockerfile": CONTAINER_DIR / "Dockerfile",
                "requirements.txt": CONTAINER_DIR / "requirements.txt",
                "orders_core": CORE_DIR,
            },
            repository_name=f"{settings.name_prefix.lower()}/files-task",
            description="the large-file task's image",
            log_retention=settings.log_retention,
            removal_policy=stateful_removal(settings),
        )
        self.log_group = log_group(self, "LargeFilesTaskLogGroup", settings)
        self.cluster = self._build_cluster(network)
        task_role = self._build_task_role(file_statements, dead_letter_queue)
        acknowledge_wildcard_resources(task_role, wildcard_reasons)
        execution_role = self._build_execution_role()
        self.task_definition = self._build_task_definition(
            task_role, execution_role, transactions, customers, dead_letter_queue
        )
        self.target = LargeFilesTarget(
            cluster=self.cluster,
            task_definition=self.task_definition,
            container_name=FILES_TASK_CONTAINER,
            subnet_ids=network.vpc.select_subnets(
                subnet_type=ec2.SubnetType.PRIVATE_ISOLATED
            ).subnet_ids,
            security_group=network.large_files_security_group,
            task_role=task_role,
            execution_role=execution_role,
        )
        self.rule = self._build_stopped_rule(dead_letter_queue)

    def _build_cluster(self, network: NetworkStack) -> ecs.Cluster:
        cluster = ecs.Cluster(
            self,
            "LargeFilesCluster",
            vpc=network.vpc,
            # per-task CPU, memory, network and storage metrics, published only while a
            # task runs (billed as custom metrics in those hours, nothing at rest)
            container_insights_v2=ecs.ContainerInsights.ENABLED,
        )
        cfn = cluster.node.default_child
        if not isinstance(cfn, ecs.CfnCluster):
            raise TypeError(f"{cluster.node.path} has no CfnCluster")
        # Fargate only: its one capacity provider, and the default strategy on it (no EC2
        # capacity, no Fargate Spot: an interrupted file would only be read again).
        cfn.capacity_providers = ["FARGATE"]
        cfn.default_capacity_provider_strategy = [
            ecs.CfnCluster.CapacityProviderStrategyItemProperty(
                capacity_provider="FARGATE", weight=1
            )
        ]
        return cluster

    def _build_task_role(
        self, file_statements: tuple[iam.PolicyStatement, ...], dead_letter_queue: sqs.IQueue
    ) -> iam.Role:
        return iam.Role(
            self,
            "LargeFilesTaskRole",
            assumed_by=iam.ServicePrincipal(ECS_TASKS),
            description="large-file task: the file processor's calls, and its failure report",
            inline_policies={
                "least-privilege": iam.PolicyDocument(
                    statements=[
                        *file_statements,
                        # its own failure report (the Lambda function's destination
                        # statement is the same action on the same queue)
                        iam.PolicyStatement(
                            actions=["sqs:SendMessage"], resources=[dead_letter_queue.queue_arn]
                        ),
                    ]
                )
            },
        )

    def _build_execution_role(self) -> iam.Role:
        role = iam.Role(
            self,
            "LargeFilesExecutionRole",
            assumed_by=iam.ServicePrincipal(ECS_TASKS),
            description="large-file task's execution: pull its image, write its log group",
            inline_policies={
                "pull-and-log": iam.PolicyDocument(
                    statements=[
                        # No resource-level permissions: the registry login.
                        iam.PolicyStatement(actions=["ecr:GetAuthorizationToken"], resources=["*"]),
                        iam.PolicyStatement(
                            actions=["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"],
                            resources=[self.image.repository.repository_arn],
                        ),
                        iam.PolicyStatement(
                            actions=["logs:CreateLogStream", "logs:PutLogEvents"],
                            resources=[self.log_group.log_group_arn],
                        ),
                    ]
                )
            },
        )
        reason = (
            "ecr:GetAuthorizationToken has no resource-level permissions (the registry "
            "login); the pulls are from the one repository, the logs to the one group"
        )
        acknowledge(role, "AwsSolutions-IAM5[Resource::*]", reason)
        checkov_skip(role, "CKV_AWS_111", reason)
        return role

    def _build_task_definition(
        self,
        task_role: iam.Role,
        execution_role: iam.Role,
        transactions: dynamodb.ITable,
        customers: dynamodb.ITable,
        dead_letter_queue: sqs.IQueue,
    ) -> ecs.FargateTaskDefinition:
        settings = self._settings
        definition = ecs.FargateTaskDefinition(
            self,
            "LargeFilesTaskDefinition",
            cpu=settings.large_file_task_cpu,
            memory_limit_mib=settings.large_file_task_memory_mb,
            runtime_platform=ecs.RuntimePlatform(
                cpu_architecture=ecs.CpuArchitecture.ARM64,
                operating_system_family=ecs.OperatingSystemFamily.LINUX,
            ),
            # their statements are the ones above: CDK adds none (pull and log grants)
            task_role=task_role.without_policy_updates(),
            execution_role=execution_role.without_policy_updates(),
            volumes=[ecs.Volume(name=TMP_VOLUME)],
        )
        container = definition.add_container(
            "LargeFilesContainer",
            container_name=FILES_TASK_CONTAINER,
            image=ecs.ContainerImage.from_ecr_repository(
                self.image.repository, self.image.image_tag
            ),
            # the command is the image's (containers/files-task/Dockerfile: CMD)
            environment={
                Env.TRANSACTIONS_TABLE_NAME: transactions.table_name,
                Env.CUSTOMERS_TABLE_NAME: customers.table_name,
                Env.LEDGER_CURRENCY: settings.ledger_currency,
                Env.FILE_MAX_BYTES: str(settings.file_max_bytes),
                Env.FILE_WRITER_THREADS: str(settings.file_writer_threads),
                Env.FILES_DEAD_LETTER_QUEUE_URL: dead_letter_queue.queue_url,
                # the file function's service: one set of metrics for files either way
                Env.SERVICE_NAME: FILES.service_name,
                Env.METRICS_NAMESPACE: settings.metrics_namespace,
                Env.LOG_LEVEL: settings.log_level,
            },
            logging=ecs.LogDrivers.aws_logs(stream_prefix="files-task", log_group=self.log_group),
            essential=True,
            readonly_root_filesystem=True,
            stop_timeout=STOP_TIMEOUT,
        )
        container.add_mount_points(
            ecs.MountPoint(container_path=TMP_PATH, source_volume=TMP_VOLUME, read_only=False)
        )
        # the image must be in the repository before anything can start the task
        definition.node.add_dependency(self.image.build)
        acknowledge(
            definition,
            "AwsSolutions-ECS2",
            "the variables are table names, a queue URL, the ledger currency, limits and "
            "Powertools settings, no secrets",
        )
        return definition

    def _build_stopped_rule(self, dead_letter_queue: sqs.IQueue) -> events.Rule:
        """ECS's "Task State Change" for a task of this cluster that stopped without
        processing or reporting its file -> the files dead-letter queue."""
        rule = events.Rule(
            self,
            "LargeFilesTaskStoppedRule",
            rule_name=self._settings.large_file_task_rule_name,
            description="a large-file task that stopped without processing or reporting its "
            "file -> the files dead-letter queue",
            event_pattern=events.EventPattern(
                source=["aws.ecs"],
                detail_type=["ECS Task State Change"],
                detail={
                    "clusterArn": [self.cluster.cluster_arn],
                    "lastStatus": ["STOPPED"],
                    "$or": [
                        # never started, stopped by someone, or by Fargate
                        {"stopCode": [{"anything-but": "EssentialContainerExited"}]},
                        # a crash, out of memory: not 0 (done) nor the task's own report
                        {
                            "containers": {
                                "exitCode": [{"anything-but": [0, FILES_TASK_REPORTED_EXIT]}]
                            }
                        },
                    ],
                },
            ),
        )
        rule.add_target(
            targets.SqsQueue(
                # An imported reference, so CDK adds no statement to the queue's policy
                # (the queue stack allows this rule by its name, as the files rule).
                sqs.Queue.from_queue_arn(
                    self, "LargeFilesTaskStoppedQueue", dead_letter_queue.queue_arn
                ),
                retry_attempts=EVENTS_RETRY_ATTEMPTS,
                max_event_age=EVENTS_MAX_EVENT_AGE,
            )
        )
        # The queue's ARN comes from the queue stack's export, so CDK cannot see its
        # region and account; both stacks share this app's environment.
        Annotations.of(rule).acknowledge_warning(
            "@aws-cdk/aws-events:ruleUnresolvedEnvironment",
            "the files DLQ is in this app's queue stack: same account and region",
        )
        acknowledge(
            rule,
            "Serverless-EventBusDLQ",
            "its target is the files dead-letter queue itself; EventBridge retries a "
            "delivery for 24 hours",
        )
        return rule
