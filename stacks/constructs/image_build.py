"""A container image built in AWS during the deployment, from a Dockerfile in the repo.

Nothing here needs a Docker engine: synth stages the build context (the Dockerfile, its
pinned requirements and the code it copies) into a content-named directory and ships it
as an ordinary S3 file asset; during the deploy a custom resource starts a CodeBuild
build (ARM64, the tasks' architecture) that builds it and pushes it to the repository
under a tag that is the context's content hash, then answers CloudFormation itself. The
task definition depends on that resource, so it never names an image that is not there.
See docs/decisions.md for the alternatives (Docker at synth; a public image fetching the
code at start; cdklabs' ContainerImageBuild).
"""

from __future__ import annotations

import copy
import hashlib
import os
import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Final

from aws_cdk import CustomResource, Duration, Fn, RemovalPolicy
from aws_cdk import aws_codebuild as codebuild
from aws_cdk import aws_ecr as ecr
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3_assets as s3_assets
from constructs import Construct

from stacks.common import LAMBDAS_DIR, acknowledge, checkov_skip, deploy_time_function

TRIGGER_DIR: Final = LAMBDAS_DIR / "image_build"
TRIGGER_RUNTIME: Final = lambda_.Runtime.PYTHON_3_14
# CodeBuild's Amazon Linux 2023 image for aarch64 (Docker and python3 included): the
# image is built natively for the Graviton tasks.
BUILD_IMAGE: Final = codebuild.LinuxArmBuildImage.AMAZON_LINUX_2023_STANDARD_3_0
BUILD_TIMEOUT: Final = Duration.minutes(30)
# Images kept in the repository (older ones expire; a rollback needs the previous one).
KEPT_IMAGES: Final = 10
_STAGING_PREFIX: Final = "orders-image-"
_IGNORED: Final = frozenset({"__pycache__"})
# The build answers CloudFormation (the pre-signed URL the trigger handed it), in the
# post_build phase, which runs whether the build succeeded or not.
_ANSWER: Final = (
    "import json,os,urllib.request;"
    "ok=os.environ.get('CODEBUILD_BUILD_SUCCEEDING')=='1';"
    "body=json.dumps({'Status':'SUCCESS' if ok else 'FAILED',"
    "'Reason':('pushed by ' if ok else 'failed, see the log of ')+os.environ['CODEBUILD_BUILD_ID'],"
    "'PhysicalResourceId':os.environ['PHYSICAL_RESOURCE_ID'],'StackId':os.environ['STACK_ID'],"
    "'RequestId':os.environ['REQUEST_ID'],'LogicalResourceId':os.environ['LOGICAL_RESOURCE_ID'],"
    "'Data':{'ImageTag':os.environ['IMAGE_TAG']}}).encode();"
    "urllib.request.urlopen(urllib.request.Request(os.environ['RESPONSE_URL'],data=body,"
    "method='PUT',headers={'Content-Type':''}),timeout=30)"
)
BUILD_SPEC: Final = {
    "version": "0.2",
    "phases": {
        "build": {
            "commands": [
                'aws ecr get-login-password --region "$AWS_REGION" | docker login '
                '--username AWS --password-stdin "$REPOSITORY_HOST"',
                'aws s3 cp "s3://$SOURCE_BUCKET/$SOURCE_KEY" /tmp/context.zip',
                "mkdir -p /tmp/context && unzip -q /tmp/context.zip -d /tmp/context",
                'docker build --platform linux/arm64 --tag "$REPOSITORY_URI:$IMAGE_TAG" '
                "/tmp/context",
                'docker push "$REPOSITORY_URI:$IMAGE_TAG"',
            ]
        },
        "post_build": {"commands": [f'python3 -c "{_ANSWER}"']},
    },
}


