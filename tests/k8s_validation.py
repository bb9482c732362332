"""Validate Kubernetes objects offline, close to what the API server would accept on create.

`validate_object(obj)` returns the problems of one object (an empty list means valid):

* Karpenter and Kueue kinds are checked against the upstream CRDs in `.tools/crds/` (fetched by
  `make setup` at the versions pinned in `components.versions`), for the one version the
  platform emits per group (`karpenter.sh/v1`, `karpenter.k8s.aws/v1`, `kueue.x-k8s.io/v1beta2`):
  * the structural OpenAPI v3 schema, translated to JSON Schema: `x-kubernetes-int-or-string`
    becomes integer-or-string, `nullable` admits null, `x-kubernetes-list-type: set|map` demands
    unique items or keys, and every object that declares `properties` without
    `x-kubernetes-preserve-unknown-fields` refuses other fields. The API server would prune
    those silently (`template.spec.kubelet` on a v1 NodePool just disappears), which is exactly
    the mistake this catches. Schema defaults are applied first, as the API server does.
  * the CRD's CEL rules (`x-kubernetes-validations`) at every node where they apply, evaluated by
    cel-python where it can (standard CEL), and by Python re-implementations (`PYTHON_RULES`)
    where it cannot: celpy lacks the Kubernetes CEL string library (`find`, `split`) several
    Karpenter rules use. Transition rules (`oldSelf`) only run on update and are skipped.
    `rule_coverage()` reports which engine handles each rule; no rule is silently skipped.
  * metadata: DNS-1123 names (labels for kinds whose name becomes a label value), no
    `metadata.namespace` on cluster-scoped kinds, an explicit one on namespaced kinds, valid
    label keys and values.
  * client-side checks the CRD declares but the API server does not enforce (karpenter.md §3):
    NodePool requirement values must be label values, and Exists/DoesNotExist take no values.
* Core kinds (Namespace, ResourceQuota, LimitRange, PriorityClass, Pod, Job, ...) are checked with
  `kubernetes_validate` in strict mode for the cluster version (`components.versions.EKS_VERSION`)
  plus the same metadata checks.
"""

from __future__ import annotations

import copy
import functools
import json
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import celpy
import jsonschema  # type: ignore[import-untyped]
import kubernetes_validate  # type: ignore[import-untyped]
import lark
import yaml
from celpy.adapter import json_to_cel
from celpy.celparser import CELParseError
from celpy.evaluation import CELEvalError, base_functions

from burst.mock_runtime import Registration
from components.versions import EKS_VERSION, KARPENTER_VERSION, KUEUE_VERSION

CRD_DIR = Path(__file__).resolve().parent.parent / ".tools" / "crds"
"""Where `make setup` puts the Karpenter and Kueue CRDs."""

EMITTED_VERSIONS: Mapping[str, str] = {
    "karpenter.sh": "v1",
    "karpenter.k8s.aws": "v1",
    "kueue.x-k8s.io": "v1beta2",
}
"""The one API version per CRD group the platform emits (and validates against)."""

CLUSTER_SCOPED_CORE_KINDS = frozenset(
    {
        "Namespace",
        "PriorityClass",
        "ClusterRole",
        "ClusterRoleBinding",
        "StorageClass",
        "PersistentVolume",
        "Node",
        "CustomResourceDefinition",
        "ValidatingAdmissionPolicy",
        "ValidatingAdmissionPolicyBinding",
    }
)
"""Core kinds without a namespace (every other core kind is namespaced)."""

LABEL_NAMED_KINDS = frozenset({"Namespace", "NodePool", "EC2NodeClass"})
"""Kinds whose name must be a DNS-1123 *label*: it is a label value (`karpenter.sh/nodepool`,
`karpenter.k8s.aws/ec2nodeclass`, `kubernetes.io/metadata.name`)."""

ENGINES = ("cel", "python", "transition", "unsupported")
"""How a CEL rule is handled: cel-python, the Python re-implementation, skipped because it only
applies on update (`oldSelf`), or not at all (`validate_object` then reports a problem)."""

_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
_LABEL_NAME = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")
_OBJECT_META_FIELDS = frozenset(
    {
        "name",
        "generateName",
        "namespace",
        "labels",
        "annotations",
        "finalizers",
        "ownerReferences",
        "uid",
        "resourceVersion",
        "generation",
        "creationTimestamp",
        "deletionTimestamp",
        "deletionGracePeriodSeconds",
        "managedFields",
        "selfLink",
    }
)
_INT_RANGES = {"int32": (-(2**31), 2**31 - 1), "int64": (-(2**63), 2**63 - 1)}
_CEL_MACROS = frozenset({"all", "exists", "exists_one", "map", "filter", "has"})


class CrdSchemasMissingError(RuntimeError):
    """The CRD schemas are not in `.tools/crds`; `make setup` fetches them."""


# ---------------------------------------------------------------------------------------------
# Python re-implementations of CEL rules, keyed by the rule's verbatim message
# ---------------------------------------------------------------------------------------------

