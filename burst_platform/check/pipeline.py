"""The `burst check` pipeline: read inputs, evaluate with OPA (and checkov), apply waivers."""

from __future__ import annotations

import datetime as dt
import os
import re
import subprocess
import time
from collections.abc import Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from burst_platform import POLICY_DIR
from burst_platform.check import engine, normalise
from burst_platform.check.guardrails import load_guardrails, waiver_max_days
from burst_platform.check.model import DENY, CheckReport, Location
from burst_platform.check.progress import SILENT, Progress
from burst_platform.check.waivers import (
    EXPIRED_RULE_INFO,
    UNUSED_RULE_INFO,
    apply_waivers,
    load_waivers,
)
from burst_platform.errors import BurstError
from burst_platform.tools import find_opa

if TYPE_CHECKING:
    from burst_platform.check.checkov_runner import CheckovResult


@dataclass
class CheckOptions:
    """What to check and how (the CLI options of `burst check`)."""

    preview: Path | None = None
    stack: str | None = None
    manifests: list[Path] = field(default_factory=list)
    root: Path = field(default_factory=lambda: Path("."))
    policies: Path | None = None
    """Policy directory; default the pack this package ships (`burst policies path`)."""
    guardrails: Path | None = None
    """Guardrails file; default `<policies>/data/guardrails.yaml`."""
    waivers: Path | None = None
    """Waivers file; default `<policies>/waivers.yaml` (optional when defaulted)."""
    opa_url: str | None = None
    opa_timeout: float = engine.DEFAULT_TIMEOUT
    skip_checkov: bool = False
    today: dt.date | None = None
    fail_on: str = DENY
    """`--fail-on`: the least severe finding that fails the check (deny, unknown or warn)."""

    @property
    def policy_dir(self) -> Path:
        """The policy directory in use."""
        return self.policies if self.policies is not None else POLICY_DIR


def require_inputs(options: CheckOptions) -> None:
    """Fail before anything starts when the inputs to check are missing or conflicting."""
    if options.preview is None and options.stack is None and not options.manifests:
        raise BurstError("nothing to check: give --preview FILE, --stack NAME or --manifests DIR")
    if options.preview is not None and options.stack is not None:
        raise BurstError("--preview and --stack are alternatives: give one of them")


def load_plan(options: CheckOptions) -> normalise.PlanInput:
    """Read and normalise the inputs (preview file or offline stack plan, and manifests)."""
    root = options.root
    preview: normalise.PlanInput | None = None
    if options.preview is not None:
        preview = normalise.load_preview(
            options.preview, display=normalise.display_path(options.preview, root)
        )
        stack_file = stack_config_file(preview.stack.get("name"), root)
        if stack_file is not None:  # in the repository, unlike the preview file
            preview.primary = Location(stack_file)
    elif options.stack is not None:
        preview = plan_stack_input(options.stack, root)
    if preview is not None:
        preview.locations = real_locations(preview.locations, root)
    manifests = None
    if options.manifests:
        manifests = normalise.normalise_manifests(options.manifests, root=root)
    return normalise.merge(preview, manifests)


def real_locations(locations: Mapping[str, Location], root: Path) -> dict[str, Location]:
    """Each location at the file it names in the repository, through links.

    The engine records the path a module was imported by: `burst_platform/components/x.py`,
    the package's link to `components/x.py`. Annotations belong on the file a diff shows. A
    plan has thousands of resources in a few dozen files: each file is resolved once.
    """
    base = root.resolve()
    real: dict[str, str] = {}
    for path in {location.path for location in locations.values()}:
        try:
            real[path] = (root / path).resolve(strict=True).relative_to(base).as_posix()
        except (OSError, ValueError):  # not in this checkout, or outside the repository
            real[path] = path
    return {
        urn: location
        if real[location.path] == location.path
        else Location(real[location.path], location.line)
        for urn, location in locations.items()
    }


def stack_config_lines(root: Path, primary: Location | None) -> dict[str, int]:
    """The line of each key under `config:` of the stack file `primary`, by its name without
    the project prefix (`burst-platform:teams` -> `teams`): where a finding about that key
    points when its resource has no program line. Empty for any other file."""
    if primary is None or not _STACK_FILE.fullmatch(Path(primary.path).name):
        return {}
    try:
        document = yaml.compose((root / primary.path).read_text(encoding="utf-8"), yaml.SafeLoader)
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return {}
    lines: dict[str, int] = {}
    for key, value in document.value if isinstance(document, yaml.MappingNode) else []:
        if key.value == "config" and isinstance(value, yaml.MappingNode):
            for config_key, _ in value.value:
                name = str(config_key.value).rsplit(":", 1)[-1]
                lines.setdefault(name, config_key.start_mark.line + 1)
    return lines


