"""The pack's workload rules as Kubernetes admission: ValidatingAdmissionPolicies from METADATA.

A team that submits a Job straight to the cluster never meets the pull-request check, so the rules
that judge workloads are also enforced by the API server, as `ValidatingAdmissionPolicy` +
`ValidatingAdmissionPolicyBinding` objects (admissionregistration.k8s.io/v1, CEL; GA since
Kubernetes 1.30, no controller to run).

One definition of each rule
---------------------------
A rule's admission form lives in its own `# METADATA`, beside its Rego body:

    # custom:
    #   id: taints.spot_workload_without_queue
    #   severity: deny
    #   remediation: ...
    #   admission:
    #     cel: >-
    #       !variables.toleratesSpot || variables.labels.exists(...)

`cel` is true when the object passes. It reads the object through the `variables` below (the
admission counterpart of `burst.lib`'s pod-template helpers: the pod spec, the metadata whose
labels and annotations count, every container, whether the pod tolerates or selects spot), so
that each rule's expression says only what the rule says. `kinds` (optional) narrows the
workload kinds it judges. Id, title, severity and remediation are the rule's own METADATA: the
rejection message is `<id>: <title>. Fix: <remediation>`.

`python -m burst_platform.admission > policies/admission.json` writes the forms read from `opa
inspect` (`policy_pack.rule_inventory`) into `policies/admission.json`, which the Pulumi program
reads (so `pulumi up` needs no OPA). It is generated, like `policies/README.md`, and a test holds
it to the METADATA; nobody edits it. The differential tests judge the same objects by the Rego
pack (OPA) and by the API server with these policies installed and require equal verdicts.

Scope: the bindings select namespaces labelled `team` (the team namespaces `TeamQueues`
creates): that is where teams submit work. Platform namespaces (kube-system, kueue-system) run
the controllers and are judged by the pull-request check and Pod Security `baseline`.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from burst_platform import POLICY_DIR

ADMISSION_FILE = POLICY_DIR / "admission.json"
"""The generated admission forms of the pack's rules (`python -m burst_platform.admission`)."""

API_VERSION = "admissionregistration.k8s.io/v1"
"""API version of the policies and bindings."""

WORKLOAD_RESOURCES: Mapping[str, tuple[str, str, str]] = {
    "Pod": ("", "v1", "pods"),
    "Job": ("batch", "v1", "jobs"),
    "CronJob": ("batch", "v1", "cronjobs"),
    "Deployment": ("apps", "v1", "deployments"),
    "StatefulSet": ("apps", "v1", "statefulsets"),
}
"""Workload kinds judged at admission: (API group, version, resource). The pack's JobSet rules
are not enforced here (a JobSet has a pod template per replicated job; its CRD is not part of
the platform)."""

CAPACITY_TYPE_LABEL = "karpenter.sh/capacity-type"

TEAM_LABEL = "team"
"""Namespace label of the team namespaces (`TeamQueues`), which the bindings select."""

_TAINT_KEY = re.compile(
    r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?"
    r"[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$"
)


def admission_policy_name(rule_id: str) -> str:
    """Name of a rule's ValidatingAdmissionPolicy and binding: `burst-<set>-<name>`."""
    return "burst-" + re.sub(r"[^a-z0-9]+", "-", rule_id.lower()).strip("-")


@dataclass(frozen=True)
class AdmissionRule:
    """A rule of the pack with an admission form."""

    id: str
    """The rule id (`custom.id`)."""
    title: str
    """The rule's title."""
    severity: str
    """`deny` (the binding denies) or `warn` (the binding warns and audits)."""
    remediation: str
    """How to fix a violation (`custom.remediation`)."""
    cel: str
    """CEL expression over `variables`, true when the object passes."""
    kinds: tuple[str, ...] = tuple(WORKLOAD_RESOURCES)
    """Workload kinds the rule judges."""

    def __post_init__(self) -> None:
        unknown = sorted(set(self.kinds) - set(WORKLOAD_RESOURCES))
        if unknown or not self.kinds:
            raise ValueError(f"{self.id}: admission kinds {unknown or '[]'} are not workload kinds")
        if self.severity not in ("deny", "warn"):
            raise ValueError(f"{self.id}: severity {self.severity!r} is not deny or warn")

    @property
    def policy_name(self) -> str:
        """Name of the rule's ValidatingAdmissionPolicy and binding (`burst-<set>-<name>`)."""
        return admission_policy_name(self.id)

    @property
    def message(self) -> str:
        """The rejection message: rule id, title and remediation."""
        return f"{self.id}: {self.title}. Fix: {self.remediation}"

    @property
    def validation_actions(self) -> list[str]:
        """`[Deny]` for deny rules, `[Warn, Audit]` for warn rules."""
        return ["Deny"] if self.severity == "deny" else ["Warn", "Audit"]