KARPENTER_AWS_LABELS = frozenset(
    f"karpenter.k8s.aws/{suffix}"
    for suffix in (
        "instance-tenancy",
        "capacity-reservation-type",
        "capacity-reservation-id",
        "capacity-reservation-interruptible",
        "ec2nodeclass",
        "instance-encryption-in-transit-supported",
        "instance-category",
        "instance-hypervisor",
        "instance-family",
        "instance-generation",
        "instance-local-nvme",
        "instance-size",
        "instance-cpu",
        "instance-cpu-manufacturer",
        "instance-cpu-sustained-clock-speed-mhz",
        "instance-memory",
        "instance-ebs-bandwidth",
        "instance-network-bandwidth",
        "instance-gpu-name",
        "instance-gpu-manufacturer",
        "instance-gpu-count",
        "instance-gpu-memory",
        "instance-accelerator-name",
        "instance-accelerator-manufacturer",
        "instance-accelerator-count",
        "instance-capability-flex",
        "placement-group-id",
        "placement-group-partition",
    )
)
"""The `karpenter.k8s.aws/*` label allow-list of the v1.14.1 NodePool CRD."""

AMI_ALIAS_FAMILIES = ("al2", "al2023", "bottlerocket", "windows2019", "windows2022", "windows2025")
"""Families an EC2NodeClass AMI alias may name."""

_WINDOWS_FAMILIES = ("windows2019", "windows2022", "windows2025")
_INTEGER = re.compile(r"^[+-]?[0-9]+$")

Rule = Callable[[Any], bool]


def _label_keys(value: Any) -> list[str]:
    """Keys of a label map, or the single key when the rule sits on a requirement's `key`."""
    return list(value) if isinstance(value, Mapping) else [value]


def _domain(key: str) -> str:
    return key.split("/", 1)[0]


def _requirements_in_have_values(reqs: list[Any]) -> bool:
    return all(len(r.get("values", [])) != 0 for r in reqs if r.get("operator") == "In")


def _requirements_numeric(reqs: list[Any]) -> bool:
    for r in reqs:
        if r.get("operator") in ("Gt", "Lt", "Gte", "Lte"):
            values = r.get("values", [])
            if len(values) != 1 or not _INTEGER.match(str(values[0])) or int(values[0]) < 0:
                return False
    return True


def _requirements_min_values(reqs: list[Any]) -> bool:
    return all(
        len(r.get("values", [])) >= r["minValues"]
        for r in reqs
        if r.get("operator") == "In" and "minValues" in r
    )


def _alias_family_matches(alias_family: str, ami_family: str) -> Rule:
    def rule(spec: Mapping[str, Any]) -> bool:
        if "amiFamily" not in spec:
            return True
        uses_alias = any(
            "alias" in term and term["alias"].split("@", 1)[0] == alias_family
            for term in spec.get("amiSelectorTerms", [])
        )
        return not uses_alias or spec["amiFamily"] in ("Custom", ami_family)

    return rule


def _windows_latest(alias: str) -> bool:
    family, _, version = alias.partition("@")
    return family not in _WINDOWS_FAMILIES or version == "latest"


def _only_one_of(*fields: str) -> Rule:
    return lambda spec: sum(f in spec for f in fields) == 1


def _terms_have_one_of(*fields: str) -> Rule:
    return lambda terms: all(any(f in t for f in fields) for t in terms)


def _no_term_combines(key: str, *others: str) -> Rule:
    return lambda terms: not any(key in t and any(o in t for o in others) for t in terms)


def _not_all_terms_combine(key: str, *others: str) -> Rule:
    # Mirrors the upstream rule `!self.all(x, has(x.<key>) && (...))` exactly, quirks included.
    return lambda terms: not all(key in t and any(o in t for o in others) for t in terms)


def _tag_key_not(predicate: Callable[[str], bool]) -> Rule:
    return lambda tags: not any(predicate(k) for k in tags)


