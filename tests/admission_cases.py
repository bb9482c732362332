"""Workload objects that the two forms of each admission rule judge: the Rego pack (OPA, on the
policy input the check builds) and the rule's CEL (cel-python offline, the API server in
`make e2e`). Both must give every object the same verdict.

The objects are the workloads of every admission rule's allowed and denied fixtures, and
generated ones: a conforming Job and single and paired mutations of it (each side of each
clause of each rule), each as a Pod, Job, CronJob, Deployment and StatefulSet.
"""

from __future__ import annotations

import copy
import functools
import itertools
import json
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import celpy
import yaml
from celpy import celtypes
from celpy.adapter import json_to_cel

from burst_platform.admission import WORKLOAD_RESOURCES, AdmissionRule, load_rules, variables
from burst_platform.check.normalise import UNKNOWN_SENTINEL
from tests.conftest import opa_eval

ROOT = Path(__file__).resolve().parent.parent
SPOT_TAINT_KEY = "spot"
"""The guardrails' spot.taint_key (policies/data/guardrails.yaml)."""
TEAM = "quant"
"""The team (a guardrails team, and of the dev stack) whose namespace every case is judged in."""
TEAM_LABEL = "burst.io/team"

Obj = dict[str, Any]

_TYPES = {
    "Pod": "kubernetes:core/v1:Pod",
    "Job": "kubernetes:batch/v1:Job",
    "CronJob": "kubernetes:batch/v1:CronJob",
    "Deployment": "kubernetes:apps/v1:Deployment",
    "StatefulSet": "kubernetes:apps/v1:StatefulSet",
}


@functools.cache
def _rules() -> tuple[AdmissionRule, ...]:
    return tuple(load_rules())


def rules() -> list[AdmissionRule]:
    """The admission rules of the pack (policies/admission.json)."""
    return list(_rules())


def policy_input(obj: Mapping[str, Any]) -> dict[str, Any]:
    """The policy input `burst check --manifests` builds for one object."""
    name = obj["metadata"]["name"]
    return {
        "format": "burst.policy-input/v1",
        "resources": [
            {
                "urn": f"urn:pulumi:manifests::burst-platform::{_TYPES[obj['kind']]}::{name}",
                "type": _TYPES[obj["kind"]],
                "name": name,
                "region": None,
                "inputs": obj,
                "parent": "",
            }
        ],
        "removed": [],
        "stack": {"name": "manifests", "source": "manifests", "complete": True, "hidden": 0},
    }


def opa_verdicts(objects: Mapping[str, Obj]) -> dict[str, set[str]]:
    """The admission rules each object violates by the Rego pack (one `opa eval` for all)."""
    ids = sorted(rule.id for rule in rules())
    query = (
        "{name: [f.rule | some f in report.findings] | some name, doc in input;"
        " report := data.burst.main.report with input as doc}"
    )
    value = opa_eval(query, {name: policy_input(obj) for name, obj in objects.items()})
    return {name: set(value[name]) & set(ids) for name in objects}


# ---------------------------------------------------------------------------------------------
# cel-python: the CEL forms offline
# ---------------------------------------------------------------------------------------------

_ENV = celpy.Environment()


def _lower_ascii(value: celtypes.Value) -> celtypes.StringType:
    """Kubernetes' CEL string extension `lowerAscii` (cel-python lacks it)."""
    return celtypes.StringType("".join(c.lower() if "A" <= c <= "Z" else c for c in str(value)))


FUNCTIONS = {"lowerAscii": _lower_ascii}


@functools.cache
def compile_cel(expression: str) -> celpy.Runner:
    """A cel-python program of an expression (raises CELParseError if it does not parse)."""
    return _ENV.program(_ENV.compile(expression), functions=FUNCTIONS)  # type: ignore[arg-type]


