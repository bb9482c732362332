"""Admission policies from the rules' METADATA: the generated file is current, every expression
compiles, the CEL form of each rule gives every fixture and generated workload the Rego pack's
verdict (cel-python offline; the API server does the same in tests/e2e/test_admission.py), a
rule whose CEL loses a clause is caught, and the component emits one policy and binding per
rule."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest
from celpy.adapter import json_to_cel

from burst_platform import admission, policy_pack
from burst_platform.components.admission import AdmissionGuardrails, AdmissionGuardrailsArgs
from burst_platform.components.conventions import ComponentArgsError
from tests.admission_cases import (
    cel_variables,
    cel_verdicts,
    compile_cel,
    fixture_objects,
    generated_objects,
    opa_verdicts,
    readme_job,
    rules,
)
from tests.conftest import Run, of_type

pytestmark = pytest.mark.opa

ROOT = Path(__file__).resolve().parent.parent
OPA = ROOT / ".tools" / "bin" / "opa"

ENFORCED = {
    "taints.critical_on_spot",
    "taints.gpu_workload_off_team_pool",
    "taints.foreign_local_queue",
    "taints.spot_workload_not_interruption_ready",
    "taints.spot_workload_without_queue",
    "workloads.capabilities_not_dropped",
    "workloads.host_namespaces",
    "workloads.host_path_volume",
    "workloads.plaintext_credentials",
    "workloads.privilege_escalation",
    "workloads.privileged_container",
    "workloads.runs_as_root",
}
"""The rules enforced at admission (every other rule judges infrastructure, not workloads)."""


def test_admission_file_is_generated_from_the_metadata() -> None:
    inventory = policy_pack.rule_inventory(OPA, ROOT / "policies")
    expected = admission.render(admission.admission_rules(inventory))
    current = (ROOT / "policies" / "admission.json").read_text()
    assert current == expected, "run `python -m burst_platform.admission > policies/admission.json`"
    by_id = {rule.id: rule for rule in inventory}
    for rule in admission.load_rules():
        info = by_id[rule.id]
        assert (rule.title, rule.severity, rule.remediation) == (
            info.title,
            info.severity,
            info.remediation,
        )


def test_the_enforced_rules() -> None:
    assert {rule.id for rule in rules()} == ENFORCED


def test_a_malformed_admission_form_is_refused(tmp_path: Path) -> None:
    pack = tmp_path / "policies" / "demo"
    pack.mkdir(parents=True)
    (pack / "policy.rego").write_text(
        "package burst.demo\n\n"
        "# METADATA\n# title: Demo\n# description: Demo rule.\n# custom:\n"
        "#   id: demo.rule\n#   severity: deny\n#   remediation: Fix it.\n"
        "#   admission:\n#     expression: 'true'\n"
        "findings contains 1 if false\n"
    )
    with pytest.raises(ValueError, match=r"unknown key 'expression'.*\n.*cel must be"):
        policy_pack.rule_inventory(OPA, tmp_path / "policies")


def test_every_expression_compiles() -> None:
    for variable in admission.variables("spot"):
        compile_cel(variable["expression"])
    for rule in rules():
        compile_cel(rule.cel)
        assert rule.id in rule.message and rule.remediation in rule.message


@pytest.fixture(scope="module")
def cases() -> dict[str, dict[str, Any]]:
    objects = {**fixture_objects(), **generated_objects()}
    assert len(objects) > 250
    return objects


@pytest.fixture(scope="module")
def values(cases: dict[str, dict[str, Any]]) -> dict[str, Any]:
    return {name: cel_variables(obj) for name, obj in cases.items()}


@pytest.fixture(scope="module")
def opa(cases: dict[str, dict[str, Any]]) -> dict[str, set[str]]:
    return opa_verdicts(cases)


def test_the_readme_job_passes_both_forms() -> None:
    job = readme_job()
    assert job["metadata"]["namespace"] == "quant"
    assert cel_verdicts(job) == set()
    assert opa_verdicts({"readme": job}) == {"readme": set()}


def test_cel_and_rego_agree_on_every_case(
    cases: dict[str, dict[str, Any]], opa: dict[str, set[str]], values: dict[str, Any]
) -> None:
    disagreements = {
        name: (sorted(cel), sorted(opa[name]))
        for name, obj in cases.items()
        if (cel := cel_verdicts(obj, values=values[name])) != opa[name]
    }
    assert disagreements == {}, "(CEL, Rego) verdicts differ"
    # every rule is seen to deny and to pass
    for rule in ENFORCED:
        assert any(rule in v for v in opa.values()), rule
        assert any(rule not in v for v in opa.values()), rule
    assert set() in opa.values()


@pytest.mark.parametrize(
    ("rule_id", "clause", "replacement"),
    [
        (
            "taints.spot_workload_not_interruption_ready",
            "variables.podSpec.terminationGracePeriodSeconds >= 60",
            "true",
        ),
        ("taints.critical_on_spot", " || variables.selectsSpot", ""),
        ("workloads.runs_as_root", "c.securityContext.runAsUser == 0", "false"),
        ("workloads.plaintext_credentials", " || e.value.matches('^(AKIA|ASIA)[A-Z0-9]{16}$')", ""),
    ],
)
def test_a_rule_that_loses_a_clause_is_caught(
    cases: dict[str, dict[str, Any]],
    opa: dict[str, set[str]],
    values: dict[str, Any],
    rule_id: str,
    clause: str,
    replacement: str,
) -> None:
    """The differential can fail: the rule's CEL with one clause cut disagrees with the Rego on
    some case."""
    (rule,) = [r for r in rules() if r.id == rule_id]
    assert clause in rule.cel
    broken = dataclasses.replace(rule, cel=rule.cel.replace(clause, replacement))
    differ = [
        name
        for name, obj in cases.items()
        if (rule_id in cel_verdicts(obj, [broken], values[name])) != (rule_id in opa[name])
    ]
    assert differ, f"no case tells {broken.cel!r} from the rule"


def test_policies_and_bindings(run: Run) -> None:
    def program() -> None:
        AdmissionGuardrails("admission", AdmissionGuardrailsArgs())

    registrations = run(program)
    (component,) = of_type(registrations, "burst:admission:AdmissionGuardrails")
    policies = of_type(
        registrations, "kubernetes:admissionregistration.k8s.io/v1:ValidatingAdmissionPolicy"
    )
    bindings = of_type(
        registrations,
        "kubernetes:admissionregistration.k8s.io/v1:ValidatingAdmissionPolicyBinding",
    )
    assert len(policies) == len(bindings) == len(ENFORCED)
    for child in policies + bindings:
        assert child.parent == component.urn
    by_rule = {p.inputs["metadata"]["annotations"]["burst.io/rule"]: p for p in policies}
    assert set(by_rule) == ENFORCED
    for rule in rules():
        spec = by_rule[rule.id].inputs["spec"]
        (validation,) = spec["validations"]
        assert validation["expression"] == rule.cel
        assert rule.id in validation["message"] and rule.remediation in validation["message"]
        assert spec["failurePolicy"] == "Fail"
    for bound in bindings:
        spec = bound.inputs["spec"]
        assert spec["validationActions"] == ["Deny"]
        assert spec["matchResources"]["namespaceSelector"] == {
            "matchExpressions": [{"key": "team", "operator": "Exists"}]
        }
        assert spec["policyName"] == bound.inputs["metadata"]["name"]


@pytest.mark.parametrize(
    ("owner", "judged"),
    [
        (None, True),
        ({"apiVersion": "batch/v1", "kind": "Job", "controller": True}, False),
        ({"apiVersion": "apps/v1", "kind": "ReplicaSet", "controller": True}, False),
        ({"apiVersion": "apps/v1", "kind": "StatefulSet", "controller": True}, False),
        ({"apiVersion": "batch/v1", "kind": "CronJob", "controller": True}, False),
        ({"apiVersion": "batch/v1", "kind": "Job"}, True),  # not the controller
        ({"apiVersion": "example.com/v1", "kind": "Job", "controller": True}, True),
    ],
)
def test_derived_objects_are_left_to_their_owners(
    owner: dict[str, Any] | None, judged: bool
) -> None:
    (condition,) = admission.policy(rules()[0], "spot")["spec"]["matchConditions"]
    metadata: dict[str, Any] = {"name": "p"}
    if owner is not None:
        metadata["ownerReferences"] = [{**owner, "name": "o", "uid": "u"}]
    result = compile_cel(condition["expression"]).evaluate(
        {"object": json_to_cel({"kind": "Pod", "metadata": metadata})}
    )
    assert bool(result) is judged


def test_warn_rules_warn_and_audit() -> None:
    rule = dataclasses.replace(rules()[0], severity="warn")
    assert admission.binding(rule)["spec"]["validationActions"] == ["Warn", "Audit"]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"rules": []}, "rules"),
        ({"rules": ["x"]}, "rules"),
        ({"spot_taint_key": "not a key"}, "spot_taint_key"),
        ({"team_label": ""}, "team_label"),
    ],
)
def test_bad_arguments_name_the_field(change: dict[str, Any], field: str) -> None:
    with pytest.raises(ComponentArgsError) as raised:
        AdmissionGuardrailsArgs(**change)
    assert raised.value.field == field