PYTHON_RULES: Mapping[str, Rule] = {
    # NodePool requirements (list) and requirement keys / template labels (string or map).
    "requirements with operator 'In' must have a value defined": _requirements_in_have_values,
    "requirements operator 'Gt', 'Lt', 'Gte', or 'Lte' must have a single positive integer value": (
        _requirements_numeric
    ),
    "requirements with 'minValues' must have at least that many values specified in the "
    "'values' field": _requirements_min_values,
    'label domain "karpenter.sh" is restricted': lambda v: all(
        k in ("karpenter.sh/capacity-type", "karpenter.sh/nodepool")
        or not _domain(k).endswith("karpenter.sh")
        for k in _label_keys(v)
    ),
    'label "karpenter.sh/nodepool" is restricted': lambda v: all(
        k != "karpenter.sh/nodepool" for k in _label_keys(v)
    ),
    'label "kubernetes.io/hostname" is restricted': lambda v: all(
        k != "kubernetes.io/hostname" for k in _label_keys(v)
    ),
    'label domain "karpenter.k8s.aws" is restricted': lambda v: all(
        k in KARPENTER_AWS_LABELS or not _domain(k).endswith("karpenter.k8s.aws")
        for k in _label_keys(v)
    ),
    "'schedule' must be set with 'duration'": lambda budgets: all(
        ("schedule" in b) == ("duration" in b) for b in budgets
    ),
    "'weight' is not supported on static NodePools": lambda spec: (
        "replicas" not in spec or "weight" not in spec
    ),
    "only 'limits.nodes' is supported on static NodePools": lambda spec: (
        "replicas" not in spec or set(spec.get("limits", {})) <= {"nodes"}
    ),
    "group may not be empty": lambda v: v != "",
    "kind may not be empty": lambda v: v != "",
    "name may not be empty": lambda v: v != "",
    # EC2NodeClass
    "must specify exactly one of ['role', 'instanceProfile']": _only_one_of(
        "role", "instanceProfile"
    ),
    "role cannot be empty": lambda v: v != "",
    "instanceProfile cannot be empty": lambda v: v != "",
    "expected at least one, got none, ['tags', 'id', 'name', 'alias', 'ssmParameter']": (
        _terms_have_one_of("tags", "id", "name", "alias", "ssmParameter")
    ),
    "'id' is mutually exclusive, cannot be set with a combination of other fields in "
    "amiSelectorTerms": _no_term_combines("id", "alias", "tags", "name", "owner"),
    "'alias' is mutually exclusive, cannot be set with a combination of other fields in "
    "amiSelectorTerms": _no_term_combines("alias", "id", "tags", "name", "owner"),
    "'alias' is mutually exclusive, cannot be set with a combination of other amiSelectorTerms": (
        lambda terms: not (any("alias" in t for t in terms) and len(terms) != 1)
    ),
    "'alias' is improperly formatted, must match the format 'family@version'": lambda v: bool(
        re.search(r"^[a-zA-Z0-9]+@.+$", v)
    ),
    "family is not supported, must be one of the following: 'al2', 'al2023', 'bottlerocket', "
    "'windows2019', 'windows2022', 'windows2025'": lambda v: v.split("@")[0] in AMI_ALIAS_FAMILIES,
    "windows families may only specify version 'latest'": _windows_latest,
    "if set, amiFamily must be 'AL2' or 'Custom' when using an AL2 alias": _alias_family_matches(
        "al2", "AL2"
    ),
    "if set, amiFamily must be 'AL2023' or 'Custom' when using an AL2023 alias": (
        _alias_family_matches("al2023", "AL2023")
    ),
    "if set, amiFamily must be 'Bottlerocket' or 'Custom' when using a Bottlerocket alias": (
        _alias_family_matches("bottlerocket", "Bottlerocket")
    ),
    "if set, amiFamily must be 'Windows2019' or 'Custom' when using a Windows2019 alias": (
        _alias_family_matches("windows2019", "Windows2019")
    ),
    "if set, amiFamily must be 'Windows2022' or 'Custom' when using a Windows2022 alias": (
        _alias_family_matches("windows2022", "Windows2022")
    ),
    "if set, amiFamily must be 'Windows2025' or 'Custom' when using a Windows2025 alias": (
        _alias_family_matches("windows2025", "Windows2025")
    ),
    "must specify amiFamily if amiSelectorTerms does not contain an alias": lambda spec: (
        any("alias" in t for t in spec.get("amiSelectorTerms", [])) or "amiFamily" in spec
    ),
    "subnetSelectorTerms cannot be empty": lambda terms: len(terms) != 0,
    "securityGroupSelectorTerms cannot be empty": lambda terms: len(terms) != 0,
    "expected at least one, got none, ['tags', 'id']": _terms_have_one_of("tags", "id"),
    "expected at least one, got none, ['tags', 'id', 'name']": _terms_have_one_of(
        "tags", "id", "name"
    ),
    "'id' is mutually exclusive, cannot be set with a combination of other fields in a subnet "
    "selector term": _not_all_terms_combine("id", "tags"),
    "'id' is mutually exclusive, cannot be set with a combination of other fields in a security "
    "group selector term": _not_all_terms_combine("id", "tags", "name"),
    "'name' is mutually exclusive, cannot be set with a combination of other fields in a "
    "security group selector term": _not_all_terms_combine("name", "tags", "id"),
    "empty tag keys or values aren't supported": lambda tags: all(
        k != "" and v != "" for k, v in tags.items()
    ),
    "empty tag keys aren't supported": _tag_key_not(lambda k: k == ""),
    "tag contains a restricted tag matching eks:eks-cluster-name": _tag_key_not(
        lambda k: k == "eks:eks-cluster-name"
    ),
    "tag contains a restricted tag matching kubernetes.io/cluster/": _tag_key_not(
        lambda k: k.startswith("kubernetes.io/cluster")
    ),
    "tag contains a restricted tag matching karpenter.sh/nodepool": _tag_key_not(
        lambda k: k == "karpenter.sh/nodepool"
    ),
    "tag contains a restricted tag matching karpenter.sh/nodeclaim": _tag_key_not(
        lambda k: k == "karpenter.sh/nodeclaim"
    ),
    "tag contains a restricted tag matching karpenter.k8s.aws/ec2nodeclass": _tag_key_not(
        lambda k: k == "karpenter.k8s.aws/ec2nodeclass"
    ),
    "must have only one blockDeviceMappings with rootVolume": lambda mappings: (
        sum(1 for m in mappings if m.get("rootVolume") is True) <= 1
    ),
    "snapshotID or volumeSize must be defined": lambda ebs: (
        "snapshotID" in ebs or "volumeSize" in ebs
    ),
}
"""Python versions of the Karpenter CEL rules: every rule celpy cannot evaluate, and every
karpenter.md §3 rule (so those are covered even where celpy works). Keyed by verbatim message."""


@dataclass(frozen=True)
class SchemaConstraint:
    """A §3 constraint the CRD states as an OpenAPI keyword (enforced by the JSON Schema pass)."""

    kind: str
    path: str
    keyword: str
    value: Any


