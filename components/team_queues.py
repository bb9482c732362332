"""Kueue quota for GPU teams: spot-first flavors, one ClusterQueue per team, priorities, backstops.

Objects (all Kueue ones `kueue.x-k8s.io/v1beta2`; cluster-scoped ones carry no namespace):

* Kueue itself, as the pinned Helm chart (`install_kueue`); every Kueue object depends on it.
* Two ResourceFlavors that map quota onto the GpuCapacity NodePools by `nodeLabels`
  (`karpenter.sh/capacity-type`), which Kueue injects into the `nodeSelector` of admitted pods.
  They are shared by the teams, so that one team may borrow another's idle quota (Kueue lends
  quota only within a flavor). Which team's NodePools a pod lands on (and whose budget pays) is
  the pod's own `burst.io/team` node selector and toleration (`GpuCapacity.team`).
* One ClusterQueue per team in a shared cohort. A single resource group covers cpu, memory and
  `nvidia.com/gpu`; flavors are listed spot first, so Kueue tries spot before on-demand. The team
  may borrow idle spot GPUs of the cohort up to `gpu_borrowing_limit`, but never on-demand GPUs
  (on-demand `borrowingLimit` 0): on-demand spend is bounded by each team's own `on_demand_gpus`.
* WorkloadPriorityClasses and matching Kubernetes PriorityClasses: `burst-critical`,
  `burst-normal` and `burst-background` (the last never preempts pods).
* Per team: a Namespace labelled `team: <name>` (the ClusterQueue's namespaceSelector), a
  LocalQueue `default`, a ResourceQuota backstop and a LimitRange with default requests.

Taints versus tolerations on the spot flavor (Kueue semantics: a flavor's `nodeTaints` must be
tolerated by the workload to get that flavor, `tolerations` are injected into admitted pods, and
taints matched by the flavor's own tolerations are ignored during admission):

* Both flavors list the taints their NodePool puts on its nodes in `nodeTaints`, so the flavor
  describes the nodes truthfully (and policy can check that a spot flavor carries the spot taint).
* By default (`spot_opt_in=True`) the spot flavor only tolerates `nvidia.com/gpu`: a workload is
  admitted on spot only if its own pod template tolerates the spot taint, which is where the
  policy check looks for checkpointing, a grace period and a queue; all others get on-demand
  quota. Only interruption-tolerant work lands on spot, and it says so.
* With `spot_opt_in=False` the spot flavor also *tolerates* the spot taint: Kueue injects the
  toleration, so every GPU workload goes to spot first (the cost-first profile, for clusters where
  every job checkpoints).

Preemption is *classic* (not fair sharing), because only classic mode honours
`borrowWithinCohort` and it needs no change to Kueue's controller configuration: within a queue
higher priorities preempt lower ones, a team reclaims its lent nominal quota from any borrower,
and a borrowing workload may preempt only `burst-background` work of other teams.
`flavorFungibility` is explicit: borrowing spot stops the search (spot is cheaper than
on-demand), while needing to preempt on spot first tries on-demand.

Kueue decides flavors on quota only: if AWS has no spot capacity, pods admitted on the spot flavor
stay Pending (kubernetes-sigs/kueue#2560). The on-demand flavor covers that only for quota that is
already on-demand; the NodePools' weighted fallback is not used for spot-flavored pods because
they select `karpenter.sh/capacity-type: spot`.
"""

from __future__ import annotations

import importlib.metadata
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_kubernetes as k8s
import yaml

from burst_platform.components.conventions import (
    ENVIRONMENT_TAG,
    TEAM_TAG,
    ComponentArgsError,
    bounded_name,
    require_name,
    require_non_empty,
)
from burst_platform.components.versions import EKS_VERSION, KUEUE_VERSION

KUEUE_API_VERSION = "kueue.x-k8s.io/v1beta2"
"""API version of every Kueue object this component emits."""

