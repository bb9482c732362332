"""The `burst check` subcommand: options, and the run that maps outcomes to exit codes.

Exit codes: 0 when no finding fails (by default warn and unknown findings do not fail), 1 when a
finding fails (a deny; with `--fail-on unknown` also an unknown, with `--fail-on warn` also a
warn), 2 when the check could not be made (bad input, a failed preview, broken policy pack, OPA
or checkov unavailable, an incomplete or undefined report, or a preview without `--show-sames`
on which rules that need the whole stack cannot be judged).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from burst_platform.check import engine
from burst_platform.check.formats import FORMATS, render, summary_line
from burst_platform.check.model import DENY, FAIL_ON_LEVELS
from burst_platform.check.pipeline import CheckOptions, run_check
from burst_platform.check.progress import Progress
from burst_platform.documents import write_text
from burst_platform.errors import BurstError

DESCRIPTION = """\
Check a plan against the burst policy pack (OPA) and checkov, apply waivers, and report.
Inputs: a `pulumi preview --json` document (--preview), an offline plan of a stack (--stack),
Kubernetes manifests (--manifests); --manifests combines with either of the others.
Reports: --format (default text) to stdout; --output FORMAT=PATH, repeatable, writes more
reports in the same run (--format F --out P is short for --output F=P, with text on stdout).
Exit code 0: nothing fails; 1: a finding fails (a deny, or what --fail-on adds);
2: the check could not be made.
"""

FAIL_ON_HELP = (
    "the least severe finding that fails the check (exit 1); levels from lenient to strict: "
    "deny (only denies fail, the default), unknown (denies and unknowns: values only the "
    "deployment will know), warn (denies, unknowns and warns); waived findings never fail"
)


@dataclass(frozen=True)
class Output:
    """One report file of the run: its format and its path."""

    format: str
    path: Path


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
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
        "--policies",
        type=Path,
        metavar="DIR",
        help="policy directory (default: the pack burst ships, `burst policies path`)",
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
        "--format",
        choices=FORMATS,
        default="text",
        help="format of the report on stdout (default: text)",
    )
    output.add_argument(
        "--output",
        action="append",
        default=[],
        metavar="FORMAT=PATH",
        help=f"also write a report in FORMAT ({', '.join(FORMATS)}) to PATH; repeatable, one "
        "run writes them all (e.g. --output sarif=build/burst.sarif --output "
        "markdown=build/comment.md)",
    )
    output.add_argument(
        "--out",
        type=Path,
        metavar="FILE",
        help="write the --format report to FILE instead of stdout (short for --output "
        "FORMAT=FILE; stdout then gets the text report)",
    )
    output.add_argument(
        "--fail-on", choices=FAIL_ON_LEVELS, default=DENY, metavar="LEVEL", help=FAIL_ON_HELP
    )
    output.add_argument(
        "-q",
        "--quiet",
        action="store_true",
        help="no progress lines and no summary line on stderr (errors are still printed)",
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
        fail_on=args.fail_on,
    )


def outputs_from_args(args: argparse.Namespace) -> tuple[str, list[Output]]:
    """The format of stdout's report, and the report files (`--output`, then `--out`).

    A malformed `--output`, an unknown format, an empty path, a directory or the same file
    twice is a BurstError naming the option.
    """
    stdout_format = args.format if args.out is None else "text"
    files: list[tuple[str, str, Path]] = []
    for value in args.output or []:
        fmt, sep, path = value.partition("=")
        option = f"--output {value!r}"
        if not sep:
            raise BurstError(
                f"{option}: expected FORMAT=PATH, e.g. --output sarif=build/burst.sarif"
            )
        if fmt not in FORMATS:
            raise BurstError(f"{option}: unknown format {fmt!r} (known: {', '.join(FORMATS)})")
        if not path.strip():
            raise BurstError(f"{option}: the path is empty")
        files.append((option, fmt, Path(path)))
    if args.out is not None:
        if not str(args.out).strip():
            raise BurstError("--out: the path is empty")
        files.append(("--out", args.format, args.out))
    seen: dict[str, str] = {}
    for option, _, path in files:
        if path.is_dir():
            raise BurstError(f"{option}: {path} is a directory, expected a file")
        key = os.path.normcase(os.path.abspath(path))
        if key in seen:
            raise BurstError(f"{option}: {path} is also the file of {seen[key]}: one report a file")
        seen[key] = option
    return stdout_format, [Output(fmt, path) for _, fmt, path in files]


def colour_wanted(stream: TextIO) -> bool:
    """Colours on `stream`: only a terminal, and only when `NO_COLOR` is unset or empty."""
    if os.environ.get("NO_COLOR"):
        return False
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def run(args: argparse.Namespace) -> int:
    """Run `burst check`; returns 0 (nothing fails), 1 (a finding fails: `--fail-on`) or 2 (the
    check could not be made).

    Problems are printed to stderr, one line each, prefixed with `burst check:`; so are the
    progress of the slow phases and, when stdout does not show it, the summary line (neither
    with `--quiet`). Every report file is written before stdout's report.
    """
    progress = Progress(sys.stderr, enabled=not args.quiet)
    try:
        stdout_format, files = outputs_from_args(args)
        report = run_check(options_from_args(args), progress)
        progress.close()
        for output in files:
            write_text(output.path, render(report, output.format), "the report")
        sys.stdout.write(render(report, stdout_format, colour=colour_wanted(sys.stdout)))
        sys.stdout.flush()
        if not args.quiet and stdout_format not in ("text", "github"):
            print(summary_line(report), file=sys.stderr)
        if report.undecided:
            print(f"burst check: {report.undecided_problem()}", file=sys.stderr)
    except BurstError as error:
        progress.close()
        for line in error.problems:
            print(f"burst check: {line}", file=sys.stderr)
        return 2
    finally:
        progress.close()
    return report.exit_code