SECTION3_CEL_RULES: Mapping[str, Sequence[str]] = {
    "NodePool": (
        "requirements with operator 'In' must have a value defined",
        "requirements operator 'Gt', 'Lt', 'Gte', or 'Lte' must have a single positive integer "
        "value",
        "requirements with 'minValues' must have at least that many values specified in the "
        "'values' field",
        'label domain "karpenter.sh" is restricted',
        'label "karpenter.sh/nodepool" is restricted',
        'label "kubernetes.io/hostname" is restricted',
        'label domain "karpenter.k8s.aws" is restricted',
        "'schedule' must be set with 'duration'",
        "'weight' is not supported on static NodePools",
        "group may not be empty",
        "kind may not be empty",
        "name may not be empty",
    ),
    "EC2NodeClass": (
        "must specify exactly one of ['role', 'instanceProfile']",
        "role cannot be empty",
        "instanceProfile cannot be empty",
        "'id' is mutually exclusive, cannot be set with a combination of other fields in "
        "amiSelectorTerms",
        "'alias' is mutually exclusive, cannot be set with a combination of other fields in "
        "amiSelectorTerms",
        "'alias' is mutually exclusive, cannot be set with a combination of other amiSelectorTerms",
        "'alias' is improperly formatted, must match the format 'family@version'",
        "family is not supported, must be one of the following: 'al2', 'al2023', "
        "'bottlerocket', 'windows2019', 'windows2022', 'windows2025'",
        "windows families may only specify version 'latest'",
        "must specify amiFamily if amiSelectorTerms does not contain an alias",
        "subnetSelectorTerms cannot be empty",
        "securityGroupSelectorTerms cannot be empty",
        "must have only one blockDeviceMappings with rootVolume",
        "snapshotID or volumeSize must be defined",
        "tag contains a restricted tag matching eks:eks-cluster-name",
        "tag contains a restricted tag matching kubernetes.io/cluster/",
        "tag contains a restricted tag matching karpenter.sh/nodepool",
        "tag contains a restricted tag matching karpenter.sh/nodeclaim",
        "tag contains a restricted tag matching karpenter.k8s.aws/ec2nodeclass",
    ),
}
"""The CEL rules karpenter.md §3 lists, by kind, with the CRD's verbatim messages."""

_NP_REQ = "spec.template.spec.requirements"
_NP_BUDGET = "spec.disruption.budgets"
SECTION3_SCHEMA_CONSTRAINTS: Sequence[SchemaConstraint] = (
    SchemaConstraint("NodePool", "spec", "required", ["template"]),
    SchemaConstraint(
        "NodePool", "spec.template.spec", "required", ["nodeClassRef", "requirements"]
    ),
    SchemaConstraint("NodePool", "spec.weight", "minimum", 1),
    SchemaConstraint("NodePool", "spec.weight", "maximum", 100),
    SchemaConstraint("NodePool", _NP_REQ, "maxItems", 100),
    SchemaConstraint("NodePool", f"{_NP_REQ}[].minValues", "minimum", 1),
    SchemaConstraint("NodePool", f"{_NP_REQ}[].minValues", "maximum", 50),
    SchemaConstraint("NodePool", f"{_NP_REQ}[].key", "maxLength", 316),
    SchemaConstraint(
        "NodePool",
        f"{_NP_REQ}[].operator",
        "enum",
        ["Gte", "Lte", "In", "NotIn", "Exists", "DoesNotExist", "Gt", "Lt"],
    ),
    SchemaConstraint("NodePool", "spec.template.metadata.labels", "maxProperties", 100),
    SchemaConstraint("NodePool", "spec.template.metadata.labels{}", "maxLength", 63),
    SchemaConstraint(
        "NodePool",
        "spec.template.spec.taints[].effect",
        "enum",
        ["NoSchedule", "PreferNoSchedule", "NoExecute"],
    ),
    SchemaConstraint(
        "NodePool", "spec.template.spec.expireAfter", "pattern", r"^(([0-9]+(s|m|h))+|Never)$"
    ),
    SchemaConstraint(
        "NodePool", "spec.template.spec.terminationGracePeriod", "pattern", r"^([0-9]+(s|m|h))+$"
    ),
    SchemaConstraint("NodePool", "spec.disruption", "required", ["consolidateAfter"]),
    SchemaConstraint(
        "NodePool", "spec.disruption.consolidateAfter", "pattern", r"^(([0-9]+(s|m|h))+|Never)$"
    ),
    SchemaConstraint(
        "NodePool",
        "spec.disruption.consolidationPolicy",
        "enum",
        ["WhenEmpty", "WhenEmptyOrUnderutilized", "Balanced"],
    ),
    SchemaConstraint("NodePool", _NP_BUDGET, "maxItems", 50),
    SchemaConstraint(
        "NodePool", f"{_NP_BUDGET}[].nodes", "pattern", r"^((100|[0-9]{1,2})%|[0-9]+)$"
    ),
    SchemaConstraint(
        "NodePool", f"{_NP_BUDGET}[].reasons[]", "enum", ["Underutilized", "Empty", "Drifted"]
    ),
    SchemaConstraint(
        "NodePool",
        f"{_NP_BUDGET}[].duration",
        "pattern",
        r"^((([0-9]+(h|m))|([0-9]+h[0-9]+m))(0s)?)$",
    ),
    SchemaConstraint("EC2NodeClass", "spec.amiSelectorTerms", "minItems", 1),
    SchemaConstraint("EC2NodeClass", "spec.amiSelectorTerms", "maxItems", 30),
    SchemaConstraint("EC2NodeClass", "spec.amiSelectorTerms[].alias", "maxLength", 30),
    SchemaConstraint(
        "EC2NodeClass",
        "spec",
        "required",
        ["amiSelectorTerms", "securityGroupSelectorTerms", "subnetSelectorTerms"],
    ),
    SchemaConstraint("EC2NodeClass", "spec.metadataOptions.httpPutResponseHopLimit", "minimum", 1),
    SchemaConstraint("EC2NodeClass", "spec.metadataOptions.httpPutResponseHopLimit", "maximum", 64),
    SchemaConstraint(
        "EC2NodeClass", "spec.metadataOptions.httpTokens", "enum", ["required", "optional"]
    ),
    SchemaConstraint("EC2NodeClass", "spec.blockDeviceMappings", "maxItems", 50),
    SchemaConstraint(
        "EC2NodeClass",
        "spec.blockDeviceMappings[].ebs.volumeType",
        "enum",
        ["standard", "io1", "io2", "gp2", "sc1", "st1", "gp3"],
    ),
)
"""The karpenter.md §3 constraints the CRD states as OpenAPI keywords (not CEL)."""