KUEUE_CHART = "oci://registry.k8s.io/kueue/charts/kueue"
"""OCI location of the Kueue Helm chart."""

KUEUE_NAMESPACE = "kueue-system"
"""Namespace the Kueue controller runs in."""

GPU_RESOURCE = "nvidia.com/gpu"
"""Extended resource (and taint key) of NVIDIA GPUs."""

SPOT_FLAVOR = "gpu-spot"
"""Name of the ResourceFlavor mapped to the spot NodePool."""

ON_DEMAND_FLAVOR = "gpu-on-demand"
"""Name of the ResourceFlavor mapped to the on-demand NodePool."""


def pod_security_labels(enforce: str) -> dict[str, str]:
    """Pod Security Standards labels of a namespace: the API server admits only pods that meet
    the `enforce` profile, and warns about and audits any pod short of `restricted`. Pinned to
    the cluster's Kubernetes version, so an upgrade does not tighten the profiles unreviewed."""
    levels = {"enforce": enforce, "audit": "restricted", "warn": "restricted"}
    return {f"pod-security.kubernetes.io/{mode}": level for mode, level in levels.items()} | {
        f"pod-security.kubernetes.io/{mode}-version": f"v{EKS_VERSION}" for mode in levels
    }


TEAM_POD_SECURITY = pod_security_labels("restricted")
"""Team namespaces: restricted (non-root, no privilege escalation, all capabilities dropped,
seccomp)."""

PLATFORM_POD_SECURITY = pod_security_labels("baseline")
"""Platform namespaces (`kueue-system`): baseline (no privileged pods, host namespaces or host
paths), restricted in warnings and audit."""

LOCAL_QUEUE_NAME = "default"
"""Name of the LocalQueue in every team namespace (the `kueue.x-k8s.io/queue-name` of jobs)."""

CAPACITY_TYPE_LABEL = "karpenter.sh/capacity-type"
"""Karpenter's well-known node label for spot / on-demand."""


@dataclass(frozen=True)
class PriorityLevel:
    """One priority level, emitted as both a WorkloadPriorityClass and a PriorityClass."""

    name: str
    """Name of both classes (jobs use it in `kueue.x-k8s.io/priority-class` and
    `priorityClassName`)."""

    value: int
    """Priority value; higher wins."""

    preemption_policy: str
    """Kubernetes `preemptionPolicy` of the PriorityClass (PreemptLowerPriority or Never)."""

    description: str
    """When to use the level."""


PRIORITY_LEVELS: Mapping[str, PriorityLevel] = {
    "critical": PriorityLevel(
        "burst-critical",
        100000,
        "PreemptLowerPriority",
        "Deadline-bound training and backtests; may preempt normal and background work.",
    ),
    "normal": PriorityLevel(
        "burst-normal",
        10000,
        "PreemptLowerPriority",
        "Default for training and backtests; may preempt background work.",
    ),
    "background": PriorityLevel(
        "burst-background",
        1000,
        "Never",
        "Preemptible sweeps that checkpoint; never preempts, and borrowers from other teams "
        "may preempt it.",
    ),
}
"""The priority ladder, by level."""

_RESERVED_NAMESPACES = frozenset(
    {"default", "kube-system", "kube-public", "kube-node-lease", KUEUE_NAMESPACE}
)
_QUALIFIED_KEY = re.compile(
    r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*(\/))?"
    r"([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$"
)
_QUANTITY = re.compile(r"^([0-9]+(\.[0-9]+)?|\.[0-9]+)(m|[KMGTPE]i|[kMGTPE])?$")
_REGISTRY = re.compile(
    r"^[a-z0-9]([a-z0-9.-]*[a-z0-9])?(:[0-9]+)?(/[a-z0-9]([a-z0-9._-]*[a-z0-9])?)*$"
)


