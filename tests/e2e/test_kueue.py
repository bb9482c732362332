"""`make e2e`: Kueue itself decides. The program's Kueue objects (flavors, ClusterQueues in a
cohort, LocalQueues, priority classes), deployed by the real CLI, are given to the pinned Kueue
controller running against the e2e API server (`tests/e2e/kueue.py`), and Jobs submitted the way
README's "Submitting GPU work" says are admitted, kept waiting, preempted and given flavors by
Kueue. Every expectation is read from Workload status (`status.admission`, the conditions
QuotaReserved, Admitted, Evicted, Preempted) and derived from the stack config the program was
deployed with.

Jobs ask for one GPU each and are submitted one at a time: the next is created once Kueue has
decided on the previous one (QuotaReserved True, or False and pending), so the order of admission
is the order of submission and each test can compare the whole sequence of flavors it expects.
"""

from __future__ import annotations

import copy
import itertools
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from burst_platform.components.team_queues import (
    GPU_RESOURCE,
    LOCAL_QUEUE_NAME,
    ON_DEMAND_FLAVOR,
    PRIORITY_LEVELS,
    SPOT_FLAVOR,
)
from tests.e2e.control_plane import ControlPlane
from tests.e2e.kueue import Kueue, summary
from tests.e2e.test_e2e import STACK, Stack, objects

pytestmark = pytest.mark.e2e

DECISION_SECONDS = 60
SPOT, ON_DEMAND, PENDING = SPOT_FLAVOR, ON_DEMAND_FLAVOR, None
"""What one Job got: the GPU flavor of its admission, or nothing (pending)."""


@dataclass(frozen=True)
class Team:
    """A team's numbers from the stack config the program was deployed with."""

    name: str
    gpu_quota: int
    on_demand_gpus: int
    gpu_borrowing_limit: int

    @property
    def spot_gpus(self) -> int:
        return self.gpu_quota - self.on_demand_gpus

    @classmethod
    def from_config(cls, entry: Mapping[str, Any]) -> Team:
        return cls(
            entry["name"],
            int(entry["gpuQuota"]),
            int(entry.get("onDemandGpus", 0)),
            int(entry.get("gpuBorrowingLimit", 0)),
        )