# ---------------------------------------------------------------------------------------------
# CRD catalogue
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RuleCoverage:
    """One CEL rule of a CRD and the engine that evaluates it."""

    kind: str
    path: str
    """Schema path of the node the rule sits on (`[]` = list items, `{}` = map values)."""
    message: str
    rule: str
    engine: str
    """One of `ENGINES`."""
    reason: str
    """Why the rule is not evaluated by CEL ("" when it is)."""


@dataclass(frozen=True)
class _CompiledRule:
    coverage: RuleCoverage
    program: celpy.Runner | None


@dataclass(frozen=True)
class _Crd:
    api_version: str
    kind: str
    namespaced: bool
    schema: dict[str, Any]
    validator: jsonschema.protocols.Validator
    rules: Mapping[str, Sequence[_CompiledRule]]


@dataclass(frozen=True)
class _Catalogue:
    crds: Mapping[tuple[str, str], _Crd]
    other_versions: Mapping[tuple[str, str], str]
    """(apiVersion, kind) of versions the CRDs serve but the platform must not emit."""


@functools.cache
def _catalogue() -> _Catalogue:
    files = sorted(CRD_DIR.glob("*.yaml")) if CRD_DIR.is_dir() else []
    if not files:
        raise CrdSchemasMissingError(
            f"no CRD schemas in {CRD_DIR}: run `make setup` (scripts/setup.sh) to fetch the "
            f"Karpenter {KARPENTER_VERSION} and Kueue {KUEUE_VERSION} CRDs"
        )
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    crds: dict[tuple[str, str], _Crd] = {}
    other: dict[tuple[str, str], str] = {}
    for path in files:
        with path.open() as handle:
            for doc in yaml.load_all(handle, Loader=loader):
                if not doc or doc.get("kind") != "CustomResourceDefinition":
                    continue
                spec = doc["spec"]
                group, kind = spec["group"], spec["names"]["kind"]
                for version in spec["versions"]:
                    api_version = f"{group}/{version['name']}"
                    if not version.get("served", False):
                        continue
                    if EMITTED_VERSIONS.get(group) != version["name"]:
                        other[(api_version, kind)] = f"{group}/{EMITTED_VERSIONS.get(group)}"
                        continue
                    schema = version["schema"]["openAPIV3Schema"]
                    crds[(api_version, kind)] = _Crd(
                        api_version=api_version,
                        kind=kind,
                        namespaced=spec["scope"] == "Namespaced",
                        schema=schema,
                        validator=_VALIDATOR(_to_json_schema(schema)),
                        rules=_compile_rules(kind, schema),
                    )
    return _Catalogue(crds=crds, other_versions=other)


def _to_json_schema(node: Mapping[str, Any]) -> dict[str, Any]:
    """Translate a structural OpenAPI v3 schema node into JSON Schema (draft 2020-12)."""
    out: dict[str, Any] = {}
    for keyword in (
        "enum",
        "pattern",
        "maxLength",
        "minLength",
        "maxItems",
        "minItems",
        "maximum",
        "minimum",
        "exclusiveMaximum",
        "exclusiveMinimum",
        "maxProperties",
        "minProperties",
        "required",
        "multipleOf",
        "uniqueItems",
    ):
        if keyword in node:
            out[keyword] = node[keyword]
    kind = node.get("type")
    if node.get("x-kubernetes-int-or-string"):
        out["type"] = ["integer", "string"]
    elif kind is not None:
        out["type"] = [kind, "null"] if node.get("nullable") else kind
    for combinator in ("anyOf", "allOf", "oneOf"):
        if combinator in node:
            out[combinator] = [_to_json_schema(sub) for sub in node[combinator]]
    if "not" in node:
        out["not"] = _to_json_schema(node["not"])
    if kind == "integer" and node.get("format") in _INT_RANGES:
        low, high = _INT_RANGES[node["format"]]
        out.setdefault("minimum", low)
        out.setdefault("maximum", high)
    if "properties" in node:
        out["properties"] = {k: _to_json_schema(v) for k, v in node["properties"].items()}
    additional = node.get("additionalProperties")
    if isinstance(additional, Mapping):
        out["additionalProperties"] = _to_json_schema(additional)
    elif isinstance(additional, bool):
        out["additionalProperties"] = additional
    elif "properties" in node and not node.get("x-kubernetes-preserve-unknown-fields"):
        out["additionalProperties"] = False
    if "items" in node:
        out["items"] = _to_json_schema(node["items"])
    list_type = node.get("x-kubernetes-list-type")
    if list_type == "set":
        out["uniqueItems"] = True
    elif list_type == "map":
        out["x-kubernetes-list-map-keys"] = list(node.get("x-kubernetes-list-map-keys", []))
    return out


