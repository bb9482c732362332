"""Turn a `pulumi preview --json` document and Kubernetes manifests into the policy input.

Every resource becomes `{urn, type, name, region, inputs, parent, op, provider, dependencies,
propertyDependencies}`; the whole plan is sent to OPA as `{"format": INPUT_FORMAT, "resources":
[...], "removed": [...], "external": [URNs the stack only reads], "stack": {"name", "source":
"preview" | "manifests", "complete", "hidden"}}` (the shape is documented in policies/README.md).

Pulumi's unknown-value sentinel and the `[secret]` placeholder are passed through untouched: the
pack decides, by one mechanism in `burst.main`, what a rule that reads such a value reports.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from burst_platform.check.model import Location
from burst_platform.documents import read_json, read_text, yaml_documents
from burst_platform.errors import BurstError

UNKNOWN_SENTINEL = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"
"""Pulumi's placeholder for a value that is unknown at preview."""

SECRET_PLACEHOLDER = "[secret]"  # noqa: S105 - a placeholder, not a password
"""What `pulumi preview --json` shows instead of a secret value."""

UNKNOWN_VALUES = frozenset({UNKNOWN_SENTINEL, SECRET_PLACEHOLDER})

INPUT_FORMAT = "burst.policy-input/v1"
"""Marker of a normalised policy input; the pack denies any other (`main.input_not_normalised`)."""

INCLUDED_OPS = frozenset(
    {"same", "create", "update", "replace", "create-replacement", "import", "import-replacement"}
)
"""Step operations whose `newState` is part of the stack after the update."""

REMOVED_OPS = frozenset({"delete"})
"""Step operations that take a resource out of the stack: gone for cross-resource rules."""

SKIPPED_OPS = frozenset(
    {
        "delete-replaced",
        "discard",
        "discard-replaced",
        "read",
        "read-replacement",
        "refresh",
        "remove-pending-replace",
    }
)
"""Step operations left out: the old copy of a replaced resource (its replacement is included),
resources the stack only reads (`get`) or stops reading (`discard`), refresh steps (the resource's
own step says what happens to it), and the removal of a state entry whose delete already ran."""

READ_OPS = frozenset({"read", "read-replacement"})
"""Skipped ops whose resource still exists (outside the stack's management): a dependency on it
is not a missing one."""

REFUSED_OPS = {
    "diff": "an engine-internal step the CLI never prints: this is not `pulumi preview --json`",
}
"""Step operations that make the document unjudgeable, with the reason."""

REPLACEMENT_OPS = frozenset({"replace", "create-replacement", "import-replacement"})
"""Ops that legitimately share a URN: the logical replace step and its replacement steps."""

MANIFEST_SUFFIXES = (".yaml", ".yml", ".json")
MAX_PROBLEMS = 20

_REGION_LABEL = "topology.kubernetes.io/region"
_SOURCE_POSITION = re.compile(r"^project:///(?P<path>[^#]+)#(?P<line>\d+)(?:,\d+)?$")


@dataclass
class PlanInput:
    """The normalised policy input plus where each resource came from."""

    document: dict[str, Any]
    """`{"format", "resources", "removed", "external", "stack"}`, sent to OPA as `input`."""
    locations: dict[str, Location] = field(default_factory=dict)
    """Per-URN source position: the manifest file, or the program line (`sourcePosition`)."""
    primary: Location | None = None
    """File that stands for the whole plan (preview file or stack config)."""

    @property
    def resources(self) -> list[dict[str, Any]]:
        """The normalised resources."""
        resources: list[dict[str, Any]] = self.document["resources"]
        return resources

    @property
    def stack(self) -> dict[str, Any]:
        """The `stack` block: name, source, and whether the document shows the whole stack."""
        stack: dict[str, Any] = self.document["stack"]
        return stack