class Queues:
    """The deployed program (one stack for the module) and the Jobs the tests submit."""

    def __init__(self, stack: Stack, cluster: ControlPlane, kueue: Kueue) -> None:
        self.stack, self.cluster, self.kueue = stack, cluster, kueue
        self._names = itertools.count(1)

    def teams(self) -> list[Team]:
        return [Team.from_config(t) for t in self.stack.config["burst-platform:teams"]]

    def up(self) -> None:
        self.stack.pulumi("up", "--yes", "--skip-preview", "--stack", STACK)

    def spot_taint_key(self) -> str:
        """The key of the spot taint, as the program's spot flavor carries it."""
        flavor = objects(self.cluster, "resourceflavors.kueue.x-k8s.io")[SPOT_FLAVOR]
        key: str = next(t["key"] for t in flavor["spec"]["nodeTaints"] if t["key"] != GPU_RESOURCE)
        return key

    def job(self, team: Team, *, spot: bool, priority: str = "normal") -> dict[str, Any]:
        """A one-GPU Job of `team` as README's "Submitting GPU work" writes it, opting in to
        spot when `spot`, at the WorkloadPriorityClass of `priority`. It passes every admission
        policy the program installs (a spot Job declares its checkpointing)."""
        tolerations = [
            {"key": "burst.io/team", "operator": "Equal", "value": team.name,
             "effect": "NoSchedule"},
        ]  # fmt: skip
        if spot:
            tolerations.append(
                {"key": self.spot_taint_key(), "operator": "Exists", "effect": "NoSchedule"}
            )
        return {
            "apiVersion": "batch/v1",
            "kind": "Job",
            "metadata": {
                "name": f"{team.name}-{priority}-{next(self._names)}",
                "namespace": team.name,
                "labels": {
                    "kueue.x-k8s.io/queue-name": LOCAL_QUEUE_NAME,
                    "kueue.x-k8s.io/priority-class": PRIORITY_LEVELS[priority].name,
                },
                "annotations": {"burst.io/checkpoint-interval": "15m"},
            },
            "spec": {
                "parallelism": 1,
                "completions": 1,
                "backoffLimit": 0,
                "template": {
                    "spec": {
                        "restartPolicy": "Never",
                        "terminationGracePeriodSeconds": 90,
                        "nodeSelector": {"burst.io/team": team.name},
                        "tolerations": tolerations,
                        "securityContext": {
                            "runAsNonRoot": True,
                            "runAsUser": 1000,
                            "seccompProfile": {"type": "RuntimeDefault"},
                        },
                        "containers": [
                            {
                                "name": "main",
                                "image": "registry.k8s.io/pause:3.10",
                                "resources": {
                                    "requests": {"cpu": "1", "memory": "1Gi"},
                                    "limits": {GPU_RESOURCE: "1"},
                                },
                                "securityContext": {
                                    "allowPrivilegeEscalation": False,
                                    "capabilities": {"drop": ["ALL"]},
                                },
                                "lifecycle": {
                                    "preStop": {"exec": {"command": ["/bin/flush-checkpoint"]}}
                                },
                            }
                        ],
                    }
                },
            },
        }

    def create(self, job: dict[str, Any]) -> None:
        """Create `job`. It must come back suspended: Kueue's mutating webhook holds it for
        admission (the test never sets `suspend`)."""
        status, created = self.cluster.request("POST", self.cluster.collection_path(job), job)
        assert status == 201, created
        assert created["spec"]["suspend"] is True, "Kueue's webhook did not suspend the Job"

    def submit(self, job: dict[str, Any]) -> dict[str, Any]:
        """Create `job` and wait until Kueue has decided on its Workload; returns the Workload."""
        self.create(job)
        return self.wait(job, decided)

    def wait(
        self, job: Mapping[str, Any], until: Any, seconds: float = DECISION_SECONDS
    ) -> dict[str, Any]:
        """The Workload of `job` once `until(workload)` holds."""
        deadline = time.monotonic() + seconds
        workload: dict[str, Any] | None = None
        while time.monotonic() < deadline:
            workload = self.workload(job)
            if workload is not None and until(workload):
                return workload
            time.sleep(0.2)
        raise AssertionError(
            f"{job['metadata']['name']}: {until.__name__} not reached in {seconds} s: "
            f"{summary(workload or {})}\n{self.kueue.tail()}"
        )

    def workload(self, job: Mapping[str, Any]) -> dict[str, Any] | None:
        """The Workload Kueue made for `job` (owned by it), if any."""
        namespace, name = job["metadata"]["namespace"], job["metadata"]["name"]
        status, listed = self.cluster.request(
            "GET", f"/apis/kueue.x-k8s.io/v1beta2/namespaces/{namespace}/workloads"
        )
        assert status == 200, listed
        for item in listed["items"]:
            owners = item["metadata"].get("ownerReferences", [])
            if any(o["kind"] == "Job" and o["name"] == name for o in owners):
                return dict(item)
        return None

    def submit_all(self, jobs: Sequence[dict[str, Any]]) -> list[str | None]:
        """Submit `jobs` one after the other; the GPU flavor each got (None: pending)."""
        return [gpu_flavor(self.submit(job)) for job in jobs]

    def clear(self) -> None:
        """Delete every Job and Workload of the teams and wait until Kueue holds no quota."""
        for team in self.teams():
            for path in (
                f"/apis/batch/v1/namespaces/{team.name}/jobs",
                f"/apis/kueue.x-k8s.io/v1beta2/namespaces/{team.name}/workloads",
            ):
                status, answer = self.cluster.request(
                    "DELETE", path, {"propagationPolicy": "Background"}
                )
                assert status == 200, answer
        deadline = time.monotonic() + DECISION_SECONDS
        while time.monotonic() < deadline:
            queues = objects(self.cluster, "clusterqueues.kueue.x-k8s.io")
            workloads = objects(self.cluster, "workloads.kueue.x-k8s.io")
            if not workloads and all(
                q.get("status", {}).get("reservingWorkloads", 0) == 0 for q in queues.values()
            ):
                return
            time.sleep(0.3)
        raise AssertionError(f"workloads left behind: {sorted(workloads)}")

    def wait_usage(self, team: Team, flavor: str, expected: tuple[int, int]) -> None:
        """Wait until `usage(team, flavor)` is `expected`: Kueue writes ClusterQueue status
        after the admissions it counts."""
        deadline = time.monotonic() + DECISION_SECONDS / 4
        while (found := self.usage(team, flavor)) != expected and time.monotonic() < deadline:
            time.sleep(0.3)
        assert found == expected, f"{team.name} on {flavor}: (total, borrowed) GPUs {found}"

    def usage(self, team: Team, flavor: str) -> tuple[int, int]:
        """(GPUs in use, of which borrowed) of `team`'s ClusterQueue on `flavor` (its status)."""
        queue = objects(self.cluster, "clusterqueues.kueue.x-k8s.io")[f"team-{team.name}"]
        for used in queue.get("status", {}).get("flavorsUsage", []):
            if used["name"] == flavor:
                for resource in used["resources"]:
                    if resource["name"] == GPU_RESOURCE:
                        return int(resource.get("total", 0)), int(resource.get("borrowed", 0))
        return 0, 0


