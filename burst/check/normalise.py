"""Turn a `pulumi preview --json` document and Kubernetes manifests into the policy input.

Every resource becomes `{urn, type, name, region, inputs, parent}`; the whole plan is sent to OPA
as `{"resources": [...], "stack": {"name": ..., "source": "preview" | "manifests"}}`.

Pulumi's unknown-value sentinel and the `[secret]` placeholder are passed through untouched: the
Rego decides whether a value it needs is unknown.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import yaml

from burst.check.guardrails import YAML_LOADER
from burst.check.model import Location
from burst.errors import BurstError

UNKNOWN_SENTINEL = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"
"""Pulumi's placeholder for a value that is unknown at preview."""

SECRET_PLACEHOLDER = "[secret]"  # noqa: S105 - a placeholder, not a password
"""What `pulumi preview --json` shows instead of a secret value."""

INCLUDED_OPS = frozenset(
    {"same", "create", "update", "replace", "create-replacement", "import", "import-replacement"}
)
"""Step operations whose `newState` is part of the stack after the update."""

SKIPPED_OPS = frozenset(
    {
        "delete",
        "delete-replaced",
        "discard",
        "discard-replaced",
        "read",
        "read-replacement",
        "read-discard",
        "refresh",
        "remove-pending-replace",
    }
)
"""Step operations left out: deleted resources, and resources the stack only reads (`get`)."""

MANIFEST_SUFFIXES = (".yaml", ".yml", ".json")
MAX_PROBLEMS = 20

_REGION_LABEL = "topology.kubernetes.io/region"


@dataclass
class PlanInput:
    """The normalised policy input plus where each resource came from."""

    document: dict[str, Any]
    """`{"resources": [...], "stack": {...}}`, sent to OPA as `input`."""
    locations: dict[str, Location] = field(default_factory=dict)
    """Per-URN source file, for resources that have one of their own (manifests)."""
    primary: Location | None = None
    """File that stands for the whole plan (preview file or stack config)."""

    @property
    def resources(self) -> list[dict[str, Any]]:
        """The normalised resources."""
        resources: list[dict[str, Any]] = self.document["resources"]
        return resources


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


def _config_value(config: Mapping[str, Any], key: str) -> Any:
    value = config.get(key)
    if isinstance(value, Mapping):  # `pulumi config --json` style: {"value": ..., "secret": ...}
        return value.get("value")
    return value


def _is_aws_type(resource_type: str) -> bool:
    return resource_type.startswith("aws:") or resource_type == "pulumi:providers:aws"


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


