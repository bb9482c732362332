"""The `burst check` subcommand: options, and the run that maps outcomes to exit codes.

Exit codes: 0 when nothing denies (warn and unknown findings do not fail), 1 when any finding
denies, 2 when the check could not be made (bad input, a failed preview, broken policy pack, OPA
or checkov unavailable, an incomplete or undefined report, or a preview without `--show-sames`
on which rules that need the whole stack cannot be judged).
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from pathlib import Path

from burst.check import engine
from burst.check.formats import FORMATS, render, summary_line
from burst.check.pipeline import CheckOptions, run_check
from burst.documents import write_text
from burst.errors import BurstError

DESCRIPTION = """\
Check a plan against the burst policy pack (OPA) and checkov, apply waivers, and report.
Inputs: a `pulumi preview --json` document (--preview), an offline plan of a stack (--stack),
Kubernetes manifests (--manifests); --manifests combines with either of the others.
Exit code 0: no deny; 1: at least one deny; 2: the check could not be made.
"""


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the `check` subcommand and its options to `subparsers`."""
    parser = subparsers.add_parser(
        "check",
        help="check a preview, a stack or manifests against the policy pack",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    inputs = parser.add_argument_group("inputs (at least one)")
    inputs.add_argument(
        "--preview",
        type=Path,
        metavar="FILE",
        help="`pulumi preview --json` output (or `burst plan --out`)",
    )
    inputs.add_argument(
        "--stack", metavar="NAME", help="plan stack NAME offline (Pulumi.NAME.yaml), then check it"
    )
    inputs.add_argument(
        "--manifests",
        type=Path,
        action="append",
        default=[],
        metavar="DIR",
        help="Kubernetes YAML/JSON manifests (a directory, searched recursively, or a file);"
        " repeatable",
    )
    policy = parser.add_argument_group("policy")
    policy.add_argument(
        "--policies", type=Path, metavar="DIR", help="policy directory (default: ROOT/policies)"
    )
    policy.add_argument(
        "--guardrails",
        type=Path,
        metavar="FILE",
        help="guardrails data (default: POLICIES/data/guardrails.yaml)",
    )
    policy.add_argument(
        "--waivers",
        type=Path,
        metavar="FILE",
        help="waivers (default: POLICIES/waivers.yaml, if it exists)",
    )
    policy.add_argument(
        "--opa-url",
        metavar="URL",
        help="use this OPA server (uploads the policies and data into it)",
    )
    policy.add_argument(
        "--opa-timeout",
        type=float,
        default=engine.DEFAULT_TIMEOUT,
        metavar="SECONDS",
        help=f"timeout of each OPA request (default: {engine.DEFAULT_TIMEOUT:.0f})",
    )
    policy.add_argument("--skip-checkov", action="store_true", help="do not run checkov")
    output = parser.add_argument_group("output")
    output.add_argument(
        "--format", choices=FORMATS, default="text", help="report format (default: text)"
    )
    output.add_argument(
        "--out", type=Path, metavar="FILE", help="write the report here (default: stdout)"
    )
    parser.add_argument(
        "--root",
        type=Path,
        default=Path("."),
        metavar="DIR",
        help="repository root (default: current directory)",
    )
    parser.add_argument("--today", type=_date, default=None, help=argparse.SUPPRESS)


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date (YYYY-MM-DD)") from None


def options_from_args(args: argparse.Namespace) -> CheckOptions:
    """CheckOptions from parsed command-line arguments."""
    return CheckOptions(
        preview=args.preview,
        stack=args.stack,
        manifests=list(args.manifests or []),
        root=args.root,
        policies=args.policies,
        guardrails=args.guardrails,
        waivers=args.waivers,
        opa_url=args.opa_url,
        opa_timeout=args.opa_timeout,
        skip_checkov=args.skip_checkov,
        today=args.today,
    )


def run(args: argparse.Namespace) -> int:
    """Run `burst check`; returns 0 (no deny), 1 (deny) or 2 (the check could not be made).

    Problems are printed to stderr, one line each, prefixed with `burst check:`.
    """
    try:
        report = run_check(options_from_args(args))
        text = render(report, args.format)
        if args.out is None:
            sys.stdout.write(text)
        else:
            write_text(args.out, text, "the report")
        if args.out is not None or args.format not in ("text", "github"):
            print(summary_line(report), file=sys.stderr)
        if report.undecided:
            print(f"burst check: {report.undecided_problem()}", file=sys.stderr)
    except BurstError as error:
        for line in error.problems:
            print(f"burst check: {line}", file=sys.stderr)
        return 2
    return report.exit_code
