# METADATA
# title: IAM
# description: >-
#   Short-lived, least-privilege IAM for the burst layer: bounded role sessions, no open trust
#   policies, no long-lived user credentials, no administrator wildcards, permission boundaries.
package burst.iam

import data.burst.lib

# Input paths each rule judges its subjects on (see burst.main: a wholly unknown value there
# makes the rule's verdict unknown).
reads := {
	"iam.session_too_long": {"aws:iam/role:Role": [["maxSessionDuration"]]},
	"iam.trust_open": {"aws:iam/role:Role": [["assumeRolePolicy"]]},
	"iam.long_lived_credentials": {},
	"iam.wildcard_admin": {
		"aws:iam/role:Role": [["inlinePolicies"], ["managedPolicyArns"]],
		"aws:iam/policy:Policy": [["policy"]],
		"aws:iam/rolePolicy:RolePolicy": [["policy"]],
		"aws:iam/userPolicy:UserPolicy": [["policy"]],
		"aws:iam/groupPolicy:GroupPolicy": [["policy"]],
	},
	# Any value, known or not, is a boundary: only a wholly unknown inputs hides whether one is set.
	"iam.missing_permissions_boundary": {"aws:iam/role:Role": [[]]},
	"iam.platform_role_without_boundary": {"aws:iam/role:Role": [[]]},
}

roles := lib.of_type("aws:iam/role:Role")

# METADATA
# title: IAM role session longer than allowed
# description: >-
#   An IAM role's maxSessionDuration is above guardrails iam.max_session_seconds. Burst jobs
#   should use short sessions that the SDKs refresh; long sessions widen the window in which a
#   leaked credential stays valid.
# custom:
#   id: iam.session_too_long
#   severity: deny
#   remediation: >-
#     Set max_session_duration on the role to at most iam.max_session_seconds (3600 by default)
#     or leave it unset (AWS uses 3600).
findings contains lib.finding(rego.metadata.rule(), r.urn, state, msg) if {
	some r in roles
	value := object.get(lib.inputs(r), "maxSessionDuration", null)
	value != null
	limit := lib.guardrails.iam.max_session_seconds
	state := _session_state(value, limit)
	state != "no"
	msg := sprintf("role %s allows sessions of %v seconds, above the limit of %v", [r.name, _shown(value), limit])
}

_shown(value) := "(unknown)" if {
	lib.is_unknown(value)
} else := value

_session_state(value, limit) := "unknown" if {
	lib.is_unknown(value)
} else := "yes" if {
	to_number(value) > limit
} else := "no"

# Statements of a policy document (Statement may be one object or a list).
statements(doc) := lib.as_list(object.get(doc, "Statement", []))

_open_principal("*")

_open_principal(p) if {
	is_object(p)
	"*" in lib.as_list(object.get(p, "AWS", []))
}

_no_condition(s) if not s.Condition

_no_condition(s) if count(s.Condition) == 0

# "yes" if the statement trusts anyone without a condition, "unknown" if that depends on
# unknown values.
trust_state(s) := "yes" if {
	s.Effect == "Allow"
	_open_principal(s.Principal)
	_no_condition(s)
} else := "unknown" if {
	lib.contains_unknown(s)
} else := "no"

# METADATA
# title: Role trust policy open to any principal
# description: >-
#   A role's assume-role policy has an Allow statement whose Principal is "*" (or {"AWS": "*"})
#   and no Condition, so any AWS account can assume the role.
# custom:
#   id: iam.trust_open
#   severity: deny
#   remediation: >-
#     Name the exact principals (service principal such as pods.eks.amazonaws.com, or role ARNs)
#     and add conditions (aws:SourceAccount, aws:PrincipalOrgID, sts:ExternalId).
findings contains lib.finding(rego.metadata.rule(), r.urn, state, msg) if {
	some r in roles
	some [state, msg] in _trust_findings(r)
}

_trust_findings(r) := {["unknown", sprintf("trust policy of role %s is unknown or not valid JSON", [r.name])]} if {
	parsed := lib.parse_json(object.get(lib.inputs(r), "assumeRolePolicy", null))
	not parsed.ok
}

_trust_findings(r) := {[state, sprintf("trust policy of role %s allows principal * without a condition", [r.name])] |
	some s in statements(parsed.value)
	state := trust_state(s)
	state != "no"
} if {
	parsed := lib.parse_json(object.get(lib.inputs(r), "assumeRolePolicy", null))
	parsed.ok
}

# METADATA
# title: Long-lived IAM user credentials
# description: >-
#   The stack creates an IAM access key or a console login profile. Burst workloads must use
#   role sessions (Pod Identity, IRSA, SSO), never long-lived user credentials.
# custom:
#   id: iam.long_lived_credentials
#   severity: deny
#   remediation: >-
#     Remove the access key or login profile; give workloads an IAM role (EKS Pod Identity) and
#     people SSO access.
findings contains lib.finding(rego.metadata.rule(), r.urn, "yes", msg) if {
	some r in lib.of_types({"aws:iam/accessKey:AccessKey", "aws:iam/userLoginProfile:UserLoginProfile"})
	msg := sprintf("%s %s creates long-lived user credentials", [r.type, r.name])
}

# Policy documents of a resource: [[label, raw JSON or object]].
policy_documents(r) := [[sprintf("inline policy %v", [object.get(p, "name", i)]), object.get(p, "policy", null)] |
	some i, p in lib.as_list(object.get(lib.inputs(r), "inlinePolicies", []))
] if r.type == "aws:iam/role:Role"

policy_documents(r) := [["policy", object.get(lib.inputs(r), "policy", null)]] if r.type in _policy_types