def normalise_preview(
    doc: Mapping[str, Any], source: str = "preview", stack_name: str | None = None
) -> dict[str, Any]:
    """Normalise a `pulumi preview --json` document into the policy input.

    Returns `{"resources": [{urn, type, name, region, inputs, parent}], "stack": {"name",
    "source": "preview"}}`. Steps that delete, discard or only read a resource are left out, and a
    URN that appears in several steps (a replacement) is kept once.

    The region of a resource is, in order: its own `region` input; for AWS resources, the `region`
    input of its provider (the step's `provider` reference `URN::ID`), then the preview's
    `config["aws:region"]`. Kubernetes resources get a region only if the object states one (a
    `region` field or the `topology.kubernetes.io/region` label); other resources only from their
    own input or their provider. Unknown sentinels are passed through unchanged.

    `source` names the input in error messages. Raises BurstError listing every problem.
    """
    expected = "expected the output of `pulumi preview --json`"
    if not isinstance(doc, Mapping):
        raise BurstError(f"{source}: not a JSON object ({expected})")
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
    default_region = _config_value(config, "aws:region")

    kept: list[tuple[dict[str, Any], Any]] = []  # (newState, provider reference)
    seen: set[str] = set()
    provider_regions: dict[str, Any] = {}
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
            continue
        if op not in INCLUDED_OPS:
            problems.add(f"{where}.op", f"unknown operation {op!r}")
            continue
        state = step.get("newState")
        if not isinstance(state, Mapping):
            problems.add(f"{where}.newState", f"missing (required for op {op!r})")
            continue
        resource_type = state.get("type")
        if not isinstance(resource_type, str) or not resource_type:
            problems.add(f"{where}.newState.type", "missing")
            continue
        urn = state.get("urn") or step.get("urn")
        if not isinstance(urn, str) or not urn:
            problems.add(f"{where}.newState.urn", "missing")
            continue
        inputs = state.get("inputs")
        if inputs is not None and not isinstance(inputs, Mapping | str):
            problems.add(f"{where}.newState.inputs", "must be an object")
            continue
        if urn in seen:
            continue
        seen.add(urn)
        if resource_type.startswith("pulumi:providers:") and isinstance(inputs, Mapping):
            provider_regions[urn] = inputs.get("region")
        kept.append((dict(state, urn=urn), state.get("provider") or step.get("provider")))
    problems.raise_if_any()

    resources = []
    for state, provider_ref in kept:
        urn = state["urn"]
        resource_type = state["type"]
        inputs = state.get("inputs")
        if inputs is None:
            inputs = {}
        own = inputs.get("region") if isinstance(inputs, Mapping) else None
        if resource_type.startswith("kubernetes:"):
            region = _k8s_region(inputs)
        elif own is not None:
            region = own
        else:
            if resource_type.startswith("pulumi:providers:"):
                region = None
            else:
                p_urn = provider_urn(provider_ref)
                region = provider_regions.get(p_urn) if p_urn else None
            if region is None and _is_aws_type(resource_type):
                region = default_region
        parent = state.get("parent") or None
        resources.append(
            {
                "urn": urn,
                "type": resource_type,
                "name": urn_name(urn),
                "region": region,
                "inputs": inputs,
                "parent": parent,
            }
        )
    if stack_name is None:
        stack_name = next((s for r in resources if (s := urn_stack(r["urn"]))), None)
    return {"resources": resources, "stack": {"name": stack_name, "source": "preview"}}


def read_json(path: Path) -> Any:
    """Read a JSON file; problems become a BurstError naming the file."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise BurstError(f"{path}: file not found") from None
    except IsADirectoryError:
        raise BurstError(f"{path}: is a directory, expected a JSON file") from None
    except OSError as error:
        raise BurstError(f"{path}: cannot read: {error.strerror}") from None
    try:
        return orjson.loads(data)  # a few times faster than json on 20 MB previews
    except orjson.JSONDecodeError as error:
        if "UTF-8" in error.msg:
            raise BurstError(f"{path}: not UTF-8 text") from None
        raise BurstError(
            f"{path}: invalid JSON at line {error.lineno} column {error.colno}: {error.msg}"
        ) from None


def load_preview(path: Path, display: str | None = None) -> PlanInput:
    """Read and normalise a `pulumi preview --json` file."""
    name = display or str(path)
    doc = read_json(path)
    return PlanInput(normalise_preview(doc, source=name), primary=Location(name))


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


def _documents(text: str) -> Iterator[tuple[int, Any]]:
    """(1-based start line, object) of every YAML document in `text`."""
    loader = YAML_LOADER(text)
    try:
        while loader.check_node():
            node = loader.get_node()
            if node is None:  # pragma: no cover - check_node said there is one
                break
            yield node.start_mark.line + 1, loader.construct_document(node)
    finally:
        loader.dispose()


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
                text = path.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as error:
                errors.append(f"{name}: cannot read: {error}")
                continue
            try:
                documents = list(_documents(text))
            except yaml.YAMLError as error:
                mark = getattr(error, "problem_mark", None)
                at = f" at line {mark.line + 1}" if mark is not None else ""
                problem = getattr(error, "problem", None) or str(error).splitlines()[0]
                errors.append(f"{name}: invalid YAML{at}: {problem}")
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
        {"resources": resources, "stack": {"name": None, "source": "manifests"}},
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
    resources = preview.resources + manifests.resources
    return PlanInput(
        {"resources": resources, "stack": dict(preview.document["stack"])},
        locations={**preview.locations, **manifests.locations},
        primary=preview.primary,
    )