_STACK_FILE = re.compile(r"Pulumi\.[^/]+\.ya?ml")


def stack_config_file(stack: object, root: Path) -> str | None:
    """`Pulumi.<stack>.yaml` when the repository has it, else None."""
    if not isinstance(stack, str) or not stack or "/" in stack or stack.startswith("."):
        return None
    name = f"Pulumi.{stack}.yaml"
    return name if (root / name).is_file() else None


def describe_source(options: CheckOptions) -> str:
    """What the check reads, in words, for the reports."""
    parts = []
    if options.preview is not None:
        display = normalise.display_path(options.preview, options.root)
        parts.append(f"preview {display}")
    elif options.stack is not None:
        parts.append(f"offline plan of stack {options.stack}")
    if options.manifests:
        shown = ", ".join(normalise.display_path(p, options.root) for p in options.manifests)
        parts.append(f"manifests {shown}")
    return " and ".join(parts)


def current_repository_url() -> str | None:
    """The repository's web address in GitHub Actions, else None."""
    server = os.environ.get("GITHUB_SERVER_URL", "").strip().rstrip("/")
    repository = os.environ.get("GITHUB_REPOSITORY", "").strip().strip("/")
    if not server.startswith("https://") or not re.fullmatch(r"[\w.-]+/[\w.-]+", repository):
        return None
    return f"{server}/{repository}"


