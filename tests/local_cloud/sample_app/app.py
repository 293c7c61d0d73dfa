"""Synthesizes the sample app in-process (no CDK CLI, no Docker, no credentials)."""

from pathlib import Path

import aws_cdk as cdk
from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_cloudfront as cloudfront
from aws_cdk import aws_cloudfront_origins as origins
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_ecr_assets as ecr_assets
from aws_cdk import aws_elasticloadbalancingv2 as elbv2
from aws_cdk import aws_elasticloadbalancingv2_targets as targets
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as events_targets
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_destinations as destinations
from aws_cdk import aws_lambda_event_sources as sources
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_ssm as ssm
from constructs import Construct

HERE = Path(__file__).parent
# A version-pinned public parameter, like the AWS-published Powertools layer's.
PUBLIC_LAYER_PARAMETER = "/aws/service/powertools/python/x86_64/python3.12/3.37.0"


class NetStack(Stack):
    def __init__(self, scope: Construct, construct_id: str, **kwargs: object) -> None:
        super().__init__(scope, construct_id, **kwargs)  # type: ignore[arg-type]
        # restrict_default_security_group adds a Lambda-backed custom resource.
        self.vpc = ec2.Vpc(
            self,
            "Vpc",
            max_azs=2,
            nat_gateways=0,
            restrict_default_security_group=True,
            subnet_configuration=[
                ec2.SubnetConfiguration(name="public", subnet_type=ec2.SubnetType.PUBLIC),
                ec2.SubnetConfiguration(
                    name="private", subnet_type=ec2.SubnetType.PRIVATE_ISOLATED
                ),
            ],
        )
        self.vpc.add_gateway_endpoint("Ddb", service=ec2.GatewayVpcEndpointAwsService.DYNAMODB)
        self.vpc.add_interface_endpoint("Sqs", service=ec2.InterfaceVpcEndpointAwsService.SQS)


class DataStack(Stack):
    def __init__(self, scope: Construct, construct_id: str, **kwargs: object) -> None:
        super().__init__(scope, construct_id, **kwargs)  # type: ignore[arg-type]
        self.table = dynamodb.Table(
            self,
            "Things",
            partition_key=dynamodb.Attribute(name="pk", type=dynamodb.AttributeType.STRING),
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            removal_policy=RemovalPolicy.DESTROY,
        )
        cdk.CfnOutput(self, "ThingsTableName", value=self.table.table_name)
        # Uploads: EventBridge notifications on the L1 bucket (no custom resource).
        self.bucket = s3.Bucket(
            self, "Uploads", versioned=True, removal_policy=RemovalPolicy.DESTROY
        )
        cfn_bucket = self.bucket.node.default_child
        assert isinstance(cfn_bucket, s3.CfnBucket)
        cfn_bucket.notification_configuration = s3.CfnBucket.NotificationConfigurationProperty(
            event_bridge_configuration=s3.CfnBucket.EventBridgeConfigurationProperty(
                event_bridge_enabled=True
            )
        )
        cdk.CfnOutput(self, "UploadsBucketName", value=self.bucket.bucket_name)
        # A table whose changes a function consumes from its stream.
        self.ledger = dynamodb.Table(
            self,
            "Ledger",
            partition_key=dynamodb.Attribute(name="pk", type=dynamodb.AttributeType.STRING),
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            stream=dynamodb.StreamViewType.NEW_AND_OLD_IMAGES,
            removal_policy=RemovalPolicy.DESTROY,
        )
        cdk.CfnOutput(self, "LedgerTableName", value=self.ledger.table_name)


