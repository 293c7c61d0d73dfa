"""Pipeline identity: GitHub's OIDC provider and the role GitHub Actions deploys with.

Optional (only when `github_repository` is set) and one per AWS account: IAM is global
and an account holds one OIDC provider per URL, so the stack's name and template carry no
stage. Both stages' synths produce the same template, so deploying it from either is a
no-op for the other.

The role can do one thing: assume the CDK bootstrap roles. What a deploy may change is
therefore decided by the bootstrap (`cdk bootstrap --cloudformation-execution-policies`),
not here. See docs/pipeline.md.
"""

from __future__ import annotations

from aws_cdk import CfnOutput, DefaultStackSynthesizer, Fn, Stack, Tags
from aws_cdk import aws_iam as iam
from constructs import Construct

from stacks.common import stack_props
from stacks.front import EDGE_REGION
from stacks.settings import STAGES, Settings

GITHUB_OIDC_HOST = "token.actions.githubusercontent.com"
GITHUB_OIDC_URL = f"https://{GITHUB_OIDC_HOST}"
# The audience configure-aws-credentials asks GitHub for (its default).
STS_AUDIENCE = "sts.amazonaws.com"
# The roles `cdk bootstrap` creates and the CLI assumes: deploy (CloudFormation),
# file-/image-publishing (assets) and lookup (diff, context lookups).
BOOTSTRAP_ROLES = ("deploy", "file-publishing", "image-publishing", "lookup")


def pipeline_stack_name(settings: Settings) -> str:
    """`Orders-Pipeline`: no stage in the name, the stack serves both (one per account)."""
    return f"{settings.app_name}-Pipeline"


def trusted_subjects(repository: str, branch: str) -> list[str]:
    """The OIDC `sub` claims allowed to assume the role (GitHub's default claim format).

    - `ref:refs/heads/<branch>`: a job on the deploy branch that names no environment.
    - `environment:<stage>`: the deploy jobs (a job with an environment gets this `sub`
      instead of the ref one, so `prod`'s protection rules apply before it gets a token).
    - `pull_request`: the PR job that posts `cdk diff`. GitHub issues no token to pull
      requests from forks, so this means branches of the repository itself; see the
      trade-off in docs/pipeline.md.
    """
    prefix = f"repo:{repository}"
    return [
        f"{prefix}:ref:refs/heads/{branch}",
        *(f"{prefix}:environment:{stage}" for stage in STAGES),
        f"{prefix}:pull_request",
    ]


def bootstrap_role_arns(
    qualifier: str = DefaultStackSynthesizer.DEFAULT_QUALIFIER,
    regions: tuple[str, ...] = ("${AWS::Region}",),
) -> list[str]:
    """The bootstrap roles of this stack's account in `regions` (`Fn::Sub` strings); by
    default this stack's own region."""
    return [
        Fn.sub(
            f"arn:${{AWS::Partition}}:iam::${{AWS::AccountId}}:role/cdk-{qualifier}-{role}-role-"
            f"${{AWS::AccountId}}-{region}"
        )
        for region in regions
        for role in BOOTSTRAP_ROLES
    ]


class PipelineIdentityStack(Stack):
    """GitHub OIDC provider + a deploy role that may only assume the CDK bootstrap roles."""

    def __init__(self, scope: Construct, construct_id: str, *, settings: Settings) -> None:
        super().__init__(
            scope,
            construct_id,
            **{
                **stack_props(settings, "Pipeline"),
                "stack_name": pipeline_stack_name(settings),
                "description": (
                    f"{settings.app_name}: GitHub Actions OIDC identity for "
                    f"{settings.github_repository} (one per account, all stages)"
                ),
            },
        )
        # The app tags everything with the stage; this stack serves every stage, and a
        # stage tag would flip on each deploy from the other stage.
        Tags.of(self).remove("stage")
        provider = self._build_provider()
        self.deploy_role = self._build_deploy_role(provider, settings)
        CfnOutput(
            self,
            "DeployRoleArn",
            value=self.deploy_role.role_arn,
            description="vars.AWS_DEPLOY_ROLE_ARN for the GitHub workflows",
        )

    def _build_provider(self) -> iam.CfnOIDCProvider:
        # The L1 resource: the L2 `OpenIdConnectProvider` is a Lambda-backed custom
        # resource. No thumbprints: IAM trusts GitHub's certificate authority itself
        # and the property is optional.
        return iam.CfnOIDCProvider(
            self, "GitHubOidcProvider", url=GITHUB_OIDC_URL, client_id_list=[STS_AUDIENCE]
        )

    def _build_deploy_role(self, provider: iam.CfnOIDCProvider, settings: Settings) -> iam.Role:
        trusted = iam.WebIdentityPrincipal(
            provider.attr_arn,
            conditions={
                # Exact values only: no wildcard lets another repository, branch or
                # environment in.
                "StringEquals": {
                    f"{GITHUB_OIDC_HOST}:aud": STS_AUDIENCE,
                    f"{GITHUB_OIDC_HOST}:sub": trusted_subjects(
                        settings.github_repository, settings.github_branch
                    ),
                }
            },
        )
        assume_bootstrap_roles = iam.PolicyStatement(
            # TagSession: the bootstrap roles trust it, and the CLI passes session tags
            # when a stack's synthesizer sets them.
            actions=["sts:AssumeRole", "sts:TagSession"],
            # Elsewhere than us-east-1, a stage with the edge on deploys its Lambda@Edge
            # function's stack there (prod has the edge on by default).
            resources=bootstrap_role_arns(
                regions=("${AWS::Region}",)
                if settings.region == EDGE_REGION
                else ("${AWS::Region}", EDGE_REGION)
            ),
        )
        return iam.Role(
            self,
            "DeployRole",
            assumed_by=trusted,
            description=f"GitHub Actions ({settings.github_repository}): assumes CDK roles only",
            inline_policies={
                "AssumeCdkBootstrapRoles": iam.PolicyDocument(statements=[assume_bootstrap_roles])
            },
        )
