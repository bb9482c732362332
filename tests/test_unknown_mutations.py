"""Unknown means unknown, for every rule: a generated test over every fixture.

For every rule and its denied fixture, each value of every resource's inputs (the whole inputs, an
object, a list, one element, a leaf) is replaced, one at a time, by Pulumi's unknown sentinel and
by `[secret]`. The rule's verdict on the resources it denied must stay (deny or warn) or become
`unknown`; it must never disappear. On the allowed fixture the same mutations must never make the
rule deny or warn: an unknown value is reported as unknown, never judged as a violation.

All mutants are evaluated by the pinned OPA in one `opa eval` (`with input as` per mutant).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from burst_platform import policy_pack
from burst_platform.check.normalise import SECRET_PLACEHOLDER, UNKNOWN_SENTINEL
from burst_platform.policy_pack import RuleInfo
from burst_platform.tools import find_opa
from tests.conftest import opa_eval

pytestmark = pytest.mark.opa

ROOT = Path(__file__).resolve().parent.parent
POLICIES = ROOT / "policies"
PLACEHOLDERS = (UNKNOWN_SENTINEL, SECRET_PLACEHOLDER)
Path_ = tuple[str | int, ...]


def subtree_paths(value: Any, prefix: Path_ = ()) -> Iterator[Path_]:
    """Every path in a JSON value, the value itself first (objects, lists, elements, leaves)."""
    yield prefix
    if isinstance(value, dict):
        for key, child in value.items():
            yield from subtree_paths(child, (*prefix, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            yield from subtree_paths(child, (*prefix, index))


def replaced(value: Any, path: Path_, placeholder: str) -> Any:
    """A copy of `value` with the subtree at `path` replaced by `placeholder`."""
    if not path:
        return placeholder
    head, *rest = path
    if isinstance(value, dict):
        return {
            k: replaced(v, tuple(rest), placeholder) if k == head else v for k, v in value.items()
        }
    return [replaced(v, tuple(rest), placeholder) if i == head else v for i, v in enumerate(value)]


def mutants(document: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """(description, mutated document) for every resource, input path and placeholder."""
    for index, resource in enumerate(document["resources"]):
        for path in subtree_paths(resource.get("inputs", {})):
            for placeholder in PLACEHOLDERS:
                if resource.get("inputs") == {} and not path:
                    continue
                mutated = dict(
                    resource, inputs=replaced(resource.get("inputs", {}), path, placeholder)
                )
                resources = [*document["resources"]]
                resources[index] = mutated
                where = ".".join(str(p) for p in path) or "(inputs)"
                yield (
                    f"{resource['name']}: {where} = {placeholder}",
                    {**document, "resources": resources},
                )


@pytest.fixture(scope="module")
def rules() -> list[RuleInfo]:
    return policy_pack.rule_inventory(find_opa(), POLICIES)


def verdicts(cases: dict[str, dict[str, Any]]) -> dict[str, dict[str, list[str]]]:
    """For each case {rule, doc}: resource -> severities of the rule's findings, from one eval."""
    query = (
        "{name: v | some name, c in input; doc := c.doc; rule := c.rule;"
        " report := data.burst.main.report with input as doc;"
        " v := {res: sevs | some f in report.findings; f.rule == rule; res := f.resource;"
        " sevs := sort({g.severity | some g in report.findings; g.rule == rule;"
        " g.resource == res})}}"
    )
    value: dict[str, dict[str, list[str]]] = opa_eval(query, cases)
    assert set(value) == set(cases), "some mutant has no report: the check did not run on it"
    return value


def test_mutations_are_enumerated() -> None:
    document = {"resources": [{"name": "r", "inputs": {"a": [1, {"b": 2}]}}]}
    described = [d for d, _ in mutants(document)]
    assert described == [
        f"r: {where} = {p}"
        for where in ["(inputs)", "a", "a.0", "a.1", "a.1.b"]
        for p in PLACEHOLDERS
    ]


def test_a_deny_stays_or_becomes_unknown_never_disappears(rules: list[RuleInfo]) -> None:
    cases: dict[str, dict[str, Any]] = {}
    baseline: dict[str, dict[str, Any]] = {}
    for rule in rules:
        document = json.loads(rule.fixture("denied").read_text())
        if document.get("format") != "burst.policy-input/v1":
            continue  # main.input_not_normalised: its denied fixture is not a policy input
        baseline[rule.id] = {"rule": rule.id, "doc": document}
        for description, mutated in mutants(document):
            cases[f"{rule.id} | {description}"] = {"rule": rule.id, "doc": mutated}
    before = verdicts(baseline)
    after = verdicts(cases)
    problems = []
    for name, case in cases.items():
        rule = next(r for r in rules if r.id == case["rule"])
        for resource, severities in before[rule.id].items():
            if rule.severity not in severities:
                continue
            now = set(after[name].get(resource, []))
            if not now & {rule.severity, "unknown"}:
                problems.append(f"{name}: {resource} was {rule.severity}, now {sorted(now)}")
    assert len(cases) > 1000, f"only {len(cases)} mutants"
    assert not problems, f"{len(problems)} of {len(cases)} mutants:\n" + "\n".join(problems[:40])


def test_an_unknown_value_never_makes_a_violation(rules: list[RuleInfo]) -> None:
    cases: dict[str, dict[str, Any]] = {}
    for rule in rules:
        document = json.loads(rule.fixture("allowed").read_text())
        for description, mutated in mutants(document):
            cases[f"{rule.id} | {description}"] = {"rule": rule.id, "doc": mutated}
    after = verdicts(cases)
    problems = [
        f"{name}: {resource} {sorted(severities)}"
        for name, found in after.items()
        for resource, severities in found.items()
        if set(severities) - {"unknown"}
    ]
    assert len(cases) > 1000, f"only {len(cases)} mutants"
    assert not problems, f"{len(problems)} of {len(cases)} mutants:\n" + "\n".join(problems[:40])