@dataclass(frozen=True)
class TeamQuota:
    """GPU quota of one team in this cluster."""

    name: str
    """Team name (DNS label): the `team` label of its namespace and ClusterQueue."""

    gpu_quota: int
    """Nominal GPUs of the team in this cluster, spot and on-demand together."""

    on_demand_gpus: int = 0
    """Part of `gpu_quota` admitted on on-demand capacity (the rest is spot)."""

    gpu_borrowing_limit: int = 0
    """Extra spot GPUs the team may borrow from idle quota of the cohort."""

    cpu_per_gpu: int = 12
    """vCPU of quota per GPU (nominal and borrowing limits of cpu scale with GPUs)."""

    memory_per_gpu_gi: int = 96
    """Memory of quota in GiB per GPU."""

    namespace: str | None = None
    """Namespace of the team's workloads; None = the team name."""

    def __post_init__(self) -> None:
        require_name("teams.name", self.name)
        where = f"teams[{self.name}]"
        _require_int(f"{where}.gpu_quota", self.gpu_quota, minimum=0)
        _require_int(f"{where}.on_demand_gpus", self.on_demand_gpus, minimum=0)
        if self.on_demand_gpus > self.gpu_quota:
            raise ComponentArgsError(f"{where}.on_demand_gpus", "must not exceed gpu_quota")
        _require_int(f"{where}.gpu_borrowing_limit", self.gpu_borrowing_limit, minimum=0)
        if self.gpu_quota == 0 and self.gpu_borrowing_limit == 0:
            raise ComponentArgsError(
                f"{where}.gpu_quota", "the team has neither quota nor a borrowing limit"
            )
        _require_int(f"{where}.cpu_per_gpu", self.cpu_per_gpu, minimum=1)
        _require_int(f"{where}.memory_per_gpu_gi", self.memory_per_gpu_gi, minimum=1)
        if self.namespace is not None:
            require_name(f"{where}.namespace", self.namespace)
        if self.namespace_name in _RESERVED_NAMESPACES:
            raise ComponentArgsError(
                f"{where}.namespace", f"{self.namespace_name!r} is a system namespace"
            )

    @property
    def namespace_name(self) -> str:
        """Namespace of the team's workloads."""
        return self.namespace if self.namespace is not None else self.name

    @property
    def spot_gpus(self) -> int:
        """Nominal spot GPUs."""
        return self.gpu_quota - self.on_demand_gpus


