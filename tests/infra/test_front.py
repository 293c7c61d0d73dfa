"""The edge front (stacks/front.py) as the app builds it: prod in us-east-1, and prod in
eu-west-1 with every edge option (where the Lambda@Edge function needs a us-east-1 stack
of its own), with cdk-nag on."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from lambdas.edge.viewer_request.edge_config import CONFIG_FILE, parse_config
from lambdas.edge.viewer_request.gate import EDGE_HEADERS
from lambdas.edge.viewer_request.refusal import SECURITY_HEADERS
from stacks.front import (
    ORIGIN_FACING_PREFIX_LIST,
    REQUEST_ID_HEADER,
    SUBJECT_HEADER,
    VIEWER_IP_HEADER,
)
from tests.infra.conftest import (
    FRONT_AUTH,
    FRONT_CERTIFICATE,
    Front,
    Synthesized,
    only,
    resources,
    synth,
)

CACHING_DISABLED = "4135ea2d-6df8-44a3-9df3-4b5a84be39ad"  # AWS's managed policy id
STATUS_PATTERN = "/lambda/api/orders/*"


@pytest.fixture(params=["us-east-1", "eu-west-1"])
def front(
    request: pytest.FixtureRequest,
    front_us_east_1: Front,
    front_eu_west_1: Front,
) -> Front:
    return {"us-east-1": front_us_east_1, "eu-west-1": front_eu_west_1}[request.param]


def _distribution(front: Front) -> dict[str, Any]:
    config: dict[str, Any] = only(front.compute, "AWS::CloudFront::Distribution")["Properties"][
        "DistributionConfig"
    ]
    return config


def _behaviors(front: Front) -> dict[str, dict[str, Any]]:
    config = _distribution(front)
    found = {"default": config["DefaultCacheBehavior"]}
    found.update({b["PathPattern"]: b for b in config.get("CacheBehaviors", [])})
    return found


def _edge_function(front: Front) -> dict[str, Any]:
    functions = [
        f["Properties"]
        for f in resources(front.function_template, "AWS::Lambda::Function").values()
        if f["Properties"].get("FunctionName", "").endswith("-viewer-request")
    ]
    assert len(functions) == 1
    return functions[0]


def test_both_regions_synthesize_nag_clean(front: Front) -> None:
    report = json.loads((front.outdir / "validation-report.json").read_text())
    assert report["pluginReports"], "cdk-nag did not run"
    for plugin in report["pluginReports"]:
        assert plugin["conclusion"] == "success", plugin["violations"]


def test_the_only_origin_is_the_alb_through_a_vpc_origin(front: Front) -> None:
    vpc_origin = only(front.compute, "AWS::CloudFront::VpcOrigin")["Properties"]
    (alb_id,) = resources(front.compute, "AWS::ElasticLoadBalancingV2::LoadBalancer")
    endpoint = vpc_origin["VpcOriginEndpointConfig"]
    assert endpoint["Arn"] == {"Ref": alb_id}
    assert (endpoint["OriginProtocolPolicy"], endpoint["HTTPPort"]) == ("http-only", 80)
    (origin,) = _distribution(front)["Origins"]
    assert origin["DomainName"] == {"Fn::GetAtt": [alb_id, "DNSName"]}
    (vpc_origin_id,) = resources(front.compute, "AWS::CloudFront::VpcOrigin")
    assert origin["VpcOriginConfig"]["VpcOriginId"] == {"Fn::GetAtt": [vpc_origin_id, "Id"]}
    assert "CustomOriginConfig" not in origin  # never the ALB over the internet
    alb = only(front.compute, "AWS::ElasticLoadBalancingV2::LoadBalancer")["Properties"]
    assert alb["Scheme"] == "internal"


def test_viewers_get_https_only_and_modern_http(front: Front) -> None:
    config = _distribution(front)
    for behavior in _behaviors(front).values():
        assert behavior["ViewerProtocolPolicy"] == "https-only"
    assert config["HttpVersion"] == "http2and3"
    assert config["PriceClass"] == "PriceClass_100"


def test_cloudfronts_certificate_by_default_a_custom_domain_when_set(
    front_us_east_1: Front, front_eu_west_1: Front
) -> None:
    default = _distribution(front_us_east_1)
    assert "Aliases" not in default
    assert "ViewerCertificate" not in default  # *.cloudfront.net
    custom = _distribution(front_eu_west_1)
    assert custom["Aliases"] == ["api.example.com"]
    assert custom["ViewerCertificate"] == {
        "AcmCertificateArn": FRONT_CERTIFICATE,
        "MinimumProtocolVersion": "TLSv1.2_2021",
        "SslSupportMethod": "sni-only",
    }


def test_nothing_is_cached_unless_status_caching_is_set(
    front_us_east_1: Front, front_eu_west_1: Front
) -> None:
    for front in (front_us_east_1, front_eu_west_1):
        behaviors = _behaviors(front)
        assert set(behaviors) == {"default", STATUS_PATTERN}
        # POST (the default behavior) is never cached: CachingDisabled, and CloudFront
        # only ever caches the GET/HEAD answers the cached methods name.
        assert behaviors["default"]["CachePolicyId"] == CACHING_DISABLED
        for behavior in behaviors.values():
            assert behavior["CachedMethods"] == ["GET", "HEAD"]
            assert set(behavior["AllowedMethods"]) >= {"POST", "GET", "HEAD", "PUT", "DELETE"}
        # errors are never kept (CloudFront's default would keep a 404 for 10 s)
        errors = _distribution(front)["CustomErrorResponses"]
        assert {e["ErrorCode"] for e in errors} >= {404, 405, 500, 502, 503, 504}
        assert all(e == {"ErrorCode": e["ErrorCode"], "ErrorCachingMinTTL": 0} for e in errors)
    assert _behaviors(front_us_east_1)[STATUS_PATTERN]["CachePolicyId"] == CACHING_DISABLED
    assert resources(front_us_east_1.compute, "AWS::CloudFront::CachePolicy") == {}


def test_status_reads_get_a_short_ttl_keyed_on_version_only(
    front_eu_west_1: Front,
) -> None:
    (policy_id,) = resources(front_eu_west_1.compute, "AWS::CloudFront::CachePolicy")
    assert _behaviors(front_eu_west_1)[STATUS_PATTERN]["CachePolicyId"] == {"Ref": policy_id}
    config = only(front_eu_west_1.compute, "AWS::CloudFront::CachePolicy")["Properties"][
        "CachePolicyConfig"
    ]
    assert (config["MinTTL"], config["DefaultTTL"], config["MaxTTL"]) == (0, 5, 5)
    key = config["ParametersInCacheKeyAndForwardedToOrigin"]
    assert key["QueryStringsConfig"] == {
        "QueryStringBehavior": "whitelist",
        "QueryStrings": ["version"],
    }
    assert key["HeadersConfig"] == {"HeaderBehavior": "none"}
    assert key["CookiesConfig"] == {"CookieBehavior": "none"}


def test_the_origin_gets_only_what_the_api_reads(front: Front) -> None:
    (policy_id,) = resources(front.compute, "AWS::CloudFront::OriginRequestPolicy")
    config = only(front.compute, "AWS::CloudFront::OriginRequestPolicy")["Properties"][
        "OriginRequestPolicyConfig"
    ]
    assert config["HeadersConfig"] == {
        "HeaderBehavior": "whitelist",
        "Headers": ["content-type", "x-request-id", "x-auth-subject", "x-viewer-ip"],
    }
    assert set(EDGE_HEADERS) <= set(config["HeadersConfig"]["Headers"])  # what the edge adds
    assert config["QueryStringsConfig"] == {"QueryStringBehavior": "all"}
    assert config["CookiesConfig"] == {"CookieBehavior": "none"}
    for behavior in _behaviors(front).values():
        assert behavior["OriginRequestPolicyId"] == {"Ref": policy_id}


def test_every_answer_gets_the_security_headers_the_edge_function_also_sets(
    front: Front,
) -> None:
    (policy_id,) = resources(front.compute, "AWS::CloudFront::ResponseHeadersPolicy")
    config = only(front.compute, "AWS::CloudFront::ResponseHeadersPolicy")["Properties"][
        "ResponseHeadersPolicyConfig"
    ]
    security = config["SecurityHeadersConfig"]
    for behavior in _behaviors(front).values():
        assert behavior["ResponseHeadersPolicyId"] == {"Ref": policy_id}
    hsts = security["StrictTransportSecurity"]
    rendered = {
        "Strict-Transport-Security": (
            f"max-age={hsts['AccessControlMaxAgeSec']}"
            + ("; includeSubDomains" if hsts["IncludeSubdomains"] else "")
        ),
        "X-Content-Type-Options": "nosniff" if "ContentTypeOptions" in security else None,
        "Referrer-Policy": security["ReferrerPolicy"]["ReferrerPolicy"],
        "Content-Security-Policy": security["ContentSecurityPolicy"]["ContentSecurityPolicy"],
        "X-Frame-Options": security["FrameOptions"]["FrameOption"],
    }
    assert rendered == dict(SECURITY_HEADERS)
    assert hsts["AccessControlMaxAgeSec"] >= 31_536_000
    for header in security.values():
        assert header["Override"] is True


def test_the_edge_function_is_what_lambda_at_edge_allows(front: Front) -> None:
    function = _edge_function(front)
    assert function["Runtime"] == "python3.14"
    assert function["Architectures"] == ["x86_64"]
    assert (function["MemorySize"], function["Timeout"]) == (128, 5)
    assert function["Handler"] == "handler.lambda_handler"
    for absent in ("Environment", "Layers", "VpcConfig", "TracingConfig", "DeadLetterConfig"):
        assert absent not in function
    role_id = function["Role"]["Fn::GetAtt"][0]
    role = front.function_template["Resources"][role_id]["Properties"]
    principals: set[str] = set()
    for statement in role["AssumeRolePolicyDocument"]["Statement"]:
        service = statement["Principal"]["Service"]
        principals.update([service] if isinstance(service, str) else service)
    assert principals == {"lambda.amazonaws.com", "edgelambda.amazonaws.com"}
    assert "ManagedPolicyArns" not in role
    (policy,) = [s for p in role["Policies"] for s in p["PolicyDocument"]["Statement"]]
    assert policy["Action"] == [
        "logs:CreateLogGroup",
        "logs:CreateLogStream",
        "logs:PutLogEvents",
    ]
    name = function["FunctionName"]
    assert policy["Resource"]["Fn::Join"][1][-1].endswith(
        f":log-group:/aws/lambda/us-east-1.{name}:*"
    )
    group_id = function["LoggingConfig"]["LogGroup"]["Ref"]
    group = front.function_template["Resources"][group_id]["Properties"]
    assert group["LogGroupName"] == f"/aws/lambda/us-east-1.{name}"
    assert group["RetentionInDays"] == 30


def test_the_edge_function_runs_at_viewer_request_on_every_behavior(
    front: Front,
) -> None:
    for behavior in _behaviors(front).values():
        (association,) = behavior["LambdaFunctionAssociations"]
        assert association["EventType"] == "viewer-request"
        assert "IncludeBody" not in association  # headers are enough; the body stays put


def test_in_us_east_1_the_function_sits_beside_the_distribution(
    front_us_east_1: Front,
) -> None:
    assert set(front_us_east_1.templates) == {
        "Orders-prod-Network",
        "Orders-prod-Data",
        "Orders-prod-Queue",
        "Orders-prod-Compute",
    }
    (version_id,) = resources(front_us_east_1.compute, "AWS::Lambda::Version")
    association = _behaviors(front_us_east_1)["default"]["LambdaFunctionAssociations"][0]
    assert association["LambdaFunctionARN"] == {"Ref": version_id}


def test_elsewhere_the_function_gets_its_own_us_east_1_stack(
    front_eu_west_1: Front,
) -> None:
    stacks = {artifact.stack_name: artifact for artifact in front_eu_west_1.assembly.stacks}
    assert "Orders-prod-Edge" in stacks
    assert stacks["Orders-prod-Edge"].environment.region == "us-east-1"
    for name in ("Network", "Data", "Queue", "Compute"):
        assert stacks[f"Orders-prod-{name}"].environment.region == "eu-west-1"
    assert "Orders-prod-Edge" in {d.id for d in stacks["Orders-prod-Compute"].dependencies}
    assert resources(front_eu_west_1.compute, "AWS::Lambda::Version") == {}
    (reader_id,) = resources(front_eu_west_1.compute, "Custom::CrossRegionStringParameterReader")
    association = _behaviors(front_eu_west_1)["default"]["LambdaFunctionAssociations"][0]
    assert association["LambdaFunctionARN"] == {"Fn::GetAtt": [reader_id, "FunctionArn"]}


def test_the_alb_admits_only_cloudfronts_origin_facing_servers(front: Front) -> None:
    groups = resources(front.network, "AWS::EC2::SecurityGroup")
    ((alb_group_id, alb_group),) = [
        (k, v) for k, v in groups.items()
        if v["Properties"]["GroupDescription"].startswith("Load balancer")
    ]  # fmt: skip
    assert "SecurityGroupIngress" not in alb_group["Properties"]  # no allowed_cidrs
    assert not [
        rule for rule in resources(front.network, "AWS::EC2::SecurityGroupIngress").values()
        if rule["Properties"]["GroupId"] == {"Fn::GetAtt": [alb_group_id, "GroupId"]}
    ]  # fmt: skip
    ingress = only(front.compute, "AWS::EC2::SecurityGroupIngress")["Properties"]
    (lookup_id,) = resources(front.compute, "Custom::ManagedPrefixListId")
    assert ingress["SourcePrefixListId"] == {"Fn::GetAtt": [lookup_id, "PrefixListId"]}
    assert (ingress["IpProtocol"], ingress["FromPort"], ingress["ToPort"]) == ("tcp", 80, 80)
    assert alb_group_id in json.dumps(ingress["GroupId"])  # the network stack's ALB group
    assert "Fn::ImportValue" in json.dumps(ingress["GroupId"])
    assert not {"CidrIp", "CidrIpv6", "SourceSecurityGroupId"} & set(ingress)
    # EC2's character set for rule descriptions (cfn-lint does not check it)
    assert re.match(r"^[a-zA-Z0-9. _\-:/()#,@\[\]+=&;{}!$*]*$", ingress["Description"])
    lookup = only(front.compute, "Custom::ManagedPrefixListId")["Properties"]
    assert lookup["PrefixListName"] == ORIGIN_FACING_PREFIX_LIST
    # and the ALB itself: internal, in the private subnets, HTTP:80 for the VPC origin only
    alb = only(front.compute, "AWS::ElasticLoadBalancingV2::LoadBalancer")["Properties"]
    assert alb["Scheme"] == "internal"
    listener = only(front.compute, "AWS::ElasticLoadBalancingV2::Listener")["Properties"]
    assert (listener["Port"], listener["Protocol"]) == (80, "HTTP")


def test_the_prefix_list_lookup_may_only_describe_prefix_lists(front: Front) -> None:
    (lookup,) = [
        f["Properties"]
        for f in resources(front.compute, "AWS::Lambda::Function").values()
        if str(f["Properties"].get("Description")).startswith("deploy-time")
    ]
    role = front.compute["Resources"][lookup["Role"]["Fn::GetAtt"][0]]["Properties"]
    statements = [s for p in role["Policies"] for s in p["PolicyDocument"]["Statement"]]
    actions = {json.dumps(s["Action"]): s["Resource"] for s in statements}
    assert actions['"ec2:DescribeManagedPrefixLists"'] == "*"
    assert set(actions) == {
        '"ec2:DescribeManagedPrefixLists"',
        '["logs:CreateLogStream", "logs:PutLogEvents"]',
    }
    assert "VpcConfig" not in lookup  # it calls the EC2 API; the VPC has no way out


def test_access_logs_go_to_a_private_encrypted_expiring_bucket(front: Front) -> None:
    logging = _distribution(front)["Logging"]
    bucket_id = logging["Bucket"]["Fn::GetAtt"][0]
    assert logging == {
        "Bucket": {"Fn::GetAtt": [bucket_id, "RegionalDomainName"]},
        "Prefix": "cloudfront/",
    }
    bucket = front.compute["Resources"][bucket_id]["Properties"]
    assert bucket["OwnershipControls"] == {"Rules": [{"ObjectOwnership": "ObjectWriter"}]}
    assert bucket["PublicAccessBlockConfiguration"]["BlockPublicAcls"] is True
    assert bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"] == [
        {"ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}
    ]
    (rule,) = bucket["LifecycleConfiguration"]["Rules"]
    assert rule["ExpirationInDays"] == 90
    assert front.compute["Resources"][bucket_id]["DeletionPolicy"] == "Retain"  # prod


def _asset_dir(front: Front) -> Path:
    code = _edge_function(front)["Code"]
    key = code["S3Key"]
    (directory,) = [p for p in front.outdir.glob("asset.*") if key.startswith(p.name[6:])]
    return directory


def test_the_edge_package_carries_its_config_and_nothing_else(
    front_us_east_1: Front, front_eu_west_1: Front
) -> None:
    plain = _asset_dir(front_us_east_1)
    names = {p.name for p in plain.iterdir()}
    assert {"handler.py", "gate.py", "tokens.py", CONFIG_FILE} <= names
    assert "__init__.py" not in names
    assert not [n for n in names if n.endswith(".pyc") or n == "__pycache__"]
    assert parse_config(json.loads((plain / CONFIG_FILE).read_text())).auth is None
    auth = parse_config(json.loads((_asset_dir(front_eu_west_1) / CONFIG_FILE).read_text())).auth
    assert auth is not None  # what the construct wrote is what the function reads
    assert (auth.issuer, auth.audience, auth.jwks_url) == (
        FRONT_AUTH.issuer,
        FRONT_AUTH.audience,
        FRONT_AUTH.jwks_url,
    )
    assert auth.algorithms == frozenset(FRONT_AUTH.algorithms)
    assert auth.required_scope == FRONT_AUTH.required_scope


def test_the_url_is_the_distribution_or_the_custom_domain(
    front_us_east_1: Front, front_eu_west_1: Front
) -> None:
    assert front_eu_west_1.stack.front is not None
    assert front_us_east_1.stack.front is not None
    assert front_eu_west_1.stack.front.url == "https://api.example.com/lambda/api"
    url = front_us_east_1.stack.resolve(front_us_east_1.stack.front.url)
    (distribution_id,) = resources(front_us_east_1.compute, "AWS::CloudFront::Distribution")
    assert url == {
        "Fn::Join": [
            "",
            ["https://", {"Fn::GetAtt": [distribution_id, "DomainName"]}, "/lambda/api"],
        ]
    }


def test_the_edge_asset_hash_is_stable_across_synths(
    front_us_east_1: Front, tmp_path: Path
) -> None:
    again = Front(Synthesized(synth(tmp_path, stage="prod")))
    assert _edge_function(again)["Code"] == _edge_function(front_us_east_1)["Code"]


def test_api_url_is_the_distribution_and_load_balancer_url_the_alb(
    front_us_east_1: Front, dev: Synthesized
) -> None:
    outputs = front_us_east_1.compute["Outputs"]
    (distribution_id,) = resources(front_us_east_1.compute, "AWS::CloudFront::Distribution")
    (alb_id,) = resources(front_us_east_1.compute, "AWS::ElasticLoadBalancingV2::LoadBalancer")
    assert outputs["ApiUrl"]["Value"]["Fn::Join"][1] == [
        "https://",
        {"Fn::GetAtt": [distribution_id, "DomainName"]},
        "/lambda/api",
    ]
    assert outputs["LoadBalancerUrl"]["Value"]["Fn::Join"][1] == [
        "http://",
        {"Fn::GetAtt": [alb_id, "DNSName"]},
        "/lambda/api",
    ]
    # without the edge both are the ALB's, as before
    dev_outputs = dev.json("Compute")["Outputs"]
    assert dev_outputs["ApiUrl"]["Value"] == dev_outputs["LoadBalancerUrl"]["Value"]


def test_the_functions_behind_the_alb_are_told_whether_the_edge_is_there(
    front_us_east_1: Front, dev: Synthesized
) -> None:
    def edge_flags(template: dict[str, Any]) -> dict[str, str]:
        return {
            f["Properties"]["Environment"]["Variables"]["POWERTOOLS_SERVICE_NAME"]: f["Properties"][
                "Environment"
            ]["Variables"]["EDGE_ENABLED"]
            for f in resources(template, "AWS::Lambda::Function").values()
            if "EDGE_ENABLED" in f["Properties"].get("Environment", {}).get("Variables", {})
        }

    # only the HTTP functions read the edge's headers; process never sees a request
    assert edge_flags(front_us_east_1.compute) == {
        "orders-ingest": "true",
        "orders-status": "true",
    }
    assert edge_flags(dev.json("Compute")) == {"orders-ingest": "false", "orders-status": "false"}


def test_the_web_acl_counts_requests_by_the_viewer_address_the_edge_passes_on(
    front_eu_west_1: Front,
) -> None:
    acl = only(front_eu_west_1.compute, "AWS::WAFv2::WebACL")["Properties"]
    (rate,) = [rule for rule in acl["Rules"] if rule["Name"] == "rate-limit-per-ip"]
    statement = rate["Statement"]["RateBasedStatement"]
    assert statement["AggregateKeyType"] == "FORWARDED_IP"
    assert statement["ForwardedIPConfig"] == {
        "HeaderName": VIEWER_IP_HEADER,
        "FallbackBehavior": "MATCH",
    }
    assert VIEWER_IP_HEADER in EDGE_HEADERS  # set by the edge function, never by a viewer


def test_the_stack_and_the_edge_function_name_the_edge_headers_alike() -> None:
    assert (REQUEST_ID_HEADER, SUBJECT_HEADER, VIEWER_IP_HEADER) == EDGE_HEADERS


@pytest.mark.parametrize(
    ("overrides", "edge"),
    [
        ({}, False),
        ({"stage": "prod"}, True),
        ({"stage": "prod", "edge_enabled": "false"}, False),
        ({"edge_enabled": "true"}, True),
    ],
)
def test_edge_enabled_unset_means_on_in_prod_only(
    synth_with: Any, overrides: dict[str, Any], edge: bool
) -> None:
    synthesized = synth_with(**overrides)
    compute, network = synthesized.json("Compute"), synthesized.json("Network")
    assert bool(resources(compute, "AWS::CloudFront::Distribution")) is edge
    alb = only(compute, "AWS::ElasticLoadBalancingV2::LoadBalancer")["Properties"]
    assert alb["Scheme"] == ("internal" if edge else "internet-facing")
    alb_group = next(
        g["Properties"]
        for g in resources(network, "AWS::EC2::SecurityGroup").values()
        if g["Properties"]["GroupDescription"].startswith("Load balancer")
    )
    # the CIDR rules only without the edge; with it, only CloudFront's prefix list
    assert ("SecurityGroupIngress" in alb_group) is not edge
