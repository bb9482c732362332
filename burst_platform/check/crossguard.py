"""`burst check` inside `pulumi preview` / `pulumi up`: the Pulumi policy pack (CrossGuard).

`policies/crossguard/` (`PulumiPolicy.yaml`, `__main__.py`) is a Python policy pack that calls
`serve()`. It judges the stack with the Rego pack of `policies/`, through the same pipeline as
`burst check --preview` (`pipeline.run_check`: guardrails, the OPA server, the waivers, the rule
texts), so rule ids, severities, waivers and the handling of unknown values are the same; no rule
lives here.

How the stack's resources become the policy input (one adapter, `preview_document`):

* a `ResourceValidationPolicy` (`burst-inputs`, reports nothing) records each resource's
  checked inputs, which the engine sends to `Analyze` (`pulumi preview --json` shows the same
  `newState.inputs`). `AnalyzeStack` only gets outputs: for a resource that exists, the provider's
  live state (server defaults, status), which the rules were not written against;
* the stack policies turn `AnalyzeStack`'s resources (type, URN, parent, provider,
  dependencies, property dependencies) plus those inputs into a preview-shaped document, and
  `normalise.normalise_preview` makes the policy input from it, as for a preview file. A resource
  that `AnalyzeStack` lists but that was never analysed is one the program only reads (`get`):
  it is `external`, as a `read` step is;
* the engine's view is the whole stack after the update, so the document is complete (every
  step a `same`: CrossGuard has no step operations, and no rule reads them);
* unknown values stay Pulumi's unknown sentinel and secrets become `[secret]`, what the preview
  document shows (`install_secret_placeholders`: the SDK would otherwise hand the policy the
  secret's plaintext), so the pack reports `unknown` where `burst check` does.

Findings are reported by severity, one stack policy each: `burst-deny` (mandatory: the
deployment stops), `burst-unknown`, `burst-warn` and `burst-waived` (advisory). Each violation
names the rule id, the resource URN, the message and the fix. One evaluation serves the four
(cached per input and configuration); it runs in a process of its own (`check_in_child`). When
the check cannot be made (OPA missing or failing, bad waivers, anything else) `burst-deny`
reports a mandatory violation saying why: it never passes silently.

Configuration (`pulumi preview --policy-pack-config FILE`, per policy, the same keys for each):
`waivers` and `guardrails` (paths, relative to where `pulumi` runs; default the pack's
`waivers.yaml` and `data/guardrails.yaml`, as `burst check`), `opaTimeout` (seconds).
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from burst_platform import checkout_root
from burst_platform.check import engine, normalise
from burst_platform.check.model import DENY, UNKNOWN, WAIVED, WARN, CheckReport, Finding
from burst_platform.check.pipeline import CheckOptions, run_check
from burst_platform.errors import BurstError, one_line

PACK_NAME = "burst-guardrails"

INPUTS_POLICY = "burst-inputs"
SEVERITY_POLICIES = {
    DENY: "burst-deny",
    UNKNOWN: "burst-unknown",
    WARN: "burst-warn",
    WAIVED: "burst-waived",
}
"""The stack policy that reports the findings of each severity."""

SOURCE = "the stack's resources in pulumi preview/up (CrossGuard)"

# The unknown sentinels of the policy SDK (pulumi_policy.proxy): the engine sends the string one
# for every unknown value, the others are mapped to it in case one ever arrives.
_SDK_UNKNOWNS = frozenset(
    {
        "1c4a061d-8072-4f0a-a4cb-0ff528b18fe7",
        "3eeb2bf0-c639-47a8-9e75-3b44932eb421",
        normalise.UNKNOWN_SENTINEL,
        "6a19a0b0-7e62-4c92-b797-7f8e31da9cc2",
        "030794c1-ac77-496b-92df-f27374a8bd58",
        "e48ece36-62e2-4504-bad9-02848725956a",
        "dd056dcd-154b-4c76-9bd3-c8f88648b5ff",
    }
)
_SECRET_SIG_KEY = "4dabf18193072939515e22adb298388d"  # noqa: S105 - the SDK's marker key
_SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270"  # noqa: S105 - ... and value of a secret


# ---------------------------------------------------------------------------------------------
# The adapter: CrossGuard's resources -> a preview document -> the normaliser
# ---------------------------------------------------------------------------------------------


class ProviderView(Protocol):
    """What the adapter reads of a `pulumi_policy.PolicyProviderResource`."""

    @property
    def urn(self) -> str:
        """The provider's URN."""


class OptionsView(Protocol):
    """What the adapter reads of a `pulumi_policy.PolicyResourceOptions`."""

    @property
    def parent(self) -> str | None:
        """The parent's URN, as the engine sent it."""


