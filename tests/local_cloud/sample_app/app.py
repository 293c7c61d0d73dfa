"""Synthesizes the sample app in-process (no CDK CLI, no Docker, no credentials)."""

from pathlib import Path

import aws_cdk as cdk
from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_ecr_assets as ecr_assets
from aws_cdk import aws_elasticloadbalancingv2 as elbv2
from aws_cdk import aws_elasticloadbalancingv2_targets as targets
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as sources
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


class ComputeStack(Stack):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        vpc: ec2.IVpc,
        table: dynamodb.ITable,
        queue: sqs.IQueue,
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
        # A container image (a batch task's, say): the local cloud cannot build images and
        # must say so rather than skip it silently.
        ecr_assets.DockerImageAsset(self, "TaskImage", directory=str(HERE / "image"))


def synth(outdir: str) -> str:
    """Synthesize the four stacks into outdir and return the assembly directory."""
    app = cdk.App(outdir=outdir)
    net = NetStack(app, "Sample-Net")
    data = DataStack(app, "Sample-Data")
    queue = QueueStack(app, "Sample-Queue")
    ComputeStack(app, "Sample-Compute", vpc=net.vpc, table=data.table, queue=queue.queue)
    return app.synth().directory


if __name__ == "__main__":
    import sys

    print(synth(sys.argv[1] if len(sys.argv) > 1 else "cdk.out.sample"))
