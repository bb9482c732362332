"""The CrossGuard pack offline: the adapter (CrossGuard's resources -> the policy input) against
`burst_platform.check.normalise` on the real engine's preview documents (`tests/corpus/engine/`),
and the whole pack as the SDK runs it (its Analyzer servicer, fed the requests the engine would
send for those documents) against `burst check` on the same documents.

What CrossGuard hands the pack differs from the preview document: `AnalyzeStack` sends the
resources' outputs (here: the inputs plus an unknown `status`, and a secret marked the engine's
way), no step operations, no deletes; the checked inputs come through `Analyze`. The requests
below are built that way from each document's final state.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from burst_platform.check import crossguard, normalise
from burst_platform.check.crossguard import Evaluator, Outcome, PackConfig, violations
from burst_platform.check.model import DENY, UNKNOWN, WAIVED, WARN, CheckReport, Finding
from burst_platform.check.pipeline import CheckOptions, run_check
from burst_platform.errors import BurstError
from tests.test_corpus import ENGINE_CORPUS, ROOT

# The engine's documents that show the whole stack (the pack always sees the whole stack).
COMPLETE = [
    "first-deploy",
    "unchanged-show-sames",
    "update-show-sames",
    "replace-with-steps",
    "replace-logical",
    "team-removed-show-sames",
]
SECRET_SIG = {"4dabf18193072939515e22adb298388d": "1b47061264138c4ac30d75fd1eb44270"}
_RULE = re.compile(r"^(?P<rule>[a-z_]+\.[a-z_]+)\b.*?\[resource: (?P<resource>[^\]]+)\]")


def document(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((ENGINE_CORPUS / f"{name}.json").read_text())
    return loaded


def final_states(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """URN -> newState of every resource in the stack after the update (the engine's `news`)."""
    states: dict[str, dict[str, Any]] = {}
    for step in doc["steps"]:
        if step["op"] in normalise.INCLUDED_OPS:
            states[step["urn"]] = step["newState"]
    return states


def comparable(plan: normalise.PlanInput) -> dict[str, Any]:
    """The policy input without what CrossGuard cannot show: step ops, deleted resources, and
    property dependency lists that are empty (the engine leaves those out of analyzer requests;
    the pack reads a missing key as `[]`, `lib.property_sources`)."""
    data = plan.document

    def shown(resource: dict[str, Any]) -> dict[str, Any]:
        kept = {k: v for k, v in resource.items() if k != "op"}
        kept["propertyDependencies"] = {k: v for k, v in kept["propertyDependencies"].items() if v}
        return kept

    return {
        "format": data["format"],
        "resources": sorted((shown(r) for r in data["resources"]), key=lambda r: r["urn"]),
        "external": data["external"],
        "stack": data["stack"],
    }


# ---------------------------------------------------------------------------------------------
# The adapter alone, with plain stand-ins for PolicyResource
# ---------------------------------------------------------------------------------------------


class FakeOptions:
    def __init__(self, parent: str | None) -> None:
        self.parent = parent


class FakeProvider:
    def __init__(self, urn: str) -> None:
        self.urn = urn


class FakeResource:
    """What the SDK builds for AnalyzeStack: dependencies only among the stack's resources."""

    def __init__(self, state: dict[str, Any]) -> None:
        self.resource_type = state["type"]
        self.urn = state["urn"]
        self.props = {**state.get("inputs", {}), "status": normalise.UNKNOWN_SENTINEL}
        self.opts = FakeOptions(state.get("parent") or None)
        provider = normalise.provider_urn(state.get("provider"))
        self.provider = FakeProvider(provider) if provider else None
        self.parent: FakeResource | None = None
        self.dependencies: list[FakeResource] = []
        self.property_dependencies: dict[str, list[FakeResource]] = {}


def fake_stack(doc: dict[str, Any]) -> tuple[list[FakeResource], dict[str, Any]]:
    states = final_states(doc)
    resources = {urn: FakeResource(state) for urn, state in states.items()}
    for urn, state in states.items():
        resource = resources[urn]
        resource.dependencies = [resources[d] for d in state.get("dependencies", [])]
        resource.property_dependencies = {
            k: [resources[d] for d in v] for k, v in state.get("propertyDependencies", {}).items()
        }
    inputs = {urn: copy.deepcopy(state.get("inputs", {})) for urn, state in states.items()}
    return list(resources.values()), inputs


@pytest.mark.parametrize("name", COMPLETE)
def test_the_adapter_gives_the_normalisers_input(name: str) -> None:
    doc = document(name)
    resources, inputs = fake_stack(doc)
    assert comparable(crossguard.policy_input(resources, inputs)) == comparable(
        normalise.normalise_preview(doc)
    )


def test_the_comparison_sees_a_lost_dependency_and_outputs_instead_of_inputs() -> None:
    doc = document("first-deploy")
    expected = comparable(normalise.normalise_preview(doc))
    resources, inputs = fake_stack(doc)
    pool = next(r for r in resources if r.urn.endswith("-spot") and r.dependencies)
    pool.dependencies = pool.dependencies[1:]
    assert comparable(crossguard.policy_input(resources, inputs)) != expected
    resources, inputs = fake_stack(doc)
    outputs = {r.urn: dict(r.props) for r in resources}  # what AnalyzeStack alone would give
    assert comparable(crossguard.policy_input(resources, outputs)) != expected


def test_a_resource_never_analysed_is_one_the_stack_only_reads() -> None:
    doc = document("first-deploy")
    resources, inputs = fake_stack(doc)
    read = next(r.urn for r in resources if "ResourceFlavor" in r.urn)
    del inputs[read]
    plan = crossguard.policy_input(resources, inputs)
    assert read in plan.document["external"]
    assert read not in {r["urn"] for r in plan.resources}


def test_plain_maps_every_unknown_sentinel_and_keeps_the_rest() -> None:
    number_unknown = "3eeb2bf0-c639-47a8-9e75-3b44932eb421"
    value = {"a": [1, True, None, number_unknown], "b": {"c": "x"}}
    assert crossguard.plain(value) == {
        "a": [1, True, None, normalise.UNKNOWN_SENTINEL],
        "b": {"c": "x"},
    }


# ---------------------------------------------------------------------------------------------
# Evaluation, violations, failing closed (no SDK, no OPA)
# ---------------------------------------------------------------------------------------------


def finding(severity: str, rule: str = "taints.spot_without_taint") -> Finding:
    return Finding(rule, severity, "urn:pulumi:e2e::p::t::n", "a message", title="A title",
                   remediation="Do this.")  # fmt: skip


def test_each_severity_goes_to_its_policy_with_rule_urn_message_and_fix() -> None:
    report = CheckReport([finding(s) for s in (DENY, UNKNOWN, WARN, WAIVED)], 1, [], [])
    outcome = Outcome(report=report)
    for severity in (DENY, UNKNOWN, WARN, WAIVED):
        (message, urn), *rest = violations(outcome, severity)
        assert not rest
        assert urn == "urn:pulumi:e2e::p::t::n"
        assert message == (
            "taints.spot_without_taint (A title): a message [resource: urn:pulumi:e2e::p::t::n]"
            " Fix: Do this."
        )


def test_a_failed_check_is_one_mandatory_violation_and_nothing_else() -> None:
    outcome = Outcome(error="opa: not found")
    assert violations(outcome, DENY) == [
        ("burst check could not be made, so the deployment is refused: opa: not found", None)
    ]
    assert violations(outcome, UNKNOWN) == violations(outcome, WARN) == []


@pytest.mark.parametrize(
    "error", [BurstError("opa: exit 3"), RuntimeError("boom"), KeyError("x")], ids=repr
)
def test_the_evaluator_fails_closed_on_any_error(error: Exception) -> None:
    def checker(plan: normalise.PlanInput, config: PackConfig) -> CheckReport:
        raise error

    resources, inputs = fake_stack(document("first-deploy"))
    evaluator = Evaluator(checker=checker, inputs=inputs)
    outcome = evaluator.evaluate(resources, {})
    assert outcome.report is None
    assert outcome.error
    assert violations(outcome, DENY)[0][0].startswith("burst check could not be made")


def test_the_evaluator_fails_closed_on_bad_config_and_on_no_resources() -> None:
    resources, inputs = fake_stack(document("first-deploy"))
    assert Evaluator(inputs=inputs).evaluate(resources, {"opaTimeout": "soon"}).error
    assert "nothing to check" in Evaluator(inputs={}).evaluate(resources, {}).error


def test_one_evaluation_serves_the_four_policies() -> None:
    calls = []

    def checker(plan: normalise.PlanInput, config: PackConfig) -> CheckReport:
        calls.append(plan)
        return CheckReport([], len(plan.resources), [], [])

    resources, inputs = fake_stack(document("first-deploy"))
    evaluator = Evaluator(checker=checker, inputs=inputs)
    for _ in range(4):
        assert evaluator.evaluate(resources, {}).report is not None
    assert len(calls) == 1
    evaluator.evaluate(resources, {"opaTimeout": 5})  # another configuration: evaluated again
    assert len(calls) == 2


# ---------------------------------------------------------------------------------------------
# The whole pack through the SDK's own Analyzer servicer, with the real OPA
# ---------------------------------------------------------------------------------------------


@pytest.fixture
def sdk() -> Iterator[Any]:
    pytest.importorskip("pulumi_policy", reason="the crossguard extra (pulumi-policy)")
    from pulumi_policy import deserialize

    original = deserialize._deserialize_property
    crossguard.install_secret_placeholders()
    yield
    deserialize._deserialize_property = original


def _struct(value: dict[str, Any]) -> Any:
    from google.protobuf import json_format, struct_pb2

    return json_format.ParseDict(value, struct_pb2.Struct())


def requests(doc: dict[str, Any], inputs: dict[str, Any] | None = None) -> tuple[list[Any], Any]:
    """The Analyze requests and the AnalyzeStack request the engine sends for `doc`."""
    from pulumi.runtime.proto import analyzer_pb2

    states = final_states(doc)
    inputs = inputs or {urn: s.get("inputs", {}) for urn, s in states.items()}

    def provider(state: dict[str, Any]) -> Any:
        urn = normalise.provider_urn(state.get("provider"))
        if not urn:
            return None
        return analyzer_pb2.AnalyzerProviderResource(
            urn=urn, type=states[urn]["type"], name=normalise.urn_name(urn),
            properties=_struct(inputs[urn]),
        )  # fmt: skip

    def with_secret(values: dict[str, Any]) -> dict[str, Any]:  # the engine keeps secrets marked
        return {k: {**SECRET_SIG, "value": "plaintext"} if v == "[secret]" else v
                for k, v in values.items()}  # fmt: skip

    analyze = []
    stack = []
    for urn, state in states.items():
        common: dict[str, Any] = {
            "urn": urn, "type": state["type"], "name": normalise.urn_name(urn),
            "options": analyzer_pb2.AnalyzerResourceOptions(parent=state.get("parent", "")),
        }  # fmt: skip
        if provider(state) is not None:
            common["provider"] = provider(state)
        analyze.append(
            analyzer_pb2.AnalyzeRequest(properties=_struct(with_secret(inputs[urn])), **common)
        )
        outputs = {**with_secret(inputs[urn]), "status": normalise.UNKNOWN_SENTINEL}
        stack.append(
            analyzer_pb2.AnalyzerResource(
                properties=_struct(outputs),
                parent=state.get("parent", ""),
                dependencies=state.get("dependencies", []),
                propertyDependencies={
                    k: analyzer_pb2.AnalyzerPropertyDependencies(urns=v)
                    for k, v in state.get("propertyDependencies", {}).items()
                },
                **common,
            )
        )
    return analyze, analyzer_pb2.AnalyzeStackRequest(resources=stack)


def run_pack(doc: dict[str, Any], inputs: dict[str, Any] | None = None) -> list[dict[str, str]]:
    """The pack's violations for `doc`, through the SDK's servicer (as `pulumi preview` runs
    it): [{policy, level, rule, resource, message}]."""
    from pulumi_policy import EnforcementLevel
    from pulumi_policy.policy import _PolicyAnalyzerServicer

    servicer = _PolicyAnalyzerServicer(
        crossguard.PACK_NAME, "0.1.0", crossguard.build_policies(Evaluator()),
        EnforcementLevel.MANDATORY,
    )  # fmt: skip
    analyze, stack = requests(doc, inputs)
    for request in analyze:
        assert not servicer.Analyze(request, None).diagnostics  # burst-inputs reports nothing
    found = []
    for diagnostic in servicer.AnalyzeStack(stack, None).diagnostics:
        rule = _RULE.match(diagnostic.message.splitlines()[-1])  # after the description
        found.append(
            {
                "policy": diagnostic.policyName,
                "level": "mandatory" if diagnostic.enforcementLevel == 1 else "advisory",
                "message": diagnostic.message,
                **(rule.groupdict() if rule else {"rule": "", "resource": ""}),
            }
        )
    return found


def burst_check(path: Path) -> set[tuple[str, str, str]]:
    report = run_check(CheckOptions(preview=path, root=ROOT, skip_checkov=True))
    return {(f.severity, f.rule, f.resource) for f in report.findings}


SEVERITY_OF = {policy: severity for severity, policy in crossguard.SEVERITY_POLICIES.items()}


@pytest.mark.opa
@pytest.mark.parametrize("name", ["first-deploy", "team-removed-show-sames"])
def test_the_pack_reports_what_burst_check_reports(sdk: Any, name: str) -> None:
    found = run_pack(document(name))
    assert {(SEVERITY_OF[v["policy"]], v["rule"], v["resource"]) for v in found} == burst_check(
        ENGINE_CORPUS / f"{name}.json"
    )
    assert {v["level"] for v in found if v["policy"] == "burst-deny"} == {"mandatory"}
    assert all("plaintext" not in v["message"] for v in found)


@pytest.mark.opa
def test_a_spot_pool_without_its_taint_denies_through_the_pack(sdk: Any, tmp_path: Path) -> None:
    doc = document("first-deploy")
    inputs = {u: copy.deepcopy(s.get("inputs", {})) for u, s in final_states(doc).items()}
    pool = next(u for u in inputs if u.endswith("gpu-ml-eu-west-1-spot"))
    inputs[pool]["spec"]["template"]["spec"]["taints"] = []
    found = run_pack(doc, inputs)
    denied = {(v["rule"], v["resource"]) for v in found if v["policy"] == "burst-deny"}
    assert ("taints.spot_without_taint", pool) in denied
    for step in doc["steps"]:  # the same object through burst check
        if step["urn"] == pool:
            step["newState"]["inputs"] = inputs[pool]
    broken = tmp_path / "broken.json"
    broken.write_text(json.dumps(doc))
    assert ("deny", "taints.spot_without_taint", pool) in burst_check(broken)


@pytest.mark.opa
def test_an_unknown_taint_is_advisory_through_the_pack(sdk: Any) -> None:
    doc = document("first-deploy")
    inputs = {u: copy.deepcopy(s.get("inputs", {})) for u, s in final_states(doc).items()}
    pool = next(u for u in inputs if u.endswith("gpu-ml-eu-west-1-spot"))
    inputs[pool]["spec"]["template"]["spec"]["taints"] = normalise.UNKNOWN_SENTINEL
    found = run_pack(doc, inputs)
    unknown = {(v["rule"], v["resource"], v["level"]) for v in found
               if v["policy"] == "burst-unknown"}  # fmt: skip
    assert ("taints.spot_without_taint", pool, "advisory") in unknown
    assert not any(v["rule"] == "taints.spot_without_taint" and v["policy"] == "burst-deny"
                   for v in found)  # fmt: skip


def test_secrets_reach_the_pack_as_the_preview_shows_them(sdk: Any) -> None:
    from pulumi_policy.deserialize import deserialize_properties

    props = deserialize_properties({"kubeconfig": {**SECRET_SIG, "value": "token"}, "n": 1})
    assert props == {"kubeconfig": normalise.SECRET_PLACEHOLDER, "n": 1}


def test_an_evaluation_process_that_dies_is_a_failed_check(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    monkeypatch.setattr(sys, "executable", "/bin/false")
    resources, inputs = fake_stack(document("first-deploy"))
    outcome = Evaluator(inputs=inputs).evaluate(resources, {})
    assert outcome.report is None
    assert "the evaluation process failed (exit 1)" in outcome.error


@pytest.mark.opa
def test_a_broken_opa_in_the_evaluation_process_is_a_failed_check(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    broken = tmp_path / "opa"
    broken.write_text("#!/bin/sh\nexit 3\n")
    broken.chmod(0o755)
    monkeypatch.setenv("BURST_OPA", str(broken))
    resources, inputs = fake_stack(document("first-deploy"))
    outcome = Evaluator(inputs=inputs).evaluate(resources, {})
    assert outcome.report is None
    assert "OPA failed to start (exit status 3)" in outcome.error
