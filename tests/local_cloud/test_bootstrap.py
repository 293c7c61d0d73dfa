"""The bootstrap the deployer makes: the CDK CLI's template, cdk bootstrap's parameters."""

from __future__ import annotations

from pathlib import Path

import pytest

from local_cloud.deploy import bootstrap

BUCKET = "cdk-{q}-assets-${{AWS::AccountId}}-${{AWS::Region}}"


def test_the_qualifier_comes_from_the_asset_buckets_and_the_version_parameter():
    assert bootstrap.qualifier([BUCKET.format(q="hnb659fds")], [None]) == "hnb659fds"
    assert bootstrap.qualifier([], ["/cdk-bootstrap/custom1/version"]) == "custom1"
    # not the default synthesizer's layout, or two qualifiers: the buckets are seeded instead
    assert bootstrap.qualifier(["my-own-bucket"], [None]) is None
    assert bootstrap.qualifier([BUCKET.format(q="a")], ["/cdk-bootstrap/b/version"]) is None


def test_parameters_are_what_cdk_bootstrap_passes_by_default():
    default = {
        p["ParameterKey"]: p["ParameterValue"]
        for p in bootstrap.cdk_bootstrap_parameters(bootstrap.DEFAULT_QUALIFIER)
    }
    assert default == {
        "TrustedAccounts": "",
        "TrustedAccountsForLookup": "",
        "CloudFormationExecutionPolicies": "",
        "FileAssetsBucketKmsKeyId": "AWS_MANAGED_KEY",
        "PublicAccessBlockConfiguration": "true",
    }
    custom = bootstrap.cdk_bootstrap_parameters("custom1")
    assert {"ParameterKey": "Qualifier", "ParameterValue": "custom1"} in custom


def test_the_template_is_the_installed_cli_s_or_the_one_named(monkeypatch, tmp_path):
    found = bootstrap.find_template()
    if found is None:
        pytest.skip("no CDK CLI installed (npm ci)")
    assert found.name == "bootstrap-template.yaml"
    assert "CdkBootstrapVersion" in found.read_text()
    named = tmp_path / "mine.yaml"
    named.write_text("Resources: {}\n")
    monkeypatch.setenv(bootstrap.TEMPLATE_ENV, str(named))
    assert bootstrap.find_template() == named
    monkeypatch.setenv(bootstrap.TEMPLATE_ENV, str(tmp_path / "missing.yaml"))
    assert bootstrap.find_template([Path("/nowhere")]) is None