def _unique_map_keys(
    validator: Any, keys: list[str], instance: Any, schema: Mapping[str, Any]
) -> Iterator[jsonschema.ValidationError]:
    if not isinstance(instance, list):
        return
    seen: set[str] = set()
    for item in instance:
        if isinstance(item, Mapping):
            identity = json.dumps([item.get(key) for key in keys])
            if identity in seen:
                yield jsonschema.ValidationError(f"duplicate entry for key(s) {keys}: {identity}")
            seen.add(identity)


_VALIDATOR = jsonschema.validators.extend(
    jsonschema.Draft202012Validator, {"x-kubernetes-list-map-keys": _unique_map_keys}
)


def _walk_schema(
    node: Mapping[str, Any], path: str = ""
) -> Iterator[tuple[str, Mapping[str, Any]]]:
    yield path, node
    for key, child in node.get("properties", {}).items():
        yield from _walk_schema(child, f"{path}.{key}" if path else key)
    if isinstance(node.get("items"), Mapping):
        yield from _walk_schema(node["items"], f"{path}[]")
    if isinstance(node.get("additionalProperties"), Mapping):
        yield from _walk_schema(node["additionalProperties"], f"{path}{{}}")


_CEL_ENV = celpy.Environment()


def _functions_called(tree: lark.Tree[Any]) -> set[str]:
    called: set[str] = set()
    for sub in tree.iter_subtrees():
        if sub.data == "member_dot_arg":
            called.add(str(sub.children[1]))
        elif sub.data == "ident_arg":
            called.add(str(sub.children[0]))
    return called


def _uses_old_self(tree: lark.Tree[Any]) -> bool:
    return any(
        sub.data == "ident" and str(sub.children[0]) == "oldSelf" for sub in tree.iter_subtrees()
    )


def _compile_rules(kind: str, schema: Mapping[str, Any]) -> dict[str, list[_CompiledRule]]:
    supported = set(base_functions) | _CEL_MACROS
    rules: dict[str, list[_CompiledRule]] = {}
    for path, node in _walk_schema(schema):
        for validation in node.get("x-kubernetes-validations", []):
            rule, message = validation["rule"], validation.get("message", validation["rule"])
            program: celpy.Runner | None = None
            try:
                tree = _CEL_ENV.compile(rule)
            except CELParseError as error:
                reason = f"celpy cannot compile it: {error}"
            else:
                missing = _functions_called(tree) - supported
                if _uses_old_self(tree):
                    reason = "transition rule (oldSelf): evaluated on update only"
                elif missing:
                    reason = f"celpy lacks {', '.join(sorted(missing))}()"
                else:
                    program, reason = _CEL_ENV.program(tree), ""
            if program is not None:
                engine = "cel"
            elif reason.startswith("transition"):
                engine = "transition"
            elif message in PYTHON_RULES:
                engine = "python"
            else:
                engine = "unsupported"
            coverage = RuleCoverage(kind, path, message, rule, engine, reason)
            rules.setdefault(path, []).append(_CompiledRule(coverage, program))
    return rules


def rule_coverage() -> list[RuleCoverage]:
    """Every CEL rule of the emitted CRD versions, with the engine that evaluates it."""
    return [
        compiled.coverage
        for crd in _catalogue().crds.values()
        for compiled_rules in crd.rules.values()
        for compiled in compiled_rules
    ]


def crd_schema_node(kind: str, path: str) -> Mapping[str, Any]:
    """The raw CRD schema node of `kind` at schema path `path` (KeyError if there is none)."""
    for crd in _catalogue().crds.values():
        if crd.kind == kind:
            nodes = dict(_walk_schema(crd.schema))
            return nodes[path]
    raise KeyError(kind)


_EVALUATED: dict[tuple[str, str, str], set[str]] = {}


def evaluated_rules() -> dict[tuple[str, str, str], set[str]]:
    """(kind, schema path, message) -> engines that have evaluated the rule in this process."""
    return {key: set(engines) for key, engines in _EVALUATED.items()}


# ---------------------------------------------------------------------------------------------
# Validation
# ---------------------------------------------------------------------------------------------


def validate_object(obj: Mapping[str, Any], *, engine: str = "auto") -> list[str]:
    """Problems of one Kubernetes object as the API server would see it on create ([] = valid).

    `engine="auto"` evaluates CEL rules with celpy where it can and falls back to `PYTHON_RULES`;
    `engine="python"` prefers the Python re-implementation wherever one exists (to test it).
    """
    if engine not in ("auto", "python"):
        raise ValueError(f"engine must be 'auto' or 'python', not {engine!r}")
    obj = _plain_numbers(obj)
    api_version, kind = obj.get("apiVersion"), obj.get("kind")
    if not isinstance(api_version, str) or not isinstance(kind, str):
        return ["apiVersion and kind must be strings"]
    group = api_version.split("/")[0] if "/" in api_version else ""
    if group in EMITTED_VERSIONS:
        return _validate_custom(obj, api_version, kind, engine)
    return _validate_core(obj, kind)