def current_commit(root: Path) -> str | None:
    """The commit checked: `GITHUB_SHA` in GitHub Actions, else `git rev-parse HEAD` in `root`,
    else None (not a repository, or no git)."""
    sha = os.environ.get("GITHUB_SHA", "").strip()
    if sha:
        return sha
    try:
        result = subprocess.run(
            ["git", "rev-parse", "--verify", "--quiet", "HEAD"],  # noqa: S607 - git from PATH
            cwd=root,
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    sha = result.stdout.strip()
    return sha if result.returncode == 0 and sha else None


def plan_stack_input(stack: str, root: Path) -> normalise.PlanInput:
    """Plan `stack` offline (Pulumi mock runtime) and normalise the resulting preview."""
    from burst_platform.plan import plan_stack  # imports pulumi: only on this path

    try:
        doc = plan_stack(stack, root)
    except BurstError:
        raise
    except Exception as error:  # the stack's program failed: report it, not a traceback
        raise BurstError(
            f"Pulumi.{stack}.yaml: planning stack {stack!r} failed: {type(error).__name__}: {error}"
        ) from None
    plan = normalise.normalise_preview(doc, source=f"stack {stack}", stack_name=stack)
    plan.primary = Location(f"Pulumi.{stack}.yaml")
    return plan


def run_check(
    options: CheckOptions,
    progress: Progress = SILENT,
    plan: normalise.PlanInput | None = None,
    source: str | None = None,
) -> CheckReport:
    """Run the whole check and return the report (BurstError when it cannot be made).

    The slow phases (planning a stack, the OPA server's start, the evaluation, checkov) are
    reported to `progress` and timed in the report's `timings`. `plan` is an input normalised
    already (the policy pack's, `crossguard`), checked instead of the options' inputs; `source`
    then says what it is.
    """
    started = time.monotonic()
    timings: dict[str, float] = {}
    given = plan
    if given is None:
        require_inputs(options)
    policy_dir = options.policy_dir
    guardrails_path = options.guardrails or policy_dir / "data" / "guardrails.yaml"
    guardrails = load_guardrails(guardrails_path)
    max_days = waiver_max_days(guardrails)
    if options.waivers is not None:
        waivers = load_waivers(options.waivers, today=options.today, max_days=max_days)
    else:
        waivers = load_waivers(
            policy_dir / "waivers.yaml", required=False, today=options.today, max_days=max_days
        )
    pack = engine.load_policy_pack(policy_dir)
    required = canonical_rule_sets(pack, options.root)
    if not options.skip_checkov:
        from burst_platform.check.checkov_runner import run_checkov
        from burst_platform.tools import find_checkov

        checkov_cli = find_checkov(options.root)  # a missing checkov fails before anything runs
    if (
        given is None
        and options.preview is None
        and options.stack is None
        and not (options.manifests)
    ):
        raise BurstError("nothing to check: give --preview FILE, --stack NAME or --manifests DIR")

    opa = engine.Engine(
        pack, guardrails, options.opa_url, options.opa_timeout, options.root, required
    )
    checkov_future: Future[CheckovResult] | None = None
    with ThreadPoolExecutor(max_workers=1) as pool:
        with opa:  # the local server compiles the pack while the input is read
            if given is not None:
                plan = given
            elif options.stack is not None:
                with progress.phase(f"planning stack {options.stack}") as phase:
                    plan = load_plan(options)
                timings["plan"] = phase.elapsed
            else:
                plan = load_plan(options)
            if not any(r["type"] != "pulumi:pulumi:Stack" for r in plan.resources) and not (
                plan.document.get("removed")
            ):
                hidden = plan.stack.get("hidden") or 0
                raise BurstError(
                    f"nothing to check: the preview shows no resources but leaves {hidden} "
                    "unchanged ones out: rerun `pulumi preview --json --show-sames`"
                    if hidden
                    else "nothing to check: the inputs hold no resources"
                )
            if not options.skip_checkov:
                checkov_phase = progress.start("running checkov")
                checkov_future = pool.submit(
                    run_checkov,
                    plan.resources,
                    options.root,
                    plan.locations,
                    plan.primary,
                    checkov_cli,
                )

                def checkov_done(future: Future[CheckovResult]) -> None:
                    if not future.cancelled() and future.exception() is None:
                        timings["checkov"] = checkov_phase.done()

                checkov_future.add_done_callback(checkov_done)
            if opa.local:  # launched before the input was read: this is the wait that is left
                with progress.phase("starting OPA") as phase:
                    opa.wait_ready()
                timings["opa_start"] = phase.elapsed
            count = len(plan.resources)
            where = "with OPA" if opa.address is None else f"on {opa.address.url}"
            with progress.phase(f"evaluating {count} resources {where}") as phase:
                evaluation = opa.evaluate(plan.document)
            timings["evaluation"] = phase.elapsed
        checkov = checkov_future.result() if checkov_future is not None else None

    findings = evaluation.findings
    rules = evaluation.rules
    by_id = {rule.id: rule for rule in rules}
    config_lines = stack_config_lines(options.root, plan.primary)
    for finding in findings:
        finding.location = plan.locations.get(finding.resource)
        rule = by_id.get(finding.rule)
        if finding.location is None and rule is not None and rule.config_key in config_lines:
            assert plan.primary is not None  # noqa: S101 - config_lines is empty without it
            finding.location = Location(plan.primary.path, config_lines[rule.config_key])
        if rule is not None:  # the shared unknown mechanism leaves the rule's texts to us
            finding.title = finding.title or rule.title
            finding.remediation = finding.remediation or rule.remediation
    checkov_findings = checkov.findings if checkov is not None else []
    findings = apply_waivers([*findings, *checkov_findings], waivers, options.today)
    for finding in findings:
        finding.make_safe()
    fired = {f.rule for f in findings}
    timings["total"] = time.monotonic() - started
    return CheckReport(
        findings=findings,
        resources=evaluation.resources,
        rules=[*rules, *(r for r in (EXPIRED_RULE_INFO, UNUSED_RULE_INFO) if r.id in fired)],
        waivers=list(waivers),
        packages=evaluation.packages,
        primary_location=plan.primary,
        undecided=evaluation.undecided,
        hidden=int(plan.stack.get("hidden") or 0),
        fail_on=options.fail_on,
        stack=plan.stack.get("name") or None,
        source=source or describe_source(options),
        commit=current_commit(options.root),
        repository_url=current_repository_url(),
        today=(options.today or dt.date.today()).isoformat(),
        timings=timings,
        scans=checkov.scans if checkov is not None else [],
    )


def canonical_rule_sets(pack: engine.PolicyPack, root: Path | None = None) -> set[str]:
    """Rule sets of the pack this package ships, when `pack` is another directory: a policy
    directory that lacks one of them cannot pass (its own rule sets the server reports)."""
    if not POLICY_DIR.is_dir() or POLICY_DIR.resolve() == pack.directory.resolve():
        return set()
    from burst_platform.policy_pack import rule_inventory

    try:
        return {rule.package for rule in rule_inventory(find_opa(root), POLICY_DIR)}
    except (OSError, RuntimeError, ValueError) as error:
        raise BurstError(f"{POLICY_DIR}: cannot read the shipped pack's rules: {error}") from None


def check_document(
    document: dict[str, Any], policies: Path, guardrails: dict[str, Any], opa_url: str | None = None
) -> CheckReport:
    """Evaluate an already normalised input (no waivers, no checkov): for benchmarks and tests."""
    pack = engine.load_policy_pack(policies)
    evaluation = engine.evaluate(
        document, pack, guardrails, opa_url=opa_url, required_packages=canonical_rule_sets(pack)
    )
    return CheckReport(
        evaluation.findings, evaluation.resources, evaluation.rules, evaluation.packages
    )
