"""The optional pipeline identity stack: who may assume the deploy role, and what it may do."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.infra.conftest import Synthesized, only, resources, synth

REPO = "octo/orders"
GITHUB = "token.actions.githubusercontent.com"
BOOTSTRAP_ROLE = (
    "arn:${AWS::Partition}:iam::${AWS::AccountId}:role/cdk-hnb659fds-%s-role-"
    "${AWS::AccountId}-${AWS::Region}"
)


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    return Synthesized(synth(tmp_path_factory.mktemp("pipeline"), github_repository=REPO))


def _role(template: dict[str, Any]) -> dict[str, Any]:
    return only(template, "AWS::IAM::Role")["Properties"]  # type: ignore[no-any-return]


def test_stack_is_named_per_account_not_per_stage(pipeline: Synthesized) -> None:
    assert pipeline.stacks["Pipeline"].stack_name == "Orders-Pipeline"
    tags = {t["Key"]: t["Value"] for t in _role(pipeline.json("Pipeline"))["Tags"]}
    assert tags == {"project": "Orders"}  # no stage tag: both stages deploy this stack


def test_provider_is_githubs_with_the_sts_audience(pipeline: Synthesized) -> None:
    provider = only(pipeline.json("Pipeline"), "AWS::IAM::OIDCProvider")["Properties"]
    assert provider["Url"] == f"https://{GITHUB}"
    assert provider["ClientIdList"] == ["sts.amazonaws.com"]
    # The L1 resource, not the L2's Lambda-backed custom resource.
    assert not resources(pipeline.json("Pipeline"), "AWS::Lambda::Function")


def test_role_trusts_only_this_repository_branch_environments_and_prs(
    pipeline: Synthesized,
) -> None:
    (statement,) = _role(pipeline.json("Pipeline"))["AssumeRolePolicyDocument"]["Statement"]
    assert statement["Effect"] == "Allow"
    assert statement["Action"] == "sts:AssumeRoleWithWebIdentity"
    assert statement["Principal"] == {"Federated": {"Fn::GetAtt": ["GitHubOidcProvider", "Arn"]}}
    # The whole condition: exact values, no StringLike, nothing else.
    condition = statement["Condition"]
    assert list(condition) == ["StringEquals"]
    assert condition["StringEquals"][f"{GITHUB}:aud"] == "sts.amazonaws.com"
    assert sorted(condition["StringEquals"][f"{GITHUB}:sub"]) == sorted(
        [
            "repo:octo/orders:ref:refs/heads/main",
            "repo:octo/orders:environment:dev",
            "repo:octo/orders:environment:prod",
            "repo:octo/orders:pull_request",
        ]
    )
    assert len(condition["StringEquals"]) == 2


def test_role_may_only_assume_the_cdk_bootstrap_roles(pipeline: Synthesized) -> None:
    template = pipeline.json("Pipeline")
    role = _role(template)
    assert "ManagedPolicyArns" not in role
    assert not resources(template, "AWS::IAM::Policy")  # no policy attached elsewhere
    (policy,) = role["Policies"]
    (statement,) = policy["PolicyDocument"]["Statement"]
    assert statement["Effect"] == "Allow"
    assert sorted(statement["Action"]) == ["sts:AssumeRole", "sts:TagSession"]
    assert statement["Resource"] == [
        {"Fn::Sub": BOOTSTRAP_ROLE % name}
        for name in ("deploy", "file-publishing", "image-publishing", "lookup")
    ]
    assert "*" not in json.dumps(role)  # no wildcard action or resource anywhere


def test_outside_us_east_1_it_may_also_deploy_the_edge_functions_stack_there(
    tmp_path: Path,
) -> None:
    elsewhere = Synthesized(synth(tmp_path, github_repository=REPO, region="eu-west-1"))
    (policy,) = _role(elsewhere.json("Pipeline"))["Policies"]
    (statement,) = policy["PolicyDocument"]["Statement"]
    roles = ("deploy", "file-publishing", "image-publishing", "lookup")
    expected = [BOOTSTRAP_ROLE % name for name in roles] + [
        (BOOTSTRAP_ROLE % name).replace("${AWS::Region}", "us-east-1") for name in roles
    ]
    assert sorted(r["Fn::Sub"] for r in statement["Resource"]) == sorted(expected)


def test_deploy_role_arn_is_an_output(pipeline: Synthesized) -> None:
    outputs = pipeline.json("Pipeline")["Outputs"]
    (role_id,) = resources(pipeline.json("Pipeline"), "AWS::IAM::Role")
    assert outputs["DeployRoleArn"]["Value"] == {"Fn::GetAtt": [role_id, "Arn"]}


def test_stack_is_nag_checked(pipeline: Synthesized) -> None:
    report = json.loads((Path(pipeline.app.outdir) / "validation-report.json").read_text())
    assert report["pluginReports"]
    for plugin in report["pluginReports"]:
        assert plugin["conclusion"] == "success", plugin["violations"]


def test_no_pipeline_stack_without_a_repository(dev: Synthesized, prod: Synthesized) -> None:
    for synthesized in (dev, prod):
        assert "Pipeline" not in synthesized.stacks
        for part in synthesized.stacks:
            assert not resources(synthesized.json(part), "AWS::IAM::OIDCProvider")


def test_same_template_from_either_stage_and_branch_comes_from_settings(
    tmp_path: Path, pipeline: Synthesized
) -> None:
    prod = Synthesized(
        synth(tmp_path, stage="prod", github_repository=REPO, github_branch="release")
    )
    assert prod.stacks["Pipeline"].stack_name == "Orders-Pipeline"
    (statement,) = _role(prod.json("Pipeline"))["AssumeRolePolicyDocument"]["Statement"]
    subjects = statement["Condition"]["StringEquals"][f"{GITHUB}:sub"]
    assert "repo:octo/orders:ref:refs/heads/release" in subjects
    assert "repo:octo/orders:ref:refs/heads/main" not in subjects
    # Apart from the branch, a prod synth gives exactly the dev template: deploying the
    # stack from one stage never changes it for the other.
    as_dev = json.dumps(pipeline.json("Pipeline"))
    as_prod = json.dumps(prod.json("Pipeline")).replace("refs/heads/release", "refs/heads/main")
    assert as_prod == as_dev