def admission_rules(rules: Iterable[Any]) -> list[AdmissionRule]:
    """The admission forms of the inventory's rules (`policy_pack.RuleInfo`), by id."""
    return sorted(
        (
            AdmissionRule(
                id=rule.id,
                title=rule.title,
                severity=rule.severity,
                remediation=rule.remediation,
                cel=rule.admission_cel,
                kinds=tuple(rule.admission_kinds) or tuple(WORKLOAD_RESOURCES),
            )
            for rule in rules
            if rule.admission_cel
        ),
        key=lambda r: r.id,
    )


def render(rules: Sequence[AdmissionRule]) -> str:
    """`policies/admission.json`: the admission forms, as the program reads them."""
    document = {
        "generated_by": "python -m burst_platform.admission > policies/admission.json",
        "source": "custom.admission of each rule's # METADATA in policies/*/policy.rego",
        "rules": [
            {
                "id": r.id,
                "title": r.title,
                "severity": r.severity,
                "remediation": r.remediation,
                "kinds": list(r.kinds),
                "cel": r.cel,
            }
            for r in rules
        ],
    }
    return json.dumps(document, indent=1) + "\n"


def load_rules(path: Path = ADMISSION_FILE) -> list[AdmissionRule]:
    """The admission forms from the generated file."""
    document = json.loads(path.read_text(encoding="utf-8"))
    return [
        AdmissionRule(
            id=r["id"],
            title=r["title"],
            severity=r["severity"],
            remediation=r["remediation"],
            cel=r["cel"],
            kinds=tuple(r["kinds"]),
        )
        for r in document["rules"]
    ]


def variables(spot_taint_key: str) -> list[dict[str, str]]:
    """The CEL variables every rule's expression reads (in order: later ones use earlier ones).

    * `podSpec`: the pod spec (a Pod's own, a Job's, Deployment's or StatefulSet's template, a
      CronJob's job template's);
    * `metas`, `labels`, `annotations`: the metadata whose labels and annotations count (the
      object's, and its templates'), and their label and annotation maps;
    * `containers`: containers, init containers and ephemeral containers;
    * `toleratesSpot`: a toleration with the spot taint's key, or `Exists` without a key;
    * `selectsSpot`: a nodeSelector or required node affinity on capacity-type spot.
    """
    if not _TAINT_KEY.match(spot_taint_key):
        raise ValueError(f"{spot_taint_key!r} is not a taint key")
    spot = json.dumps(spot_taint_key)
    ct = json.dumps(CAPACITY_TYPE_LABEL)
    spec = "variables.podSpec"
    required = f"{spec}.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution"
    return [
        {
            "name": "podSpec",
            "expression": "object.kind == 'Pod' ? object.spec : object.kind == 'CronJob' ? "
            "object.spec.jobTemplate.spec.template.spec : object.spec.template.spec",
        },
        {
            "name": "metas",
            "expression": "object.kind == 'Pod' ? [object.metadata] : object.kind == 'CronJob' ? "
            "[object.metadata] + (has(object.spec.jobTemplate.metadata) ? "
            "[object.spec.jobTemplate.metadata] : []) + "
            "(has(object.spec.jobTemplate.spec.template.metadata) ? "
            "[object.spec.jobTemplate.spec.template.metadata] : []) : "
            "[object.metadata] + (has(object.spec.template.metadata) ? "
            "[object.spec.template.metadata] : [])",
        },
        {
            "name": "labels",
            "expression": "variables.metas.filter(m, has(m.labels)).map(m, m.labels)",
        },
        {
            "name": "annotations",
            "expression": "variables.metas.filter(m, has(m.annotations)).map(m, m.annotations)",
        },
        {
            "name": "containers",
            "expression": f"{spec}.containers + "
            f"(has({spec}.initContainers) ? {spec}.initContainers : []) + "
            f"(has({spec}.ephemeralContainers) ? {spec}.ephemeralContainers : [])",
        },
        {
            "name": "toleratesSpot",
            "expression": f"has({spec}.tolerations) && {spec}.tolerations.exists(t, "
            f"(has(t.key) && t.key == {spot}) || (has(t.operator) && t.operator == 'Exists' && "
            "(!has(t.key) || t.key == '')))",
        },
        {
            "name": "selectsSpot",
            "expression": f"(has({spec}.nodeSelector) && {ct} in {spec}.nodeSelector && "
            f"{spec}.nodeSelector[{ct}] == 'spot') || (has({spec}.affinity) && "
            f"has({spec}.affinity.nodeAffinity) && has({required}) && "
            f"{required}.nodeSelectorTerms.exists(term, has(term.matchExpressions) && "
            f"term.matchExpressions.exists(e, e.key == {ct} && e.operator == 'In' && "
            "has(e.values) && 'spot' in e.values)))",
        },
    ]