class QueueStack(Stack):
    def __init__(self, scope: Construct, construct_id: str, **kwargs: object) -> None:
        super().__init__(scope, construct_id, **kwargs)  # type: ignore[arg-type]
        self.dlq = sqs.Queue(self, "WorkDlq", enforce_ssl=True)
        self.queue = sqs.Queue(
            self,
            "Work",
            enforce_ssl=True,  # adds an AWS::SQS::QueuePolicy, which moto skips
            visibility_timeout=Duration.seconds(30),
            dead_letter_queue=sqs.DeadLetterQueue(max_receive_count=3, queue=self.dlq),
        )
        cdk.CfnOutput(self, "WorkQueueUrl", value=self.queue.queue_url)
        cdk.CfnOutput(self, "WorkDlqUrl", value=self.dlq.queue_url)
        # Where asynchronous invocations that keep failing end (a Lambda destination).
        self.async_failures = sqs.Queue(self, "AsyncFailures", enforce_ssl=True)
        cdk.CfnOutput(self, "AsyncFailuresUrl", value=self.async_failures.queue_url)
        # Where stream batches the mapping gives up on are described.
        self.stream_failures = sqs.Queue(self, "StreamFailures", enforce_ssl=True)
        cdk.CfnOutput(self, "StreamFailuresUrl", value=self.stream_failures.queue_url)
        # A topic fanning out to a queue (raw delivery, a subscription dead-letter queue)
        # and an e-mail address; the compute stack adds a function.
        self.topic = sns.Topic(self, "Alerts")
        inbox = sqs.Queue(self, "AlertInbox", enforce_ssl=True)
        undeliverable = sqs.Queue(self, "AlertUndeliverable", enforce_ssl=True)
        self.topic.add_subscription(
            subscriptions.SqsSubscription(
                inbox, raw_message_delivery=True, dead_letter_queue=undeliverable
            )
        )
        self.topic.add_subscription(subscriptions.EmailSubscription("ops@example.com"))
        cdk.CfnOutput(self, "AlertsTopicArn", value=self.topic.topic_arn)
        cdk.CfnOutput(self, "AlertInboxUrl", value=inbox.queue_url)
        cdk.CfnOutput(self, "AlertUndeliverableUrl", value=undeliverable.queue_url)


