"""`burst plan`: run the program offline and write a `pulumi preview --json` document.

The plan uses Pulumi's mock runtime, so it needs no cloud account, credentials or Pulumi CLI, and
its output has the exact shape of `pulumi preview --json` (`steps[]` with `op`, `urn`, `provider`
and `newState`), so `burst check` reads a real preview and an offline plan the same way.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from burst_platform.components.conventions import ComponentArgsError
from burst_platform.documents import read_yaml, write_text
from burst_platform.errors import BurstError
from burst_platform.infra.config import (
    PROJECT,
    parse_stack_config,
    read_stack_file,
    to_pulumi_config,
)
from burst_platform.mock_runtime import Registration, run_program


def plan_stack(stack: str, root: Path, first_deploy: bool = False) -> dict[str, Any]:
    """Plan stack `stack` of the project in `root` and return the preview document."""
    return plan_registrations(stack, root, first_deploy)[1]


def plan_registrations(
    stack: str, root: Path, first_deploy: bool = False
) -> tuple[list[Registration], dict[str, Any]]:
    """Plan stack `stack`; return the registrations and the preview document built from them.

    `first_deploy` plans a stack that does not exist yet: every ID and computed output is
    unknown, as in the first `pulumi preview` of a new stack.
    """
    project = _project_name(root / "Pulumi.yaml")
    stack_file = root / f"Pulumi.{stack}.yaml"
    raw = read_stack_file(stack_file)
    try:
        config = parse_stack_config(raw)
    except BurstError as error:
        raise BurstError([f"{stack_file}: {line}" for line in error.problems]) from None

    from burst_platform.infra.program import build_platform

    try:
        registrations = run_program(
            lambda: build_platform(config),
            project=project,
            stack=stack,
            config=to_pulumi_config(raw),
            account_id=config.account_id,
            default_region=config.regions[0],
            first_deploy=first_deploy,
        )
    except ComponentArgsError as error:
        raise BurstError(f"{stack_file}: component argument {error}") from None
    config_values = {**to_pulumi_config(raw), "aws:region": config.regions[0]}
    return registrations, preview_document(registrations, config_values, root)


def _project_name(path: Path) -> str:
    document = read_yaml(path)
    name = document.get("name") if isinstance(document, dict) else None
    if name != PROJECT:
        raise BurstError(f"{path}: project name must be {PROJECT!r}, got {name!r}")
    return PROJECT


def stable_order(registrations: Sequence[Registration]) -> list[Registration]:
    """Order registrations by URN, each after its parent and provider, as the engine requires.

    The mock runtime registers resources in whatever order their inputs resolve, which varies
    between runs; this order does not, so plans diff cleanly.
    """
    by_urn = {r.urn: r for r in registrations}
    ordered: list[Registration] = []
    seen: set[str] = set()

    def visit(urn: str) -> None:
        if urn in seen or urn not in by_urn:
            return
        seen.add(urn)
        resource = by_urn[urn]
        visit(resource.parent)
        visit(_urn_of(resource.provider))
        ordered.append(resource)

    for urn in sorted(by_urn):
        visit(urn)
    return ordered


def preview_document(
    registrations: Sequence[Registration], config: dict[str, str], root: Path | None = None
) -> dict[str, Any]:
    """Turn registrations into the JSON document `pulumi preview --json` prints for a new stack.

    Each step carries what the engine records (`ResourceV3`): type, inputs, parent, provider
    reference, `dependencies`, `propertyDependencies` and `sourcePosition`
    (`project:///<path>#<line>` relative to `root`, as the CLI writes it); `changeSummary`
    counts the steps.
    """
    steps = []
    for r in stable_order(registrations):
        state: dict[str, Any] = {
            "urn": r.urn,
            "custom": r.custom,
            "type": r.type,
            "inputs": r.inputs,
        }
        if r.parent:
            state["parent"] = r.parent
        if r.provider:
            state["provider"] = r.provider
        if r.dependencies:
            state["dependencies"] = r.dependencies
        if r.property_dependencies:
            state["propertyDependencies"] = r.property_dependencies
        position = _source_position(r, root)
        if position:
            state["sourcePosition"] = position
        steps.append({"op": "create", "urn": r.urn, "provider": r.provider, "newState": state})
    return {
        "config": config,
        "steps": steps,
        "diagnostics": [],
        "changeSummary": {"create": len(steps)},
    }


def _source_position(registration: Registration, root: Path | None) -> str:
    """`project:///<path>#<line>` of the registering line, if it is inside the project."""
    if not registration.source_file or root is None or registration.source_line < 1:
        return ""
    try:
        relative = Path(registration.source_file).resolve().relative_to(root.resolve())
    except ValueError:
        return ""
    return f"project:///{relative.as_posix()}#{registration.source_line}"


def resource_regions(registrations: Sequence[Registration]) -> dict[str, str]:
    """Region of every registration: its own input, its provider's, or its nearest ancestor's.

    Kubernetes resources get the region of the cluster behind their provider, which is why the
    lookup also follows a provider's parent (the cluster component) and a component's providers.
    """
    by_urn = {r.urn: r for r in registrations}
    regions: dict[str, str] = {}

    def region_of(urn: str) -> str:
        if urn not in regions:
            regions[urn] = ""  # guards against cycles while this URN is being resolved
            resource = by_urn.get(urn)
            if resource is not None:
                own = resource.inputs.get("region") if _is_aws(resource.type) else None
                references = [resource.provider, *resource.providers.values(), resource.parent]
                regions[urn] = (
                    own
                    if isinstance(own, str) and own
                    else next(
                        (found for ref in references if ref and (found := region_of(_urn_of(ref)))),
                        "",
                    )
                )
        return regions[urn]

    for registration in registrations:
        region_of(registration.urn)
    return regions


def _is_aws(resource_type: str) -> bool:
    return resource_type.startswith("aws:") or resource_type == "pulumi:providers:aws"


def _urn_of(reference: str) -> str:
    """A provider reference is `URN::ID` (a URN has three `::`); a parent is a bare URN."""
    return reference.rsplit("::", 1)[0] if reference.count("::") > 3 else reference


def summary(registrations: Sequence[Registration]) -> str:
    """Readable plan summary: resource counts per region and type, and the total."""
    regions = resource_regions(registrations)
    counts: Counter[tuple[str, str]] = Counter(
        (regions.get(r.urn) or "global", r.type) for r in registrations if r.custom
    )
    lines = [f"Plan: {len(registrations)} steps, {sum(counts.values())} resources"]
    for region in sorted({region for region, _ in counts}):
        in_region = {t: n for (reg, t), n in counts.items() if reg == region}
        lines.append(f"\n{region} ({sum(in_region.values())} resources)")
        lines.extend(f"  {n:5d}  {t}" for t, n in sorted(in_region.items()))
    return "\n".join(lines)


def write_document(document: dict[str, Any], out: Path) -> None:
    """Write the preview document as JSON; a path that cannot be written is a BurstError."""
    write_text(out, json.dumps(document, indent=1) + "\n", "the preview")