class ResourceView(Protocol):
    """What the adapter reads of a `pulumi_policy.PolicyResource` (`AnalyzeStack`)."""

    @property
    def resource_type(self) -> str:
        """The type token."""

    @property
    def urn(self) -> str:
        """The URN."""

    @property
    def props(self) -> Mapping[str, Any]:
        """The outputs (unknown-checking proxies)."""

    @property
    def opts(self) -> OptionsView:
        """Resource options; `parent` is the parent's URN."""

    @property
    def parent(self) -> ResourceView | None:
        """The parent resource, when it is in the stack."""

    @property
    def provider(self) -> ProviderView | None:
        """The provider resource."""

    @property
    def dependencies(self) -> Sequence[ResourceView]:
        """The resources this one depends on."""

    @property
    def property_dependencies(self) -> Mapping[str, Sequence[ResourceView]]:
        """The resources each input property depends on."""


def plain(value: Any) -> Any:
    """`value` as plain JSON data: the SDK's proxies unwrapped without reading through them
    (which raises on an unknown value), every unknown sentinel as Pulumi's string sentinel."""
    if isinstance(value, str):
        return normalise.UNKNOWN_SENTINEL if value in _SDK_UNKNOWNS else value
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, Mapping):
        target = _proxy_target(value)
        return {str(key): plain(target[key]) for key in target}
    if isinstance(value, Sequence) and not isinstance(value, bytes | bytearray):
        return [plain(item) for item in _proxy_target(value)]
    return repr(value)  # assets and archives: no rule reads them


def _proxy_target(value: Any) -> Any:
    """The list or dict behind one of the SDK's proxies (they answer the key `__target`)."""
    if isinstance(value, dict | list):
        return value
    try:
        target = value["__target"]
    except (KeyError, IndexError, TypeError):
        return value
    return target if isinstance(target, dict | list) else value


def preview_document(
    resources: Iterable[ResourceView], inputs: Mapping[str, Any]
) -> dict[str, Any]:
    """A `pulumi preview --json --show-sames` document of the stack CrossGuard shows.

    `inputs` maps a URN to the checked inputs `Analyze` received; a resource without recorded
    inputs is one the program only reads: a `read` step (external to the stack).
    """
    steps: list[dict[str, Any]] = []
    kept = 0
    for resource in resources:
        urn = resource.urn
        if urn not in inputs:
            steps.append({"op": "read", "urn": urn})
            continue
        parent = resource.opts.parent or (
            resource.parent.urn if resource.parent is not None else None
        )
        state: dict[str, Any] = {
            "urn": urn,
            "type": resource.resource_type,
            "inputs": inputs[urn],
            "parent": parent or "",
            "provider": resource.provider.urn if resource.provider is not None else "",
            "dependencies": [d.urn for d in resource.dependencies],
            "propertyDependencies": {
                key: [d.urn for d in deps]
                for key, deps in resource.property_dependencies.items()
                if deps
            },
        }
        steps.append({"op": "same", "urn": urn, "newState": state})
        kept += 1
    return {"steps": steps, "changeSummary": {"same": kept}}


def policy_input(
    resources: Iterable[ResourceView], inputs: Mapping[str, Any]
) -> normalise.PlanInput:
    """The policy input of the stack, made by the same normaliser as `burst check --preview`."""
    return normalise.normalise_preview(preview_document(resources, inputs), source=SOURCE)


# ---------------------------------------------------------------------------------------------
# The evaluation: run_check on that input, once per input and configuration
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PackConfig:
    """The policy configuration (`--policy-pack-config`) of a stack policy."""

    waivers: Path | None = None
    guardrails: Path | None = None
    opa_timeout: float = engine.DEFAULT_TIMEOUT

    @classmethod
    def read(cls, config: Mapping[str, Any]) -> PackConfig:
        """Read the keys of `CONFIG_SCHEMA`; a wrong type is a BurstError."""
        waivers = config.get("waivers")
        guardrails = config.get("guardrails")
        timeout = config.get("opaTimeout", engine.DEFAULT_TIMEOUT)
        for key, value in (("waivers", waivers), ("guardrails", guardrails)):
            if value is not None and (not isinstance(value, str) or not value):
                raise BurstError(f"policy config {key}: must be a path")
        if isinstance(timeout, bool) or not isinstance(timeout, int | float) or timeout <= 0:
            raise BurstError("policy config opaTimeout: must be a positive number of seconds")
        return cls(
            Path(waivers) if waivers else None,
            Path(guardrails) if guardrails else None,
            float(timeout),
        )


CONFIG_SCHEMA: dict[str, dict[str, Any]] = {
    "waivers": {"type": "string", "description": "waivers file (default: the pack's)"},
    "guardrails": {"type": "string", "description": "guardrails file (default: the pack's)"},
    "opaTimeout": {"type": "number", "description": "seconds for the whole OPA evaluation"},
}


