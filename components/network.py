"""Private-only network for a burst region: no internet gateway, no NAT, AWS APIs over PrivateLink.

Burst nodes reach AWS (EC2, ECR, STS, SQS, SSM, EKS, logs) through interface endpoints and S3
through a gateway endpoint, so training data and credentials never cross the internet and there is
no NAT bill. An optional link (Transit Gateway attachment or site-to-site VPN) connects the VPC to
on-prem, where the latency-critical systems stay.
"""

from __future__ import annotations

import ipaddress
import json
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from burst_platform.components.conventions import (
    DISCOVERY_TAG,
    ComponentArgsError,
    platform_tags,
    require_account_id,
    require_name,
    require_non_empty,
    require_region,
)

DEFAULT_INTERFACE_ENDPOINTS: tuple[str, ...] = (
    "ec2",
    "ecr.api",
    "ecr.dkr",
    "sts",
    "sqs",
    "ssm",
    "ssmmessages",
    "ec2messages",
    "eks",
    "eks-auth",
    "logs",
)
"""AWS services a private EKS cluster with Karpenter and Pod Identity calls from inside the VPC;
`ssmmessages` and `ec2messages` carry Session Manager, so nodes are reachable for debugging with
no SSH and no bastion (the nodes' role carries AmazonSSMManagedInstanceCore)."""

REQUIRED_INTERFACE_ENDPOINTS = frozenset(
    {"ec2", "ecr.api", "ecr.dkr", "sts", "sqs", "ssm", "eks", "logs"}
)

_TGW_ID = re.compile(r"^tgw-[0-9a-f]{8,17}$")


@dataclass(frozen=True)
class OnPremLink:
    """Private connectivity to on-prem: a Transit Gateway attachment or a site-to-site VPN."""

    cidrs: Sequence[str]
    """On-prem CIDR blocks routed through the link."""

    transit_gateway_id: str | None = None
    """Existing Transit Gateway to attach the VPC to (`tgw-...`)."""

    customer_gateway_ip: str | None = None
    """Public IP of the on-prem VPN device, for a site-to-site VPN."""

    customer_gateway_bgp_asn: int = 65000
    """BGP ASN of the on-prem VPN device."""

    static_routes_only: bool = True
    """VPN with static routes (True) or BGP-learned routes (False)."""

    def validate(self, field_name: str) -> None:
        """Check the link; exactly one of Transit Gateway or VPN must be chosen."""
        require_non_empty(f"{field_name}.cidrs", self.cidrs)
        for i, cidr in enumerate(self.cidrs):
            _require_cidr(f"{field_name}.cidrs[{i}]", cidr)
        if (self.transit_gateway_id is None) == (self.customer_gateway_ip is None):
            raise ComponentArgsError(
                field_name, "set exactly one of transit_gateway_id or customer_gateway_ip"
            )
        if self.transit_gateway_id is not None and not _TGW_ID.fullmatch(self.transit_gateway_id):
            raise ComponentArgsError(
                f"{field_name}.transit_gateway_id", f"{self.transit_gateway_id!r} is not a tgw- ID"
            )
        if self.customer_gateway_ip is not None:
            try:
                ipaddress.IPv4Address(self.customer_gateway_ip)
            except ValueError:
                raise ComponentArgsError(
                    f"{field_name}.customer_gateway_ip",
                    f"{self.customer_gateway_ip!r} is not an IPv4 address",
                ) from None
        if not 1 <= self.customer_gateway_bgp_asn <= 4294967294:
            raise ComponentArgsError(f"{field_name}.customer_gateway_bgp_asn", "out of range")