def _validate_custom(obj: Mapping[str, Any], api_version: str, kind: str, engine: str) -> list[str]:
    catalogue = _catalogue()
    crd = catalogue.crds.get((api_version, kind))
    if crd is None:
        wanted = catalogue.other_versions.get((api_version, kind))
        if wanted:
            return [f"{api_version} {kind}: the platform emits {wanted}, not {api_version}"]
        return [f"{api_version} {kind}: no such kind in the pinned CRDs"]
    obj = _apply_defaults(crd.schema, obj)
    problems = _metadata_problems(obj, kind, crd.namespaced)
    for error in sorted(crd.validator.iter_errors(obj), key=lambda e: list(e.absolute_path)):
        problems.extend(_describe(error))
    for compiled, value, path in _rule_sites(crd, crd.schema, obj, "", ""):
        problem = _evaluate_rule(compiled, value, engine)
        if problem:
            problems.append(f"{path}: {problem}")
    if kind == "NodePool":
        problems.extend(_nodepool_client_side(obj))
    return [f"{kind}/{obj.get('metadata', {}).get('name', '?')}: {p}" for p in problems]


def _validate_core(obj: Mapping[str, Any], kind: str) -> list[str]:
    namespaced = kind not in CLUSTER_SCOPED_CORE_KINDS
    problems = _metadata_problems(obj, kind, namespaced)
    try:
        kubernetes_validate.validate(obj, EKS_VERSION, strict=True)
    except kubernetes_validate.ValidationError as error:
        path = _json_path(error.absolute_path)
        problems.append(f"{path or '<root>'}: {error.message}")
    except kubernetes_validate.SchemaNotFoundError as error:
        problems.append(error.message)
    return [f"{kind}/{obj.get('metadata', {}).get('name', '?')}: {p}" for p in problems]


def _describe(error: jsonschema.ValidationError) -> list[str]:
    path = _json_path(error.absolute_path)
    if error.validator == "additionalProperties" and error.validator_value is False:
        declared = set(error.schema.get("properties", {}))
        extra = sorted(set(error.instance) - declared)
        return [
            f"{path + '.' if path else ''}{field}: unknown field (the API server would prune it)"
            for field in extra
        ]
    return [f"{path or '<root>'}: {error.message}"]


def _json_path(parts: Sequence[Any]) -> str:
    out = ""
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _rule_sites(
    crd: _Crd, schema: Mapping[str, Any], value: Any, schema_path: str, path: str
) -> Iterator[tuple[_CompiledRule, Any, str]]:
    """Every (rule, value of the node it sits on, instance path) of an object."""
    for compiled in crd.rules.get(schema_path, ()):
        yield compiled, value, path or "<root>"
    if isinstance(value, Mapping):
        properties = schema.get("properties", {})
        additional = schema.get("additionalProperties")
        for key, child in value.items():
            if key in properties:
                yield from _rule_sites(
                    crd,
                    properties[key],
                    child,
                    f"{schema_path}.{key}" if schema_path else key,
                    f"{path}.{key}" if path else key,
                )
            elif isinstance(additional, Mapping):
                yield from _rule_sites(
                    crd, additional, child, f"{schema_path}{{}}", f"{path}[{key}]"
                )
    elif isinstance(value, list) and isinstance(schema.get("items"), Mapping):
        for index, item in enumerate(value):
            yield from _rule_sites(
                crd, schema["items"], item, f"{schema_path}[]", f"{path}[{index}]"
            )


def engine_disagreements(obj: Mapping[str, Any]) -> list[str]:
    """Rules of `obj` where celpy and the Python re-implementation reach different verdicts."""
    obj = _plain_numbers(obj)
    crd = _catalogue().crds[(obj["apiVersion"], obj["kind"])]
    disagreements = []
    for compiled, value, path in _rule_sites(
        crd, crd.schema, _apply_defaults(crd.schema, obj), "", ""
    ):
        fallback = PYTHON_RULES.get(compiled.coverage.message)
        if compiled.program is None or fallback is None:
            continue
        by_cel = _evaluate_rule(compiled, value, "auto") == ""
        by_python = _evaluate_rule(compiled, value, "python") == ""
        if by_cel != by_python:
            disagreements.append(
                f"{path}: {compiled.coverage.message}: CEL says {by_cel}, Python says {by_python}"
            )
    return disagreements


def _evaluate_rule(compiled: _CompiledRule, value: Any, engine: str) -> str:
    coverage = compiled.coverage
    key = (coverage.kind, coverage.path, coverage.message)
    if coverage.engine == "transition":
        return ""
    fallback = PYTHON_RULES.get(coverage.message)
    use_python = fallback is not None and (engine == "python" or compiled.program is None)
    if use_python and fallback is not None:
        _EVALUATED.setdefault(key, set()).add("python")
        try:
            return "" if fallback(value) else coverage.message
        except (KeyError, IndexError, TypeError, ValueError, AttributeError) as error:
            return f"{coverage.message} (rule failed on this value: {error!r})"
    if compiled.program is None:
        return f"{coverage.message} (rule not evaluated: {coverage.reason}, no Python fallback)"
    _EVALUATED.setdefault(key, set()).add("cel")
    try:
        result = compiled.program.evaluate({"self": json_to_cel(value)})
    except CELEvalError as error:
        return f"{coverage.message} (rule failed on this value: {error.args[0]})"
    if isinstance(result, CELEvalError):
        return f"{coverage.message} (rule failed on this value: {result.args[0]})"
    return "" if bool(result) else coverage.message


