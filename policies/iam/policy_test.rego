package burst.iam_test

import data.burst.iam
import data.burst.lib.testing as t

role(name, inputs) := t.res("aws:iam/role:Role", name, inputs)

trust(statement) := json.marshal({"Version": "2012-10-17", "Statement": [statement]})

pod_identity := {"Effect": "Allow", "Principal": {"Service": "pods.eks.amazonaws.com"}, "Action": ["sts:AssumeRole", "sts:TagSession"]}

good_role := role("good", {
	"assumeRolePolicy": trust(pod_identity),
	"maxSessionDuration": 3600,
	"permissionsBoundary": "arn:aws:iam::123456789012:policy/boundary",
	"inlinePolicies": [{"name": "s3", "policy": json.marshal({"Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::data/*"}]})}],
})

findings(resources) := fs if {
	fs := iam.findings with input as t.plan(resources)
}

test_good_role_has_no_findings if {
	count(findings([good_role])) == 0
}

# iam.session_too_long

test_session_too_long_denied if {
	fs := findings([role("long", object.union(good_role.inputs, {"maxSessionDuration": 43200}))])
	t.severities(fs, "iam.session_too_long") == {"deny"}
	contains(t.of_rule(fs, "iam.session_too_long")[0].message, "43200")
}

test_session_as_string_denied if {
	fs := findings([role("long", object.union(good_role.inputs, {"maxSessionDuration": "7200"}))])
	t.severities(fs, "iam.session_too_long") == {"deny"}
}

test_session_unset_allowed if {
	fs := findings([role("default", object.remove(good_role.inputs, ["maxSessionDuration"]))])
	t.severities(fs, "iam.session_too_long") == set()
}

test_session_unknown if {
	fs := findings([role("unknown", object.union(good_role.inputs, {"maxSessionDuration": t.unknown}))])
	t.severities(fs, "iam.session_too_long") == {"unknown"}
	contains(t.of_rule(fs, "iam.session_too_long")[0].message, "(unknown)")
}

test_session_limit_from_guardrails if {
	fs := iam.findings with input as t.plan([good_role]) with data.burst.guardrails.iam.max_session_seconds as 900
	t.severities(fs, "iam.session_too_long") == {"deny"}
}

# iam.trust_open

open_star := {"Effect": "Allow", "Principal": "*", "Action": "sts:AssumeRole"}

test_trust_star_denied if {
	fs := findings([role("open", object.union(good_role.inputs, {"assumeRolePolicy": trust(open_star)}))])
	t.severities(fs, "iam.trust_open") == {"deny"}
}

test_trust_aws_star_denied if {
	stmt := object.union(open_star, {"Principal": {"AWS": ["arn:aws:iam::1:root", "*"]}})
	fs := findings([role("open", object.union(good_role.inputs, {"assumeRolePolicy": trust(stmt)}))])
	t.severities(fs, "iam.trust_open") == {"deny"}
}

test_trust_single_statement_object_denied if {
	doc := json.marshal({"Statement": object.union(open_star, {"Principal": {"AWS": "*"}})})
	fs := findings([role("open", object.union(good_role.inputs, {"assumeRolePolicy": doc}))])
	t.severities(fs, "iam.trust_open") == {"deny"}
}

test_trust_decoded_object_denied if {
	fs := findings([role("open", object.union(good_role.inputs, {"assumeRolePolicy": {"Statement": [open_star]}}))])
	t.severities(fs, "iam.trust_open") == {"deny"}
}

test_trust_star_with_condition_allowed if {
	stmt := object.union(open_star, {"Condition": {"StringEquals": {"aws:PrincipalOrgID": "o-123"}}})
	fs := findings([role("cond", object.union(good_role.inputs, {"assumeRolePolicy": trust(stmt)}))])
	t.severities(fs, "iam.trust_open") == set()
}

test_trust_star_with_empty_condition_denied if {
	stmt := object.union(open_star, {"Condition": {}})
	fs := findings([role("cond", object.union(good_role.inputs, {"assumeRolePolicy": trust(stmt)}))])
	t.severities(fs, "iam.trust_open") == {"deny"}
}

test_trust_deny_statement_allowed if {
	stmt := object.union(open_star, {"Effect": "Deny"})
	fs := findings([role("deny", object.union(good_role.inputs, {"assumeRolePolicy": trust(stmt)}))])
	t.severities(fs, "iam.trust_open") == set()
}

test_trust_unknown_document if {
	fs := findings([role("u", object.union(good_role.inputs, {"assumeRolePolicy": t.unknown}))])
	t.severities(fs, "iam.trust_open") == {"unknown"}
}

test_trust_invalid_json if {
	fs := findings([role("bad", object.union(good_role.inputs, {"assumeRolePolicy": "{not json"}))])
	t.severities(fs, "iam.trust_open") == {"unknown"}
}

test_trust_unknown_principal if {
	stmt := object.union(open_star, {"Principal": {"AWS": t.unknown}})
	fs := findings([role("u", object.union(good_role.inputs, {"assumeRolePolicy": trust(stmt)}))])
	t.severities(fs, "iam.trust_open") == {"unknown"}
}

# iam.long_lived_credentials

test_access_key_denied if {
	fs := findings([t.res("aws:iam/accessKey:AccessKey", "key", {"user": "ci"})])
	t.severities(fs, "iam.long_lived_credentials") == {"deny"}
}