@dataclass(frozen=True)
class PrivateNetworkArgs:
    """Arguments of `PrivateNetwork`."""

    environment: str
    """Environment tag value."""

    region: str
    """Region the provider deploys to; used for endpoint service names."""

    account_id: str
    """AWS account ID; endpoint policies admit only principals of this account."""

    cidr_block: str
    """VPC CIDR (at least a /20); split evenly into one private subnet per availability zone."""

    availability_zones: Sequence[str]
    """At least two availability zones of `region`."""

    discovery_tag_value: str
    """Value of the `karpenter.sh/discovery` tag on subnets and the node security group."""

    interface_endpoints: Sequence[str] = field(default=DEFAULT_INTERFACE_ENDPOINTS)
    """Interface endpoint services; must include ec2, ecr.api, ecr.dkr, sts, sqs, ssm, eks, logs."""

    on_prem: OnPremLink | None = None
    """Optional private link to on-prem."""

    def __post_init__(self) -> None:
        require_name("environment", self.environment)
        require_region("region", self.region)
        require_account_id("account_id", self.account_id)
        network = _require_cidr("cidr_block", self.cidr_block)
        if network.prefixlen > 20:
            raise ComponentArgsError("cidr_block", "must be a /20 or larger")
        if len(set(self.availability_zones)) < 2:
            raise ComponentArgsError("availability_zones", "need at least two distinct zones")
        for i, zone in enumerate(self.availability_zones):
            if not zone.startswith(self.region):
                raise ComponentArgsError(
                    f"availability_zones[{i}]", f"{zone!r} is not a zone of {self.region}"
                )
        require_name("discovery_tag_value", self.discovery_tag_value)
        missing = REQUIRED_INTERFACE_ENDPOINTS - set(self.interface_endpoints)
        if missing:
            raise ComponentArgsError(
                "interface_endpoints", f"missing required services {', '.join(sorted(missing))}"
            )
        if self.on_prem is not None:
            self.on_prem.validate("on_prem")
            for i, cidr in enumerate(self.on_prem.cidrs):
                if ipaddress.ip_network(cidr).overlaps(network):
                    raise ComponentArgsError(
                        f"on_prem.cidrs[{i}]", f"{cidr} overlaps the VPC CIDR {self.cidr_block}"
                    )


def _require_cidr(field_name: str, value: str) -> ipaddress.IPv4Network:
    try:
        return ipaddress.IPv4Network(value)
    except ValueError:
        raise ComponentArgsError(field_name, f"{value!r} is not an IPv4 CIDR block") from None


def subnet_cidrs(cidr_block: str, count: int) -> list[str]:
    """Split `cidr_block` into `count` equal subnets (the smallest power of two that fits)."""
    network = ipaddress.IPv4Network(cidr_block)
    extra_bits = max(1, math.ceil(math.log2(count)))
    return [str(net) for net in list(network.subnets(prefixlen_diff=extra_bits))[:count]]


def _own_account_only(account_id: str) -> dict[str, object]:
    return {
        "Sid": "OwnAccountOnly",
        "Effect": "Allow",
        "Principal": {"AWS": "*"},
        "Action": "*",
        "Resource": "*",
        "Condition": {"StringEquals": {"aws:PrincipalAccount": account_id}},
    }


def endpoint_policy_document(account_id: str) -> dict[str, object]:
    """Endpoint policy: only principals of our own account may use the endpoint."""
    return {"Version": "2012-10-17", "Statement": [_own_account_only(account_id)]}


def s3_endpoint_policy_document(account_id: str, region: str) -> dict[str, object]:
    """S3 gateway endpoint policy: our account's principals, and reads of the AWS-owned bucket
    that serves ECR image layers (without it every image pull, the pull-through cache's
    included, fails in a VPC without internet egress)."""
    layers = {
        "Sid": "EcrImageLayers",
        "Effect": "Allow",
        "Principal": "*",
        "Action": "s3:GetObject",
        "Resource": f"arn:aws:s3:::prod-{region}-starport-layer-bucket/*",
    }
    return {"Version": "2012-10-17", "Statement": [_own_account_only(account_id), layers]}