@dataclass(frozen=True)
class TeamQueuesArgs:
    """Arguments of `TeamQueues`."""

    teams: Sequence[TeamQuota]
    """The teams sharing the cluster's GPU capacity (at least one, unique names and namespaces)."""

    environment: str
    """Environment label value (dev, prod, ...)."""

    spot_taint_key: pulumi.Input[str] = "spot"
    """Key of the spot nodes' `<key>=true:NoSchedule` taint (`GpuCapacity.spot_taint_key`)."""

    cohort: str = "burst-gpu"
    """Cohort all team ClusterQueues share, so idle quota can be borrowed."""

    spot_opt_in: bool = True
    """True: only workloads that tolerate the spot taint themselves are admitted on spot.
    False: Kueue injects the spot toleration, so all GPU work goes to spot first."""

    install_kueue: bool = True
    """Install Kueue with its pinned Helm chart; False when Kueue is installed elsewhere."""

    image_registry: str | None = None
    """Registry that mirrors registry.k8s.io (e.g. an ECR pull-through cache
    `<account>.dkr.ecr.<region>.amazonaws.com/registry-k8s-io`) for nodes without internet
    egress; None = registry.k8s.io."""

    system_node_selector: Mapping[str, str] | None = None
    """Node labels of the system nodes the Kueue controller runs on (it also tolerates their
    `CriticalAddonsOnly` taint); None: any node."""

    default_cpu_request: str = "500m"
    """CPU request the LimitRange gives containers that set none."""

    default_memory_request: str = "2Gi"
    """Memory request the LimitRange gives containers that set none."""

    spot_pool_gpu_limit: int | None = None
    """GPU limit of the spot NodePool; when set, the teams' spot nominal GPUs must fit in it."""

    on_demand_pool_gpu_limit: int | None = None
    """GPU limit of the on-demand NodePool; when set, the teams' on-demand GPUs must fit in it."""

    def __post_init__(self) -> None:
        if isinstance(self.teams, str | bytes):
            raise ComponentArgsError("teams", "must be a list of TeamQuota")
        require_non_empty("teams", self.teams)
        for team in self.teams:
            if not isinstance(team, TeamQuota):
                raise ComponentArgsError("teams", f"{team!r} is not a TeamQuota")
        names = [team.name for team in self.teams]
        if len(set(names)) != len(names):
            raise ComponentArgsError("teams", "team names must be unique")
        namespaces = [team.namespace_name for team in self.teams]
        if len(set(namespaces)) != len(namespaces):
            raise ComponentArgsError("teams", "team namespaces must be unique")
        require_name("environment", self.environment)
        require_name("cohort", self.cohort)
        if isinstance(self.spot_taint_key, str) and (
            not _QUALIFIED_KEY.match(self.spot_taint_key) or self.spot_taint_key == GPU_RESOURCE
        ):
            raise ComponentArgsError(
                "spot_taint_key", f"{self.spot_taint_key!r} is not a usable taint key"
            )
        if self.image_registry is not None and not _REGISTRY.match(self.image_registry):
            raise ComponentArgsError(
                "image_registry",
                f"{self.image_registry!r} must be a registry host and optional path, "
                "without scheme or trailing slash",
            )
        for field_name in ("default_cpu_request", "default_memory_request"):
            value = getattr(self, field_name)
            if not isinstance(value, str) or not _QUANTITY.match(value):
                raise ComponentArgsError(field_name, f"{value!r} is not a Kubernetes quantity")
        self._check_pool_limit("spot_pool_gpu_limit", sum(t.spot_gpus for t in self.teams))
        self._check_pool_limit(
            "on_demand_pool_gpu_limit", sum(t.on_demand_gpus for t in self.teams)
        )

    def _check_pool_limit(self, field_name: str, nominal: int) -> None:
        limit = getattr(self, field_name)
        if limit is None:
            return
        _require_int(field_name, limit, minimum=0)
        if nominal > limit:
            raise ComponentArgsError(
                field_name,
                f"the teams' nominal quota of {nominal} GPUs exceeds the NodePool limit {limit}",
            )