def cel_variables(obj: Obj) -> celtypes.MapType:
    """The values of the policies' `variables` for `obj`, by cel-python."""
    activation: dict[str, Any] = {"object": json_to_cel(obj)}
    values: dict[celtypes.StringType, Any] = {}
    for variable in variables(SPOT_TAINT_KEY):
        result = compile_cel(variable["expression"]).evaluate(
            {**activation, "variables": celtypes.MapType(values)}
        )
        values[celtypes.StringType(variable["name"])] = result
    return celtypes.MapType(values)


def cel_verdicts(
    obj: Obj,
    judged: Iterable[AdmissionRule] | None = None,
    values: celtypes.MapType | None = None,
) -> set[str]:
    """The admission rules whose CEL rejects `obj`, by cel-python (an evaluation error rejects,
    as `failurePolicy: Fail` does on the server); `values`: its `cel_variables`, if known."""
    namespace = obj["metadata"].get("namespace", "default")
    activation = {
        "object": json_to_cel(obj),
        "variables": cel_variables(obj) if values is None else values,
        # the team namespaces (the only ones bound) carry the label `team: <name>`
        "namespaceObject": json_to_cel(
            {"metadata": {"name": namespace, "labels": {"team": namespace}}}
        ),
    }
    denied = set()
    for rule in rules() if judged is None else judged:
        if obj["kind"] not in rule.kinds:
            continue
        try:
            result = compile_cel(rule.cel).evaluate(activation)
        except celpy.CELEvalError:
            denied.add(rule.id)
            continue
        if isinstance(result, celpy.CELEvalError) or not bool(result):
            denied.add(rule.id)
    return denied


# ---------------------------------------------------------------------------------------------
# The objects
# ---------------------------------------------------------------------------------------------


def fixture_objects() -> dict[str, Obj]:
    """The workloads of every admission rule's allowed and denied fixtures, by
    `<fixture path>#<index>`, moved to the team namespace (objects with values unknown at
    preview are left out: the server never sees an unknown)."""
    found: dict[str, Obj] = {}
    for rule in rules():
        set_name, suffix = rule.id.split(".", 1)
        for kind in ("allowed", "denied"):
            path = ROOT / "policies" / set_name / "fixtures" / kind / f"{suffix}.json"
            document = json.loads(path.read_text())
            for index, resource in enumerate(document["resources"]):
                obj = resource.get("inputs", {})
                if obj.get("kind") in WORKLOAD_RESOURCES and UNKNOWN_SENTINEL not in json.dumps(
                    obj
                ):
                    placed = copy.deepcopy(obj)
                    placed["metadata"]["namespace"] = TEAM  # where the server judges it
                    found[f"{path.relative_to(ROOT)}#{index}"] = placed
    return found


CHECKPOINT = "burst.io/checkpoint-interval"
QUEUE = "kueue.x-k8s.io/queue-name"
PRIORITY = "kueue.x-k8s.io/priority-class"