test_login_profile_denied if {
	fs := findings([t.res("aws:iam/userLoginProfile:UserLoginProfile", "console", {"user": "bob"})])
	t.severities(fs, "iam.long_lived_credentials") == {"deny"}
}

# iam.wildcard_admin

admin := {"Effect": "Allow", "Action": "*", "Resource": "*"}

test_inline_admin_denied if {
	inputs := object.union(good_role.inputs, {"inlinePolicies": [{"name": "admin", "policy": json.marshal({"Statement": [admin]})}]})
	fs := findings([role("admin", inputs)])
	t.severities(fs, "iam.wildcard_admin") == {"deny"}
	contains(t.of_rule(fs, "iam.wildcard_admin")[0].message, "inline policy admin")
}

test_policy_action_list_denied if {
	stmt := object.union(admin, {"Action": ["s3:GetObject", "*:*"], "Resource": ["*"]})
	fs := findings([t.res("aws:iam/policy:Policy", "p", {"policy": json.marshal({"Statement": [stmt]})})])
	t.severities(fs, "iam.wildcard_admin") == {"deny"}
}

test_role_policy_denied if {
	fs := findings([t.res("aws:iam/rolePolicy:RolePolicy", "rp", {"role": "r", "policy": json.marshal({"Statement": admin})})])
	t.severities(fs, "iam.wildcard_admin") == {"deny"}
}

test_scoped_policy_allowed if {
	stmt := {"Effect": "Allow", "Action": "*", "Resource": "arn:aws:s3:::bucket/*"}
	fs := findings([t.res("aws:iam/policy:Policy", "p", {"policy": json.marshal({"Statement": [stmt]})})])
	t.severities(fs, "iam.wildcard_admin") == set()
}

test_deny_wildcard_allowed if {
	stmt := object.union(admin, {"Effect": "Deny"})
	fs := findings([t.res("aws:iam/policy:Policy", "p", {"policy": json.marshal({"Statement": [stmt]})})])
	t.severities(fs, "iam.wildcard_admin") == set()
}

test_unknown_policy if {
	fs := findings([t.res("aws:iam/rolePolicy:RolePolicy", "rp", {"policy": t.unknown})])
	t.severities(fs, "iam.wildcard_admin") == {"unknown"}
}

test_unknown_resource_in_statement if {
	stmt := object.union(admin, {"Resource": t.unknown})
	fs := findings([t.res("aws:iam/policy:Policy", "p", {"policy": json.marshal({"Statement": [stmt]})})])
	t.severities(fs, "iam.wildcard_admin") == {"unknown"}
}

test_administrator_access_attachment_denied if {
	fs := findings([t.res("aws:iam/rolePolicyAttachment:RolePolicyAttachment", "att", {"role": "r", "policyArn": iam.admin_policy_arn})])
	t.severities(fs, "iam.wildcard_admin") == {"deny"}
}

test_managed_policy_arns_admin_denied if {
	fs := findings([role("admin", object.union(good_role.inputs, {"managedPolicyArns": [iam.admin_policy_arn]}))])
	t.severities(fs, "iam.wildcard_admin") == {"deny"}
}

attachment(arn, deps) := object.union(
	t.res("aws:iam/rolePolicyAttachment:RolePolicyAttachment", "att", {"role": "r", "policyArn": arn}),
	{"propertyDependencies": deps},
)

planned_policy := t.res("aws:iam/policy:Policy", "scoped", {"policy": json.marshal({"Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]})})

test_unknown_attached_arn_is_unknown if {
	fs := findings([attachment(t.unknown, {})])
	t.severities(fs, "iam.wildcard_admin") == {"unknown"}
}

test_unknown_arn_of_a_planned_policy_is_allowed if {
	fs := findings([planned_policy, attachment(t.unknown, {"policyArn": [planned_policy.urn]})])
	t.severities(fs, "iam.wildcard_admin") == set()
}

test_unknown_arn_from_something_else_is_unknown if {
	fs := findings([planned_policy, attachment(t.unknown, {"policyArn": [planned_policy.urn, "urn:other"]})])
	t.severities(fs, "iam.wildcard_admin") == {"unknown"}
}

test_unknown_managed_policy_arn_on_a_role_is_unknown if {
	fs := findings([role("r", object.union(good_role.inputs, {"managedPolicyArns": [t.unknown]}))])
	t.severities(fs, "iam.wildcard_admin") == {"unknown"}
}

test_other_attachment_allowed if {
	arn := "arn:aws:iam::aws:policy/AmazonEKSWorkerNodePolicy"
	fs := findings([t.res("aws:iam/rolePolicyAttachment:RolePolicyAttachment", "att", {"role": "r", "policyArn": arn})])
	t.severities(fs, "iam.wildcard_admin") == set()
}

# iam.missing_permissions_boundary

test_missing_boundary_warns if {
	fs := findings([role("nb", object.remove(good_role.inputs, ["permissionsBoundary"]))])
	t.severities(fs, "iam.missing_permissions_boundary") == {"warn"}
}

test_unknown_boundary_is_set if {
	fs := findings([role("ub", object.union(good_role.inputs, {"permissionsBoundary": t.unknown}))])
	t.severities(fs, "iam.missing_permissions_boundary") == set()
}