class PrivateNetwork(pulumi.ComponentResource):
    """VPC with private subnets in every zone, PrivateLink endpoints and no public egress."""

    vpc_id: pulumi.Output[str]
    """ID of the VPC."""

    private_subnet_ids: pulumi.Output[list[str]]
    """IDs of the private subnets, one per availability zone."""

    node_security_group_id: pulumi.Output[str]
    """Security group for burst nodes, tagged for Karpenter discovery."""

    endpoint_security_group_id: pulumi.Output[str]
    """Security group of the interface endpoints (HTTPS from the VPC only)."""

    cidr_block: str
    """The VPC CIDR block."""

    dns_forwarder_ips: pulumi.Output[list[str]]
    """Addresses of the Route 53 Resolver inbound endpoint (empty without `on_prem`): on-prem
    DNS forwards `eks.amazonaws.com` (and the other PrivateLink names) here, because the
    cluster's private endpoint name resolves only inside the VPC."""

    def __init__(
        self, name: str, args: PrivateNetworkArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("burst:network:PrivateNetwork", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        tags = platform_tags(args.environment)
        discovery = {DISCOVERY_TAG: args.discovery_tag_value}

        vpc = aws.ec2.Vpc(
            f"{name}-vpc",
            cidr_block=args.cidr_block,
            enable_dns_hostnames=True,
            enable_dns_support=True,
            tags={**tags, "Name": name},
            opts=child,
        )
        aws.ec2.DefaultSecurityGroup(
            f"{name}-default-sg", vpc_id=vpc.id, ingress=[], egress=[], tags=tags, opts=child
        )
        route_table = aws.ec2.RouteTable(
            f"{name}-private", vpc_id=vpc.id, tags={**tags, "Name": f"{name}-private"}, opts=child
        )
        subnets = []
        cidrs = subnet_cidrs(args.cidr_block, len(args.availability_zones))
        for zone, cidr in zip(args.availability_zones, cidrs, strict=True):
            subnet = aws.ec2.Subnet(
                f"{name}-private-{zone}",
                vpc_id=vpc.id,
                cidr_block=cidr,
                availability_zone=zone,
                map_public_ip_on_launch=False,
                tags={
                    **tags,
                    **discovery,
                    "Name": f"{name}-private-{zone}",
                    "kubernetes.io/role/internal-elb": "1",
                },
                opts=child,
            )
            aws.ec2.RouteTableAssociation(
                f"{name}-private-{zone}",
                subnet_id=subnet.id,
                route_table_id=route_table.id,
                opts=child,
            )
            subnets.append(subnet)
        subnet_ids = [subnet.id for subnet in subnets]

        policy = json.dumps(endpoint_policy_document(args.account_id))
        s3_endpoint = aws.ec2.VpcEndpoint(
            f"{name}-s3",
            vpc_id=vpc.id,
            service_name=f"com.amazonaws.{args.region}.s3",
            vpc_endpoint_type="Gateway",
            route_table_ids=[route_table.id],
            policy=json.dumps(s3_endpoint_policy_document(args.account_id, args.region)),
            tags={**tags, "Name": f"{name}-s3"},
            opts=child,
        )
        endpoint_sg = aws.ec2.SecurityGroup(
            f"{name}-endpoints",
            vpc_id=vpc.id,
            description="HTTPS from inside the VPC to the AWS interface endpoints",
            ingress=[
                aws.ec2.SecurityGroupIngressArgs(
                    description="HTTPS from the VPC",
                    protocol="tcp",
                    from_port=443,
                    to_port=443,
                    cidr_blocks=[args.cidr_block],
                )
            ],
            egress=[],
            tags={**tags, "Name": f"{name}-endpoints"},
            opts=child,
        )
        for service in args.interface_endpoints:
            aws.ec2.VpcEndpoint(
                f"{name}-{service.replace('.', '-')}",
                vpc_id=vpc.id,
                service_name=f"com.amazonaws.{args.region}.{service}",
                vpc_endpoint_type="Interface",
                private_dns_enabled=True,
                subnet_ids=subnet_ids,
                security_group_ids=[endpoint_sg.id],
                policy=policy,
                tags={**tags, "Name": f"{name}-{service}"},
                opts=child,
            )

        private_egress = [args.cidr_block, *(args.on_prem.cidrs if args.on_prem else ())]
        node_sg = aws.ec2.SecurityGroup(
            f"{name}-nodes",
            vpc_id=vpc.id,
            description="Burst nodes: node to node in, egress only to the VPC, S3 and on-prem",
            ingress=[
                aws.ec2.SecurityGroupIngressArgs(
                    description="Node to node", protocol="-1", from_port=0, to_port=0, self=True
                )
            ],
            egress=[
                aws.ec2.SecurityGroupEgressArgs(
                    description="VPC and on-prem networks",
                    protocol="-1",
                    from_port=0,
                    to_port=0,
                    cidr_blocks=private_egress,
                ),
                aws.ec2.SecurityGroupEgressArgs(
                    description="S3 through the gateway endpoint",
                    protocol="tcp",
                    from_port=443,
                    to_port=443,
                    prefix_list_ids=[s3_endpoint.prefix_list_id],
                ),
            ],
            tags={**tags, **discovery, "Name": f"{name}-nodes"},
            opts=child,
        )

        self.dns_forwarder_ips = pulumi.Output.from_input([])
        if args.on_prem is not None:
            self._link_on_prem(name, args.on_prem, vpc, route_table, subnet_ids, tags)
            self.dns_forwarder_ips = self._inbound_resolver(
                name, args.on_prem, vpc, subnet_ids, tags
            )

        self.vpc_id = vpc.id
        self.private_subnet_ids = pulumi.Output.all(*subnet_ids).apply(list)
        self.node_security_group_id = node_sg.id
        self.endpoint_security_group_id = endpoint_sg.id
        self.cidr_block = args.cidr_block
        self.register_outputs(
            {
                "vpc_id": self.vpc_id,
                "private_subnet_ids": self.private_subnet_ids,
                "node_security_group_id": self.node_security_group_id,
                "endpoint_security_group_id": self.endpoint_security_group_id,
                "dns_forwarder_ips": self.dns_forwarder_ips,
            }
        )

    def _inbound_resolver(
        self,
        name: str,
        link: OnPremLink,
        vpc: aws.ec2.Vpc,
        subnet_ids: list[pulumi.Output[str]],
        tags: dict[str, str],
    ) -> pulumi.Output[list[str]]:
        """A Route 53 Resolver inbound endpoint that answers DNS from on-prem: `pulumi up` runs
        there and must resolve the cluster's private endpoint, which only VPC DNS knows."""
        child = pulumi.ResourceOptions(parent=self)
        dns = [
            aws.ec2.SecurityGroupIngressArgs(
                description=f"DNS over {protocol} from on-prem",
                protocol=protocol,
                from_port=53,
                to_port=53,
                cidr_blocks=list(link.cidrs),
            )
            for protocol in ("udp", "tcp")
        ]
        resolver_sg = aws.ec2.SecurityGroup(
            f"{name}-dns-inbound",
            vpc_id=vpc.id,
            description="Route 53 Resolver inbound endpoint: DNS from on-prem only",
            ingress=dns,
            egress=[],
            tags={**tags, "Name": f"{name}-dns-inbound"},
            opts=child,
        )
        resolver = aws.route53.ResolverEndpoint(
            f"{name}-dns-inbound",
            direction="INBOUND",
            security_group_ids=[resolver_sg.id],
            ip_addresses=[
                aws.route53.ResolverEndpointIpAddressArgs(subnet_id=subnet) for subnet in subnet_ids
            ],
            tags={**tags, "Name": f"{name}-dns-inbound"},
            opts=child,
        )
        forwarders: pulumi.Output[list[str]] = resolver.ip_addresses.apply(
            lambda addresses: sorted(a.ip for a in addresses or [] if a.ip)
        )
        return forwarders

    def _link_on_prem(
        self,
        name: str,
        link: OnPremLink,
        vpc: aws.ec2.Vpc,
        route_table: aws.ec2.RouteTable,
        subnet_ids: list[pulumi.Output[str]],
        tags: dict[str, str],
    ) -> None:
        child = pulumi.ResourceOptions(parent=self)
        if link.transit_gateway_id is not None:
            attachment = aws.ec2transitgateway.VpcAttachment(
                f"{name}-tgw",
                transit_gateway_id=link.transit_gateway_id,
                vpc_id=vpc.id,
                subnet_ids=subnet_ids,
                dns_support="enable",
                tags={**tags, "Name": f"{name}-on-prem"},
                opts=child,
            )
            for cidr in link.cidrs:
                aws.ec2.Route(
                    f"{name}-on-prem-{cidr}",
                    route_table_id=route_table.id,
                    destination_cidr_block=cidr,
                    transit_gateway_id=link.transit_gateway_id,
                    opts=pulumi.ResourceOptions(parent=self, depends_on=[attachment]),
                )
            return
        customer_gateway = aws.ec2.CustomerGateway(
            f"{name}-on-prem",
            ip_address=link.customer_gateway_ip,
            bgp_asn=str(link.customer_gateway_bgp_asn),
            type="ipsec.1",
            tags={**tags, "Name": f"{name}-on-prem"},
            opts=child,
        )
        vpn_gateway = aws.ec2.VpnGateway(
            f"{name}-vgw", vpc_id=vpc.id, tags={**tags, "Name": f"{name}-vgw"}, opts=child
        )
        connection = aws.ec2.VpnConnection(
            f"{name}-vpn",
            customer_gateway_id=customer_gateway.id,
            vpn_gateway_id=vpn_gateway.id,
            type="ipsec.1",
            static_routes_only=link.static_routes_only,
            tags={**tags, "Name": f"{name}-vpn"},
            opts=child,
        )
        aws.ec2.VpnGatewayRoutePropagation(
            f"{name}-vgw-propagation",
            vpn_gateway_id=vpn_gateway.id,
            route_table_id=route_table.id,
            opts=child,
        )
        if link.static_routes_only:
            for cidr in link.cidrs:
                aws.ec2.VpnConnectionRoute(
                    f"{name}-vpn-{cidr}",
                    vpn_connection_id=connection.id,
                    destination_cidr_block=cidr,
                    opts=child,
                )
