# METADATA
# title: Network
# description: >-
#   Private-only networking for burst capacity: no ingress from the internet, no public
#   subnets or public node addresses, and visible internet egress paths.
package burst.network

import data.burst.lib

# Input paths each rule judges its subjects on (see burst.main).
reads := {
	"network.open_ingress": {
		"aws:ec2/securityGroup:SecurityGroup": [["ingress"]],
		"aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule": [["cidrIpv4"], ["cidrIpv6"]],
		"aws:ec2/securityGroupRule:SecurityGroupRule": [["type"], ["cidrBlocks"], ["ipv6CidrBlocks"]],
	},
	"network.public_subnet": {"aws:ec2/subnet:Subnet": [["mapPublicIpOnLaunch"]]},
	"network.internet_egress": {"aws:ec2/natGateway:NatGateway": [["connectivityType"]]},
	"network.public_ip_nodeclass": {"kubernetes:karpenter.k8s.aws:EC2NodeClass": [["spec", "associatePublicIPAddress"]]},
}

open_cidrs := {"0.0.0.0/0", "::/0"}

# "yes" if one of the CIDR values is open to the internet, "unknown" if that depends on unknowns.
_open_state(values) := "yes" if {
	some v in values
	some c in lib.as_list(v)
	c in open_cidrs
} else := "unknown" if {
	lib.contains_unknown(values)
} else := "no"

# Ingress sources per security group shape: [[description, [cidr values]]].
_ingress(r) := [[sprintf("ingress rule %d", [i]), _rule_cidrs(rule)] |
	some i, rule in lib.as_list(ingress)
] if {
	r.type == "aws:ec2/securityGroup:SecurityGroup"
	ingress := object.get(lib.inputs(r), "ingress", [])
	not lib.is_unknown(ingress)
}

# The CIDR values of an inline ingress rule; unknown when the rule itself is.
_rule_cidrs(rule) := [object.get(rule, "cidrBlocks", []), object.get(rule, "ipv6CidrBlocks", [])] if {
	is_object(rule)
} else := [lib.unknown_sentinel]

_ingress(r) := [["ingress", [lib.unknown_sentinel]]] if {
	r.type == "aws:ec2/securityGroup:SecurityGroup"
	lib.is_unknown(object.get(lib.inputs(r), "ingress", []))
}

_ingress(r) := [["ingress rule", [object.get(lib.inputs(r), "cidrIpv4", null), object.get(lib.inputs(r), "cidrIpv6", null)]]] if {
	r.type == "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
}

_ingress(r) := [["ingress rule", [object.get(lib.inputs(r), "cidrBlocks", []), object.get(lib.inputs(r), "ipv6CidrBlocks", [])]]] if {
	r.type == "aws:ec2/securityGroupRule:SecurityGroupRule"
	object.get(lib.inputs(r), "type", "") in {"ingress", lib.unknown_sentinel}
}

_sg_types := {
	"aws:ec2/securityGroup:SecurityGroup",
	"aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule",
	"aws:ec2/securityGroupRule:SecurityGroupRule",
}

# METADATA
# title: Security group ingress open to the internet
# description: >-
#   A security group (inline ingress block, SecurityGroupIngressRule or SecurityGroupRule of type
#   ingress) admits traffic from 0.0.0.0/0 or ::/0. Burst capacity is private; nothing may be
#   reachable from the internet, whatever the port.
# custom:
#   id: network.open_ingress
#   config_key: network
#   severity: deny
#   remediation: >-
#     Allow ingress only from the VPC CIDR, peer/on-prem CIDRs or other security groups
#     (referenced_security_group_id / source_security_group_id).
findings contains lib.finding(rego.metadata.rule(), r.urn, state, msg) if {
	some r in lib.of_types(_sg_types)
	some [label, values] in _ingress(r)
	state := _open_state(values)
	state != "no"
	msg := sprintf("%s of %s admits traffic from 0.0.0.0/0 or ::/0", [label, r.name])
}

# METADATA
# title: Subnet assigns public IP addresses
# description: >-
#   A subnet has map_public_ip_on_launch enabled, so every instance launched into it (including
#   Karpenter nodes) gets a public address.
# custom:
#   id: network.public_subnet
#   config_key: network
#   severity: deny
#   remediation: Set map_public_ip_on_launch=False; reach AWS APIs through VPC endpoints.
findings contains lib.finding(rego.metadata.rule(), r.urn, state, msg) if {
	some r in lib.of_type("aws:ec2/subnet:Subnet")
	value := object.get(lib.inputs(r), "mapPublicIpOnLaunch", false)
	state := _true_state(value)
	state != "no"
	msg := sprintf("subnet %s maps public IP addresses on launch", [r.name])
}

_true_state(true) := "yes"

_true_state(value) := "unknown" if lib.is_unknown(value)

_true_state(value) := "no" if {
	value != true
	not lib.is_unknown(value)
}

# METADATA
# title: Internet egress path
# description: >-
#   The stack creates an internet gateway, egress-only internet gateway or public NAT gateway.
#   The burst layer is designed to run on VPC endpoints only; an internet path is allowed but
#   must be a deliberate choice.
# custom:
#   id: network.internet_egress
#   config_key: network
#   severity: warn
#   remediation: >-
#     Remove the gateway and use VPC interface/gateway endpoints (ec2, ecr, sts, ssm, sqs, eks,
#     s3), or waive this warning with an owner and expiry.
findings contains lib.finding(rego.metadata.rule(), r.urn, "yes", msg) if {
	some r in lib.of_types({
		"aws:ec2/internetGateway:InternetGateway",
		"aws:ec2/egressOnlyInternetGateway:EgressOnlyInternetGateway",
		"aws:ec2/natGateway:NatGateway",
	})
	object.get(lib.inputs(r), "connectivityType", "public") != "private"
	msg := sprintf("%s %s gives the VPC a path to the internet", [r.type, r.name])
}

# METADATA
# title: Karpenter node class assigns public IP addresses
# description: >-
#   An EC2NodeClass sets associatePublicIPAddress true, so Karpenter nodes get public addresses
#   even in private subnets.
# custom:
#   id: network.public_ip_nodeclass
#   config_key: network
#   severity: deny
#   remediation: Set spec.associatePublicIPAddress to false (or leave it unset with private subnets).
findings contains lib.finding(rego.metadata.rule(), r.urn, state, msg) if {
	some r in lib.of_type("kubernetes:karpenter.k8s.aws:EC2NodeClass")
	state := _true_state(object.get(lib.inputs(r), ["spec", "associatePublicIPAddress"], false))
	state != "no"
	msg := sprintf("EC2NodeClass %s associates public IP addresses", [r.name])
}
