package burst.network_test

import data.burst.lib.testing as t
import data.burst.network

findings(resources) := fs if {
	fs := network.findings with input as t.plan(resources)
}

sg(ingress) := t.res("aws:ec2/securityGroup:SecurityGroup", "sg", {"ingress": ingress})

rule(cidr) := {"cidrBlocks": [cidr], "fromPort": 443, "toPort": 443, "protocol": "tcp"}

# network.open_ingress

test_inline_open_ipv4_denied if {
	t.severities(findings([sg([rule("10.0.0.0/8"), rule("0.0.0.0/0")])]), "network.open_ingress") == {"deny"}
}

test_inline_open_ipv6_denied if {
	fs := findings([sg([{"ipv6CidrBlocks": ["::/0"], "fromPort": 22, "toPort": 22, "protocol": "tcp"}])])
	t.severities(fs, "network.open_ingress") == {"deny"}
}

test_inline_private_allowed if {
	t.severities(findings([sg([rule("10.0.0.0/8")])]), "network.open_ingress") == set()
}

test_inline_unknown_cidr if {
	t.severities(findings([sg([rule(t.unknown)])]), "network.open_ingress") == {"unknown"}
}

test_inline_unknown_ingress if {
	t.severities(findings([sg(t.unknown)]), "network.open_ingress") == {"unknown"}
}

test_ingress_rule_resource_denied if {
	r := t.res("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule", "in", {"cidrIpv4": "0.0.0.0/0", "fromPort": 443})
	t.severities(findings([r]), "network.open_ingress") == {"deny"}
}

test_ingress_rule_resource_ipv6_denied if {
	r := t.res("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule", "in", {"cidrIpv6": "::/0"})
	t.severities(findings([r]), "network.open_ingress") == {"deny"}
}

test_ingress_rule_resource_sg_source_allowed if {
	r := t.res("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule", "in", {"referencedSecurityGroupId": "sg-1"})
	t.severities(findings([r]), "network.open_ingress") == set()
}

test_sg_rule_ingress_denied if {
	r := t.res("aws:ec2/securityGroupRule:SecurityGroupRule", "r", {"type": "ingress", "cidrBlocks": ["0.0.0.0/0"]})
	t.severities(findings([r]), "network.open_ingress") == {"deny"}
}

test_sg_rule_egress_allowed if {
	r := t.res("aws:ec2/securityGroupRule:SecurityGroupRule", "r", {"type": "egress", "cidrBlocks": ["0.0.0.0/0"]})
	t.severities(findings([r]), "network.open_ingress") == set()
}

# network.public_subnet

subnet(value) := t.res("aws:ec2/subnet:Subnet", "subnet", {"cidrBlock": "10.0.0.0/24", "mapPublicIpOnLaunch": value})

test_public_subnet_denied if {
	t.severities(findings([subnet(true)]), "network.public_subnet") == {"deny"}
}

test_private_subnet_allowed if {
	t.severities(findings([subnet(false)]), "network.public_subnet") == set()
}

test_unknown_subnet if {
	t.severities(findings([subnet(t.unknown)]), "network.public_subnet") == {"unknown"}
}

# network.internet_egress

test_internet_gateway_warns if {
	fs := findings([t.res("aws:ec2/internetGateway:InternetGateway", "igw", {"vpcId": "vpc-1"})])
	t.severities(fs, "network.internet_egress") == {"warn"}
}

test_public_nat_warns if {
	fs := findings([t.res("aws:ec2/natGateway:NatGateway", "nat", {"subnetId": "subnet-1"})])
	t.severities(fs, "network.internet_egress") == {"warn"}
}

test_egress_only_gateway_warns if {
	fs := findings([t.res("aws:ec2/egressOnlyInternetGateway:EgressOnlyInternetGateway", "eigw", {"vpcId": "vpc-1"})])
	t.severities(fs, "network.internet_egress") == {"warn"}
}

test_private_nat_allowed if {
	fs := findings([t.res("aws:ec2/natGateway:NatGateway", "nat", {"connectivityType": "private"})])
	t.severities(fs, "network.internet_egress") == set()
}

# network.public_ip_nodeclass

nodeclass(spec) := t.res("kubernetes:karpenter.k8s.aws/v1:EC2NodeClass", "gpu", {"metadata": {"name": "gpu"}, "spec": spec})

test_public_ip_nodeclass_denied if {
	t.severities(findings([nodeclass({"associatePublicIPAddress": true})]), "network.public_ip_nodeclass") == {"deny"}
}

test_private_nodeclass_allowed if {
	t.severities(findings([nodeclass({"associatePublicIPAddress": false}), nodeclass({})]), "network.public_ip_nodeclass") == set()
}

test_unknown_nodeclass if {
	t.severities(findings([nodeclass({"associatePublicIPAddress": t.unknown})]), "network.public_ip_nodeclass") == {"unknown"}
}
