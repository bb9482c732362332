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
    cel-python where it can (standard CEL). Where it cannot (celpy lacks the Kubernetes CEL
    string library, `find` and `split`, that a few Karpenter rules use) and for transition rules
    (`oldSelf`, on update only), the judge is the real API server: `make e2e` dry-runs every
    object of the example stacks and every known-bad object on kube-apiserver with these CRDs
    (tests/e2e/test_api_server_validation.py). `rule_coverage()` says which judge each rule has.
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
from collections.abc import Iterator, Mapping, Sequence
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

from burst_platform.components.versions import EKS_VERSION, KARPENTER_VERSION, KUEUE_VERSION
from burst_platform.mock_runtime import Registration

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

ENGINES = ("cel", "api-server", "transition")
"""Who judges a CEL rule: cel-python offline; the API server only (`make e2e`), because celpy
lacks a function the rule calls; or the API server on update, for transition rules (`oldSelf`)."""

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


_CEL_ENV = celpy.Environment()


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
            else:
                engine = "api-server"
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


# ---------------------------------------------------------------------------------------------
# Validation
# ---------------------------------------------------------------------------------------------


def validate_object(obj: Mapping[str, Any]) -> list[str]:
    """Problems of one Kubernetes object as the API server would see it on create ([] = valid),
    short of the CEL rules only the API server can judge (`rule_coverage`)."""
    obj = _plain_numbers(obj)
    api_version, kind = obj.get("apiVersion"), obj.get("kind")
    if not isinstance(api_version, str) or not isinstance(kind, str):
        return ["apiVersion and kind must be strings"]
    group = api_version.split("/")[0] if "/" in api_version else ""
    if group in EMITTED_VERSIONS:
        return _validate_custom(obj, api_version, kind)
    return _validate_core(obj, kind)


def _validate_custom(obj: Mapping[str, Any], api_version: str, kind: str) -> list[str]:
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
        problem = _evaluate_rule(compiled, value)
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


def _evaluate_rule(compiled: _CompiledRule, value: Any) -> str:
    """The rule's message if celpy finds `value` in breach ("" if not, or if only the API server
    can judge the rule)."""
    coverage = compiled.coverage
    if compiled.program is None:
        return ""
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