def _apply_defaults(schema: Mapping[str, Any], value: Any) -> Any:
    """Apply schema defaults the way the API server does before validating."""
    if isinstance(value, Mapping):
        out = dict(value)
        properties = schema.get("properties", {})
        for key, child in properties.items():
            if key not in out and "default" in child:
                out[key] = copy.deepcopy(child["default"])
        for key in list(out):
            if key in properties:
                out[key] = _apply_defaults(properties[key], out[key])
            elif isinstance(schema.get("additionalProperties"), Mapping):
                out[key] = _apply_defaults(schema["additionalProperties"], out[key])
        return out
    if isinstance(value, list) and isinstance(schema.get("items"), Mapping):
        return [_apply_defaults(schema["items"], item) for item in value]
    return value


def _metadata_problems(obj: Mapping[str, Any], kind: str, namespaced: bool) -> list[str]:
    metadata = obj.get("metadata")
    if not isinstance(metadata, Mapping):
        return ["metadata: missing"]
    problems = [
        f"metadata.{field}: unknown field" for field in sorted(set(metadata) - _OBJECT_META_FIELDS)
    ]
    name = metadata.get("name")
    if kind in LABEL_NAMED_KINDS:
        if not isinstance(name, str) or len(name) > 63 or not _DNS_LABEL.match(name):
            problems.append(f"metadata.name: {name!r} is not a DNS-1123 label")
    elif not isinstance(name, str) or len(name) > 253 or not _DNS_SUBDOMAIN.match(name):
        problems.append(f"metadata.name: {name!r} is not a DNS-1123 subdomain")
    namespace = metadata.get("namespace")
    if not namespaced and namespace is not None:
        problems.append(f"metadata.namespace: {kind} is cluster-scoped and takes no namespace")
    if namespaced:
        if namespace is None:
            problems.append(f"metadata.namespace: {kind} is namespaced; set it explicitly")
        elif (
            not isinstance(namespace, str) or len(namespace) > 63 or not _DNS_LABEL.match(namespace)
        ):
            problems.append(f"metadata.namespace: {namespace!r} is not a DNS-1123 label")
    labels = metadata.get("labels", {})
    if not isinstance(labels, Mapping):
        return [*problems, "metadata.labels: must be a map"]
    for key, value in labels.items():
        problems.extend(f"metadata.labels: {p}" for p in label_problems(key, value))
    annotations = metadata.get("annotations", {})
    if not isinstance(annotations, Mapping) or not all(
        isinstance(v, str) for v in annotations.values()
    ):
        problems.append("metadata.annotations: values must be strings")
    return problems


def label_problems(key: Any, value: Any) -> list[str]:
    """Problems of one Kubernetes label (key and value syntax)."""
    problems = []
    if not isinstance(key, str):
        return [f"key {key!r} is not a string"]
    prefix, _, name = key.rpartition("/")
    if prefix and (len(prefix) > 253 or not _DNS_SUBDOMAIN.match(prefix)):
        problems.append(f"key {key!r} has an invalid prefix")
    if len(name) > 63 or not _LABEL_NAME.match(name):
        problems.append(f"key {key!r} has an invalid name")
    if not isinstance(value, str) or len(value) > 63 or not _LABEL_VALUE.match(value):
        problems.append(f"value {value!r} of {key!r} is not a label value")
    return problems


def _nodepool_client_side(obj: Mapping[str, Any]) -> list[str]:
    """Checks the NodePool CRD states but the API server does not enforce (karpenter.md §3)."""
    problems = []
    template = obj.get("spec", {}).get("template", {})
    requirements = template.get("spec", {}).get("requirements", [])
    for index, requirement in enumerate(requirements if isinstance(requirements, list) else []):
        where = f"spec.template.spec.requirements[{index}]"
        values = requirement.get("values", [])
        for value in values:
            if not isinstance(value, str) or len(value) > 63 or not _LABEL_VALUE.match(value):
                problems.append(f"{where}.values: {value!r} is not a label value (client-side)")
        if requirement.get("operator") in ("Exists", "DoesNotExist") and values:
            problems.append(f"{where}.values: must be empty for {requirement['operator']}")
    return problems


def _plain_numbers(value: Any) -> Any:
    """Turn whole floats back into ints (the Pulumi wire format carries every number as float)."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, Mapping):
        return {k: _plain_numbers(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain_numbers(v) for v in value]
    return value


def objects_from_registrations(registrations: Sequence[Registration]) -> list[dict[str, Any]]:
    """The Kubernetes objects among mock registrations (everything with apiVersion and kind)."""
    return [
        _plain_numbers(r.inputs)
        for r in registrations
        if r.type.startswith("kubernetes:")
        and not r.type.startswith("kubernetes:helm.sh/")
        and "apiVersion" in r.inputs
        and "kind" in r.inputs
    ]