def condition(workload: Mapping[str, Any], kind: str) -> dict[str, Any] | None:
    """The Workload's condition of type `kind`, if set."""
    for item in workload.get("status", {}).get("conditions", []):
        if item["type"] == kind:
            return dict(item)
    return None


def is_true(workload: Mapping[str, Any], kind: str) -> bool:
    found = condition(workload, kind)
    return found is not None and found["status"] == "True"


def admitted(workload: Mapping[str, Any]) -> bool:
    """Quota reserved and admitted (no admission checks: both at once)."""
    return is_true(workload, "QuotaReserved") and is_true(workload, "Admitted")


def pending(workload: Mapping[str, Any]) -> bool:
    """Kueue tried and could not reserve quota: QuotaReserved False, reason Pending."""
    found = condition(workload, "QuotaReserved")
    return found is not None and found["status"] == "False" and found["reason"] == "Pending"


def decided(workload: Mapping[str, Any]) -> bool:
    return admitted(workload) or pending(workload)


def preempted(workload: Mapping[str, Any]) -> bool:
    """Evicted because preempted, and back to waiting."""
    evicted = condition(workload, "Evicted")
    return (
        evicted is not None
        and evicted["status"] == "True"
        and evicted["reason"] == "Preempted"
        and is_true(workload, "Preempted")
        and not is_true(workload, "QuotaReserved")
    )


def gpu_flavor(workload: Mapping[str, Any]) -> str | None:
    """The flavor Kueue assigned to the GPUs (`status.admission`), None when not admitted."""
    if not admitted(workload):
        return None
    admission = workload["status"]["admission"]
    (pod_set,) = admission["podSetAssignments"]
    flavor: str = pod_set["flavors"][GPU_RESOURCE]
    return flavor


@pytest.fixture(scope="module")
def kueue(cluster: ControlPlane) -> Iterator[Kueue]:
    controller = Kueue(cluster)
    try:
        yield controller.start()
    finally:
        controller.stop()


@pytest.fixture(scope="module")
def queues(cluster: ControlPlane, kueue: Kueue) -> Iterator[Queues]:
    """The e2e program with the dev stack's config, deployed once for the module through
    Kueue's webhooks, with fake nodes for its NodePools; destroyed at the end."""
    with tempfile.TemporaryDirectory(prefix="burst-e2e-kueue-") as scratch:
        stack = Stack(Path(scratch), cluster)
        deployed = Queues(stack, cluster, kueue)
        deployed.up()
        register_nodes(cluster)
        try:
            yield deployed
        finally:
            deployed.clear()
            stack.pulumi("destroy", "--yes", "--skip-preview", "--stack", STACK)
            for node in objects(cluster, "nodes"):
                cluster.request("DELETE", f"/api/v1/nodes/{node}")


@pytest.fixture
def idle(queues: Queues) -> Iterator[Queues]:
    """The cohort with nothing admitted, before and after the test."""
    queues.clear()
    yield queues
    queues.clear()


