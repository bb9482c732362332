"""The pack's workload rules, enforced by the API server: one ValidatingAdmissionPolicy and one
binding per rule.

Objects (all `admissionregistration.k8s.io/v1`, cluster-scoped):

* per rule with an admission form (`custom.admission` of its `# METADATA`; see
  `burst_platform.admission`), a `ValidatingAdmissionPolicy` named `burst-<set>-<name>` whose
  CEL validation is the rule's and whose message is its id, title and remediation;
* its `ValidatingAdmissionPolicyBinding`, selecting the namespaces labelled `team` (the team
  namespaces of `TeamQueues`), with `validationActions: [Deny]` for deny rules and
  `[Warn, Audit]` for warn rules.

Why `namespaceSelector` on the `team` label and not one binding per team or a `paramKind`: every
rule here is the same in every team namespace, so one binding per rule suffices; a rule that
must compare an object with its namespace's team reads `namespaceObject.metadata.labels.team` in
CEL, which the API server gives every namespaced request, without a parameter object to keep in
step. The platform namespaces (kube-system, kueue-system) run the controllers, are not bound, and
keep Pod Security `baseline` enforcement.

The policies judge CREATE and UPDATE, so a suspended Job cannot be edited into a violation
before it starts. An object that already violates a rule when its policy is installed can still
be deleted, but not updated. They judge what people submit, not what controllers derive from it
(`burst_platform.admission.NOT_DERIVED`: a Pod controlled by a Job, ReplicaSet or StatefulSet, a
Job controlled by a CronJob): the owner was judged with the metadata the rules read, which the
controllers do not copy. Pod Security `restricted` still judges every Pod. A ReplicaSet created
directly (no rule of the pack judges one) or a Pod whose controller reference is forged passes
the policies (not Pod Security).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_kubernetes as k8s

from burst_platform.admission import (
    TEAM_LABEL,
    AdmissionRule,
    binding,
    load_rules,
    policy,
    variables,
)
from burst_platform.components.conventions import ComponentArgsError


@dataclass(frozen=True)
class AdmissionGuardrailsArgs:
    """Arguments of `AdmissionGuardrails`."""

    rules: Sequence[AdmissionRule] = field(default_factory=load_rules)
    """The rules to enforce; default: every rule of the pack with an admission form
    (`policies/admission.json`, generated from the METADATA)."""

    spot_taint_key: str = "spot"
    """Key of the spot nodes' taint (`GpuCapacity.spot_taint_key`, guardrails
    `spot.taint_key`)."""

    team_label: str = TEAM_LABEL
    """Namespace label the bindings select (`TeamQueues` labels team namespaces `team`)."""

    def __post_init__(self) -> None:
        if isinstance(self.rules, str | bytes) or not self.rules:
            raise ComponentArgsError("rules", "must be a non-empty list of AdmissionRule")
        for rule in self.rules:
            if not isinstance(rule, AdmissionRule):
                raise ComponentArgsError("rules", f"{rule!r} is not an AdmissionRule")
        names = [rule.policy_name for rule in self.rules]
        if len(set(names)) != len(names):
            raise ComponentArgsError("rules", "two rules have the same policy name")
        try:
            variables(self.spot_taint_key)
        except ValueError as error:
            raise ComponentArgsError("spot_taint_key", str(error)) from None
        if not isinstance(self.team_label, str) or not self.team_label:
            raise ComponentArgsError("team_label", "must be a label key")


class AdmissionGuardrails(pulumi.ComponentResource):
    """ValidatingAdmissionPolicies and bindings of the pack's workload rules."""

    policy_names: pulumi.Output[dict[str, str]]
    """Name of each rule's policy and binding, by rule id."""

    def __init__(
        self, name: str, args: AdmissionGuardrailsArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("burst:admission:AdmissionGuardrails", name, None, opts)
        for rule in args.rules:
            suffix = rule.policy_name.removeprefix("burst-")
            body = policy(rule, args.spot_taint_key)
            vap = k8s.admissionregistration.v1.ValidatingAdmissionPolicy(
                f"{name}-{suffix}",
                metadata=body["metadata"],
                spec=body["spec"],
                opts=pulumi.ResourceOptions(parent=self),
            )
            bound = binding(rule, args.team_label)
            k8s.admissionregistration.v1.ValidatingAdmissionPolicyBinding(
                f"{name}-{suffix}-binding",
                metadata=bound["metadata"],
                spec=bound["spec"],
                opts=pulumi.ResourceOptions(parent=self, depends_on=[vap]),
            )
        self.policy_names = pulumi.Output.from_input(
            {rule.id: rule.policy_name for rule in args.rules}
        )
        self.register_outputs({"policy_names": self.policy_names})
