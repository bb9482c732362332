"""Fuzzing the check with mutated previews of the dev plan (Hypothesis).

Three classes of mutation, each against the real OPA server:

* a guard resource removed: the check must deny;
* a violation hidden by how the document is written (a clean copy of the URN first, the inputs
  replaced by a string or a placeholder, another op, reordering, extra keys): the check must deny
  or refuse the input, never pass;
* any subtree replaced by arbitrary JSON: the input is refused with a BurstError or evaluated to
  a well-formed report, never another exception, within the example deadline.

`make test` runs a bounded number of examples; `make fuzz` runs many more
(`BURST_FUZZ_EXAMPLES`).
"""

from __future__ import annotations

import copy
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from burst_platform.check import engine
from burst_platform.check.guardrails import load_guardrails
from burst_platform.check.normalise import SECRET_PLACEHOLDER, UNKNOWN_SENTINEL, normalise_preview
from burst_platform.errors import BurstError
from burst_platform.plan import plan_stack
from burst_platform.tools import find_opa
from tests.test_guards_removed import GUARD_TYPES
from tests.test_unknown_mutations import subtree_paths

pytestmark = pytest.mark.opa

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = int(os.environ.get("BURST_FUZZ_EXAMPLES", "15"))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=20_000,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
ACCESS_KEY = "urn:pulumi:dev::burst-platform::aws:iam/accessKey:AccessKey::ci"


class Checker:
    """One OPA server for the whole module; `deny_rules` evaluates one preview document."""

    def __init__(self) -> None:
        pack = engine.load_policy_pack(ROOT / "policies")
        guardrails = load_guardrails(ROOT / "policies" / "data" / "guardrails.yaml")
        self.server = engine.LocalServer(find_opa(ROOT), pack, guardrails)
        self._expected: set[str] | None = None

    def deny_rules(self, document: dict[str, Any]) -> set[str]:
        """Rules that deny; BurstError when the input is refused."""
        plan = normalise_preview(document).document
        host, port = self.server.wait()
        address = engine.ServerAddress(host, port, False)
        if self._expected is None:  # the rule sets the compiled pack declares, read once
            rule_sets = engine.fetch_inventory(address, 60.0, None).rule_sets
            self._expected = set(rule_sets - {engine.REPORT_PACKAGE})
        response = engine.query_report(address, plan, 60.0)
        evaluation = engine.validate_report(response, self._expected, len(plan["resources"]))
        return {f.rule for f in evaluation.findings if f.severity == "deny"}


@pytest.fixture(scope="module")
def checker() -> Iterator[Checker]:
    instance = Checker()
    instance.server.start()
    yield instance
    instance.server.stop()


@pytest.fixture(scope="module")
def plan() -> dict[str, Any]:
    return plan_stack("dev", ROOT)


def with_access_key(plan: dict[str, Any]) -> dict[str, Any]:
    """The plan plus a long-lived access key: a violation by type alone."""
    document = copy.deepcopy(plan)
    provider = next(
        s["urn"] for s in document["steps"] if s["newState"]["type"] == "pulumi:providers:aws"
    )
    document["steps"].append(
        {
            "op": "create",
            "urn": ACCESS_KEY,
            "provider": f"{provider}::id",
            "newState": {
                "urn": ACCESS_KEY,
                "type": "aws:iam/accessKey:AccessKey",
                "custom": True,
                "inputs": {"user": "ci"},
                "provider": f"{provider}::id",
            },
        }
    )
    document["changeSummary"] = {"create": len(document["steps"])}
    return document


def test_the_unmutated_plan_passes(checker: Checker, plan: dict[str, Any]) -> None:
    assert checker.deny_rules(plan) == set()
    assert checker.deny_rules(with_access_key(plan)) == {"iam.long_lived_credentials"}


@FUZZ
@given(data=st.data())
def test_removing_a_guard_never_passes(
    checker: Checker, plan: dict[str, Any], data: st.DataObject
) -> None:
    guards = [s["urn"] for s in plan["steps"] if s["newState"]["type"] in GUARD_TYPES]
    removed = data.draw(st.sets(st.sampled_from(guards), min_size=1, max_size=3))
    document = copy.deepcopy(plan)
    document["steps"] = [s for s in document["steps"] if s["urn"] not in removed]
    document["changeSummary"] = {"create": len(document["steps"])}
    assert checker.deny_rules(document), f"removing {sorted(removed)} passes"


HIDING = st.sampled_from(
    [
        "clean copy first",
        "inputs as a string",
        "inputs unknown",
        "inputs secret",
        "op update",
        "op same",
        "op import",
        "op replace",
        "moved first",
        "extra keys",
    ]
)


def hidden(document: dict[str, Any], how: str) -> dict[str, Any]:
    steps = document["steps"]
    key = steps[-1]
    if how == "clean copy first":
        clean = copy.deepcopy(key)
        clean["newState"]["type"] = "aws:s3/bucketV2:BucketV2"
        steps.insert(0, clean)
    elif how == "inputs as a string":
        key["newState"]["inputs"] = '{"user": "ci"}'
    elif how in ("inputs unknown", "inputs secret"):
        key["newState"]["inputs"] = (
            UNKNOWN_SENTINEL if how == "inputs unknown" else SECRET_PLACEHOLDER
        )
    elif how.startswith("op "):
        key["op"] = how.removeprefix("op ")
        document["changeSummary"] = dict(document["changeSummary"], same=int(key["op"] == "same"))
    elif how == "moved first":
        steps.insert(0, steps.pop())
    elif how == "extra keys":
        key["newState"]["x-hidden"] = True
        key["detailedDiff"] = None
    return document


@FUZZ
@given(how=st.lists(HIDING, min_size=1, max_size=3))
def test_a_hidden_violation_is_denied_or_refused(
    checker: Checker, plan: dict[str, Any], how: list[str]
) -> None:
    document = with_access_key(plan)
    for step in how:
        document = hidden(document, step)
    try:
        denies = checker.deny_rules(document)
    except BurstError:
        return  # refused: exit 2, not a pass
    assert "iam.long_lived_credentials" in denies, how


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20)
    | st.sampled_from([UNKNOWN_SENTINEL, SECRET_PLACEHOLDER, "urn:pulumi:dev::x::y::z", ""]),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3)
    ),
    max_leaves=8,
)  # fmt: skip


@FUZZ
@given(data=st.data())
def test_arbitrary_junk_is_refused_or_judged(
    checker: Checker, plan: dict[str, Any], data: st.DataObject
) -> None:
    document = copy.deepcopy(plan)
    steps = document["steps"]
    index = data.draw(st.integers(0, len(steps) - 1))
    path = data.draw(st.sampled_from(list(subtree_paths(steps[index]))))
    junk = data.draw(json_values)
    if not path:
        steps[index] = junk
    else:
        node = steps[index]
        for part in path[:-1]:
            node = node[part]
        node[path[-1]] = junk
    try:
        checker.deny_rules(document)
    except BurstError as error:
        assert error.problems and all("\n" not in line for line in error.problems)