def stage_build_context(files: Mapping[str, Path]) -> tuple[Path, str]:
    """Copy `files` (name in the context -> file or directory) into a directory named by
    their content's hash; returns it and the hash (the image tag).

    As the edge function's package (stacks/front.py): under the system's temp directory,
    once per distinct content, so the tag only changes with the content and the source
    tree is never written to.
    """
    digest = hashlib.sha256()
    entries: list[tuple[str, Path]] = []
    for name, source in sorted(files.items()):
        paths = (
            [source]
            if source.is_file()
            else sorted(p for p in source.rglob("*") if p.is_file() and not _ignored(p))
        )
        for path in paths:
            relative = name if source.is_file() else f"{name}/{path.relative_to(source).as_posix()}"
            entries.append((relative, path))
            digest.update(relative.encode() + b"\0" + path.read_bytes() + b"\0")
    tag = digest.hexdigest()[:32]
    target = Path(tempfile.gettempdir()) / f"{_STAGING_PREFIX}{tag}"
    if target.is_dir():
        return target, tag
    building = target.with_name(f"{target.name}.{os.getpid()}")
    shutil.rmtree(building, ignore_errors=True)
    for relative, path in entries:
        destination = building / relative
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, destination)
    try:
        building.rename(target)
    except OSError:  # another synth staged the same content first
        shutil.rmtree(building, ignore_errors=True)
    return target, tag


def _ignored(path: Path) -> bool:
    return bool(_IGNORED & set(path.parts)) or path.suffix == ".pyc"