class _Problems:
    """Collects input problems and raises them together as one BurstError."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.lines: list[str] = []
        self.total = 0

    def add(self, where: str, problem: str) -> None:
        self.total += 1
        if len(self.lines) < MAX_PROBLEMS:
            self.lines.append(
                f"{self.source}: {where}: {problem}" if where else f"{self.source}: {problem}"
            )

    def raise_if_any(self) -> None:
        if self.total:
            extra = self.total - len(self.lines)
            lines = self.lines + (
                [f"{self.source}: ... and {extra} more problems"] if extra else []
            )
            raise BurstError(lines)


# ---------------------------------------------------------------------------------------------
# Pulumi preview
# ---------------------------------------------------------------------------------------------


def provider_urn(reference: object) -> str | None:
    """URN of a provider reference `URN::ID` (the ID may be the unknown sentinel).

    A URN itself contains three `::` separators, so only a fourth one starts the ID; a bare URN is
    returned as is. Anything else (empty, not a string) gives None.
    """
    if not isinstance(reference, str) or not reference.startswith("urn:"):
        return None
    if reference.count("::") > 3:
        return reference.rsplit("::", 1)[0]
    return reference


def urn_name(urn: str) -> str:
    """The resource name at the end of a URN (`urn:pulumi:stack::project::type::name`)."""
    parts = urn.split("::", 3)
    return parts[3] if len(parts) == 4 else urn


def urn_stack(urn: str) -> str | None:
    """The stack name in a URN, if it is a Pulumi URN."""
    if urn.startswith("urn:pulumi:"):
        return urn[len("urn:pulumi:") :].split("::", 1)[0] or None
    return None


def source_location(position: object, stack_trace: object = None) -> Location | None:
    """The program file and line of a `sourcePosition` (`project:///infra/program.py#12,5`).

    A position outside the project (`project:///../...`: a component installed from a wheel,
    or the SDK's own frames when its heuristic misses) gives way to the first frame of the
    resource's `stackTrace` that is in the project: the program line that led to it.
    """
    frames = stack_trace if isinstance(stack_trace, list) else []
    candidates = [position, *(f.get("sourcePosition") for f in frames if isinstance(f, Mapping))]
    for candidate in candidates:
        if not isinstance(candidate, str):
            continue
        match = _SOURCE_POSITION.match(candidate)
        if match is not None and not match.group("path").startswith("."):  # not outside/.venv
            return Location(match.group("path"), max(1, int(match.group("line"))))
    return None


def _config_value(config: Mapping[str, Any], key: str) -> Any:
    value = config.get(key)
    if isinstance(value, Mapping):  # `pulumi config --json` style: {"value": ..., "secret": ...}
        return value.get("value")
    return value


def _is_aws_type(resource_type: str) -> bool:
    return resource_type.startswith("aws:") or resource_type == "pulumi:providers:aws"


def _is_default_provider(urn: str) -> bool:
    """Default providers are named `default` or `default_<version>` by the engine."""
    return urn_name(urn) == "default" or urn_name(urn).startswith("default_")


def _k8s_region(inputs: Any) -> Any:
    """Region a Kubernetes object states itself: a `region` field or the region label."""
    if not isinstance(inputs, Mapping):
        return None
    if inputs.get("region") is not None:
        return inputs["region"]
    metadata = inputs.get("metadata")
    labels = metadata.get("labels") if isinstance(metadata, Mapping) else None
    if isinstance(labels, Mapping) and labels.get(_REGION_LABEL) is not None:
        return labels[_REGION_LABEL]
    return None


def _urn_list(value: object) -> list[str] | None:
    if value is None:
        return []
    if isinstance(value, list) and all(isinstance(u, str) for u in value):
        return list(value)
    return None


@dataclass
class _State:
    """One resource of the preview as the normaliser reads it."""

    urn: str
    type: str
    op: str
    inputs: Any
    parent: str | None
    provider: str | None
    """URN of the resource's provider (the reference without its ID)."""
    dependencies: list[str]
    property_dependencies: dict[str, list[str]]
    location: Location | None


def _read_state(
    problems: _Problems, where: str, op: str, step: Mapping[str, Any], key: str
) -> _State | None:
    state = step.get(key)
    if not isinstance(state, Mapping):
        problems.add(f"{where}.{key}", f"missing (required for op {op!r})")
        return None
    resource_type = state.get("type")
    if not isinstance(resource_type, str) or not resource_type:
        problems.add(f"{where}.{key}.type", "missing")
        return None
    urn = state.get("urn") or step.get("urn")
    if not isinstance(urn, str) or not urn:
        problems.add(f"{where}.{key}.urn", "missing")
        return None
    if isinstance(step.get("urn"), str) and step["urn"] and step["urn"] != urn:
        problems.add(f"{where}.{key}.urn", "differs from the step's urn")
        return None
    inputs = state.get("inputs")
    if inputs is None:
        inputs = {}
    elif not isinstance(inputs, Mapping) and not (
        isinstance(inputs, str) and inputs in UNKNOWN_VALUES
    ):
        problems.add(f"{where}.{key}.inputs", "must be an object")
        return None
    dependencies = _urn_list(state.get("dependencies"))
    if dependencies is None:
        problems.add(f"{where}.{key}.dependencies", "must be a list of URNs")
        return None
    raw_property_deps = state.get("propertyDependencies")
    if raw_property_deps is None:
        raw_property_deps = {}
    property_dependencies: dict[str, list[str]] = {}
    if not isinstance(raw_property_deps, Mapping):
        problems.add(f"{where}.{key}.propertyDependencies", "must be an object")
        return None
    for name, urns in raw_property_deps.items():
        listed = _urn_list(urns)
        if listed is None:
            problems.add(f"{where}.{key}.propertyDependencies.{name}", "must be a list of URNs")
            return None
        property_dependencies[str(name)] = listed
    parent = state.get("parent")
    return _State(
        urn=urn,
        type=resource_type,
        op=op,
        inputs=inputs,
        parent=parent if isinstance(parent, str) and parent else None,
        provider=provider_urn(state.get("provider") or step.get("provider")),
        dependencies=dependencies,
        property_dependencies=property_dependencies,
        location=source_location(state.get("sourcePosition"), state.get("stackTrace")),
    )


def _failure(doc: Mapping[str, Any]) -> str | None:
    """Why the preview itself failed: its first error diagnostic, or `maybeCorrupt`."""
    diagnostics = doc.get("diagnostics") or []
    if isinstance(diagnostics, list):
        for diagnostic in diagnostics:
            if isinstance(diagnostic, Mapping) and diagnostic.get("severity") == "error":
                message = " ".join(str(diagnostic.get("message", "")).split())
                urn = diagnostic.get("urn")
                at = f" ({urn_name(urn)})" if isinstance(urn, str) and urn else ""
                return f"the preview failed{at}: {message[:300] or 'error diagnostic'}"
    if doc.get("maybeCorrupt") is True:
        return "the preview reports maybeCorrupt: its step list cannot be trusted"
    return None


def _completeness(doc: Mapping[str, Any], same_shown: int) -> tuple[bool, int]:
    """(complete, hidden): whether every resource of the stack is shown, and how many are not.

    `pulumi preview --json` omits `same` steps unless `--show-sames`, but `changeSummary` still
    counts them; a document without a `changeSummary` cannot prove it is complete.
    """
    summary = doc.get("changeSummary")
    if not isinstance(summary, Mapping):
        return False, 0
    same = summary.get("same", 0)
    if not isinstance(same, int) or isinstance(same, bool) or same < 0:
        return False, 0
    hidden = max(0, same - same_shown)
    return hidden == 0, hidden


class _Regions:
    """Derives the region of every resource from its inputs, its provider and its dependencies.

    An AWS resource is in its own `region` input, else its provider's region. A provider without
    a `region` input (the Kubernetes provider) is in the region of the AWS resources its inputs
    come from (`dependencies`: the EKS cluster), and a Kubernetes object is in its provider's
    region unless it states its own. Only a default provider falls back to `aws:region` config.
    A provider that is not in the document gives the unknown sentinel, never a guess.
    """

    def __init__(self, states: Mapping[str, _State], default_region: Any) -> None:
        self.states = states
        self.default_region = default_region
        self.cache: dict[str, Any] = {}

    def of(self, urn: str) -> Any:
        if urn not in self.cache:
            self.cache[urn] = None  # guards against dependency cycles
            state = self.states.get(urn)
            self.cache[urn] = self._derive(state) if state is not None else UNKNOWN_SENTINEL
        return self.cache[urn]

    def _derive(self, state: _State) -> Any:
        inputs = state.inputs if isinstance(state.inputs, Mapping) else {}
        if state.type.startswith("kubernetes:"):
            own = _k8s_region(inputs)
            if own is not None:
                return own
            return self.of(state.provider) if state.provider else None
        own = inputs.get("region")
        if own is not None and (_is_aws_type(state.type) or state.type.startswith("pulumi:")):
            return own
        if state.type.startswith("pulumi:providers:"):
            if state.type == "pulumi:providers:aws":  # an explicit one reads AWS_REGION: unknown
                return self.default_region if _is_default_provider(state.urn) else UNKNOWN_SENTINEL
            return self._from_dependencies(state)
        if state.provider is None:
            return self.default_region if _is_aws_type(state.type) else None
        if _is_default_provider(state.provider) and state.provider not in self.states:
            return self.default_region if _is_aws_type(state.type) else None
        return self.of(state.provider)

    def _from_dependencies(self, state: _State) -> Any:
        sources = set(state.dependencies)
        for urns in state.property_dependencies.values():
            sources.update(urns)
        regions = {self.of(urn) for urn in sorted(sources) if _is_aws_type(urn_type(urn))}
        regions.discard(None)
        if len(regions) == 1:
            return regions.pop()
        return UNKNOWN_SENTINEL if regions else None


def urn_type(urn: str) -> str:
    """The resource type of a URN (the last element of its type chain)."""
    parts = urn.split("::")
    return parts[2].rsplit("$", 1)[-1] if len(parts) >= 4 else ""


def normalise_preview(
    doc: Mapping[str, Any], source: str = "preview", stack_name: str | None = None
) -> PlanInput:
    """Normalise a `pulumi preview --json` document into the policy input.

    Returns the input `{"format", "resources": [{urn, type, name, region, inputs, parent, op,
    provider, dependencies, propertyDependencies}], "removed": [{urn, type, name, region}],
    "external": [URN], "stack": {"name", "source": "preview", "complete", "hidden"}}`, with each
    resource's
    `sourcePosition` as its location.

    Every op is decided explicitly (`INCLUDED_OPS`, `REMOVED_OPS`, `SKIPPED_OPS`); an op the
    normaliser does not know, a failed preview (an error diagnostic, `maybeCorrupt`), the same URN
    in two steps that are not one replacement, or a malformed step raise BurstError. `complete`
    is false when the document leaves out unchanged resources (no `--show-sames`): rules that need
    the whole stack then refuse to judge. Regions come from `_Regions`; unknown sentinels and
    secret placeholders pass through unchanged for the rules to see.

    `source` names the input in error messages. Raises BurstError listing every problem.
    """
    expected = "expected the output of `pulumi preview --json`"
    if not isinstance(doc, Mapping):
        raise BurstError(f"{source}: not a JSON object ({expected})")
    failure = _failure(doc)
    if failure is not None:
        raise BurstError(f"{source}: {failure}; fix it and preview again")
    steps = doc.get("steps")
    if not isinstance(steps, list):
        raise BurstError(f"{source}: steps: missing or not a list ({expected})")
    problems = _Problems(source)
    config = doc.get("config", {})
    if config is None:
        config = {}
    if not isinstance(config, Mapping):
        problems.add("config", "must be an object")
        config = {}

    kept: dict[str, _State] = {}
    external: set[str] = set()
    ops_seen: dict[str, set[str]] = {}
    removed: dict[str, _State] = {}
    same_shown = 0
    for index, step in enumerate(steps):
        where = f"steps[{index}]"
        if not isinstance(step, Mapping):
            problems.add(where, "must be an object")
            continue
        op = step.get("op")
        if not isinstance(op, str):
            problems.add(f"{where}.op", "missing")
            continue
        if op in SKIPPED_OPS:
            if op in READ_OPS and isinstance(step.get("urn"), str):
                external.add(step["urn"])
            continue
        if op in REMOVED_OPS:
            old = _read_state(problems, where, op, step, "oldState")
            if old is not None:
                removed[old.urn] = old
            continue
        if op in REFUSED_OPS:
            problems.add(f"{where}.op", f"{op!r} is {REFUSED_OPS[op]}")
            continue
        if op not in INCLUDED_OPS:
            problems.add(f"{where}.op", f"unknown operation {op!r}: the check cannot judge it")
            continue
        state = _read_state(problems, where, op, step, "newState")
        if state is None:
            continue
        same_shown += op == "same"
        previous = kept.get(state.urn)
        if previous is None:
            kept[state.urn] = state
            ops_seen[state.urn] = {op}
            continue
        ops_seen[state.urn].add(op)
        same_resource = (previous.type, previous.inputs, previous.provider) == (
            state.type,
            state.inputs,
            state.provider,
        )
        if not ops_seen[state.urn] <= REPLACEMENT_OPS or not same_resource:
            problems.add(
                f"{where}.newState.urn",
                f"{state.urn} already appears in an earlier step with another state",
            )
    for urn in removed.keys() & kept.keys():
        problems.add("steps", f"{urn} is both deleted and kept")
    problems.raise_if_any()

    regions = _Regions({**removed, **kept}, _config_value(config, "aws:region"))
    resources = [
        {
            "urn": s.urn,
            "type": s.type,
            "name": urn_name(s.urn),
            "region": regions.of(s.urn),
            "inputs": s.inputs,
            "parent": s.parent,
            "op": s.op,
            "provider": s.provider,
            "dependencies": s.dependencies,
            "propertyDependencies": s.property_dependencies,
        }
        for s in kept.values()
    ]
    gone = [
        {"urn": s.urn, "type": s.type, "name": urn_name(s.urn), "region": regions.of(s.urn)}
        for s in removed.values()
    ]
    complete, hidden = _completeness(doc, same_shown)
    if stack_name is None:
        stack_name = next((s for r in resources if (s := urn_stack(r["urn"]))), None)
    return PlanInput(
        {
            "format": INPUT_FORMAT,
            "resources": resources,
            "removed": gone,
            "external": sorted(external - kept.keys()),
            "stack": {
                "name": stack_name,
                "source": "preview",
                "complete": complete,
                "hidden": hidden,
            },
        },
        locations={s.urn: s.location for s in kept.values() if s.location is not None},
    )


def load_preview(path: Path, display: str | None = None) -> PlanInput:
    """Read and normalise a `pulumi preview --json` file."""
    name = display or str(path)
    plan = normalise_preview(read_json(path), source=name)
    plan.primary = Location(name)
    return plan


# ---------------------------------------------------------------------------------------------
# Kubernetes manifests
# ---------------------------------------------------------------------------------------------


def kubernetes_type(api_version: str, kind: str) -> str:
    """Pulumi type token of a Kubernetes kind: `kubernetes:<group>/<version>:<Kind>`.

    The core group has no name in `apiVersion` (`v1`) and is written `core/v1`.
    """
    group_version = api_version if "/" in api_version else f"core/{api_version}"
    return f"kubernetes:{group_version}:{kind}"


def manifest_files(path: Path) -> list[Path]:
    """Manifest files under `path` (a file or a directory, recursively), in a stable order."""
    if path.is_file():
        return [path]
    if not path.is_dir():
        raise BurstError(f"{path}: no such file or directory")
    found: list[Path] = []
    for directory, subdirs, files in os.walk(path):
        subdirs[:] = sorted(d for d in subdirs if not d.startswith("."))
        found.extend(
            Path(directory) / name for name in sorted(files) if name.endswith(MANIFEST_SUFFIXES)
        )
    return found


def _objects(obj: Any) -> Iterator[Any]:
    """The object itself, or the items of a `kind: ...List`."""
    if (
        isinstance(obj, Mapping)
        and isinstance(obj.get("kind"), str)
        and obj["kind"].endswith("List")
        and isinstance(obj.get("items"), list)
    ):
        yield from obj["items"]
    else:
        yield obj


def normalise_manifests(paths: Iterable[Path], root: Path | None = None) -> PlanInput:
    """Read Kubernetes YAML/JSON manifests (multi-document files, `List` kinds) into resources.

    Each object becomes `{urn: "k8s://<file>#<Kind>/<namespace>/<name>", type:
    "kubernetes:<group>/<version>:<Kind>", name, region, inputs: <the object>, parent: null}`
    (cluster-scoped objects have no namespace part). Files are named relative to `root` (default:
    the working directory) when they are inside it, which keeps URNs stable across checkouts.
    """
    resources: list[dict[str, Any]] = []
    locations: dict[str, Location] = {}
    errors: list[str] = []
    for given in paths:
        before = len(resources)
        for path in manifest_files(given):
            name = display_path(path, root)
            try:
                documents = list(yaml_documents(read_text(path, "manifest"), name))
            except BurstError as error:
                errors.extend(error.problems)
                continue
            for number, (line, document) in enumerate(documents, start=1):
                if document is None:
                    continue
                for obj in _objects(document):
                    problem = _object_problem(obj)
                    if problem:
                        errors.append(f"{name}: document {number} (line {line}): {problem}")
                        continue
                    urn = _manifest_urn(name, obj, locations)
                    metadata = obj.get("metadata") or {}
                    resources.append(
                        {
                            "urn": urn,
                            "type": kubernetes_type(obj["apiVersion"], obj["kind"]),
                            "name": metadata.get("name") or metadata.get("generateName") or "",
                            "region": _k8s_region(obj),
                            "inputs": obj,
                            "parent": None,
                        }
                    )
                    locations[urn] = Location(name, line)
        if len(resources) == before and not errors:
            errors.append(f"{display_path(given, root)}: no Kubernetes objects to check")
    if errors:
        extra = len(errors) - MAX_PROBLEMS
        raise BurstError(
            errors[:MAX_PROBLEMS] + ([f"... and {extra} more problems"] if extra > 0 else [])
        )
    first_file = next(iter(locations.values()), None)
    return PlanInput(
        {
            "format": INPUT_FORMAT,
            "resources": resources,
            "removed": [],
            "external": [],
            "stack": {"name": None, "source": "manifests", "complete": True, "hidden": 0},
        },
        locations=locations,
        primary=Location(first_file.path) if first_file is not None else None,
    )


def _object_problem(obj: Any) -> str | None:
    if not isinstance(obj, Mapping):
        return "not a Kubernetes object (expected a mapping with apiVersion and kind)"
    for key in ("apiVersion", "kind"):
        if not isinstance(obj.get(key), str) or not obj[key]:
            return f"{key}: missing"
    metadata = obj.get("metadata")
    if metadata is not None and not isinstance(metadata, Mapping):
        return "metadata: must be a mapping"
    return None


def _manifest_urn(file: str, obj: Mapping[str, Any], taken: Mapping[str, Location]) -> str:
    metadata = obj.get("metadata") or {}
    name = metadata.get("name") or metadata.get("generateName") or ""
    namespace = metadata.get("namespace")
    scope = f"{namespace}/{name}" if namespace else str(name)
    urn = f"k8s://{file}#{obj['kind']}/{scope}"
    candidate, n = urn, 2
    while candidate in taken:
        candidate, n = f"{urn}~{n}", n + 1
    return candidate


def display_path(path: Path, root: Path | None = None) -> str:
    """`path` relative to `root` (default: the working directory) when inside it, else as given."""
    try:
        return path.resolve().relative_to((root or Path.cwd()).resolve()).as_posix()
    except ValueError:
        return path.as_posix()


def merge(preview: PlanInput | None, manifests: PlanInput | None) -> PlanInput:
    """One policy input from a preview and manifests (the stack source stays `preview`)."""
    if manifests is None or preview is None:
        only = preview or manifests
        if only is None:
            raise BurstError("nothing to check: give --preview, --stack or --manifests")
        return only
    return PlanInput(
        {**preview.document, "resources": preview.resources + manifests.resources},
        locations={**preview.locations, **manifests.locations},
        primary=preview.primary,
    )
