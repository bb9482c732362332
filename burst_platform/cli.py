"""The `burst` command: `plan` (offline plan), `check` (policy check), `normalise` (policy input),
`preflight` (preconditions of a first `pulumi up`), `policies` (where the pack is, its bundle),
`cost` (spot against on-demand per useful GPU-hour).

Every problem with the input ends as one line per problem on stderr and exit code 2; no traceback
reaches the user.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import NoReturn

from burst_platform import POLICY_DIR, version
from burst_platform.documents import write_text
from burst_platform.errors import BurstError, one_line


class _Parser(argparse.ArgumentParser):
    """An argument parser whose usage errors are one line naming the option, and exit 2."""

    def error(self, message: str) -> NoReturn:
        """Print `PROG: MESSAGE (see PROG --help)` to stderr and exit 2."""
        self.exit(2, f"{self.prog}: {one_line(message)} (see {self.prog} --help)\n")


def _plan(args: argparse.Namespace) -> int:
    from burst_platform.plan import plan_registrations, summary, write_document

    registrations, document = plan_registrations(args.stack, Path(args.root), args.first_deploy)
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


def _normalise(args: argparse.Namespace) -> int:
    from burst_platform.check.pipeline import CheckOptions, load_plan, require_inputs

    options = CheckOptions(
        preview=args.preview, stack=args.stack, manifests=list(args.manifests), root=args.root
    )
    require_inputs(options)
    text = json.dumps(load_plan(options).document, indent=1) + "\n"
    if args.out in (None, "-"):
        sys.stdout.write(text)
        return 0
    write_text(Path(args.out), text, "the input")
    return 0


def _preflight(args: argparse.Namespace) -> int:
    from burst_platform.preflight import run

    return run(args.stack, Path(args.root))


def _policies_path(args: argparse.Namespace) -> int:
    if not (POLICY_DIR / "main").is_dir():
        raise BurstError(f"{POLICY_DIR}: the policy pack is missing from this installation")
    print(POLICY_DIR)
    return 0


def _policies_bundle(args: argparse.Namespace) -> int:
    from burst_platform.policy_pack import build_bundle
    from burst_platform.tools import find_opa

    out = Path(args.out)
    build_bundle(find_opa(), out, args.revision or version())
    print(f"bundle written to {out}", file=sys.stderr)
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of `burst` with its subcommands."""
    parser = _Parser(
        prog="burst", description="Burst platform: offline plans, policy checks and spot costs."
    )
    parser.add_argument(
        "--version", action="version", version=f"%(prog)s {version()}", help="print the version"
    )
    parser.add_argument(
        "--debug", action="store_true", help="show the traceback of an internal error"
    )
    commands = parser.add_subparsers(dest="command", required=True)
    plan = commands.add_parser(
        "plan", help="plan a stack offline and write a `pulumi preview --json` document"
    )
    plan.add_argument("--stack", required=True, help="stack name (reads Pulumi.<stack>.yaml)")
    plan.add_argument("--out", help="write the preview JSON here ('-' for stdout)")
    plan.add_argument("--root", default=".", help="project directory (default: current)")
    plan.add_argument(
        "--first-deploy",
        action="store_true",
        help="plan a stack that does not exist yet: IDs and computed outputs are unknown",
    )
    plan.set_defaults(handler=_plan)

    normalise = commands.add_parser(
        "normalise",
        help="write the policy input `burst check` evaluates (for `opa eval` and conftest)",
    )
    normalise.add_argument("--preview", type=Path, metavar="FILE", help="`pulumi preview --json`")
    normalise.add_argument("--stack", metavar="NAME", help="plan stack NAME offline first")
    normalise.add_argument(
        "--manifests", type=Path, action="append", default=[], metavar="DIR", help="repeatable"
    )
    normalise.add_argument("--out", help="write the input here (default: stdout)")
    normalise.add_argument("--root", type=Path, default=Path("."), help="repository root")
    normalise.set_defaults(handler=_normalise)

    preflight = commands.add_parser(
        "preflight", help="check the preconditions of a first `pulumi up` of a stack"
    )
    preflight.add_argument("--stack", required=True, help="stack name (reads Pulumi.<stack>.yaml)")
    preflight.add_argument("--root", default=".", help="project directory (default: current)")
    preflight.set_defaults(handler=_preflight)

    policies = commands.add_parser("policies", help="the Rego policy pack this burst ships")
    pack_commands = policies.add_subparsers(dest="policies_command", required=True)
    pack_commands.add_parser(
        "path", help="print the pack's directory (for opa, conftest and your own tooling)"
    ).set_defaults(handler=_policies_path)
    bundle = pack_commands.add_parser(
        "bundle", help="write an `opa build` bundle of the pack, for an OPA server"
    )
    bundle.add_argument("--out", required=True, metavar="FILE", help="bundle file (.tar.gz)")
    bundle.add_argument("--revision", help="`.manifest` revision (default: the burst version)")
    bundle.set_defaults(handler=_policies_bundle)

    from burst_platform.check.cli import register, run

    register(commands)
    commands.choices["check"].set_defaults(handler=run)

    from .cost.cli import register as register_cost

    register_cost(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run `burst`; returns the exit code (0 ok, 1 policy denies, 2 bad input or failed check).

    Every temporary file of the run lives in one scratch directory that is removed on every way
    out, signals included; SIGINT, SIGTERM and SIGHUP first kill the processes the run started.
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    from burst_platform.check import children

    scratch = tempfile.mkdtemp(prefix="burst-run-")
    previous_tempdir, tempfile.tempdir = tempfile.tempdir, scratch
    try:
        children.handle_signals()
        code = _run(args)
    except KeyboardInterrupt:
        code = 130
    except children.Terminated as terminated:
        code = int(terminated.code or 2)
    finally:
        tempfile.tempdir = previous_tempdir
        shutil.rmtree(scratch, ignore_errors=True)
    signalled = children.stopping_code()  # also when the interrupt was swallowed mid-run
    return code if signalled is None else signalled


def _run(args: argparse.Namespace) -> int:
    """The command's handler, with every outcome mapped to an exit code and one-line messages."""
    from burst_platform.check.children import stopping_code

    try:
        code: int = args.handler(args)
    except Exception as error:
        if stopping_code() is not None:
            return 2  # its children were killed by a signal: main() returns the signal's code
        return _failure(args, error)
    return code


def _failure(args: argparse.Namespace, error: Exception) -> int:
    """Report a failed command as one line per problem on stderr; the exit code is always 2."""
    if isinstance(error, BurstError):
        for line in error.problems:
            print(f"burst {args.command}: {line}", file=sys.stderr)
    elif isinstance(error, BrokenPipeError):
        # The reader went away (`... | head`): the output is incomplete, so never report success.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    elif args.debug:
        raise error
    else:  # the exit-code promise: never a traceback, never 0 or 1
        detail = " ".join(str(error).split())[:300]
        print(
            f"burst {args.command}: internal error: {type(error).__name__}: {detail} "
            "(rerun with --debug for the traceback)",
            file=sys.stderr,
        )
    return 2


if __name__ == "__main__":
    sys.exit(main())