class DeployTimeImage(Construct):
    """An ECR repository and the image CodeBuild builds into it while the stack deploys.

    `image_tag` names the image; depend on `build` before using it.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        context: Mapping[str, Path],
        repository_name: str,
        description: str,
        log_retention: logs.RetentionDays,
        removal_policy: RemovalPolicy,
    ) -> None:
        super().__init__(scope, construct_id)
        directory, self.image_tag = stage_build_context(context)
        self.repository = self._build_repository(repository_name, removal_policy)
        self.source = s3_assets.Asset(self, "Source", path=str(directory))
        log_group = self._log_group("BuildLogs", log_retention, removal_policy)
        self.project = self._build_project(description, log_group)
        trigger = self._build_trigger(log_retention, removal_policy)
        self.build = CustomResource(
            self,
            "Build",
            service_token=trigger.function_arn,
            resource_type="Custom::ContainerImageBuild",
            properties={
                "ProjectName": self.project.project_name,
                "RepositoryName": self.repository.repository_name,
                "SourceBucket": self.source.s3_bucket_name,
                "SourceKey": self.source.s3_object_key,
                "ImageTag": self.image_tag,
            },
        )

    def _build_repository(self, name: str, removal_policy: RemovalPolicy) -> ecr.Repository:
        repository = ecr.Repository(
            self,
            "Repository",
            # named from the stage (lower case, as ECR wants): a reader knows whose it is
            repository_name=name,
            image_scan_on_push=True,
            # a tag is a content hash: it never moves to another image
            image_tag_mutability=ecr.TagMutability.IMMUTABLE,
            lifecycle_rules=[
                ecr.LifecycleRule(
                    description=f"keep the newest {KEPT_IMAGES} images",
                    max_image_count=KEPT_IMAGES,
                )
            ],
            removal_policy=removal_policy,
            empty_on_delete=removal_policy == RemovalPolicy.DESTROY,
        )
        checkov_skip(
            repository,
            "CKV_AWS_136",
            "ECR encrypts every image at rest (AES-256); the image holds the app's public "
            "code and pinned open-source packages, no secrets, so a customer key adds cost",
        )
        return repository

    def _log_group(
        self, construct_id: str, retention: logs.RetentionDays, removal_policy: RemovalPolicy
    ) -> logs.LogGroup:
        group = logs.LogGroup(
            self, construct_id, retention=retention, removal_policy=removal_policy
        )
        checkov_skip(
            group,
            "CKV_AWS_158",
            "CloudWatch Logs encrypts every log group at rest; build logs hold no secrets",
        )
        return group

    def _build_project(self, description: str, log_group: logs.LogGroup) -> codebuild.Project:
        role = iam.Role(
            self,
            "BuildRole",
            assumed_by=iam.ServicePrincipal("codebuild.amazonaws.com"),
            description=f"builds {description}: reads its context, pushes to its repository",
            inline_policies={
                "build": iam.PolicyDocument(
                    statements=[
                        iam.PolicyStatement(
                            actions=["logs:CreateLogStream", "logs:PutLogEvents"],
                            resources=[log_group.log_group_arn],
                        ),
                        iam.PolicyStatement(
                            actions=["s3:GetObject"],
                            resources=[
                                self.source.bucket.arn_for_objects(self.source.s3_object_key)
                            ],
                        ),
                        # No resource-level permissions: the registry login.
                        iam.PolicyStatement(actions=["ecr:GetAuthorizationToken"], resources=["*"]),
                        iam.PolicyStatement(
                            actions=[
                                "ecr:BatchCheckLayerAvailability",
                                "ecr:InitiateLayerUpload",
                                "ecr:UploadLayerPart",
                                "ecr:CompleteLayerUpload",
                                "ecr:PutImage",
                            ],
                            resources=[self.repository.repository_arn],
                        ),
                    ]
                )
            },
        )
        reason = (
            "ecr:GetAuthorizationToken has no resource-level permissions (the registry "
            "login); the pushes are on the one repository, the context read on one object"
        )
        acknowledge(role, "AwsSolutions-IAM5[Resource::*]", reason)
        checkov_skip(role, "CKV_AWS_111", reason)
        project = codebuild.Project(
            self,
            "Project",
            description=f"builds {description} during deployments",
            # its statements are the ones above: CDK adds none (its defaults use wildcards)
            role=role.without_policy_updates(),
            environment=codebuild.BuildEnvironment(
                build_image=BUILD_IMAGE,
                compute_type=codebuild.ComputeType.SMALL,
                privileged=True,
                environment_variables={
                    "REPOSITORY_URI": codebuild.BuildEnvironmentVariable(
                        value=self.repository.repository_uri
                    ),
                    # <account>.dkr.ecr.<region>.amazonaws.com: what docker logs in to
                    "REPOSITORY_HOST": codebuild.BuildEnvironmentVariable(
                        value=Fn.select(0, Fn.split("/", self.repository.repository_uri))
                    ),
                },
            ),
            build_spec=codebuild.BuildSpec.from_object(copy.deepcopy(BUILD_SPEC)),
            logging=codebuild.LoggingOptions(
                cloud_watch=codebuild.CloudWatchLoggingOptions(log_group=log_group)
            ),
            timeout=BUILD_TIMEOUT,
        )
        privileged = (
            "docker build needs CodeBuild's privileged mode (its Docker daemon); the "
            "project builds only the repo's own Dockerfile, started only by this stack"
        )
        acknowledge(project, "AwsSolutions-CB3", privileged)
        checkov_skip(project, "CKV_AWS_316", privileged)
        no_artifacts = (
            "the build has no artifacts to encrypt: its output is the image, which ECR "
            "encrypts at rest; its logs are in CloudWatch Logs, encrypted too"
        )
        acknowledge(project, "AwsSolutions-CB4", no_artifacts)
        checkov_skip(project, "CKV_AWS_147", no_artifacts)
        return project

    def _build_trigger(
        self, retention: logs.RetentionDays, removal_policy: RemovalPolicy
    ) -> lambda_.Function:
        log_group = self._log_group("TriggerLogs", retention, removal_policy)
        return deploy_time_function(
            self,
            "Trigger",
            description="image build trigger: starts the CodeBuild build during deploys",
            role_description="starts the image build during deployments",
            policy_name="trigger",
            statements=[
                iam.PolicyStatement(
                    actions=["codebuild:StartBuild"],
                    resources=[self.project.project_arn],
                ),
                iam.PolicyStatement(
                    actions=["ecr:DescribeImages"],
                    resources=[self.repository.repository_arn],
                ),
            ],
            runtime=TRIGGER_RUNTIME,
            code_dir=TRIGGER_DIR,
            log_group=log_group,
            why_no_dlq="invoked by CloudFormation during deploys; a failure fails the deployment",
            why_no_tracing=(
                "a deploy-time trigger that makes two calls once per image; nothing to trace"
            ),
            checkov_reasons={
                "CKV_AWS_115": "runs once per image build; a concurrency reservation would "
                "waste quota",
                "CKV_AWS_116": "invoked by CloudFormation during deploys; a failure fails the "
                "deployment, which is where it must show",
                "CKV_AWS_117": "a deploy-time helper calling the CodeBuild and ECR APIs; the "
                "VPC has no NAT and no endpoints for them",
            },
        )