NOT_DERIVED = (
    "!has(object.metadata.ownerReferences) || !object.metadata.ownerReferences.exists(o, "
    "has(o.controller) && o.controller && "
    "((o.apiVersion == 'batch/v1' && (o.kind == 'Job' || o.kind == 'CronJob')) || "
    "(o.apiVersion == 'apps/v1' && (o.kind == 'ReplicaSet' || o.kind == 'StatefulSet'))))"
)
"""The policies judge what people submit, not what controllers derive from it: a Pod controlled
by a Job, ReplicaSet or StatefulSet, a Job controlled by a CronJob. Their owners were judged
with the metadata the pack reads (the queue label and checkpoint annotation sit on the Job, and
controllers do not copy a Job's metadata to its pods, so judging the pods alone would refuse every
spot Job's pods). Controlled Pods still meet the namespace's Pod Security `restricted`."""


def policy(rule: AdmissionRule, spot_taint_key: str) -> dict[str, Any]:
    """The rule's ValidatingAdmissionPolicy (without binding: see `binding`)."""
    by_group: dict[tuple[str, str], list[str]] = {}
    for kind in rule.kinds:
        group, version, resource = WORKLOAD_RESOURCES[kind]
        by_group.setdefault((group, version), []).append(resource)
    return {
        "apiVersion": API_VERSION,
        "kind": "ValidatingAdmissionPolicy",
        "metadata": {"name": rule.policy_name, "annotations": {"burst.io/rule": rule.id}},
        "spec": {
            "failurePolicy": "Fail",
            "matchConstraints": {
                "resourceRules": [
                    {
                        "apiGroups": [group],
                        "apiVersions": [version],
                        "operations": ["CREATE", "UPDATE"],
                        "resources": resources,
                    }
                    for (group, version), resources in by_group.items()
                ]
            },
            "matchConditions": [{"name": "made-by-a-person", "expression": NOT_DERIVED}],
            "variables": variables(spot_taint_key),
            "validations": [
                {"expression": rule.cel, "message": rule.message, "reason": "Forbidden"}
            ],
        },
    }


def binding(rule: AdmissionRule, team_label: str = TEAM_LABEL) -> dict[str, Any]:
    """The rule's ValidatingAdmissionPolicyBinding: the team namespaces, Deny or Warn+Audit."""
    return {
        "apiVersion": API_VERSION,
        "kind": "ValidatingAdmissionPolicyBinding",
        "metadata": {"name": rule.policy_name, "annotations": {"burst.io/rule": rule.id}},
        "spec": {
            "policyName": rule.policy_name,
            "validationActions": rule.validation_actions,
            "matchResources": {
                "namespaceSelector": {
                    "matchExpressions": [{"key": team_label, "operator": "Exists"}]
                }
            },
        },
    }


def main() -> None:
    """Print `policies/admission.json` from the pack's METADATA (read by `opa inspect`)."""
    from burst_platform.policy_pack import rule_inventory
    from burst_platform.tools import find_opa

    sys.stdout.write(render(admission_rules(rule_inventory(find_opa(), POLICY_DIR))))


if __name__ == "__main__":
    main()