@dataclass
class Outcome:
    """One evaluation: the report, or why it could not be made."""

    report: CheckReport | None = None
    error: str = ""


Checker = Callable[[normalise.PlanInput, PackConfig], CheckReport]


def check_plan(plan: normalise.PlanInput, config: PackConfig) -> CheckReport:
    """`burst check` on `plan`: guardrails, OPA, waivers; checkov is not part of the pack."""
    options = CheckOptions(
        root=checkout_root() or Path.cwd(),
        guardrails=config.guardrails,
        waivers=config.waivers,
        opa_timeout=config.opa_timeout,
        skip_checkov=True,
    )
    return run_check(options, plan=plan, source=SOURCE)


CHILD_MARGIN_S = 120.0
"""How much longer than the OPA deadline the evaluation process may take (OPA's start, the
imports)."""


def check_in_child(plan: normalise.PlanInput, config: PackConfig) -> CheckReport:
    """`check_plan` in a process of its own (`python -m burst_platform.check.crossguard`).

    The pack's process serves gRPC from several threads, and a child started there with a
    `preexec_fn` (how the check starts OPA, so that it dies with its parent) runs Python between
    fork and exec in a copy of a multithreaded process: it can crash (seen: SIGSEGV) before OPA
    ever runs. The evaluation process is single-threaded when it starts OPA; it is started without
    a `preexec_fn`, in the pack's process group (the CLI's SIGINT to the group reaches it).
    """
    payload = {
        "document": plan.document,
        "waivers": str(config.waivers) if config.waivers else None,
        "guardrails": str(config.guardrails) if config.guardrails else None,
        "opaTimeout": config.opa_timeout,
    }
    try:
        result = subprocess.run(
            [sys.executable, "-m", "burst_platform.check.crossguard"],
            input=json.dumps(payload),
            capture_output=True,
            text=True,
            timeout=config.opa_timeout + CHILD_MARGIN_S,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise BurstError("the evaluation process did not answer in time") from None
    except OSError as error:
        raise BurstError(f"cannot start the evaluation process: {error}") from None
    try:
        answer = json.loads(result.stdout)
    except ValueError:
        answer = None
    if result.returncode != 0 or not isinstance(answer, dict):
        tail = " ".join(result.stderr.split()[-40:])
        raise BurstError(f"the evaluation process failed (exit {result.returncode}): {tail}")
    if answer.get("error"):
        raise BurstError(str(answer["error"]))
    findings = [Finding(**{k: f[k] for k in _FINDING_FIELDS}) for f in answer["findings"]]
    return CheckReport(findings, int(answer["resources"]), [], [])


_FINDING_FIELDS = ("rule", "severity", "resource", "message", "title", "remediation")


def _child_main() -> int:
    """The evaluation process: the plan on stdin, `{findings, resources}` or `{error}` out."""
    try:
        payload = json.loads(sys.stdin.read())
        config = PackConfig.read({k: v for k, v in payload.items() if k != "document" and v})
        report = check_plan(normalise.PlanInput(payload["document"]), config)
        if report.undecided:
            raise BurstError(report.undecided_problem())
        answer: dict[str, Any] = {
            "findings": [{k: getattr(f, k) for k in _FINDING_FIELDS} for f in report.findings],
            "resources": report.resources,
        }
    except BurstError as error:
        answer = {"error": "; ".join(error.problems)}
    except Exception as error:  # the parent fails closed on it
        answer = {"error": f"internal error: {type(error).__name__}: {error}"}
    sys.stdout.write(json.dumps(answer))
    return 0


@dataclass
class Evaluator:
    """Runs the check for the stack policies: once per distinct input and configuration."""

    checker: Checker = check_in_child
    inputs: dict[str, Any] = field(default_factory=dict)
    """Checked inputs by URN, recorded by `burst-inputs`."""
    _cache: dict[str, Outcome] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, urn: str, props: Mapping[str, Any]) -> None:
        """Keep the checked inputs `Analyze` received for `urn`."""
        with self._lock:
            self.inputs[urn] = plain(props)

    def evaluate(self, resources: Sequence[ResourceView], config: Mapping[str, Any]) -> Outcome:
        """The outcome for this stack; never raises (a failure is the outcome's `error`)."""
        with self._lock:
            try:
                settings = PackConfig.read(config)
                plan = policy_input(resources, self.inputs)
            except BurstError as error:
                return Outcome(error="; ".join(error.problems))
            except Exception as error:  # fail closed, whatever went wrong
                return Outcome(error=f"internal error: {type(error).__name__}: {error}")
            key = hashlib.sha256(
                json.dumps([plan.document, repr(settings)], sort_keys=True).encode()
            ).hexdigest()
            if key not in self._cache:
                self._cache.clear()  # one stack per run: keep only the latest
                self._cache[key] = self._run(plan, settings)
            return self._cache[key]

    def _run(self, plan: normalise.PlanInput, settings: PackConfig) -> Outcome:
        try:
            report = self.checker(plan, settings)
        except BurstError as error:
            return Outcome(error="; ".join(error.problems))
        except Exception as error:  # fail closed, whatever went wrong
            return Outcome(error=f"internal error: {type(error).__name__}: {error}")
        if report.undecided:
            return Outcome(error=report.undecided_problem())
        return Outcome(report=report)


