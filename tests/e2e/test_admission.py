"""`make e2e`: the pack's workload rules enforced by the real API server.

After `pulumi up` of the e2e program (the same Kubernetes layer as `infra/`, so the same
AdmissionGuardrails), on kube-apiserver 1.34:

* every policy and binding the generator makes is installed;
* in a team namespace, a Job that breaks one rule is refused (a real create) with the rule's id
  and remediation in the message, and a conforming Job, CronJob, Deployment and StatefulSet are
  created;
* the team namespaces enforce Pod Security `restricted`: a Pod every rule passes but that lacks a
  seccomp profile is refused, a conforming Pod is created;
* differential: every fixture and generated workload of tests/admission_cases.py is judged by
  the Rego pack (OPA) and, for each rule, by the API server with that rule's policy bound to a
  namespace of its own (the server reports only the first policy that denies, so one namespace
  per rule gives the full verdict); the verdicts must be equal;
* and the differential can fail: the same policy with a clause cut, bound the same way, gives
  verdicts that differ from the Rego's.
"""

from __future__ import annotations

import copy
import dataclasses
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from burst_platform.admission import AdmissionRule, binding, policy
from tests.admission_cases import (
    MUTATIONS,
    SPOT_TAINT_KEY,
    TEAM,
    as_kind,
    conforming_metadata,
    conforming_template,
    fixture_objects,
    generated_objects,
    opa_verdicts,
    readme_job,
    rules,
)
from tests.e2e.control_plane import ControlPlane
from tests.e2e.test_e2e import STACK, Stack

pytestmark = pytest.mark.e2e

VIOLATIONS = {
    "taints.critical_on_spot": "critical-class",
    "taints.gpu_workload_off_team_pool": "no-team-selector",
    "taints.foreign_local_queue": "other-queue",
    "taints.spot_workload_not_interruption_ready": "no-checkpoint",
    "taints.spot_workload_without_queue": "no-queue",
    "workloads.capabilities_not_dropped": "add-sys-admin",
    "workloads.host_namespaces": "host-pid",
    "workloads.host_path_volume": "host-path",
    "workloads.plaintext_credentials": "secret-env",
    "workloads.privilege_escalation": "escalation",
    "workloads.privileged_container": "privileged",
    "workloads.runs_as_root": "container-root",
}
"""For each rule, a change of the conforming Job that breaks it (and no other rule, except
privileged: the API server requires privilege escalation with it)."""

EXPECTED_VERDICTS = {rule: {rule} for rule in VIOLATIONS} | {
    "workloads.privileged_container": {
        "workloads.privileged_container",
        "workloads.privilege_escalation",
    }
}
"""The rules the Rego pack finds each violation breaking."""

ALL_KINDS = ("Job", "CronJob", "Deployment", "StatefulSet")


@pytest.fixture(scope="module")
def deployed(cluster: ControlPlane) -> Iterator[Stack]:
    """The e2e program, up (and destroyed at the end of the module)."""
    with tempfile.TemporaryDirectory(prefix="burst-e2e-admission-") as scratch:
        stack = Stack(Path(scratch), cluster)
        stack.pulumi("up", "--yes", "--skip-preview", "--stack", STACK)
        try:
            _wait_for_service_account(cluster, TEAM)
            for change in VIOLATIONS.values():  # each policy is live, not just created
                probe = _workload("Job", "probe", change)
                _wait_until_enforced(cluster, probe, TEAM, refused=True)
            yield stack
        finally:
            for path in reversed(_SCRATCH):  # the differential's bindings and namespaces
                cluster.request("DELETE", path)
            _SCRATCH.clear()
            stack.pulumi("destroy", "--yes", "--skip-preview", "--stack", STACK)


_SCRATCH: list[str] = []
"""API paths of what the differential creates besides the stack, deleted with it."""