def register_nodes(cluster: ControlPlane) -> None:
    """One Ready Node per GPU NodePool of the program, as Karpenter would launch it: the pool's
    template labels, `karpenter.sh/nodepool`, the first value of each `In` requirement
    (capacity type, arch, os, instance family, GPU maker), its taints, and the pool's limits as
    allocatable. No kubelet: the node is created and its status written through the API.
    Kueue's quota admission does not look at nodes (only topology-aware scheduling would); they
    are there so that the cluster holds what the pools would launch."""
    for name, pool in objects(cluster, "nodepools.karpenter.sh").items():
        limits = pool["spec"].get("limits", {})
        if GPU_RESOURCE not in limits:
            continue
        template = pool["spec"]["template"]
        labels = {**template["metadata"].get("labels", {}), "karpenter.sh/nodepool": name}
        for requirement in template["spec"]["requirements"]:
            if requirement["operator"] == "In":
                labels[requirement["key"]] = requirement["values"][0]
        node_name = f"fake-{name}"
        capacity = {**limits, "pods": "110"}
        node = {
            "apiVersion": "v1",
            "kind": "Node",
            "metadata": {"name": node_name, "labels": labels},
            "spec": {"taints": template["spec"]["taints"]},
        }
        status, answer = cluster.request("POST", "/api/v1/nodes", node)
        assert status == 201, answer
        node_status = {
            "status": {
                "capacity": capacity,
                "allocatable": capacity,
                "conditions": [
                    {"type": "Ready", "status": "True", "reason": "KubeletReady",
                     "message": "fake node of the e2e tests",
                     "lastHeartbeatTime": answer["metadata"]["creationTimestamp"],
                     "lastTransitionTime": answer["metadata"]["creationTimestamp"]},
                ],
            }
        }  # fmt: skip
        status, answer = cluster.request(
            "PATCH",
            f"/api/v1/nodes/{node_name}/status",
            node_status,
            content_type="application/merge-patch+json",
        )
        assert status == 200, answer
        # The API server's TaintNodesByCondition admission adds `node.kubernetes.io/not-ready`
        # to every new node; the node lifecycle controller (not run here) lifts it once the
        # node is Ready. Lift it the same way: the pool's own taints only.
        status, answer = cluster.request(
            "PATCH",
            f"/api/v1/nodes/{node_name}",
            {"spec": {"taints": template["spec"]["taints"]}},
            content_type="application/merge-patch+json",
        )
        assert status == 200, answer


def first_two(queues: Queues) -> tuple[Team, Team]:
    teams = queues.teams()
    assert len(teams) >= 2, "the dev stack has two teams sharing the cohort"
    return teams[0], teams[1]


def test_fake_nodes_mirror_the_gpu_pools(queues: Queues, cluster: ControlPlane) -> None:
    nodes = objects(cluster, "nodes")
    for team in queues.teams():
        for tier, taint_keys in (("spot", {queues.spot_taint_key(), GPU_RESOURCE}),
                                 ("on-demand", {GPU_RESOURCE})):  # fmt: skip
            node = nodes[f"fake-gpu-{team.name}-{tier}"]
            assert node["metadata"]["labels"]["karpenter.sh/capacity-type"] == tier
            assert node["metadata"]["labels"]["burst.io/team"] == team.name
            assert {t["key"] for t in node["spec"]["taints"]} == taint_keys | {"burst.io/team"}
            assert int(node["status"]["allocatable"][GPU_RESOURCE]) > 0
            assert is_true(node, "Ready")


def test_a_team_is_admitted_up_to_its_nominal_quota_then_waits(idle: Queues) -> None:
    """The other team uses exactly its own nominal quota, so there is nothing to borrow: the
    team gets its spot share on spot, then its on-demand share on on-demand, and its next Job
    waits, although no quota of its own is left and none of the cohort is idle."""
    team, other = first_two(idle)
    filler = [idle.job(other, spot=True) for _ in range(other.spot_gpus)]
    filler += [idle.job(other, spot=False) for _ in range(other.on_demand_gpus)]
    assert idle.submit_all(filler) == [SPOT] * other.spot_gpus + [ON_DEMAND] * other.on_demand_gpus
    jobs = [idle.job(team, spot=True) for _ in range(team.gpu_quota + 1)]
    assert idle.submit_all(jobs) == [SPOT] * team.spot_gpus + [ON_DEMAND] * team.on_demand_gpus + [
        PENDING
    ]
    waiting = idle.workload(jobs[-1])
    assert waiting is not None and not is_true(waiting, "Admitted")
    assert "insufficient" in (condition(waiting, "QuotaReserved") or {}).get("message", "")
    idle.wait_usage(team, SPOT, (team.spot_gpus, 0))
    idle.wait_usage(team, ON_DEMAND, (team.on_demand_gpus, 0))


