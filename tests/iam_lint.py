"""Lint IAM policy documents with parliament (duo-labs/parliament 1.6) in tests.

parliament analyses the grammar of a policy against its own copy of the IAM action, resource and
condition-key catalogue: unknown actions, resources that no action can apply to, condition keys
an action does not support, value types, malformed statements. It does not judge whether a
policy is too broad (that is what its community auditors and our own tests are for; they are
off here).

Which documents it understands:

* identity policies (managed policies, inline role policies, permissions boundaries): as they are;
* resource policies (bucket, topic and key policies): as they are; it checks `Principal` too;
* trust policies: they have no `Resource` (the role is implied), which parliament reports as
  MALFORMED, so `lint_trust_policy` adds the role's own ARN as the resource first.

parliament judges each statement on its own, so a policy that scopes `ec2:RunInstances` with one
statement per resource type (as Karpenter's controller policy does, to put a different condition
on each) draws RESOURCE_MISMATCH for every statement. IAM evaluates the union of the statements,
so `all_findings` keeps a mismatch only for an (action, required resource format) pair that no
Allow statement of the document covers.

Severities come from parliament's `config.yaml`, applied by `parliament.enhance_finding` (the
library leaves them empty; only its CLI fills them in). `lint` returns what is above LOW, with
one change: an unknown action or service prefix, LOW in parliament, is raised to MEDIUM here.
IAM accepts a misspelt action without complaint and it then matches nothing, which in a Deny
(the budget circuit breaker, a permissions boundary) silently fails open.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import parliament  # type: ignore[import-untyped]

SEVERITIES = ("MUTE", "INFO", "LOW", "MEDIUM", "HIGH", "CRITICAL")
"""parliament's severities, lowest first."""

ESCALATED_ISSUES = {"UNKNOWN_ACTION": "MEDIUM", "UNKNOWN_PREFIX": "MEDIUM"}
"""Issues whose parliament severity (LOW) is raised, with the severity they get."""

TRUST_POLICY = "trust"
IDENTITY_POLICY = "identity"
RESOURCE_POLICY = "resource"


@dataclass(frozen=True)
class Finding:
    """One parliament finding."""

    issue: str
    severity: str
    detail: str
    location: str


@dataclass(frozen=True)
class PolicyDocument:
    """A policy document a resource registration carries, with what the linter needs to know."""

    kind: str
    resource_type: str
    resource_name: str
    document: dict[str, Any]
    role_arn: str = ""


def all_findings(document: dict[str, Any]) -> list[Finding]:
    """Every parliament finding on `document`, whatever its severity."""
    policy = parliament.analyze_policy_string(
        json.dumps(document),
        ignore_private_auditors=True,
        include_community_auditors=False,
    )
    findings = []
    for raw in policy.findings:
        parliament.enhance_finding(raw)
        if raw.issue == "RESOURCE_MISMATCH" and isinstance(raw.detail, list):
            raw.detail = [m for m in raw.detail if not _covered(document, m)]
            if not raw.detail:
                continue
        findings.append(
            Finding(
                issue=raw.issue,
                severity=ESCALATED_ISSUES.get(raw.issue, raw.severity),
                detail=str(raw.detail),
                location=str(raw.location),
            )
        )
    return findings


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _covered(document: dict[str, Any], mismatch: dict[str, str]) -> bool:
    """Whether some Allow statement grants `action` on a resource of the required format."""
    action, required = mismatch["action"], mismatch["required_format"]
    pattern = re.compile("^" + ".*".join(re.escape(part) for part in required.split("*")) + "$")
    for statement in _as_list(document.get("Statement", [])):
        if statement.get("Effect") != "Allow":
            continue
        actions = [a.lower() for a in _as_list(statement.get("Action", []))]
        if action.lower() not in actions:
            continue
        resources = _as_list(statement.get("Resource", []))
        if any((r == "*" and required == "*") or pattern.match(r) for r in resources):
            return True
    return False


def lint(document: dict[str, Any], minimum_severity: str = "MEDIUM") -> list[Finding]:
    """Findings on `document` at `minimum_severity` or above (by default: above LOW)."""
    floor = SEVERITIES.index(minimum_severity)
    return [f for f in all_findings(document) if SEVERITIES.index(f.severity) >= floor]


def lint_trust_policy(document: dict[str, Any], role_arn: str) -> list[Finding]:
    """Lint a role trust policy, with the role itself as the resource of every statement."""
    with_resource = copy.deepcopy(document)
    statements = with_resource["Statement"]
    for statement in statements if isinstance(statements, list) else [statements]:
        if "Resource" not in statement and "NotResource" not in statement:
            statement["Resource"] = role_arn
    return lint(with_resource)


def lint_document(policy: PolicyDocument) -> list[Finding]:
    """Lint a document extracted from a registration the way its kind requires."""
    if policy.kind == TRUST_POLICY:
        return lint_trust_policy(policy.document, policy.role_arn)
    return lint(policy.document)


_POLICY_INPUTS = {
    "aws:iam/role:Role": ("assumeRolePolicy", TRUST_POLICY),
    "aws:iam/policy:Policy": ("policy", IDENTITY_POLICY),
    "aws:iam/rolePolicy:RolePolicy": ("policy", IDENTITY_POLICY),
    "aws:s3/bucketPolicy:BucketPolicy": ("policy", RESOURCE_POLICY),
    "aws:sns/topicPolicy:TopicPolicy": ("policy", RESOURCE_POLICY),
    "aws:sns/topic:Topic": ("policy", RESOURCE_POLICY),
    "aws:kms/key:Key": ("policy", RESOURCE_POLICY),
    "aws:sqs/queuePolicy:QueuePolicy": ("policy", RESOURCE_POLICY),
    "aws:ec2/vpcEndpoint:VpcEndpoint": ("policy", RESOURCE_POLICY),
}
"""Resource types that carry a policy document, the input holding it, and its kind."""


def policy_documents(registrations: Iterable[Any], account_id: str) -> list[PolicyDocument]:
    """Every policy document in mock `registrations` (`mock_runtime.Registration`)."""
    documents = []
    for registration in registrations:
        spec = _POLICY_INPUTS.get(registration.type)
        if spec is None or not registration.inputs.get(spec[0]):
            continue
        field, kind = spec
        role_arn = ""
        if kind == TRUST_POLICY:
            path = registration.inputs.get("path", "/")
            role_arn = f"arn:aws:iam::{account_id}:role{path}{registration.inputs['name']}"
        documents.append(
            PolicyDocument(
                kind=kind,
                resource_type=registration.type,
                resource_name=registration.name,
                document=json.loads(registration.inputs[field]),
                role_arn=role_arn,
            )
        )
    return documents