_policy_types := {
	"aws:iam/policy:Policy",
	"aws:iam/rolePolicy:RolePolicy",
	"aws:iam/userPolicy:UserPolicy",
	"aws:iam/groupPolicy:GroupPolicy",
}

_wildcard(xs) if {
	some x in lib.as_list(xs)
	x in {"*", "*:*"}
}

admin_state(s) := "yes" if {
	s.Effect == "Allow"
	_wildcard(s.Action)
	_wildcard(s.Resource)
} else := "unknown" if {
	lib.contains_unknown(s)
} else := "no"

admin_policy_arn := "arn:aws:iam::aws:policy/AdministratorAccess"

# METADATA
# title: Administrator wildcard permissions
# description: >-
#   An IAM policy (role inline policy, managed Policy, RolePolicy) allows Action "*" on Resource
#   "*", or a role gets the AWS-managed AdministratorAccess policy.
# custom:
#   id: iam.wildcard_admin
#   severity: deny
#   remediation: >-
#     Grant only the actions and resources the component needs (see the scoped Karpenter
#     controller policy); never attach AdministratorAccess to burst roles.
findings contains lib.finding(rego.metadata.rule(), urn, state, msg) if {
	some [urn, state, msg] in _wildcard_admin
}

_wildcard_admin contains [r.urn, state, msg] if {
	some r in lib.of_types(_policy_types | {"aws:iam/role:Role"})
	some [label, raw] in policy_documents(r)
	some [state, msg] in _admin_findings(r, label, raw)
}

_wildcard_admin contains [r.urn, "yes", msg] if {
	some r in lib.of_types({"aws:iam/rolePolicyAttachment:RolePolicyAttachment", "aws:iam/policyAttachment:PolicyAttachment", "aws:iam/role:Role"})
	some arn in _attached_policy_arns(r)
	arn == admin_policy_arn
	msg := sprintf("%s attaches %s", [r.name, admin_policy_arn])
}

# An attached policy ARN that is unknown at preview and was not computed from a customer-managed
# Policy of the plan (whose document the rule checks itself) may be AdministratorAccess.
_wildcard_admin contains [r.urn, "unknown", msg] if {
	some r in lib.of_types({"aws:iam/rolePolicyAttachment:RolePolicyAttachment", "aws:iam/policyAttachment:PolicyAttachment", "aws:iam/role:Role"})
	key := _policy_arn_key(r)
	some arn in _attached_policy_arns(r)
	lib.is_unknown(arn)
	not _from_planned_policy(r, key)
	msg := sprintf("%s attaches a policy whose ARN is unknown at preview and not a policy of this stack", [r.name])
}

_policy_arn_key(r) := "managedPolicyArns" if {
	r.type == "aws:iam/role:Role"
} else := "policyArn"

_attached_policy_arns(r) := lib.as_list(object.get(lib.inputs(r), _policy_arn_key(r), []))

# True if every source the engine recorded for the key is a customer-managed Policy of the plan.
_from_planned_policy(r, key) if {
	sources := lib.property_sources(r, key)
	count(sources) > 0
	every urn in sources {
		urn in _planned_policies
	}
}

_planned_policies := {p.urn | some p in lib.of_type("aws:iam/policy:Policy")}

_admin_findings(r, label, raw) := {["unknown", sprintf("%s of %s is unknown or not valid JSON", [label, r.name])]} if {
	not lib.parse_json(raw).ok
}

_admin_findings(r, label, raw) := {[state, sprintf("%s of %s allows Action * on Resource *", [label, r.name])] |
	some s in statements(parsed.value)
	state := admin_state(s)
	state != "no"
} if {
	parsed := lib.parse_json(raw)
	parsed.ok
}

# METADATA
# title: Role without permissions boundary
# description: >-
#   An IAM role that is not the burst layer's (no platform or team tag) has no
#   permissionsBoundary. A boundary caps what the role can ever be granted, which matters for
#   roles that teams extend.
# custom:
#   id: iam.missing_permissions_boundary
#   severity: warn
#   remediation: Set permissions_boundary on the role to the platform's boundary policy ARN.
findings contains lib.finding(rego.metadata.rule(), r.urn, state, msg) if {
	some r in roles
	kind := _role_kind(r)
	kind != "burst"
	_no_boundary(r)
	state := {"other": "yes", "unknown": "unknown"}[kind]
	msg := sprintf("role %s has no permissions boundary", [r.name])
}

_no_boundary(r) if object.get(lib.inputs(r), "permissionsBoundary", "") in {"", null}

# "burst" for roles the burst layer manages (tagged with the platform or an owning team),
# "unknown" when the tags cannot be read, else "other".
_role_kind(r) := "burst" if {
	some key in {"platform", "team"}
	lib.tags(r)[key]
} else := "unknown" if {
	some key in {"tags", "tagsAll"}
	lib.contains_unknown(object.get(lib.inputs(r), key, {}))
} else := "other"

# METADATA
# title: Burst role without permissions boundary
# description: >-
#   A role of the burst layer (tagged platform or team) has no permissionsBoundary. Every role
#   the platform creates carries the platform's boundary, so a mistake in one role's policy
#   cannot grant more than the boundary allows.
# custom:
#   id: iam.platform_role_without_boundary
#   severity: deny
#   remediation: >-
#     Set permissions_boundary on the role to the boundary policy of the BurstCluster
#     (permissions_boundary_arn), as every burst component does.
findings contains lib.finding(rego.metadata.rule(), r.urn, state, msg) if {
	some r in roles
	kind := _role_kind(r)
	kind != "other"
	_no_boundary(r)
	state := {"burst": "yes", "unknown": "unknown"}[kind]
	msg := sprintf("role %s of the burst layer has no permissions boundary", [r.name])
}