def test_with_the_cohort_idle_a_team_borrows_spot_up_to_its_limit(idle: Queues) -> None:
    """Spot first: nominal spot, then borrowed spot up to `gpuBorrowingLimit` (the other team's
    idle quota), then the team's own on-demand share, then nothing."""
    team, _ = first_two(idle)
    spot = team.spot_gpus + team.gpu_borrowing_limit
    jobs = [idle.job(team, spot=True) for _ in range(spot + team.on_demand_gpus + 1)]
    assert idle.submit_all(jobs) == [SPOT] * spot + [ON_DEMAND] * team.on_demand_gpus + [PENDING]
    idle.wait_usage(team, SPOT, (spot, team.gpu_borrowing_limit))
    idle.wait_usage(team, ON_DEMAND, (team.on_demand_gpus, 0))
    # Admitted Jobs are unsuspended with their flavor's node labels and tolerations injected
    # into the pod template, which is how the pods reach the matching NodePool.
    for job, capacity_type in ((jobs[0], "spot"), (jobs[spot], "on-demand")):
        path = f"{idle.cluster.collection_path(job)}/{job['metadata']['name']}"
        _, running = idle.cluster.request("GET", path)
        pod = running["spec"]["template"]["spec"]
        assert running["spec"]["suspend"] is False
        assert pod["nodeSelector"]["karpenter.sh/capacity-type"] == capacity_type, pod
        assert {"key": GPU_RESOURCE, "operator": "Exists", "effect": "NoSchedule"} in pod[
            "tolerations"
        ]


def test_on_demand_quota_is_never_borrowed_and_never_spot(idle: Queues) -> None:
    """A Job that does not tolerate spot only gets on-demand quota, and only the team's own:
    the other team's on-demand quota is idle, but the on-demand borrowing limit is 0."""
    team, other = first_two(idle)
    assert other.on_demand_gpus > 0, "the other team has on-demand quota that could be lent"
    jobs = [idle.job(team, spot=False) for _ in range(team.on_demand_gpus + 1)]
    assert idle.submit_all(jobs) == [ON_DEMAND] * team.on_demand_gpus + [PENDING]
    idle.wait_usage(team, SPOT, (0, 0))


def test_a_team_reclaims_its_lent_quota_from_a_borrower(idle: Queues) -> None:
    """The first team borrows all it may; when the other team then claims its own nominal spot
    quota, Kueue preempts the borrowed Workloads (reclaimWithinCohort) and no more: the first
    team keeps its nominal spot share, the other team gets all of its own. (Both teams'
    on-demand shares are in use first: with the other team's free, `whenCanPreempt:
    TryNextFlavor` puts a claim there instead of preempting on spot, and with the first team's
    free, a preempted Workload is admitted again there, spot-first falling back to on-demand.)"""
    team, other = first_two(idle)
    spot = team.spot_gpus + team.gpu_borrowing_limit
    borrower = [idle.job(team, spot=True) for _ in range(spot)]
    assert idle.submit_all(borrower) == [SPOT] * spot
    for owner in (team, other):
        on_demand = [idle.job(owner, spot=False) for _ in range(owner.on_demand_gpus)]
        assert idle.submit_all(on_demand) == [ON_DEMAND] * owner.on_demand_gpus
    claims = [idle.job(other, spot=True) for _ in range(other.spot_gpus)]
    for claim in claims:
        idle.create(claim)
    flavors = [gpu_flavor(idle.wait(claim, admitted)) for claim in claims]
    assert flavors == [SPOT] * other.spot_gpus
    evicted = [job for job in borrower if preempted(idle.wait(job, decided_or_preempted))]
    assert len(evicted) == team.gpu_borrowing_limit
    for job in evicted:
        found = condition(idle.workload(job) or {}, "Preempted") or {}
        assert found.get("reason") == "InCohortReclamation", found
    idle.wait_usage(team, SPOT, (team.spot_gpus, 0))
    idle.wait_usage(other, SPOT, (other.spot_gpus, 0))


def decided_or_preempted(workload: Mapping[str, Any]) -> bool:
    return admitted(workload) or preempted(workload)


