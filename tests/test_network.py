"""PrivateNetwork: private subnets only, PrivateLink endpoints, endpoint policies, on-prem links."""

from __future__ import annotations

import ipaddress
import json
from typing import Any

import pulumi
import pulumi_aws as aws
import pytest

from burst_platform.components.conventions import ComponentArgsError
from burst_platform.components.network import (
    DEFAULT_INTERFACE_ENDPOINTS,
    OnPremLink,
    PrivateNetwork,
    PrivateNetworkArgs,
    subnet_cidrs,
)
from tests.conftest import Run, of_type

ACCOUNT = "111122223333"


def network_args(**overrides: Any) -> PrivateNetworkArgs:
    values: dict[str, Any] = {
        "environment": "dev",
        "region": "eu-west-1",
        "account_id": ACCOUNT,
        "cidr_block": "10.64.0.0/16",
        "availability_zones": ["eu-west-1a", "eu-west-1b", "eu-west-1c"],
        "discovery_tag_value": "burst-dev-eu-west-1",
    }
    values.update(overrides)
    return PrivateNetworkArgs(**values)


def build(run: Run, args: PrivateNetworkArgs) -> list[Any]:
    def program() -> None:
        provider = aws.Provider("aws-eu-west-1", region="eu-west-1")
        PrivateNetwork("net", args, opts=pulumi.ResourceOptions(providers=[provider]))

    return run(program)


def test_private_subnets_in_every_zone_and_no_public_egress(run: Run) -> None:
    regs = build(run, network_args())
    subnets = of_type(regs, "aws:ec2/subnet:Subnet")
    assert {s.inputs["availabilityZone"] for s in subnets} == {
        "eu-west-1a",
        "eu-west-1b",
        "eu-west-1c",
    }
    assert all(s.inputs["mapPublicIpOnLaunch"] is False for s in subnets)
    assert all(s.inputs["tags"]["karpenter.sh/discovery"] == "burst-dev-eu-west-1" for s in subnets)
    types = {r.type for r in regs}
    assert "aws:ec2/internetGateway:InternetGateway" not in types
    assert "aws:ec2/natGateway:NatGateway" not in types
    assert "aws:ec2/eip:Eip" not in types


def test_subnet_cidrs_do_not_overlap_and_stay_inside_the_vpc() -> None:
    cidrs = [ipaddress.IPv4Network(c) for c in subnet_cidrs("10.64.0.0/16", 3)]
    assert len(cidrs) == 3
    assert all(c.subnet_of(ipaddress.IPv4Network("10.64.0.0/16")) for c in cidrs)
    assert not any(a.overlaps(b) for i, a in enumerate(cidrs) for b in cidrs[i + 1 :])


def test_endpoints_for_every_required_service_with_policies(run: Run) -> None:
    regs = build(run, network_args())
    endpoints = of_type(regs, "aws:ec2/vpcEndpoint:VpcEndpoint")
    interface = {
        e.inputs["serviceName"].removeprefix("com.amazonaws.eu-west-1.")
        for e in endpoints
        if e.inputs["vpcEndpointType"] == "Interface"
    }
    assert interface == set(DEFAULT_INTERFACE_ENDPOINTS)
    # Session Manager reaches nodes through these, with no SSH, bastion or internet route.
    assert {"ssm", "ssmmessages", "ec2messages"} <= interface
    gateway = [e for e in endpoints if e.inputs["vpcEndpointType"] == "Gateway"]
    assert [g.inputs["serviceName"] for g in gateway] == ["com.amazonaws.eu-west-1.s3"]
    statements = {s["Sid"]: s for s in json.loads(gateway[0].inputs["policy"])["Statement"]}
    assert statements["EcrImageLayers"] == {
        "Sid": "EcrImageLayers",
        "Effect": "Allow",
        "Principal": "*",
        "Action": "s3:GetObject",
        "Resource": "arn:aws:s3:::prod-eu-west-1-starport-layer-bucket/*",
    }  # ECR serves image layers from this AWS-owned bucket
    for endpoint in endpoints:
        policy = json.loads(endpoint.inputs["policy"])
        conditions = [
            s["Condition"]["StringEquals"]["aws:PrincipalAccount"]
            for s in policy["Statement"]
            if s["Sid"] != "EcrImageLayers"  # signed by ECR's account, scoped to its bucket
        ]
        assert conditions == [ACCOUNT]
    assert all(
        e.inputs["privateDnsEnabled"]
        for e in endpoints
        if e.inputs["vpcEndpointType"] == "Interface"
    )


def test_endpoint_security_group_admits_https_from_the_vpc_only(run: Run) -> None:
    regs = build(run, network_args())
    groups = {r.name: r for r in of_type(regs, "aws:ec2/securityGroup:SecurityGroup")}
    ingress = groups["net-endpoints"].inputs["ingress"]
    assert ingress == [
        {
            "cidrBlocks": ["10.64.0.0/16"],
            "description": "HTTPS from the VPC",
            "fromPort": 443,
            "protocol": "tcp",
            "toPort": 443,
        }
    ]
    node_egress = groups["net-nodes"].inputs["egress"]
    assert all("0.0.0.0/0" not in rule.get("cidrBlocks", []) for rule in node_egress)
    for group in groups.values():
        for rule in group.inputs.get("ingress", []):
            assert "0.0.0.0/0" not in rule.get("cidrBlocks", [])