class ComputeStack(Stack):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        vpc: ec2.IVpc,
        table: dynamodb.ITable,
        queue: sqs.IQueue,
        bucket: s3.IBucket,
        async_failures: sqs.IQueue,
        ledger: dynamodb.ITable,
        stream_failures: sqs.IQueue,
        topic: sns.ITopic,
        **kwargs: object,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)  # type: ignore[arg-type]
        shared = lambda_.LayerVersion(
            self, "Shared", code=lambda_.Code.from_asset(str(HERE / "layer"))
        )
        public = lambda_.LayerVersion.from_layer_version_arn(
            self,
            "Public",
            ssm.StringParameter.value_for_string_parameter(self, PUBLIC_LAYER_PARAMETER),
        )
        common = {
            "runtime": lambda_.Runtime.PYTHON_3_12,
            "handler": "handler.main",
            "layers": [shared, public],
            "vpc": vpc,
            "vpc_subnets": ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_ISOLATED),
        }
        api = lambda_.Function(
            self,
            "Api",
            code=lambda_.Code.from_asset(str(HERE / "functions" / "api")),
            timeout=Duration.seconds(3),
            memory_size=256,
            environment={"ROLE": "api", "QUEUE_URL": queue.queue_url},
            **common,  # type: ignore[arg-type]
        )
        queue.grant_send_messages(api)
        worker = lambda_.Function(
            self,
            "Worker",
            code=lambda_.Code.from_asset(str(HERE / "functions" / "worker")),
            timeout=Duration.seconds(10),
            environment={"ROLE": "worker", "TABLE_NAME": table.table_name},
            **common,  # type: ignore[arg-type]
        )
        table.grant_write_data(worker)
        worker.add_event_source(
            sources.SqsEventSource(
                queue,
                batch_size=10,
                max_batching_window=Duration.seconds(1),
                report_batch_item_failures=True,
                max_concurrency=2,
            )
        )
        alb = elbv2.ApplicationLoadBalancer(
            self, "Alb", vpc=vpc, internet_facing=True, drop_invalid_header_fields=True
        )
        listener = alb.add_listener(
            "Http",
            port=80,
            default_action=elbv2.ListenerAction.fixed_response(
                404, content_type="application/json", message_body='{"error":"no route"}'
            ),
        )
        listener.add_targets(
            "Api",
            priority=10,
            conditions=[elbv2.ListenerCondition.path_patterns(["/svc/api", "/svc/api/*"])],
            targets=[targets.LambdaTarget(api)],
        )
        listener.add_action(
            "Teapot",
            priority=20,
            conditions=[elbv2.ListenerCondition.path_patterns(["/teapot"])],
            action=elbv2.ListenerAction.fixed_response(
                418, content_type="text/plain", message_body="short and stout"
            ),
        )
        cdk.CfnOutput(self, "ApiUrl", value=f"http://{alb.load_balancer_dns_name}/svc/api")
        # CloudFront in front of the ALB: a Lambda@Edge viewer request, security headers.
        viewer_request = cloudfront.experimental.EdgeFunction(
            self,
            "ViewerRequest",
            runtime=lambda_.Runtime.PYTHON_3_12,
            handler="handler.main",
            code=lambda_.Code.from_asset(str(HERE / "functions" / "edge")),
        )
        security = cloudfront.ResponseHeadersPolicy(
            self,
            "Security",
            security_headers_behavior=cloudfront.ResponseSecurityHeadersBehavior(
                strict_transport_security=cloudfront.ResponseHeadersStrictTransportSecurity(
                    access_control_max_age=Duration.days(365),
                    include_subdomains=True,
                    override=True,
                ),
                content_type_options=cloudfront.ResponseHeadersContentTypeOptions(override=True),
                referrer_policy=cloudfront.ResponseHeadersReferrerPolicy(
                    referrer_policy=cloudfront.HeadersReferrerPolicy.NO_REFERRER, override=True
                ),
                content_security_policy=cloudfront.ResponseHeadersContentSecurityPolicy(
                    content_security_policy="default-src 'none'", override=False
                ),
            ),
        )
        distribution = cloudfront.Distribution(
            self,
            "Edge",
            default_behavior=cloudfront.BehaviorOptions(
                origin=origins.VpcOrigin.with_application_load_balancer(alb),
                allowed_methods=cloudfront.AllowedMethods.ALLOW_ALL,
                cache_policy=cloudfront.CachePolicy.CACHING_DISABLED,
                response_headers_policy=security,
                edge_lambdas=[
                    cloudfront.EdgeLambda(
                        function_version=viewer_request.current_version,
                        event_type=cloudfront.LambdaEdgeEventType.VIEWER_REQUEST,
                        include_body=True,
                    )
                ],
            ),
        )
        cdk.CfnOutput(self, "EdgeUrl", value=f"https://{distribution.distribution_domain_name}")
        # S3 -> EventBridge -> rule -> function, asynchronous: retried, then the destination.
        notified = lambda_.Function(
            self,
            "Notified",
            runtime=lambda_.Runtime.PYTHON_3_12,
            handler="handler.main",
            code=lambda_.Code.from_asset(str(HERE / "functions" / "notified")),
            timeout=Duration.seconds(10),
            environment={"TABLE_NAME": table.table_name},
            retry_attempts=2,
            max_event_age=Duration.minutes(10),
            on_failure=destinations.SqsDestination(async_failures),
        )
        table.grant_write_data(notified)
        # What the rule could not deliver to its target (its own queue: the rule's policy
        # on it would otherwise tie the queue stack to this one).
        rule_dlq = sqs.Queue(self, "RuleDlq", enforce_ssl=True)
        cdk.CfnOutput(self, "RuleDlqUrl", value=rule_dlq.queue_url)
        events.Rule(
            self,
            "Uploaded",
            event_pattern=events.EventPattern(
                source=["aws.s3"],
                detail_type=["Object Created"],
                detail={
                    "bucket": {"name": [bucket.bucket_name]},
                    "object": {"key": [{"prefix": "incoming/"}]},
                },
            ),
            targets=[
                events_targets.LambdaFunction(
                    notified, retry_attempts=3, dead_letter_queue=rule_dlq
                )
            ],
        )
        cdk.CfnOutput(self, "NotifiedFunctionName", value=notified.function_name)
        topic.add_subscription(subscriptions.LambdaSubscription(notified))
        # A DynamoDB stream mapping with everything Lambda offers for streams.
        streamer = lambda_.Function(
            self,
            "Streamer",
            runtime=lambda_.Runtime.PYTHON_3_12,
            handler="handler.main",
            code=lambda_.Code.from_asset(str(HERE / "functions" / "streamer")),
            timeout=Duration.seconds(10),
            environment={"TABLE_NAME": table.table_name},
        )
        table.grant_write_data(streamer)
        amount = {"N": lambda_.FilterRule.exists()}
        streamer.add_event_source(
            sources.DynamoEventSource(
                ledger,
                starting_position=lambda_.StartingPosition.TRIM_HORIZON,
                batch_size=4,
                bisect_batch_on_error=True,
                retry_attempts=2,
                max_record_age=Duration.hours(1),
                report_batch_item_failures=True,
                on_failure=sources.SqsDlq(stream_failures),
                filters=[
                    lambda_.FilterCriteria.filter({"dynamodb": {"NewImage": {"amount": amount}}}),
                    lambda_.FilterCriteria.filter({"dynamodb": {"OldImage": {"amount": amount}}}),
                ],
            )
        )
        # A container image (a batch task's, say): the local cloud cannot build images and
        # must say so rather than skip it silently.
        ecr_assets.DockerImageAsset(self, "TaskImage", directory=str(HERE / "image"))


