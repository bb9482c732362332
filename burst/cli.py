"""The `burst` command: `burst plan` (offline plan) and `burst check` (policy check).

Every problem with the input ends as one line per problem on stderr and exit code 2; no traceback
reaches the user.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from burst.errors import BurstError


def _plan(args: argparse.Namespace) -> int:
    from burst.plan import plan_registrations, summary, write_document

    registrations, document = plan_registrations(args.stack, Path(args.root))
    report = summary(registrations)
    if args.out == "-":
        sys.stdout.write(json.dumps(document, indent=1) + "\n")
        print(report, file=sys.stderr)
        return 0
    if args.out:
        write_document(document, Path(args.out))
        report += f"\n\nPreview document written to {args.out}"
    print(report)
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of `burst` with its subcommands."""
    parser = argparse.ArgumentParser(
        prog="burst", description="Burst platform: offline plans and policy checks."
    )
    commands = parser.add_subparsers(dest="command", required=True)
    plan = commands.add_parser(
        "plan", help="plan a stack offline and write a `pulumi preview --json` document"
    )
    plan.add_argument("--stack", required=True, help="stack name (reads Pulumi.<stack>.yaml)")
    plan.add_argument("--out", help="write the preview JSON here ('-' for stdout)")
    plan.add_argument("--root", default=".", help="project directory (default: current)")
    plan.set_defaults(handler=_plan)

    from burst.check.cli import register, run

    register(commands)
    commands.choices["check"].set_defaults(handler=run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run `burst`; returns the exit code (0 ok, 1 policy denies, 2 bad input or failed check)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        code: int = args.handler(args)
    except BurstError as error:
        for line in error.problems:
            print(f"burst {args.command}: {line}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # The reader went away (`... | head`): the output is incomplete, so never report success.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 2
    return code


if __name__ == "__main__":
    sys.exit(main())