def violation_message(finding: Finding) -> str:
    """What a violation says: rule id, title, message, resource URN and the fix."""
    title = f" ({finding.title})" if finding.title else ""
    fix = f" Fix: {finding.remediation}" if finding.remediation else ""
    return one_line(f"{finding.rule}{title}: {finding.message} [resource: {finding.resource}]{fix}")


def violations(outcome: Outcome, severity: str) -> list[tuple[str, str | None]]:
    """(message, URN or None) for each violation the policy of `severity` reports."""
    if outcome.report is None:
        if severity != DENY:  # burst-deny alone says why: the check was not made
            return []
        return [(f"burst check could not be made, so the deployment is refused: {outcome.error}",
                 None)]  # fmt: skip
    found = []
    for finding in outcome.report.findings:
        if finding.severity != severity:
            continue
        urn = finding.resource if finding.resource.startswith("urn:pulumi:") else None
        found.append((violation_message(finding), urn))
    return found


# ---------------------------------------------------------------------------------------------
# The policy pack (needs the `pulumi-policy` SDK: the `crossguard` extra)
# ---------------------------------------------------------------------------------------------


def install_secret_placeholders() -> None:
    """Make the SDK give a secret as `[secret]`, as `pulumi preview --json` shows it, instead of
    its plaintext: the same input as `burst check`, and no secret in a violation message."""
    from pulumi_policy import deserialize

    original = deserialize._deserialize_property

    def without_secrets(prop: Any, proxy_secrets: bool = False) -> Any:
        if isinstance(prop, dict) and prop.get(_SECRET_SIG_KEY) == _SECRET_SIG:
            return normalise.SECRET_PLACEHOLDER
        return original(prop, proxy_secrets)

    deserialize._deserialize_property = without_secrets  # deserialize_properties calls it


def build_policies(evaluator: Evaluator) -> list[Any]:
    """The pack's policies: the input recorder and one stack policy per severity."""
    from pulumi_policy import (
        EnforcementLevel,
        PolicyConfigSchema,
        ResourceValidationPolicy,
        Severity,
        StackValidationPolicy,
    )

    def record(args: Any, report_violation: Any) -> None:
        evaluator.record(args.urn, args.props)

    policies: list[Any] = [
        ResourceValidationPolicy(
            name=INPUTS_POLICY,
            description="Records each resource's checked inputs for the burst stack policies "
            "(reports nothing itself).",
            validate=record,
            enforcement_level=EnforcementLevel.ADVISORY,
        )
    ]
    levels = {
        DENY: (EnforcementLevel.MANDATORY, Severity.HIGH, "deny: the deployment is refused"),
        UNKNOWN: (
            EnforcementLevel.ADVISORY,
            Severity.MEDIUM,
            "unknown: a value only the deployment will know may violate a rule",
        ),
        WARN: (EnforcementLevel.ADVISORY, Severity.MEDIUM, "warn: advisory"),
        WAIVED: (EnforcementLevel.ADVISORY, Severity.LOW, "waived: a live waiver accepts it"),
    }
    for severity, name in SEVERITY_POLICIES.items():
        level, rank, meaning = levels[severity]

        def validate(args: Any, report_violation: Any, severity: str = severity) -> None:
            outcome = evaluator.evaluate(args.resources, args.get_config())
            for message, urn in violations(outcome, severity):
                report_violation(message, urn)

        policies.append(
            StackValidationPolicy(
                name=name,
                description=f"burst guardrails (the Rego pack of burst check), {meaning}.",
                validate=validate,
                enforcement_level=level,
                severity=rank,
                config_schema=PolicyConfigSchema(properties=CONFIG_SCHEMA),
                remediation_steps="See the rule id in policies/README.md.",
            )
        )
    return policies


def serve() -> None:
    """Run the policy pack (the SDK serves the CLI's Analyzer calls until it is stopped)."""
    # gRPC's fork handlers only print "skipping fork() handlers" into the CLI's output when the
    # evaluation process is started from a serving thread; that child never uses gRPC.
    os.environ.setdefault("GRPC_ENABLE_FORK_SUPPORT", "false")
    from pulumi_policy import EnforcementLevel, PolicyPack

    install_secret_placeholders()
    PolicyPack(
        name=PACK_NAME,
        enforcement_level=EnforcementLevel.MANDATORY,
        policies=build_policies(Evaluator()),
    )


if __name__ == "__main__":
    sys.exit(_child_main())