def _fill_on_demand_with_background(idle: Queues, team: Team) -> list[dict[str, Any]]:
    background = [idle.job(team, spot=False, priority="background")
                  for _ in range(team.on_demand_gpus)]  # fmt: skip
    assert idle.submit_all(background) == [ON_DEMAND] * team.on_demand_gpus
    return background


def test_critical_work_preempts_background_work_of_the_same_team(idle: Queues) -> None:
    """The team's on-demand quota is full of burst-background work. A burst-critical Job
    preempts one of them (withinClusterQueue: LowerPriority) and is admitted in its place; a
    burst-normal Job then waits (it may not preempt critical work), and so does a background
    one (background never preempts)."""
    team, _ = first_two(idle)
    background = _fill_on_demand_with_background(idle, team)
    critical = idle.job(team, spot=False, priority="critical")
    idle.create(critical)
    assert gpu_flavor(idle.wait(critical, admitted)) == ON_DEMAND
    victims = [job for job in background if preempted(idle.wait(job, decided_or_preempted))]
    assert len(victims) == 1
    reason = (condition(idle.workload(victims[0]) or {}, "Preempted") or {}).get("reason")
    assert reason == "InClusterQueue"
    assert idle.submit_all([idle.job(team, spot=False, priority="normal")]) == [PENDING]
    late = idle.job(team, spot=False, priority="background")
    idle.create(late)
    idle.wait(late, lambda workload: True)
    time.sleep(5)  # Kueue had its chances: the background Job is still not admitted
    assert not is_true(idle.workload(late) or {}, "QuotaReserved")
    assert is_true(idle.workload(critical) or {}, "Admitted")


def test_without_the_programs_preemption_policy_critical_work_waits(idle: Queues) -> None:
    """The same sequence with the ClusterQueue's `preemption` replaced by Kueue's defaults
    (Never) through a resource transform on the program: the critical Job now waits behind
    background work, so the test above fails when the program stops setting the policy."""
    team, _ = first_two(idle)
    stack = idle.stack
    stack.config["e2e:breakObjects"] = [
        {"kind": "ClusterQueue", "name": f"team-{team.name}", "path": "spec.preemption",
         "value": {"withinClusterQueue": "Never", "reclaimWithinCohort": "Never",
                   "borrowWithinCohort": {"policy": "Never"}}},
    ]  # fmt: skip
    stack.write_config()
    try:
        idle.up()
        queue = objects(idle.cluster, "clusterqueues.kueue.x-k8s.io")[f"team-{team.name}"]
        assert queue["spec"]["preemption"]["withinClusterQueue"] == "Never"
        background = _fill_on_demand_with_background(idle, team)
        critical = idle.job(team, spot=False, priority="critical")
        assert idle.submit_all([critical]) == [PENDING]
        time.sleep(3)  # Kueue retries pending heads; give it the chance to preempt anyway
        assert all(admitted(idle.workload(job) or {}) for job in background)
        assert not is_true(idle.workload(critical) or {}, "Admitted")
    finally:
        idle.clear()
        del stack.config["e2e:breakObjects"]
        stack.write_config()
        idle.up()


def test_a_higher_borrowing_limit_lets_the_team_borrow_more(idle: Queues) -> None:
    """The borrowing test with the team's `gpuBorrowingLimit` raised by one in the stack config
    and deployed: Kueue now admits one more Job on borrowed spot quota. So the limit Kueue
    enforces is the one the program sets, and the borrowing test fails if the program lets the
    limit grow."""
    team, _ = first_two(idle)
    stack = idle.stack
    original = copy.deepcopy(stack.config["burst-platform:teams"])
    teams = copy.deepcopy(original)
    teams[0]["gpuBorrowingLimit"] = team.gpu_borrowing_limit + 1
    stack.config["burst-platform:teams"] = teams
    stack.write_config()
    try:
        idle.up()
        raised = idle.teams()[0]
        spot = raised.spot_gpus + raised.gpu_borrowing_limit
        jobs = [idle.job(raised, spot=True) for _ in range(spot + 1)]
        flavors = idle.submit_all(jobs)
        assert flavors.count(SPOT) == team.spot_gpus + team.gpu_borrowing_limit + 1
        idle.wait_usage(raised, SPOT, (spot, raised.gpu_borrowing_limit))
    finally:
        idle.clear()
        stack.config["burst-platform:teams"] = original
        stack.write_config()
        idle.up()