def _wait_for_service_account(cluster: ControlPlane, namespace: str) -> None:
    """Pods need the namespace's `default` ServiceAccount (the controller manager makes it)."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        status, _ = cluster.request(
            "GET", f"/api/v1/namespaces/{namespace}/serviceaccounts/default"
        )
        if status == 200:
            return
        time.sleep(0.5)
    raise AssertionError(f"no default ServiceAccount in {namespace}")


def _create(cluster: ControlPlane, obj: dict[str, Any], dry_run: bool = False) -> tuple[int, str]:
    """Create `obj` (server-side, strict field validation): (HTTP status, message)."""
    query = "?fieldValidation=Strict" + ("&dryRun=All" if dry_run else "")
    status, answer = cluster.request("POST", cluster.collection_path(obj) + query, obj)
    return status, str(answer.get("message", ""))


def _in(namespace: str, obj: dict[str, Any]) -> dict[str, Any]:
    placed = copy.deepcopy(obj)
    placed["metadata"]["namespace"] = namespace
    return placed


def _workload(kind: str, name: str, *changes: str) -> dict[str, Any]:
    meta, template = conforming_metadata(name), conforming_template()
    for change in changes:
        MUTATIONS[change](meta, template)
    return _in(TEAM, as_kind(kind, name, meta, template))


def test_the_policies_and_bindings_are_installed(deployed: Stack, cluster: ControlPlane) -> None:
    expected = {rule.policy_name for rule in rules()}
    for plural in ("validatingadmissionpolicies", "validatingadmissionpolicybindings"):
        status, listed = cluster.request("GET", f"/apis/admissionregistration.k8s.io/v1/{plural}")
        assert status == 200
        names = {item["metadata"]["name"] for item in listed["items"]}
        assert names == expected, plural
    status, namespace = cluster.request("GET", f"/api/v1/namespaces/{TEAM}")
    labels = namespace["metadata"]["labels"]
    assert labels["team"] == TEAM
    assert labels["pod-security.kubernetes.io/enforce"] == "restricted"
    assert labels["pod-security.kubernetes.io/warn"] == "restricted"
    assert labels["pod-security.kubernetes.io/audit"] == "restricted"


def test_each_violation_alone_breaks_only_its_rule() -> None:
    jobs = {rule: _workload("Job", "x", change) for rule, change in VIOLATIONS.items()}
    verdicts = opa_verdicts({**jobs, "conforming": _workload("Job", "x")})
    assert verdicts == {**EXPECTED_VERDICTS, "conforming": set()}
    assert set(VIOLATIONS) == {rule.id for rule in rules()}


@pytest.mark.parametrize("rule_id", sorted(VIOLATIONS))
def test_a_violating_job_is_refused_with_the_rule_and_its_fix(
    deployed: Stack, cluster: ControlPlane, rule_id: str
) -> None:
    (rule,) = [r for r in rules() if r.id == rule_id]
    job = _workload("Job", f"violates-{rule.policy_name.removeprefix('burst-')}"[:63],
                    VIOLATIONS[rule_id])  # fmt: skip
    status, message = _create(cluster, job)
    assert status == 403, message
    # The server names the first policy that denies: the rule's own, when it breaks no other.
    (refused_by,) = [
        r for r in rules() if f"ValidatingAdmissionPolicy '{r.policy_name}'" in message
    ]
    assert refused_by.id in EXPECTED_VERDICTS[rule_id]
    assert refused_by.id in message and refused_by.remediation in message
    status, _ = cluster.request(
        "GET", f"/apis/batch/v1/namespaces/{TEAM}/jobs/{job['metadata']['name']}"
    )
    assert status == 404, "the refused Job exists"


def test_conforming_workloads_are_created(deployed: Stack, cluster: ControlPlane) -> None:
    for kind in ALL_KINDS:
        obj = _workload(kind, f"conforming-{kind.lower()}")
        status, message = _create(cluster, obj)
        assert status == 201, f"{kind}: {message}"
        path = f"{cluster.collection_path(obj)}/{obj['metadata']['name']}"
        assert cluster.request("GET", path)[0] == 200
        assert cluster.request("DELETE", path)[0] == 200


def test_the_readme_job_is_created_and_starts_its_pod(
    deployed: Stack, cluster: ControlPlane
) -> None:
    """The Job controller's Pod carries only the template's metadata (no queue label, no
    checkpoint annotation): the policies leave derived objects to their judged owners, so it is
    created; Pod Security still judges it."""
    job = readme_job()
    status, message = _create(cluster, job)
    assert status == 201, message
    name = job["metadata"]["name"]
    try:
        deadline, pods = time.monotonic() + 60, []
        while time.monotonic() < deadline and not pods:
            _, listed = cluster.request(
                "GET", f"/api/v1/namespaces/{TEAM}/pods?labelSelector=job-name%3D{name}"
            )
            pods = listed.get("items", [])
            time.sleep(0.5)
        assert pods, f"the Job made no Pod: {_job_events(cluster, name)}"
        labels = pods[0]["metadata"].get("labels", {})
        assert "kueue.x-k8s.io/queue-name" not in labels
    finally:
        path = f"{cluster.collection_path(job)}/{name}?propagationPolicy=Background"
        assert cluster.request("DELETE", path)[0] == 200


def _job_events(cluster: ControlPlane, name: str) -> list[str]:
    _, events = cluster.request(
        "GET", f"/api/v1/namespaces/{TEAM}/events?fieldSelector=involvedObject.name%3D{name}"
    )
    return [str(e.get("message")) for e in events.get("items", [])]


def test_the_team_namespace_enforces_restricted_pod_security(
    deployed: Stack, cluster: ControlPlane
) -> None:
    status, message = _create(cluster, _workload("Pod", "conforming-pod"))
    assert status == 201, message
    cluster.request("DELETE", f"/api/v1/namespaces/{TEAM}/pods/conforming-pod")
    # Every burst rule passes it; only Pod Security's seccomp requirement refuses it.
    pod = _workload("Pod", "no-seccomp")
    del pod["spec"]["securityContext"]["seccompProfile"]
    status, message = _create(cluster, pod)
    assert status == 403, message
    assert 'violates PodSecurity "restricted:' in message and "seccompProfile" in message


# ---------------------------------------------------------------------------------------------
# Differential: the Rego pack and the API server, rule by rule
# ---------------------------------------------------------------------------------------------

DIFFERENTIAL_LABEL = "burst.io/differential"
"""Label of the namespaces the differential binds one policy each to (no `team` label: the
program's own bindings do not select them, and no Pod Security labels: only the policy judges)."""


def _bind_alone(cluster: ControlPlane, rule: AdmissionRule, policy_name: str, key: str) -> str:
    """A namespace where only `policy_name` judges (as `rule`'s binding would); its name."""
    namespace = f"diff-{key}"[:63]
    body = {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": namespace, "labels": {DIFFERENTIAL_LABEL: key}},
    }
    assert cluster.request("POST", "/api/v1/namespaces", body)[0] in (201, 409)
    _SCRATCH.append(f"/api/v1/namespaces/{namespace}")
    bound = binding(rule)
    bound["metadata"]["name"] = f"diff-{key}"
    bound["spec"]["policyName"] = policy_name
    bound["spec"]["matchResources"] = {
        "namespaceSelector": {"matchLabels": {DIFFERENTIAL_LABEL: key}}
    }
    status, answer = cluster.request("POST", cluster.collection_path(bound), bound)
    assert status == 201, answer
    _SCRATCH.append(f"{cluster.collection_path(bound)}/{bound['metadata']['name']}")
    _wait_for_service_account(cluster, namespace)
    return namespace


def _server_verdicts(
    cluster: ControlPlane, objects: dict[str, dict[str, Any]], namespace: str, rule: AdmissionRule
) -> dict[str, bool]:
    """Whether `rule`'s policy, bound alone in `namespace`, refuses each object (a server-side
    dry run); every refusal carries the rule's message (id, title, fix)."""
    policy_name, message_part = rule.policy_name, rule.message

    def judge(name: str) -> tuple[str, bool]:
        status, message = _create(cluster, _in(namespace, objects[name]), dry_run=True)
        if status in (200, 201):
            return name, False
        assert f"ValidatingAdmissionPolicy '{policy_name}'" in message, f"{name}: {message}"
        assert message_part in message, f"{name}: {message}"
        return name, True

    with ThreadPoolExecutor(max_workers=4) as pool:
        return dict(pool.map(judge, objects))


@pytest.fixture(scope="module")
def cases() -> dict[str, dict[str, Any]]:
    return {**fixture_objects(), **generated_objects()}


@pytest.fixture(scope="module")
def rego(cases: dict[str, dict[str, Any]]) -> dict[str, set[str]]:
    return opa_verdicts(cases)


def _wait_until_enforced(
    cluster: ControlPlane, obj: dict[str, Any], namespace: str, refused: bool
) -> None:
    """Policies and bindings take effect a moment after they are created."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        status, _ = _create(cluster, _in(namespace, obj), dry_run=True)
        if (status not in (200, 201)) == refused:
            return
        time.sleep(0.5)
    raise AssertionError(f"the binding in {namespace} did not take effect")


def test_the_api_server_and_the_rego_pack_agree_on_every_case(
    deployed: Stack,
    cluster: ControlPlane,
    cases: dict[str, dict[str, Any]],
    rego: dict[str, set[str]],
) -> None:
    disagreements = []
    for rule in rules():
        if "namespaceObject" in rule.cel:
            # The rule reads the namespace's team: judged in a namespace labelled with it, where
            # every policy is bound, on the cases that break no other rule.
            namespace = _team_namespace(cluster)
            judged = {n: c for n, c in cases.items() if not rego[n] - {rule.id}}
        else:
            namespace = _bind_alone(cluster, rule, rule.policy_name, rule.policy_name)
            judged = cases
        denied = _workload("Job", "probe", VIOLATIONS[rule.id])
        _wait_until_enforced(cluster, denied, namespace, refused=True)
        server = _server_verdicts(cluster, judged, namespace, rule)
        disagreements += [
            f"{rule.id} {name}: server {'denies' if refused else 'admits'}, Rego "
            f"{'denies' if rule.id in rego[name] else 'admits'}"
            for name, refused in server.items()
            if refused != (rule.id in rego[name])
        ]
        assert any(server.values()) and not all(server.values()), rule.id
    assert disagreements == []


def _team_namespace(cluster: ControlPlane) -> str:
    """A namespace labelled `team: <TEAM>` without Pod Security labels (so that only the burst
    policies judge)."""
    namespace = "diff-team"
    body = {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": namespace, "labels": {"team": TEAM, DIFFERENTIAL_LABEL: "team"}},
    }
    assert cluster.request("POST", "/api/v1/namespaces", body)[0] in (201, 409)
    _SCRATCH.append(f"/api/v1/namespaces/{namespace}")
    _wait_for_service_account(cluster, namespace)
    return namespace


def test_a_policy_with_a_clause_cut_disagrees(
    deployed: Stack,
    cluster: ControlPlane,
    cases: dict[str, dict[str, Any]],
    rego: dict[str, set[str]],
) -> None:
    """The differential can fail: `spot_workload_not_interruption_ready` without its grace
    period clause, installed as a policy of its own, admits cases the Rego denies."""
    (rule,) = [r for r in rules() if r.id == "taints.spot_workload_not_interruption_ready"]
    clause = "variables.podSpec.terminationGracePeriodSeconds >= 60"
    assert clause in rule.cel
    weakened = dataclasses.replace(rule, id="e2e.weakened", cel=rule.cel.replace(clause, "true"))
    body = policy(weakened, SPOT_TAINT_KEY)
    status, answer = cluster.request("POST", cluster.collection_path(body), body)
    assert status == 201, answer
    try:
        namespace = _bind_alone(cluster, weakened, weakened.policy_name, "weakened")
        _wait_until_enforced(cluster, _workload("Job", "probe", "no-checkpoint"), namespace, True)
        server = _server_verdicts(cluster, cases, namespace, weakened)
    finally:
        cluster.request("DELETE", cluster.collection_path(body) + f"/{weakened.policy_name}")
    differ = {name for name, refused in server.items() if refused != (rule.id in rego[name])}
    assert differ, "no case tells the weakened policy from the rule"
    assert "Job/grace-30" in differ