def test_every_resource_is_tagged_and_uses_the_explicit_provider(run: Run) -> None:
    regs = build(run, network_args())
    component = next(r for r in regs if r.type == "burst:network:PrivateNetwork")
    for resource in regs:
        if not resource.custom or resource.type.startswith("pulumi:providers:"):
            continue
        assert resource.provider.startswith(
            "urn:pulumi:test::burst-platform::pulumi:providers:aws::"
        )
        assert resource.parent == component.urn
        tags = resource.inputs.get("tags")
        if tags is not None:
            assert tags["platform"] == "burst-platform"
            assert tags["environment"] == "dev"


def test_transit_gateway_link_routes_on_prem_cidrs(run: Run) -> None:
    link = OnPremLink(
        cidrs=["10.0.0.0/12", "172.16.0.0/16"], transit_gateway_id="tgw-0a1b2c3d4e5f60718"
    )
    regs = build(run, network_args(on_prem=link))
    attachments = of_type(regs, "aws:ec2transitgateway/vpcAttachment:VpcAttachment")
    assert [a.inputs["transitGatewayId"] for a in attachments] == ["tgw-0a1b2c3d4e5f60718"]
    routes = of_type(regs, "aws:ec2/route:Route")
    assert sorted(r.inputs["destinationCidrBlock"] for r in routes) == [
        "10.0.0.0/12",
        "172.16.0.0/16",
    ]
    assert not of_type(regs, "aws:ec2/vpnConnection:VpnConnection")
    groups = {r.name: r for r in of_type(regs, "aws:ec2/securityGroup:SecurityGroup")}
    egress_cidrs = [
        c for rule in groups["net-nodes"].inputs["egress"] for c in rule.get("cidrBlocks", [])
    ]
    assert "10.0.0.0/12" in egress_cidrs


@pytest.mark.parametrize("static", [True, False])
def test_vpn_link(run: Run, static: bool) -> None:
    link = OnPremLink(
        cidrs=["192.168.0.0/16"], customer_gateway_ip="203.0.113.10", static_routes_only=static
    )
    regs = build(run, network_args(on_prem=link))
    (gateway,) = of_type(regs, "aws:ec2/customerGateway:CustomerGateway")
    assert gateway.inputs["ipAddress"] == "203.0.113.10"
    (connection,) = of_type(regs, "aws:ec2/vpnConnection:VpnConnection")
    assert connection.inputs["staticRoutesOnly"] is static
    assert len(of_type(regs, "aws:ec2/vpnConnectionRoute:VpnConnectionRoute")) == (
        1 if static else 0
    )
    assert of_type(regs, "aws:ec2/vpnGatewayRoutePropagation:VpnGatewayRoutePropagation")


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"availability_zones": ["eu-west-1a"]}, "availability_zones"),
        ({"availability_zones": ["eu-west-1a", "us-east-1b"]}, "availability_zones[1]"),
        ({"cidr_block": "10.64.0.0/24"}, "cidr_block"),
        ({"cidr_block": "not-a-cidr"}, "cidr_block"),
        ({"account_id": "12345"}, "account_id"),
        ({"region": "europe"}, "region"),
        ({"interface_endpoints": ("ec2", "sts")}, "interface_endpoints"),
        (
            {
                "on_prem": OnPremLink(
                    cidrs=["10.64.1.0/24"], transit_gateway_id="tgw-0a1b2c3d4e5f60718"
                )
            },
            "on_prem.cidrs[0]",
        ),
        ({"on_prem": OnPremLink(cidrs=["10.0.0.0/12"])}, "on_prem"),
        (
            {
                "on_prem": OnPremLink(
                    cidrs=["10.0.0.0/12"],
                    transit_gateway_id="tgw-0a1b2c3d4e5f60718",
                    customer_gateway_ip="203.0.113.1",
                )
            },
            "on_prem",
        ),
        (
            {"on_prem": OnPremLink(cidrs=["10.0.0.0/12"], customer_gateway_ip="nope")},
            "on_prem.customer_gateway_ip",
        ),
    ],
)
def test_bad_arguments_name_the_field(overrides: dict[str, Any], field: str) -> None:
    with pytest.raises(ComponentArgsError) as error:
        network_args(**overrides)
    assert error.value.field == field


def test_on_prem_dns_reaches_the_private_endpoint_names_through_an_inbound_resolver(
    run: Run,
) -> None:
    """`pulumi up` runs on-prem, and the cluster's private endpoint name resolves only inside the
    VPC: an inbound Resolver endpoint in every private subnet answers on-prem DNS."""
    link = OnPremLink(cidrs=["192.168.0.0/16"], transit_gateway_id="tgw-0123456789abcdef0")
    regs = build(run, network_args(on_prem=link))
    (resolver,) = of_type(regs, "aws:route53/resolverEndpoint:ResolverEndpoint")
    assert resolver.inputs["direction"] == "INBOUND"
    subnets = {s.urn for s in of_type(regs, "aws:ec2/subnet:Subnet")}
    assert set(resolver.property_dependencies["ipAddresses"]) == subnets and len(subnets) >= 2
    groups = {g.name: g for g in of_type(regs, "aws:ec2/securityGroup:SecurityGroup")}
    dns = groups["net-dns-inbound"].inputs
    assert sorted(
        (r["protocol"], r["fromPort"], tuple(r["cidrBlocks"])) for r in dns["ingress"]
    ) == [
        ("tcp", 53, ("192.168.0.0/16",)),
        ("udp", 53, ("192.168.0.0/16",)),
    ]
    assert dns["egress"] == []
    assert not of_type(build(run, network_args()), "aws:route53/resolverEndpoint:ResolverEndpoint")
