"""Network stack: two AZs, no NAT, endpoints, security groups that say exactly what flows."""

from __future__ import annotations

from aws_cdk.assertions import Match

from tests.infra.conftest import Synthesized, only, resources


def test_vpc_spans_two_azs_with_two_public_and_two_private_subnets(dev: Synthesized) -> None:
    template = dev.json("Network")
    subnets = resources(template, "AWS::EC2::Subnet")
    public = [s for s in subnets.values() if s["Properties"]["MapPublicIpOnLaunch"]]
    private = [s for s in subnets.values() if not s["Properties"]["MapPublicIpOnLaunch"]]
    assert len(public) == 2
    assert len(private) == 2
    azs = {str(s["Properties"]["AvailabilityZone"]) for s in subnets.values()}
    assert len(azs) == 2
    assert only(template, "AWS::EC2::VPC")["Properties"]["CidrBlock"] == "10.20.0.0/16"


def test_no_nat_and_private_route_tables_reach_nothing_but_the_gateway_endpoint(
    dev: Synthesized,
) -> None:
    template = dev.json("Network")
    assert resources(template, "AWS::EC2::NatGateway") == {}
    assert len(resources(template, "AWS::EC2::InternetGateway")) == 1
    # one route table per subnet; only the public ones have a default route (to the IGW)
    assert len(resources(template, "AWS::EC2::RouteTable")) == 4
    routes = resources(template, "AWS::EC2::Route").values()
    assert len(routes) == 2
    for route in routes:
        assert route["Properties"]["DestinationCidrBlock"] == "0.0.0.0/0"
        assert "GatewayId" in route["Properties"]
        assert "NatGatewayId" not in route["Properties"]


def test_sqs_interface_and_dynamodb_and_s3_gateway_endpoints(dev: Synthesized) -> None:
    endpoints = resources(dev.json("Network"), "AWS::EC2::VPCEndpoint").values()
    interfaces = [
        e["Properties"] for e in endpoints if e["Properties"]["VpcEndpointType"] == "Interface"
    ]
    gateways = {
        e["Properties"]["ServiceName"]["Fn::Join"][1][-1]: e["Properties"]
        for e in endpoints
        if e["Properties"]["VpcEndpointType"] == "Gateway"
    }
    (interface,) = interfaces  # dev: the large-file path (and its endpoints) is off
    assert interface["ServiceName"] == "com.amazonaws.us-east-1.sqs"
    assert interface["PrivateDnsEnabled"] is True
    assert len(interface["SubnetIds"]) == 2
    assert len(interface["SecurityGroupIds"]) == 1
    # free: the large-file task's files and image layers, DynamoDB for every writer
    assert set(gateways) == {".dynamodb", ".s3"}
    for gateway in gateways.values():
        # attached to both private route tables
        assert len(gateway["RouteTableIds"]) == 2


def test_large_files_add_ecr_and_logs_endpoints_and_a_task_group(prod: Synthesized) -> None:
    template = prod.json("Network")
    endpoints = resources(template, "AWS::EC2::VPCEndpoint").values()
    interfaces = {
        e["Properties"]["ServiceName"]: e["Properties"]
        for e in endpoints
        if e["Properties"]["VpcEndpointType"] == "Interface"
    }
    assert set(interfaces) == {
        f"com.amazonaws.us-east-1.{name}" for name in ("sqs", "ecr.api", "ecr.dkr", "logs")
    }
    for endpoint in interfaces.values():
        assert endpoint["PrivateDnsEnabled"] is True
        assert len(endpoint["SubnetIds"]) == 2  # the private subnets of both AZs
    groups = resources(template, "AWS::EC2::SecurityGroup")
    ((task_id, task_group),) = (
        (k, g) for k, g in groups.items() if k.startswith("LargeFilesSecurityGroup")
    )
    assert "SecurityGroupIngress" not in task_group["Properties"]
    egress = task_group["Properties"]["SecurityGroupEgress"]
    assert {(rule["FromPort"], rule["ToPort"]) for rule in egress} == {(443, 443)}
    # the endpoints admit the task, on 443 only
    ingress = [
        r["Properties"]
        for r in resources(template, "AWS::EC2::SecurityGroupIngress").values()
        if r["Properties"].get("SourceSecurityGroupId", {}).get("Fn::GetAtt", [""])[0] == task_id
    ]
    assert [(rule["FromPort"], rule["ToPort"]) for rule in ingress] == [(443, 443)]
    assert resources(template, "AWS::EC2::NatGateway") == {}


def test_alb_security_group_admits_only_80_and_443_from_allowed_cidrs(
    synth_with,
) -> None:
    synthesized = synth_with(allowed_cidrs=["203.0.113.0/24", "198.51.100.0/24"])
    dev = synthesized.template("Network")
    dev.has_resource_properties(
        "AWS::EC2::SecurityGroup",
        {
            "GroupDescription": Match.string_like_regexp("Load balancer"),
            "SecurityGroupIngress": [
                {"CidrIp": "203.0.113.0/24", "FromPort": 80, "ToPort": 80, "IpProtocol": "tcp",
                 "Description": Match.any_value()},
                {"CidrIp": "203.0.113.0/24", "FromPort": 443, "ToPort": 443, "IpProtocol": "tcp",
                 "Description": Match.any_value()},
                {"CidrIp": "198.51.100.0/24", "FromPort": 80, "ToPort": 80, "IpProtocol": "tcp",
                 "Description": Match.any_value()},
                {"CidrIp": "198.51.100.0/24", "FromPort": 443, "ToPort": 443, "IpProtocol": "tcp",
                 "Description": Match.any_value()},
            ],
        },
    )  # fmt: skip


def test_lambda_security_group_has_no_ingress_and_only_https_egress(dev: Synthesized) -> None:
    template = dev.json("Network")
    groups = resources(template, "AWS::EC2::SecurityGroup")
    ((lambda_id, lambda_group),) = (
        (k, v) for k, v in groups.items()
        if v["Properties"]["GroupDescription"].startswith("Lambdas")
    )  # fmt: skip
    assert "SecurityGroupIngress" not in lambda_group["Properties"]
    ingress_to_lambda = [
        r for r in resources(template, "AWS::EC2::SecurityGroupIngress").values()
        if r["Properties"]["GroupId"] == {"Fn::GetAtt": [lambda_id, "GroupId"]}
    ]  # fmt: skip
    assert ingress_to_lambda == []
    egress = list(lambda_group["Properties"]["SecurityGroupEgress"])
    egress += [
        r["Properties"] for r in resources(template, "AWS::EC2::SecurityGroupEgress").values()
        if r["Properties"]["GroupId"] == {"Fn::GetAtt": [lambda_id, "GroupId"]}
    ]  # fmt: skip
    assert egress, "the Lambdas must reach the endpoints"
    for rule in egress:
        assert (rule["IpProtocol"], rule["FromPort"], rule["ToPort"]) == ("tcp", 443, 443)


def test_endpoint_security_group_admits_https_from_the_lambdas_only(dev: Synthesized) -> None:
    template = dev.json("Network")
    rules = list(resources(template, "AWS::EC2::SecurityGroupIngress").values())
    assert len(rules) == 1
    rule = rules[0]["Properties"]
    assert (rule["FromPort"], rule["ToPort"]) == (443, 443)
    assert "SourceSecurityGroupId" in rule


def test_flow_logs_with_retention(dev: Synthesized) -> None:
    template = dev.template("Network")
    template.resource_count_is("AWS::EC2::FlowLog", 1)
    template.has_resource_properties("AWS::Logs::LogGroup", {"RetentionInDays": 30})