class CustomStack(Stack):
    """Custom resources whose provider is a Python function of the assembly: one answers,
    one answers FAILED (the local cloud then leaves it out, as one that cannot run)."""

    def __init__(self, scope: Construct, construct_id: str, **kwargs: object) -> None:
        super().__init__(scope, construct_id, **kwargs)  # type: ignore[arg-type]
        provider = lambda_.Function(
            self,
            "Provider",
            runtime=lambda_.Runtime.PYTHON_3_12,
            handler="handler.main",
            code=lambda_.Code.from_asset(str(HERE / "functions" / "provider")),
            timeout=Duration.seconds(10),
        )
        greeting = cdk.CustomResource(
            self, "Greeting", service_token=provider.function_arn, properties={"Name": "sample"}
        )
        cdk.CfnOutput(self, "GreetingText", value=greeting.get_att_string("Greeting"))
        # A resource created from the answer (CloudFormation waits for it first).
        ssm.StringParameter(
            self,
            "GreetingParameter",
            parameter_name="/sample/greeting",
            string_value=greeting.get_att_string("Greeting"),
        )
        refused = cdk.CustomResource(
            self, "Refused", service_token=provider.function_arn, properties={"Name": "fail"}
        )
        cdk.CfnOutput(self, "RefusedText", value=refused.get_att_string("Greeting"))


def synth(outdir: str) -> str:
    """Synthesize the sample stacks into outdir and return the assembly directory."""
    app = cdk.App(outdir=outdir)
    # A region of their own (Lambda@Edge functions need one; us-east-1 keeps them here)
    env = cdk.Environment(region="us-east-1")
    net = NetStack(app, "Sample-Net", env=env)
    data = DataStack(app, "Sample-Data", env=env)
    queue = QueueStack(app, "Sample-Queue", env=env)
    ComputeStack(
        app,
        "Sample-Compute",
        env=env,
        vpc=net.vpc,
        table=data.table,
        queue=queue.queue,
        bucket=data.bucket,
        async_failures=queue.async_failures,
        ledger=data.ledger,
        stream_failures=queue.stream_failures,
        topic=queue.topic,
    )
    CustomStack(app, "Sample-Custom", env=env)
    return app.synth().directory


if __name__ == "__main__":
    import sys

    print(synth(sys.argv[1] if len(sys.argv) > 1 else "cdk.out.sample"))