class TeamQueues(pulumi.ComponentResource):
    """Kueue flavors, per-team ClusterQueues and namespaces, and the priority ladder."""

    namespaces: pulumi.Output[dict[str, str]]
    """Namespace of each team, by team name."""

    cluster_queues: pulumi.Output[dict[str, str]]
    """ClusterQueue of each team, by team name."""

    local_queue_name: pulumi.Output[str]
    """Name of the LocalQueue in every team namespace (`kueue.x-k8s.io/queue-name`)."""

    priority_classes: pulumi.Output[dict[str, str]]
    """Name of the WorkloadPriorityClass and PriorityClass of each level (critical, normal,
    background)."""

    def __init__(
        self, name: str, args: TeamQueuesArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("burst:kueue:TeamQueues", name, None, opts)
        kueue_deps: list[pulumi.Resource] = []
        if args.install_kueue:
            kueue_namespace = k8s.core.v1.Namespace(
                f"{name}-kueue-namespace",
                metadata={"name": KUEUE_NAMESPACE, "labels": PLATFORM_POD_SECURITY},
                opts=pulumi.ResourceOptions(parent=self),
            )
            kueue_deps.append(
                k8s.helm.v3.Release(
                    f"{name}-kueue",
                    name="kueue",
                    chart=KUEUE_CHART,
                    version=KUEUE_VERSION,
                    namespace=kueue_namespace.metadata.name,
                    values=kueue_values(args.image_registry, args.system_node_selector),
                    opts=pulumi.ResourceOptions(parent=self),
                )
            )

        def kueue_object(
            child: str,
            kind: str,
            metadata: dict[str, Any],
            spec: dict[str, Any],
            depends_on: Sequence[pulumi.Resource] = (),
        ) -> pulumi.Resource:
            resource: pulumi.Resource = k8s.apiextensions.CustomResource(
                f"{name}-{child}",
                api_version=KUEUE_API_VERSION,
                kind=kind,
                metadata=metadata,
                spec=spec,
                opts=pulumi.ResourceOptions(parent=self, depends_on=[*kueue_deps, *depends_on]),
            )
            return resource

        for flavor, flavor_spec in resource_flavor_specs(args).items():
            kueue_object(f"flavor-{flavor}", "ResourceFlavor", {"name": flavor}, flavor_spec)

        for level, priority in PRIORITY_LEVELS.items():
            _TopLevelCustomResource(
                f"{name}-wpc-{level}",
                KUEUE_API_VERSION,
                "WorkloadPriorityClass",
                {"name": priority.name},
                {"value": priority.value, "description": priority.description},
                opts=pulumi.ResourceOptions(parent=self, depends_on=kueue_deps),
            )
            k8s.scheduling.v1.PriorityClass(
                f"{name}-pc-{level}",
                metadata={"name": priority.name},
                value=priority.value,
                preemption_policy=priority.preemption_policy,
                description=priority.description,
                opts=pulumi.ResourceOptions(parent=self),
            )

        cluster_queues: dict[str, str] = {}
        for team in args.teams:
            labels = {TEAM_TAG: team.name, ENVIRONMENT_TAG: args.environment}
            namespace = k8s.core.v1.Namespace(
                f"{name}-{team.name}-namespace",
                metadata={"name": team.namespace_name, "labels": {**labels, **TEAM_POD_SECURITY}},
                opts=pulumi.ResourceOptions(parent=self),
            )
            queue_name = cluster_queue_name(team)
            cluster_queue = kueue_object(
                f"{team.name}-cluster-queue",
                "ClusterQueue",
                {"name": queue_name, "labels": labels},
                cluster_queue_spec(team, args.cohort),
            )
            kueue_object(
                f"{team.name}-local-queue",
                "LocalQueue",
                {"name": LOCAL_QUEUE_NAME, "namespace": team.namespace_name, "labels": labels},
                {"clusterQueue": queue_name},
                depends_on=[namespace, cluster_queue],
            )
            k8s.core.v1.ResourceQuota(
                f"{name}-{team.name}-quota",
                metadata={"name": "burst-backstop", "namespace": team.namespace_name},
                spec={"hard": resource_quota_hard(team)},
                opts=pulumi.ResourceOptions(parent=self, depends_on=[namespace]),
            )
            k8s.core.v1.LimitRange(
                f"{name}-{team.name}-limits",
                metadata={"name": "burst-defaults", "namespace": team.namespace_name},
                spec={
                    "limits": [
                        {
                            "type": "Container",
                            "defaultRequest": {
                                "cpu": args.default_cpu_request,
                                "memory": args.default_memory_request,
                            },
                        }
                    ]
                },
                opts=pulumi.ResourceOptions(parent=self, depends_on=[namespace]),
            )
            cluster_queues[team.name] = queue_name

        self.namespaces = pulumi.Output.from_input(
            {team.name: team.namespace_name for team in args.teams}
        )
        self.cluster_queues = pulumi.Output.from_input(cluster_queues)
        self.local_queue_name = pulumi.Output.from_input(LOCAL_QUEUE_NAME)
        self.priority_classes = pulumi.Output.from_input(
            {level: priority.name for level, priority in PRIORITY_LEVELS.items()}
        )
        self.register_outputs(
            {
                "namespaces": self.namespaces,
                "cluster_queues": self.cluster_queues,
                "local_queue_name": self.local_queue_name,
                "priority_classes": self.priority_classes,
            }
        )


class _TopLevelCustomResource(pulumi.CustomResource):
    """A custom resource whose fields sit at the top level of the object, beside `metadata`.

    `pulumi_kubernetes.apiextensions.CustomResource` in Python only takes `spec`, but a
    WorkloadPriorityClass keeps `value` and `description` at the top level. The provider handles
    every `kubernetes:<apiVersion>:<kind>` type token the same way, whatever fields it carries.
    """

    def __init__(
        self,
        resource_name: str,
        api_version: str,
        kind: str,
        metadata: dict[str, Any],
        fields: dict[str, Any],
        opts: pulumi.ResourceOptions,
    ) -> None:
        props = {"apiVersion": api_version, "kind": kind, "metadata": metadata, **fields}
        opts = pulumi.ResourceOptions.merge(
            opts, pulumi.ResourceOptions(version=importlib.metadata.version("pulumi_kubernetes"))
        )
        super().__init__(f"kubernetes:{api_version}:{kind}", resource_name, props, opts)


KUEUE_REPLICAS = 2
"""Controller replicas; leader election keeps one active, the other takes over at once."""


def kueue_configuration() -> dict[str, Any]:
    """Kueue's controller Configuration (config.kueue.x-k8s.io/v1beta2), for the chart's
    `managerConfig.controllerManagerConfigYaml`: the chart's defaults, plus

    * `waitForPodsReady`: an admitted workload whose pods are not all ready within 10 minutes
      (spot capacity that never arrives, an image that does not pull) is evicted and requeued
      with exponential backoff, so it does not hold the team's quota forever;
    * `manageJobsWithoutQueueName` for the team namespaces (label `team`): a Job there without
      a `kueue.x-k8s.io/queue-name` is held suspended instead of running outside every quota;
      other namespaces (system ones included) are not managed.
    """
    return {
        "apiVersion": "config.kueue.x-k8s.io/v1beta2",
        "kind": "Configuration",
        "health": {"healthProbeBindAddress": ":8081"},
        "metrics": {"bindAddress": ":8443"},
        "webhook": {"port": 9443},
        "leaderElection": {"leaderElect": True, "resourceName": "c1f6bfd2.kueue.x-k8s.io"},
        "clientConnection": {"qps": 300, "burst": 500},
        "waitForPodsReady": {
            "timeout": "10m",
            "recoveryTimeout": "5m",
            "blockAdmission": False,
            "requeuingStrategy": {
                "timestamp": "Eviction",
                "backoffLimitCount": 10,
                "backoffBaseSeconds": 60,
                "backoffMaxSeconds": 3600,
            },
        },
        "manageJobsWithoutQueueName": True,
        "managedJobsNamespaceSelector": {
            "matchExpressions": [{"key": TEAM_TAG, "operator": "Exists"}]
        },
        "integrations": {
            "frameworks": [
                "batch/job",
                "jobset.x-k8s.io/jobset",
                "kubeflow.org/mpijob",
                "ray.io/rayjob",
                "ray.io/raycluster",
                "trainer.kubeflow.org/trainjob",
                "pod",
            ]
        },
    }


def kueue_values(
    image_registry: str | None, system_node_selector: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """Helm values of the Kueue chart: the pinned controller image (from a mirror if given),
    `KUEUE_REPLICAS` replicas on the system nodes (whose `CriticalAddonsOnly` taint they
    tolerate) with a disruption budget, and `kueue_configuration()`."""
    image: dict[str, Any] = {"tag": f"v{KUEUE_VERSION}", "pullPolicy": "IfNotPresent"}
    if image_registry is not None:
        image["repository"] = f"{image_registry}/kueue/kueue"
    return {
        "controllerManager": {
            "replicas": KUEUE_REPLICAS,
            "podDisruptionBudget": {"enabled": True, "minAvailable": 1},
            "manager": {"image": image},
            "nodeSelector": dict(system_node_selector or {}),
            "tolerations": [{"key": "CriticalAddonsOnly", "operator": "Exists"}],
        },
        "managerConfig": {"controllerManagerConfigYaml": yaml.safe_dump(kueue_configuration())},
    }


def resource_flavor_specs(args: TeamQueuesArgs) -> dict[str, dict[str, Any]]:
    """The `spec` of the spot and on-demand ResourceFlavors, by flavor name."""
    gpu_taint = {"key": GPU_RESOURCE, "value": "true", "effect": "NoSchedule"}
    spot_taint = {"key": args.spot_taint_key, "value": "true", "effect": "NoSchedule"}
    gpu_toleration = {"key": GPU_RESOURCE, "operator": "Exists", "effect": "NoSchedule"}
    spot_toleration = {"key": args.spot_taint_key, "operator": "Exists", "effect": "NoSchedule"}
    return {
        SPOT_FLAVOR: {
            "nodeLabels": {CAPACITY_TYPE_LABEL: "spot"},
            "nodeTaints": [spot_taint, gpu_taint],
            "tolerations": (
                [gpu_toleration] if args.spot_opt_in else [spot_toleration, gpu_toleration]
            ),
        },
        ON_DEMAND_FLAVOR: {
            "nodeLabels": {CAPACITY_TYPE_LABEL: "on-demand"},
            "nodeTaints": [gpu_taint],
            "tolerations": [gpu_toleration],
        },
    }


def cluster_queue_name(team: TeamQuota) -> str:
    """Name of the ClusterQueue of `team`."""
    return bounded_name("team", team.name, max_length=63)


def cluster_queue_spec(team: TeamQuota, cohort: str) -> dict[str, Any]:
    """The ClusterQueue `spec` of `team`: spot then on-demand, classic preemption."""

    def resources(gpus: int, borrow_gpus: int) -> list[dict[str, str]]:
        nominal, borrowing = _quantities(team, gpus), _quantities(team, borrow_gpus)
        return [
            {"name": name, "nominalQuota": nominal[name], "borrowingLimit": borrowing[name]}
            for name in nominal
        ]

    return {
        "cohortName": cohort,
        "namespaceSelector": {"matchLabels": {TEAM_TAG: team.name}},
        "queueingStrategy": "BestEffortFIFO",
        "resourceGroups": [
            {
                "coveredResources": ["cpu", "memory", GPU_RESOURCE],
                "flavors": [
                    {
                        "name": SPOT_FLAVOR,
                        "resources": resources(team.spot_gpus, team.gpu_borrowing_limit),
                    },
                    {"name": ON_DEMAND_FLAVOR, "resources": resources(team.on_demand_gpus, 0)},
                ],
            }
        ],
        "preemption": {
            "withinClusterQueue": "LowerPriority",
            "reclaimWithinCohort": "Any",
            "borrowWithinCohort": {
                "policy": "LowerPriority",
                "maxPriorityThreshold": PRIORITY_LEVELS["background"].value,
            },
        },
        "flavorFungibility": {"whenCanBorrow": "MayStopSearch", "whenCanPreempt": "TryNextFlavor"},
    }


def resource_quota_hard(team: TeamQuota) -> dict[str, str]:
    """ResourceQuota `hard` of `team`: the most its ClusterQueue can ever admit."""
    most = _quantities(team, team.gpu_quota + team.gpu_borrowing_limit)
    return {f"requests.{resource}": amount for resource, amount in most.items()}


def _quantities(team: TeamQuota, gpus: int) -> dict[str, str]:
    """cpu, memory and GPU quantities of `gpus` GPUs' worth of quota for `team`."""
    return {
        "cpu": str(gpus * team.cpu_per_gpu),
        "memory": f"{gpus * team.memory_per_gpu_gi}Gi",
        GPU_RESOURCE: str(gpus),
    }


def _require_int(field_name: str, value: object, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ComponentArgsError(field_name, f"{value!r} is not an integer")
    if value < minimum:
        raise ComponentArgsError(field_name, f"{value} is below {minimum}")
