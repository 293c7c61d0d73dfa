"""Settings validation (bad input fails synth with a message saying what to change) and cdk-nag."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from aws_cdk import App, Stack
from aws_cdk import aws_s3 as s3

from app import build_app
from stacks.settings import (
    SQS_MAX_VISIBILITY_TIMEOUT_S,
    Settings,
    SettingsError,
    settings_from_mapping,
)
from tests.infra.conftest import ROOT, cdk_context


def _problems(**overrides: object) -> list[str]:
    with pytest.raises(SettingsError) as caught:
        settings_from_mapping(cdk_context(**overrides))
    return caught.value.problems


def test_defaults_are_valid_and_derive_the_visibility_timeout() -> None:
    settings = settings_from_mapping(cdk_context())
    assert settings.visibility_timeout_seconds == 6 * settings.process_timeout_seconds + (
        settings.batching_window_seconds
    )


def test_cli_strings_are_coerced() -> None:
    # `-c batch_size=20` arrives as a string
    settings = settings_from_mapping(
        cdk_context(
            batch_size="20", alb_internet_facing="false", allowed_cidrs="10.0.0.0/8,192.168.0.0/16"
        )
    )
    assert settings.batch_size == 20
    assert settings.alb_internet_facing is False
    assert settings.allowed_cidrs == ("10.0.0.0/8", "192.168.0.0/16")


def test_batch_over_ten_needs_a_batching_window() -> None:
    (problem,) = _problems(batch_size=50, batching_window_seconds=0)
    assert "batching_window_seconds >= 1" in problem


def test_derived_visibility_timeout_stays_within_what_sqs_accepts() -> None:
    # The largest timeout and window the settings admit still give a valid queue ...
    settings = settings_from_mapping(
        cdk_context(process_timeout_seconds=900, batching_window_seconds=300, batch_size=5)
    )
    assert settings.visibility_timeout_seconds == 5700 <= SQS_MAX_VISIBILITY_TIMEOUT_S
    # ... and a timeout Lambda would reject is refused with the range to use.
    (problem,) = _problems(process_timeout_seconds=901)
    assert problem == "process_timeout_seconds=901 is out of range: use 10..900."


@pytest.mark.parametrize("cidr", ["10.0.0.1/16", "300.0.0.0/8", "not-a-cidr"])
def test_unparseable_cidr(cidr: str) -> None:
    (problem,) = _problems(allowed_cidrs=[cidr])
    assert cidr in problem


def test_every_problem_reported_at_once() -> None:
    problems = _problems(stage="qa", max_receive_count=2, log_retention_days=31, batch_size="ten")
    assert len(problems) == 4
    assert any("stage='qa'" in p for p in problems)
    assert any("max_receive_count=2" in p and "5.." in p for p in problems)
    assert set(problems) == {
        "stage='qa' is not one of: dev, prod.",
        "max_receive_count=2 is out of range: use 5..1000.",
        "log_retention_days=31 is not one of: 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, "
        "365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653.",
        "batch_size='ten' is not a whole number.",
    }


def test_a_rule_across_settings_is_reported_with_the_other_problems() -> None:
    problems = _problems(stage="qa", batch_size=50, batching_window_seconds=0)
    assert len(problems) == 2
    assert any(p.startswith("batch_size=50 needs batching_window_seconds >= 1") for p in problems)


def test_a_missing_key_is_named() -> None:
    context = cdk_context()
    del context["region"]
    with pytest.raises(SettingsError) as caught:
        settings_from_mapping(context)
    assert caught.value.problems == ["region is missing: set it in cdk.json context."]


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"alb_internet_facing": "yes"}, "alb_internet_facing='yes' is not true or false."),
        (
            {"vpc_cidr": "10.0.0.1/16"},
            "vpc_cidr='10.0.0.1/16' is not an IPv4 CIDR such as 10.0.0.0/16.",
        ),
        ({"app_name": " "}, "app_name=' ' is not a non-empty string."),
        (
            {"app_name": "my app"},
            "app_name='my app' must be letters, digits and dashes (it starts every stack name).",
        ),
        ({"region": "mars"}, "region='mars' is not an AWS region such as eu-west-1."),
        (
            {"alarm_email": "x"},
            "alarm_email='x' is not an e-mail address (or \"\" to leave it unset).",
        ),
        ({"allowed_cidrs": []}, "allowed_cidrs=[] must be a list of CIDRs (JSON list or a,b,c)."),
        ({"waf_rate_limit": {"n": "{x}"}}, "waf_rate_limit={'n': '{x}'} is not a whole number."),
    ],
)
def test_each_message_quotes_the_key_and_value_and_says_what_to_use(
    overrides: dict[str, object], expected: str
) -> None:
    assert _problems(**overrides) == [expected]


def test_each_bad_cidr_entry_is_its_own_problem() -> None:
    assert _problems(allowed_cidrs="10.0.0.0/8,x,10.0.0.1/8") == [
        "allowed_cidrs entry 'x' is not an IPv4 CIDR such as 203.0.113.0/24 "
        "(host bits must be zero).",
        "allowed_cidrs entry '10.0.0.1/8' is not an IPv4 CIDR such as 203.0.113.0/24 "
        "(host bits must be zero).",
    ]


def test_keys_that_are_not_settings_are_ignored() -> None:
    # CDK's feature flags and the CLI's own keys share the context with the settings
    context = cdk_context(**{"@aws-cdk/core:someFutureFlag": "anything", "cli-telemetry": 42})
    assert {key for key in context if key.startswith("@aws-cdk/")}
    assert settings_from_mapping(context) == settings_from_mapping(cdk_context())


def test_every_setting_has_its_value_in_cdk_json() -> None:
    # A new field without a default in cdk.json would fail every synth as "missing"
    assert set(Settings.model_fields) <= set(cdk_context())


def test_synth_fails_with_a_clear_message_not_a_traceback() -> None:
    context = json.dumps(cdk_context(batch_size=50, batching_window_seconds=0))
    # The virtualenv's Node.js first, as `make` runs it (an older system Node makes jsii
    # print an end-of-life banner before anything else).
    path = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    result = subprocess.run(
        [sys.executable, "app.py"],
        cwd=ROOT,
        env={**os.environ, "PATH": path, "CDK_CONTEXT_JSON": context},
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 1
    assert result.stderr.startswith("error: invalid settings")
    assert "Traceback" not in result.stderr


def test_an_unacknowledged_nag_finding_fails_synth(tmp_path) -> None:
    # Given the app with one insecure bucket added
    app = App(context=cdk_context(), outdir=str(tmp_path))
    build_app(app)
    stray = Stack(app, "Stray")
    s3.Bucket(stray, "Insecure")
    # When it synthesizes, Then cdk-nag's findings fail it
    with pytest.raises(Exception, match="AwsSolutions-S"):
        app.synth()


def test_dev_and_prod_synthesize_nag_clean(dev, prod) -> None:
    # The fixtures synthesize with cdk-nag, which raises on any unacknowledged finding;
    # the report it leaves in the assembly must list no failure either.
    for synthesized in (dev, prod):
        report = json.loads((Path(synthesized.app.outdir) / "validation-report.json").read_text())
        assert report["pluginReports"], "cdk-nag did not run"
        for plugin in report["pluginReports"]:
            assert plugin["conclusion"] == "success", plugin["violations"]


CERTIFICATE = "arn:aws:acm:us-east-1:111122223333:certificate/0f1e2d3c-aaaa-bbbb-cccc-123456789012"
AUTH = {
    "edge_auth_issuer": "https://issuer.example.com/",
    "edge_auth_audience": "orders-api",
    "edge_auth_jwks_url": "https://issuer.example.com/jwks.json",
}


def test_edge_enabled_unset_follows_the_stage_and_cli_strings_set_it() -> None:
    assert settings_from_mapping(cdk_context()).edge_on is False
    assert settings_from_mapping(cdk_context(stage="prod")).edge_on is True
    assert settings_from_mapping(cdk_context(stage="prod", edge_enabled="false")).edge_on is False
    assert settings_from_mapping(cdk_context(edge_enabled="true")).edge_on is True
    assert settings_from_mapping(cdk_context(stage="prod", edge_enabled="")).edge_on is True
    on = settings_from_mapping(
        cdk_context(edge_enabled="true", edge_domain_names="API.example.com,b.example.com",
                    edge_certificate_arn=CERTIFICATE, edge_auth_algorithms="RS256,RS384")
    )  # fmt: skip
    assert on.edge_domain_names == ("api.example.com", "b.example.com")
    assert on.edge_auth_algorithms == ("RS256", "RS384")


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        # a token check that would silently not happen: refused, with what to do
        ({"edge_auth_issuer": "https://i/", "edge_auth_audience": "a",
          "edge_auth_jwks_url": "https://i/j"}, "edge_auth_issuer need the edge"),
        ({"status_cache_seconds": 5}, "status_cache_seconds need the edge"),
        ({"edge_enabled": "true", "edge_auth_issuer": "https://i/"},
         "needs edge_auth_audience and edge_auth_jwks_url too"),
        ({"edge_enabled": "true", "edge_domain_names": ["api.example.com"]},
         "needs both edge_domain_names and edge_certificate_arn"),
        ({"stage": "prod", "certificate_arn": CERTIFICATE}, "unset certificate_arn"),
        ({"edge_certificate_arn": CERTIFICATE.replace("us-east-1", "eu-west-1")},
         "edge_certificate_arn="),
        ({"edge_auth_jwks_url": "http://issuer.example.com/jwks"}, "is not an https:// URL"),
        ({"edge_auth_algorithms": ["HS256"]}, "'HS256' is not one of: RS256, RS384, RS512"),
        ({"edge_auth_algorithms": []}, "edge_auth_algorithms is empty"),
        ({"edge_auth_required_scope": "two scopes"}, "is not one OAuth scope"),
        ({"edge_domain_names": ["not a domain"]}, "is not a domain name"),
        ({"edge_web_acl_arn": "arn:aws:wafv2:eu-west-1:111122223333:regional/webacl/a/b"},
         "CLOUDFRONT-scope"),
        ({"status_cache_seconds": 301}, "use 0..300"),
        ({"edge_enabled": "maybe"}, "is not true, false or unset"),
    ],
)  # fmt: skip
def test_edge_settings_that_cannot_work_fail_naming_the_key(
    overrides: dict[str, object], expected: str
) -> None:
    (problem,) = _problems(**overrides)
    assert expected in problem


def test_a_full_edge_configuration_is_valid() -> None:
    settings = settings_from_mapping(
        cdk_context(
            stage="prod", region="eu-west-1", edge_domain_names=["api.example.com"],
            edge_certificate_arn=CERTIFICATE, status_cache_seconds=5,
            edge_auth_required_scope="orders/write",
            edge_web_acl_arn="arn:aws:wafv2:us-east-1:111122223333:global/webacl/a/0f1e2d3c",
            **AUTH,
        )
    )  # fmt: skip
    assert settings.edge_on
    assert settings.edge_auth_issuer == AUTH["edge_auth_issuer"]


# --- the ledger's settings (issue 8) ----------------------------------------------------


def test_ledger_defaults() -> None:
    settings = settings_from_mapping(cdk_context())
    assert (settings.ledger_currency, settings.high_balance_threshold) == ("IDR", "1000000")
    assert settings.alert_email == ""
    assert settings.layer_share_account_ids == ()
    assert settings.files_timeout_seconds == 900
    assert settings.files_rule_name == "Orders-dev-order-files"


def test_ledger_cli_strings_are_coerced() -> None:
    settings = settings_from_mapping(
        cdk_context(
            high_balance_threshold=5000,  # a JSON integer is its digits
            layer_share_account_ids="111122223333, 444455556666",
            aggregator_batch_size="500",
        )
    )
    assert settings.high_balance_threshold == "5000"
    assert settings.layer_share_account_ids == ("111122223333", "444455556666")
    assert settings.aggregator_batch_size == 500


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        (
            {"ledger_currency": "idr"},
            "ledger_currency='idr' is not a currency code of three upper-case letters such as IDR.",
        ),
        (
            {"high_balance_threshold": 1000.5},
            "high_balance_threshold=1000.5 is not an exact amount: write it as a string of a "
            'plain decimal with at most 2 places, such as "1000000" or "2500.50".',
        ),
        (
            {"high_balance_threshold": "1e6"},
            "high_balance_threshold='1e6' is not an exact amount: write it as a string of a "
            'plain decimal with at most 2 places, such as "1000000" or "2500.50".',
        ),
        ({"files_timeout_seconds": 901}, "files_timeout_seconds=901 is out of range: use 60..900."),
        ({"file_writer_threads": 33}, "file_writer_threads=33 is out of range: use 1..32."),
        (
            {"aggregator_retry_attempts": -1},
            "aggregator_retry_attempts=-1 is out of range: use 0..10000.",
        ),
        (
            {"aggregator_max_record_age_seconds": 90_000},
            "aggregator_max_record_age_seconds=90000 is out of range: use 60..86400.",
        ),
        (
            {"aggregator_parallelization_factor": 11},
            "aggregator_parallelization_factor=11 is out of range: use 1..10.",
        ),
        (
            {"layer_share_account_ids": ["12345"]},
            "layer_share_account_ids entry '12345' is not a 12-digit AWS account id.",
        ),
        (
            {"layer_share_account_ids": ["111122223333", "111122223333"]},
            "layer_share_account_ids=['111122223333', '111122223333'] names an account more "
            "than once.",
        ),
        (
            {"alert_email": "ops"},
            "alert_email='ops' is not an e-mail address (or \"\" to leave it unset).",
        ),
    ],
)
def test_each_ledger_setting_says_what_to_use(overrides: dict[str, object], expected: str) -> None:
    assert _problems(**overrides) == [expected]


def test_a_stream_batch_over_ten_needs_a_window() -> None:
    # Lambda's rule for streams as for SQS (CreateEventSourceMapping, BatchSize)
    (problem,) = _problems(aggregator_batch_size=100, aggregator_batching_window_seconds=0)
    assert problem.startswith(
        "aggregator_batch_size=100 needs aggregator_batching_window_seconds >= 1"
    )
    assert settings_from_mapping(
        cdk_context(aggregator_batch_size=10, aggregator_batching_window_seconds=0)
    )


def test_the_iterator_age_alarm_fires_before_records_are_given_up() -> None:
    (problem,) = _problems(aggregator_max_record_age_seconds=600, iterator_age_alarm_seconds=600)
    assert problem.startswith(
        "iterator_age_alarm_seconds=600 must be below aggregator_max_record_age_seconds=600"
    )
