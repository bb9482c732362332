"""`burst check`: the policy check run on pull requests.

Layout:

* `normalise`: preview documents and Kubernetes manifests to the policy input
  (`normalise_preview`, `normalise_manifests`);
* `guardrails`, `waivers`: the data files, validated (bad input is a BurstError, exit 2);
* `engine`: OPA (local server or `--opa-url`) through opa-python-client, one request, fail closed;
* `checkov_runner`: checkov over the plan's Kubernetes objects and the repository;
* `formats`: text, JSON, SARIF, JUnit, Markdown and GitHub workflow-command reports;
* `progress`: the slow phases on stderr;
* `pipeline`: the whole check (`run_check`); `cli`: the subcommand (`register`, `run`).

Decisions:

* exit 0 when nothing denies, 1 when a finding denies, 2 when the check could not be made; an
  `unknown` finding (a value Pulumi only knows after deploying) does not fail the check but is
  listed first after the denies and called out in every summary; `--fail-on unknown` makes
  unknowns fail too, `--fail-on warn` unknowns and warns (`model.FAIL_ON_LEVELS`);
* checkov's severities are empty offline: secrets are `deny`, Kubernetes and GitHub Actions
  checks `warn`;
* a rule package that is in the pack (or in this checkout's `policies/`) but missing from
  `report.packages` fails the check (exit 2), as do an undefined or malformed report.

This package does not import pulumi, except when `--stack` plans a stack.
"""

from burst_platform.check.model import CheckReport, Finding, RuleInfo, Waiver
from burst_platform.check.normalise import normalise_manifests, normalise_preview
from burst_platform.check.pipeline import CheckOptions, run_check

__all__ = [
    "CheckOptions",
    "CheckReport",
    "Finding",
    "RuleInfo",
    "Waiver",
    "normalise_manifests",
    "normalise_preview",
    "run_check",
]