def conforming_template() -> Obj:
    """A pod template that meets every admission rule and the restricted Pod Security Standard:
    a GPU pod on its team's nodes, opted in to spot."""
    return {
        "metadata": {"labels": {"app": "train"}},
        "spec": {
            "restartPolicy": "Never",
            "terminationGracePeriodSeconds": 90,
            "securityContext": {
                "runAsNonRoot": True,
                "runAsUser": 1000,
                "seccompProfile": {"type": "RuntimeDefault"},
            },
            "nodeSelector": {TEAM_LABEL: TEAM},
            "tolerations": [
                {"key": SPOT_TAINT_KEY, "operator": "Exists", "effect": "NoSchedule"},
                {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"},
                {"key": TEAM_LABEL, "operator": "Equal", "value": TEAM, "effect": "NoSchedule"},
            ],
            "containers": [
                {
                    "name": "train",
                    "image": "registry.example/ml/train:1.0",
                    "securityContext": {
                        "allowPrivilegeEscalation": False,
                        "capabilities": {"drop": ["ALL"]},
                    },
                    "lifecycle": {"preStop": {"exec": {"command": ["/bin/flush-checkpoint"]}}},
                    "resources": {"limits": {"nvidia.com/gpu": "1"}},
                    "env": [{"name": "EPOCHS", "value": "10"}],
                }
            ],
        },
    }


def conforming_metadata(name: str) -> Obj:
    """Metadata of a conforming workload: its queue and checkpoint interval."""
    return {
        "name": name,
        "namespace": TEAM,
        "labels": {QUEUE: "default"},
        "annotations": {CHECKPOINT: "30m"},
    }


Mutation = Callable[[Obj, Obj], None]
"""Changes (top-level metadata, pod template) in place."""


def _spec(change: Callable[[Obj], None]) -> Mutation:
    return lambda _meta, tpl: change(tpl["spec"])


def _container(change: Callable[[Obj], None]) -> Mutation:
    return lambda _meta, tpl: change(tpl["spec"]["containers"][0])


def _security(key: str, value: Any) -> Mutation:
    return _container(lambda c: c["securityContext"].__setitem__(key, value))


def _without(mapping_path: Callable[[Obj, Obj], Obj], key: str) -> Mutation:
    return lambda meta, tpl: mapping_path(meta, tpl).pop(key, None)


def _init_container(template: Obj, name: str) -> Obj:
    """An init container like the template's first container (no lifecycle: init containers may
    not have one)."""
    container = copy.deepcopy(template["spec"]["containers"][0])
    container.pop("lifecycle", None)
    return {**container, "name": name}


MUTATIONS: dict[str, Mutation] = {
    "no-queue": _without(lambda m, _t: m["labels"], QUEUE),
    "empty-queue": lambda m, _t: m["labels"].__setitem__(QUEUE, ""),
    "other-queue": lambda m, _t: m["labels"].__setitem__(QUEUE, "ml"),
    "other-queue-on-template": lambda _m, t: t["metadata"]["labels"].__setitem__(QUEUE, "x"),
    "queue-on-template": lambda m, t: t["metadata"]["labels"].__setitem__(
        QUEUE, m["labels"].pop(QUEUE)
    ),
    "no-checkpoint": _without(lambda m, _t: m["annotations"], CHECKPOINT),
    "checkpoint-on-template": lambda m, t: t["metadata"].__setitem__(
        "annotations", {CHECKPOINT: m["annotations"].pop(CHECKPOINT)}
    ),
    "grace-30": _spec(lambda s: s.__setitem__("terminationGracePeriodSeconds", 30)),
    "grace-60": _spec(lambda s: s.__setitem__("terminationGracePeriodSeconds", 60)),
    "no-grace": _spec(lambda s: s.pop("terminationGracePeriodSeconds")),
    "no-prestop": _container(lambda c: c.pop("lifecycle")),
    "no-spot-toleration": _spec(lambda s: s.__setitem__("tolerations", s["tolerations"][1:])),
    "tolerate-everything": _spec(lambda s: s.__setitem__("tolerations", [{"operator": "Exists"}])),
    "critical-class": _spec(lambda s: s.__setitem__("priorityClassName", "burst-critical")),
    "critical-label": lambda m, _t: m["labels"].__setitem__(PRIORITY, "Team-CRITICAL"),
    "normal-class": _spec(lambda s: s.__setitem__("priorityClassName", "burst-normal")),
    "select-spot": _spec(
        lambda s: s.__setitem__("nodeSelector", {"karpenter.sh/capacity-type": "spot"})
    ),
    "affinity-spot": _spec(
        lambda s: s.__setitem__(
            "affinity",
            {
                "nodeAffinity": {
                    "requiredDuringSchedulingIgnoredDuringExecution": {
                        "nodeSelectorTerms": [
                            {
                                "matchExpressions": [
                                    {
                                        "key": "karpenter.sh/capacity-type",
                                        "operator": "In",
                                        "values": ["spot"],
                                    }
                                ]
                            }
                        ]
                    }
                }
            },
        )
    ),
    # the API server refuses privileged with allowPrivilegeEscalation false as invalid
    "privileged": _container(
        lambda c: c["securityContext"].update(privileged=True, allowPrivilegeEscalation=True)
    ),
    "not-privileged": _security("privileged", False),
    "host-pid": _spec(lambda s: s.__setitem__("hostPID", True)),
    "host-ipc": _spec(lambda s: s.__setitem__("hostIPC", True)),
    "host-network": _spec(lambda s: s.__setitem__("hostNetwork", True)),
    "host-network-false": _spec(lambda s: s.__setitem__("hostNetwork", False)),
    "host-path": _spec(
        lambda s: s.__setitem__("volumes", [{"name": "node", "hostPath": {"path": "/var/run"}}])
    ),
    "empty-dir": _spec(lambda s: s.__setitem__("volumes", [{"name": "scratch", "emptyDir": {}}])),
    "container-root": _security("runAsUser", 0),
    "container-may-be-root": _security("runAsNonRoot", False),
    "pod-root": _spec(lambda s: s["securityContext"].__setitem__("runAsUser", 0)),
    "non-root-on-container-only": lambda _m, t: (
        t["spec"].pop("securityContext"),
        t["spec"]["containers"][0]["securityContext"].update(runAsNonRoot=True),
    ),
    "no-pod-security-context": _spec(lambda s: s.pop("securityContext")),
    "add-sys-admin": _container(
        lambda c: c["securityContext"]["capabilities"].__setitem__("add", ["SYS_ADMIN"])
    ),
    "add-net-bind": _container(
        lambda c: c["securityContext"]["capabilities"].__setitem__("add", ["NET_BIND_SERVICE"])
    ),
    "drop-some": _container(
        lambda c: c["securityContext"]["capabilities"].__setitem__("drop", ["NET_RAW"])
    ),
    "no-capabilities": _container(lambda c: c["securityContext"].pop("capabilities")),
    "escalation": _security("allowPrivilegeEscalation", True),
    "no-escalation-setting": _container(
        lambda c: c["securityContext"].pop("allowPrivilegeEscalation")
    ),
    "no-security-context": _container(lambda c: c.pop("securityContext")),
    "secret-env": _container(
        lambda c: c["env"].append({"name": "AWS_SECRET_ACCESS_KEY", "value": "wJalrXUtnFEMI"})
    ),
    "access-key-value": _container(
        # built here: a literal is a leaked key to secret scanners (checkov's repository scan)
        lambda c: c["env"].append({"name": "ID", "value": "AKIA" + "Z3MSJV4WWNKWW5FG"})
    ),
    "token-from-secret": _container(
        lambda c: c["env"].append(
            {"name": "API_TOKEN", "valueFrom": {"secretKeyRef": {"name": "t", "key": "token"}}}
        )
    ),
    "empty-password": _container(lambda c: c["env"].append({"name": "DB_PASSWORD", "value": ""})),
    "no-gpu": _container(lambda c: c.pop("resources")),
    # (a GPU request without a limit is invalid: the API server refuses it before admission)
    "gpu-in-init-container": lambda _m, t: (
        t["spec"].__setitem__(
            "initContainers",
            [_init_container(t, "fetch")],
        )
        or t["spec"]["containers"][0].pop("resources")
    ),
    "no-team-selector": _spec(lambda s: s.pop("nodeSelector")),
    "other-team-selector": _spec(lambda s: s.__setitem__("nodeSelector", {TEAM_LABEL: "ml"})),
    "no-team-toleration": _spec(lambda s: s.__setitem__("tolerations", s["tolerations"][:2])),
    "team-toleration-exists": _spec(
        lambda s: s["tolerations"].__setitem__(2, {"key": TEAM_LABEL, "operator": "Exists"})
    ),
    "team-toleration-other-team": _spec(lambda s: s["tolerations"][2].__setitem__("value", "ml")),
    "team-toleration-no-execute": _spec(
        lambda s: s["tolerations"][2].__setitem__("effect", "NoExecute")
    ),
    "privileged-init": lambda _m, t: t["spec"].__setitem__(
        "initContainers",
        [{**_init_container(t, "init"), "securityContext": {"privileged": True}}],
    ),
}
"""Single changes to the conforming workload, each on one side of a rule's clause."""

COMBINATIONS = [
    ("no-spot-toleration", "no-queue"),
    ("no-spot-toleration", "no-checkpoint"),
    ("no-spot-toleration", "critical-class"),
    ("no-spot-toleration", "select-spot"),
    ("critical-class", "select-spot"),
    ("critical-label", "affinity-spot"),
    ("tolerate-everything", "no-queue"),
    ("privileged", "host-path"),
    ("no-security-context", "secret-env"),
    ("queue-on-template", "checkpoint-on-template"),
    ("non-root-on-container-only", "container-root"),
    ("no-pod-security-context", "no-grace"),
    ("no-spot-toleration", "critical-class", "select-spot"),
    ("no-spot-toleration", "critical-label", "affinity-spot"),
    ("no-spot-toleration", "normal-class", "select-spot"),
    ("no-gpu", "no-team-selector"),
    ("no-spot-toleration", "other-queue"),
    ("no-queue", "other-queue-on-template"),
    ("no-gpu", "no-team-toleration"),
    ("gpu-in-init-container", "other-team-selector"),
    ("gpu-in-init-container", "no-team-toleration"),
    ("no-team-toleration", "tolerate-everything"),
]
"""Changes together (a rule that no longer applies, two rules at once)."""


def as_kind(kind: str, name: str, meta: Obj, template: Obj) -> Obj:
    """A workload of `kind` with metadata `meta` and pod template `template`."""
    template = copy.deepcopy(template)
    meta = {**copy.deepcopy(meta), "name": name}
    if kind == "Pod":
        merged = copy.deepcopy(meta)
        for key in ("labels", "annotations"):
            values = {**template["metadata"].get(key, {}), **meta.get(key, {})}
            if values:
                merged[key] = values
        return {"apiVersion": "v1", "kind": "Pod", "metadata": merged, "spec": template["spec"]}
    if kind in ("Deployment", "StatefulSet"):
        template["spec"]["restartPolicy"] = "Always"
        spec: Obj = {"replicas": 0, "selector": {"matchLabels": {"app": "train"}}}
        if kind == "StatefulSet":
            spec["serviceName"] = "train"
        return {"apiVersion": "apps/v1", "kind": kind, "metadata": meta,
                "spec": {**spec, "template": template}}  # fmt: skip
    job_spec = {"suspend": True, "template": template}
    if kind == "Job":
        return {"apiVersion": "batch/v1", "kind": "Job", "metadata": meta, "spec": job_spec}
    return {
        "apiVersion": "batch/v1",
        "kind": "CronJob",
        "metadata": meta,
        "spec": {"schedule": "0 3 * * *", "suspend": True, "jobTemplate": {"spec": job_spec}},
    }


def generated_objects() -> dict[str, Obj]:
    """The conforming workload, each mutation and each combination, in every kind, by
    `<kind>/<changes>` (the object's name is `<kind>-<number>`)."""
    changes: dict[str, tuple[str, ...]] = {"conforming": ()}
    changes |= {name: (name,) for name in MUTATIONS}
    changes |= {"+".join(names): names for names in COMBINATIONS}
    found = {}
    for number, ((label, names), kind) in enumerate(
        itertools.product(changes.items(), WORKLOAD_RESOURCES)
    ):
        meta, template = conforming_metadata("x"), conforming_template()
        for name in names:
            MUTATIONS[name](meta, template)
        object_name = f"{kind.lower()}-{number}"
        found[f"{kind}/{label}"] = as_kind(kind, object_name, meta, template)
    return found


def readme_job() -> Obj:
    """The Job of the README's "Submitting GPU work"."""
    text = (ROOT / "README.md").read_text()
    section = text[text.index("## Submitting GPU work") :]
    block = section[section.index("```yaml\n") + len("```yaml\n") :]
    job: Obj = yaml.safe_load(block[: block.index("```")])
    return job
