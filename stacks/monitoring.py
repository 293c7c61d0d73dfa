"""Alarms to an SNS topic and one dashboard for the whole order pipeline."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cloudwatch_actions
from aws_cdk import aws_elasticloadbalancingv2 as elbv2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from stacks.common import acknowledge
from stacks.contract import (
    AGGREGATOR,
    FILES,
    FILES_FAILED_METRIC,
    INGEST,
    PROCESS,
    SERVICE_DIMENSION,
    STATUS,
    FunctionContract,
)
from stacks.settings import Settings

PERIOD = Duration.minutes(1)


@dataclass(frozen=True)
class LedgerWatch:
    """What the ledger's alarms and dashboard rows read (issue 8)."""

    files: lambda_.IFunction
    aggregator: lambda_.IFunction
    alert_queues: Mapping[str, sqs.IQueue]  # CreditCollection, CustomerNotify
    dead_letter_queues: Mapping[str, sqs.IQueue]  # by the name their alarm starts with


class Monitoring(Construct):
    """Every alarm threshold comes from settings; every alarm notifies one topic."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        settings: Settings,
        queue: sqs.IQueue,
        dead_letter_queue: sqs.IQueue,
        functions: dict[FunctionContract, lambda_.IFunction],
        load_balancer: elbv2.ApplicationLoadBalancer,
        ledger: LedgerWatch | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        self._settings = settings
        self._ledger = ledger
        self.topic = self._build_topic()
        self.alarms: list[cloudwatch.Alarm] = []
        self._alarm(
            "DeadLetterQueueNotEmpty",
            dead_letter_queue.metric_approximate_number_of_messages_visible(
                period=PERIOD, statistic="Maximum"
            ),
            settings.dlq_alarm_threshold,
            "orders could not be stored and wait in the DLQ: read the reasons, fix, redrive",
        )
        self._alarm(
            "QueueBacklogOld",
            queue.metric_approximate_age_of_oldest_message(period=PERIOD, statistic="Maximum"),
            settings.queue_age_alarm_seconds,
            "the oldest queued order waits longer than the threshold: the consumer is "
            "failing, throttled or too slow",
        )
        for contract, function in functions.items():
            self._function_alarms(contract, function)
        self._alarm(
            "LoadBalancer5xx",
            load_balancer.metrics.http_code_elb(
                elbv2.HttpCodeElb.ELB_5XX_COUNT, period=PERIOD, statistic="Sum"
            ),
            settings.alb_5xx_alarm_threshold,
            "the load balancer itself answered 5xx (target unreachable or failing)",
        )
        self._alarm(
            "Target5xx",
            load_balancer.metrics.http_code_target(
                elbv2.HttpCodeTarget.TARGET_5XX_COUNT, period=PERIOD, statistic="Sum"
            ),
            settings.alb_5xx_alarm_threshold,
            "a function behind the load balancer answered 5xx (e.g. ingest's 503 while the "
            "queue was unavailable, status's while the table was)",
        )
        if ledger is not None:
            self._watch_ledger(ledger)
        self.dashboard = self._build_dashboard(queue, dead_letter_queue, functions, load_balancer)

    def _build_topic(self) -> sns.Topic:
        # CloudWatch cannot publish to a topic under the AWS-managed SNS key: it needs a
        # customer key whose policy lets CloudWatch use it.
        key = kms.Key(
            self,
            "AlarmTopicKey",
            description="encrypts the order pipeline's alarm topic",
            enable_key_rotation=True,
            removal_policy=RemovalPolicy.DESTROY,
        )
        key.grant(
            iam.ServicePrincipal("cloudwatch.amazonaws.com"), "kms:Decrypt", "kms:GenerateDataKey*"
        )
        topic = sns.Topic(self, "AlarmTopic", master_key=key, enforce_ssl=True)
        if self._settings.alarm_email:
            subscription = topic.add_subscription(
                subscriptions.EmailSubscription(self._settings.alarm_email)
            )
            acknowledge(
                subscription,
                "Serverless-SNSRedrivePolicy",
                "an e-mail subscription: a notification that cannot be delivered has no "
                "reader in a queue either; the alarm state stays on the dashboard",
            )
        return topic

    def _function_alarms(self, contract: FunctionContract, function: lambda_.IFunction) -> None:
        name = contract.name
        self._alarm(
            f"{name.title()}Errors",
            function.metric_errors(period=PERIOD, statistic="Sum"),
            self._settings.function_error_alarm_threshold,
            f"the {name} function raised errors",
        )
        self._alarm(
            f"{name.title()}Throttles",
            function.metric_throttles(period=PERIOD, statistic="Sum"),
            self._settings.function_throttle_alarm_threshold,
            f"the {name} function was throttled",
        )

    def _alarm(
        self, construct_id: str, metric: cloudwatch.IMetric, threshold: int, description: str
    ) -> None:
        alarm = cloudwatch.Alarm(
            self,
            construct_id,
            metric=metric,
            threshold=threshold,
            evaluation_periods=1,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            # No data means nothing happened (no traffic, empty queue), not a failure.
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
            alarm_description=description,
        )
        action = cloudwatch_actions.SnsAction(self.topic)
        alarm.add_alarm_action(action)
        alarm.add_ok_action(action)
        self.alarms.append(alarm)

    def _custom(self, function: FunctionContract) -> list[cloudwatch.IMetric]:
        """The custom metrics the function's code emits (EMF), as its dashboard lines."""
        return [self._custom_metric(function, name) for name in function.metrics]

    def _custom_metric(self, function: FunctionContract, name: str) -> cloudwatch.Metric:
        return cloudwatch.Metric(
            namespace=self._settings.metrics_namespace,
            metric_name=name,
            dimensions_map={SERVICE_DIMENSION: function.service_name},
            period=PERIOD,
            statistic="Sum",
        )

    def _build_dashboard(
        self,
        queue: sqs.IQueue,
        dead_letter_queue: sqs.IQueue,
        functions: dict[FunctionContract, lambda_.IFunction],
        load_balancer: elbv2.ApplicationLoadBalancer,
    ) -> cloudwatch.Dashboard:
        metrics = load_balancer.metrics
        dashboard = cloudwatch.Dashboard(self, "Dashboard", default_interval=Duration.hours(3))
        dashboard.add_widgets(
            cloudwatch.GraphWidget(
                title="Requests at the load balancer",
                left=[
                    metrics.request_count(period=PERIOD),
                    metrics.http_code_target(elbv2.HttpCodeTarget.TARGET_2XX_COUNT, period=PERIOD),
                    metrics.http_code_target(elbv2.HttpCodeTarget.TARGET_4XX_COUNT, period=PERIOD),
                    metrics.http_code_target(elbv2.HttpCodeTarget.TARGET_5XX_COUNT, period=PERIOD),
                    metrics.http_code_elb(elbv2.HttpCodeElb.ELB_5XX_COUNT, period=PERIOD),
                ],
                width=6,
            ),
            cloudwatch.GraphWidget(
                title="Orders in (ingest)",
                left=self._custom(INGEST),
                width=6,
            ),
            cloudwatch.GraphWidget(
                title="Orders written (process)",
                left=self._custom(PROCESS),
                width=6,
            ),
            cloudwatch.GraphWidget(
                title="Status reads (status)",
                left=self._custom(STATUS),
                width=6,
            ),
        )
        dashboard.add_widgets(
            cloudwatch.GraphWidget(
                title="Queue depth",
                left=[
                    queue.metric_approximate_number_of_messages_visible(period=PERIOD),
                    queue.metric_approximate_number_of_messages_not_visible(period=PERIOD),
                ],
                right=[
                    queue.metric_approximate_age_of_oldest_message(
                        period=PERIOD, statistic="Maximum"
                    )
                ],
                width=8,
            ),
            cloudwatch.GraphWidget(
                title="Dead-letter queue",
                left=[
                    dead_letter_queue.metric_approximate_number_of_messages_visible(
                        period=PERIOD, statistic="Maximum"
                    )
                ],
                width=8,
            ),
            cloudwatch.GraphWidget(
                title="Function errors and throttles",
                left=[
                    metric
                    for function in functions.values()
                    for metric in (
                        function.metric_errors(period=PERIOD),
                        function.metric_throttles(period=PERIOD),
                    )
                ],
                right=[
                    function.metric_invocations(period=PERIOD) for function in functions.values()
                ],
                width=8,
            ),
        )
        if self._ledger is not None:
            for row in self._ledger_rows(self._ledger):
                dashboard.add_widgets(*row)
        dashboard.add_widgets(
            cloudwatch.AlarmStatusWidget(title="Alarms", alarms=self.alarms, width=24)
        )
        return dashboard

    # -- the ledger (issue 8) ----------------------------------------------------------

    def _watch_ledger(self, ledger: LedgerWatch) -> None:
        """Its functions' errors and throttles, failed files, the aggregator falling
        behind its streams, and anything waiting in one of its dead-letter queues."""
        settings = self._settings
        self._function_alarms(FILES, ledger.files)
        self._function_alarms(AGGREGATOR, ledger.aggregator)
        self._alarm(
            "FilesFailed",
            self._custom_metric(FILES, FILES_FAILED_METRIC),
            settings.function_error_alarm_threshold,
            "a file failed to process (Lambda retries it twice, then it waits in the files "
            "dead-letter queue): read the function's log for the key and the error",
        )
        self._alarm(
            "AggregatorIteratorAge",
            ledger.aggregator.metric("IteratorAge", period=PERIOD, statistic="Maximum"),
            settings.iterator_age_alarm_seconds * 1000,  # the metric is in milliseconds
            "the aggregator is behind its streams: totals lag the transactions and orders; "
            "records older than aggregator_max_record_age_seconds go to the failure queue",
        )
        for name, queue in ledger.dead_letter_queues.items():
            self._alarm(
                f"{name}NotEmpty",
                queue.metric_approximate_number_of_messages_visible(
                    period=PERIOD, statistic="Maximum"
                ),
                settings.dlq_alarm_threshold,
                f"something the ledger could not process or deliver waits in {name}: read "
                "it, fix the cause, send it again",
            )

    def _ledger_rows(self, ledger: LedgerWatch) -> list[list[cloudwatch.IWidget]]:
        functions = (ledger.files, ledger.aggregator)
        return [
            [
                cloudwatch.GraphWidget(title="Files in (files)", left=self._custom(FILES), width=8),
                cloudwatch.GraphWidget(
                    title="Ledger totals and alerts (aggregator)",
                    left=self._custom(AGGREGATOR),
                    width=8,
                ),
                cloudwatch.GraphWidget(
                    title="Ledger functions: errors, throttles; aggregator iterator age",
                    left=[
                        metric
                        for function in functions
                        for metric in (
                            function.metric_errors(period=PERIOD),
                            function.metric_throttles(period=PERIOD),
                        )
                    ],
                    right=[
                        ledger.aggregator.metric("IteratorAge", period=PERIOD, statistic="Maximum")
                    ],
                    width=8,
                ),
            ],
            [
                cloudwatch.GraphWidget(
                    title="Alert queues (CreditCollection, CustomerNotify)",
                    left=[
                        queue.metric_approximate_number_of_messages_visible(period=PERIOD)
                        for queue in ledger.alert_queues.values()
                    ],
                    right=[
                        queue.metric_approximate_age_of_oldest_message(
                            period=PERIOD, statistic="Maximum"
                        )
                        for queue in ledger.alert_queues.values()
                    ],
                    width=12,
                ),
                cloudwatch.GraphWidget(
                    title="Ledger dead-letter queues",
                    left=[
                        queue.metric_approximate_number_of_messages_visible(
                            period=PERIOD, statistic="Maximum"
                        )
                        for queue in ledger.dead_letter_queues.values()
                    ],
                    width=12,
                ),
            ],
        ]
