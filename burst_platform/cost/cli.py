"""The `burst cost` subcommand: spot against on-demand per useful GPU-hour, for one job given on
the command line or for every GPU pool of a stack.

Every problem with the input is a `BurstError`: one line per problem naming the option, the
stack config key or the price table's field; `burst` prints them and exits 2.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from burst_platform.cost.model import (
    FOUND,
    MAX_RATE_PER_HOUR,
    SPOT_NEVER_CHEAPER,
    CostEstimate,
    CostInputError,
    Scenario,
    estimate,
    rate_from_bucket,
)
from burst_platform.cost.prices import InstancePrice, PriceTable, load_prices
from burst_platform.errors import BurstError

FORMATS = ("text", "json", "markdown")

DESCRIPTION = """\
What a useful GPU-hour costs on spot and on on-demand once interruptions, checkpoints and
restarts are paid for (Daly's exact expected wall-clock time; see burst_platform/cost/model.py).

One job:     burst cost --frequency-bucket '10-15%' --checkpoint-minutes 5 --restart-minutes 10 \\
                 --spot-price 0.47 --on-demand-price 1.123
             (or --rate-per-hour L instead of the bucket; --interval-minutes T costs the job at
             its own interval instead of the optimal one)
Every pool:  burst cost --stack prod   (prices and buckets from the price table, C and R from
             the stack's teams[].checkpointMinutes / restartMinutes)
Exit code 0, or 2 with one line per problem.
"""

OPTION_OF_FIELD = {
    "rate_per_hour": "--rate-per-hour",
    "frequency_bucket": "--frequency-bucket",
    "checkpoint_minutes": "--checkpoint-minutes",
    "restart_minutes": "--restart-minutes",
    "spot_price_per_hour": "--spot-price",
    "on_demand_price_per_hour": "--on-demand-price",
    "gpus_per_instance": "--gpus-per-instance",
    "interval_minutes": "--interval-minutes",
}
"""The option that sets each field of `burst_platform.cost.model.Scenario`."""

_JOB_OPTIONS = (
    ("checkpoint_minutes", "--checkpoint-minutes"),
    ("restart_minutes", "--restart-minutes"),
    ("spot_price", "--spot-price"),
    ("on_demand_price", "--on-demand-price"),
)


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    """Add the `cost` subcommand and its options to `subparsers`; its handler is `run`."""
    parser = subparsers.add_parser(
        "cost",
        help="spot vs on-demand cost per useful GPU-hour, with checkpoints and restarts",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    source = parser.add_argument_group("interruptions (exactly one)").add_mutually_exclusive_group(
        required=True
    )
    source.add_argument(
        "--rate-per-hour", type=float, metavar="L", help="spot interruptions per hour (λ)"
    )
    source.add_argument(
        "--frequency-bucket",
        metavar="B",
        help="Spot Instance Advisor bucket: '<5%%', '5-10%%', '10-15%%', '15-20%%' or '>20%%' of "
        "instances interrupted per month (its upper end is used; '>20%%' is capped at 30%%)",
    )
    source.add_argument(
        "--stack",
        metavar="NAME",
        help="every GPU pool of Pulumi.NAME.yaml, with the price table's prices and buckets",
    )
    job = parser.add_argument_group("the job and its prices (not with --stack)")
    job.add_argument(
        "--checkpoint-minutes", type=float, metavar="C", help="minutes to write one checkpoint"
    )
    job.add_argument(
        "--restart-minutes",
        type=float,
        metavar="R",
        help="minutes from an interruption to work again: replacement node, image pull, restore",
    )
    job.add_argument("--spot-price", type=float, metavar="P", help="spot USD per instance-hour")
    job.add_argument(
        "--on-demand-price", type=float, metavar="Q", help="on-demand USD per instance-hour"
    )
    job.add_argument(
        "--gpus-per-instance", type=int, metavar="G", help="GPUs per instance (default 1)"
    )
    both = parser.add_argument_group("either way")
    both.add_argument(
        "--interval-minutes",
        type=float,
        metavar="T",
        help="the job's checkpoint interval (default: the optimal one on spot)",
    )
    both.add_argument(
        "--on-demand-checkpoints",
        action="store_true",
        help="the job checkpoints on on-demand too, at the same interval (default: it does not)",
    )
    both.add_argument(
        "--prices",
        type=Path,
        metavar="FILE",
        help="price table for --stack (default: the pinned burst_platform/cost/prices.yaml)",
    )
    both.add_argument("--root", type=Path, default=Path("."), help="project directory")
    both.add_argument("--format", choices=FORMATS, default="text", help="output (default text)")
    both.add_argument(
        "--chart",
        type=Path,
        metavar="PNG",
        help="also draw cost per useful GPU-hour against the checkpoint interval (matplotlib)",
    )
    both.add_argument(
        "--guardrails",
        nargs="?",
        type=Path,
        const=DEFAULT_GUARDRAILS,
        metavar="FILE",
        help="with --stack: also write each team's optimal checkpoint interval into the "
        "guardrails' `checkpoints` section (default ROOT/policies/data/guardrails.yaml, updated "
        "in place; the rest of the file is kept byte for byte)",
    )
    parser.set_defaults(handler=run)


DEFAULT_GUARDRAILS = Path("policies") / "data" / "guardrails.yaml"
"""`--guardrails` without FILE: the pack's guardrails under --root."""


def run(args: argparse.Namespace) -> int:
    """`burst cost`: print the report on stdout (after drawing the chart, if asked); exit 0."""
    if args.stack is not None:
        report = stack_report(
            args.stack,
            args.root,
            _refused_with_stack(args),
            args.interval_minutes,
            args.on_demand_checkpoints,
        )
        text = render_stack(report, args.format)
        if args.guardrails is not None:
            write_guardrails(report, args.root, args.guardrails)
        if args.chart is not None:
            from burst_platform.cost.chart import draw_stack

            draw_stack(report, args.chart)
    else:
        if args.guardrails is not None:
            raise BurstError("--guardrails: only with --stack (τ* per team of a stack)")
        result = job_estimate(args)
        text = render_job(result, args.format)
        if args.chart is not None:
            from burst_platform.cost.chart import draw_job

            draw_job(result, args.chart)
    sys.stdout.write(text)
    return 0


def write_guardrails(report: StackCost, root: Path, path: Path) -> None:
    """Splice the stack's `checkpoints` section into the guardrails file at `path` (relative to
    `root` when it is the default), after checking the result is valid guardrails."""
    from burst_platform.check.guardrails import validate_guardrails
    from burst_platform.cost.checkpoints import (
        checkpoint_section,
        render_section,
        splice_section,
    )
    from burst_platform.documents import parse_yaml, read_text, write_text
    from burst_platform.infra.config import parse_stack_config, read_stack_file

    target = root / path if path == DEFAULT_GUARDRAILS else path
    config = parse_stack_config(read_stack_file(root / f"Pulumi.{report.stack}.yaml"))
    section = checkpoint_section(report.stack, config, report.prices)
    text = splice_section(read_text(target, "guardrails"), render_section(section))
    problems = validate_guardrails(parse_yaml(text, str(target)), str(target))
    if problems:
        raise BurstError([f"--guardrails: {line}" for line in problems])
    write_text(target, text, "the guardrails")
    sys.stderr.write(f"burst cost: wrote the checkpoints section of {target}\n")


def job_estimate(args: argparse.Namespace) -> CostEstimate:
    """The estimate of the job the options describe; BurstError naming every bad option."""
    problems = [
        f"{option}: required (or give --stack)"
        for name, option in _JOB_OPTIONS
        if getattr(args, name) is None
    ]
    if args.prices is not None:
        problems.append("--prices: only with --stack (give --spot-price and --on-demand-price)")
    rate = args.rate_per_hour
    if args.frequency_bucket is not None:
        try:
            rate = rate_from_bucket(args.frequency_bucket)
        except CostInputError as error:
            problems += _option_lines(error)
    if problems:
        raise BurstError(problems)
    scenario = Scenario(
        rate_per_hour=rate,
        checkpoint_minutes=args.checkpoint_minutes,
        restart_minutes=args.restart_minutes,
        spot_price_per_hour=args.spot_price,
        on_demand_price_per_hour=args.on_demand_price,
        gpus_per_instance=1 if args.gpus_per_instance is None else args.gpus_per_instance,
        interval_minutes=args.interval_minutes,
        on_demand_checkpoints=args.on_demand_checkpoints,
        frequency_bucket=args.frequency_bucket,
    )
    try:
        return estimate(scenario)
    except CostInputError as error:
        raise BurstError(_option_lines(error)) from None


def _option_lines(error: CostInputError) -> list[str]:
    return [f"{OPTION_OF_FIELD.get(field, field)}: {problem}" for field, problem in error.fields]


def _refused_with_stack(args: argparse.Namespace) -> Path | None:
    """The --prices file; BurstError for every job option given with --stack."""
    given = [option for name, option in _JOB_OPTIONS if getattr(args, name) is not None]
    if args.gpus_per_instance is not None:
        given.append("--gpus-per-instance")
    if given:
        raise BurstError(
            f"{option}: not with --stack (prices and GPUs come from the price table, checkpoint "
            "and restart minutes from the stack's teams[].checkpointMinutes/restartMinutes)"
            for option in given
        )
    path: Path | None = args.prices
    return path


# --- every pool of a stack -----------------------------------------------------------------------


@dataclass(frozen=True)
class PoolCost:
    """One team's GPU pools in one region (`gpu-<team>-spot` and `gpu-<team>-on-demand`) on one
    instance type of the price table."""

    team: str
    pool: str
    """The pools' name prefix, `gpu-<team>` (components/gpu_capacity.py)."""
    price: InstancePrice
    estimate: CostEstimate


@dataclass(frozen=True)
class RegionCost:
    """The pools of one region of the stack."""

    region: str
    pools: list[PoolCost]
    unpriced_families: list[str]
    """Families of the stack's GPU pools with no instance type in the price table here."""


@dataclass(frozen=True)
class StackCost:
    """`burst cost --stack`: every GPU pool of every region."""

    stack: str
    prices: PriceTable
    gpu_families: tuple[str, ...]
    regions: list[RegionCost]

    def as_json(self) -> dict[str, Any]:
        """The JSON document of `--stack --format json` (keys documented in the README)."""
        return {
            "stack": self.stack,
            "prices": {
                "file": _display(self.prices.path),
                "as_of": self.prices.as_of,
                "source": self.prices.source,
            },
            "gpu_families": list(self.gpu_families),
            "regions": [
                {
                    "region": region.region,
                    "unpriced_families": region.unpriced_families,
                    "pools": [
                        {
                            "team": pool.team,
                            "pool": pool.pool,
                            "instance_type": pool.price.instance_type,
                            "instance_family": pool.price.family,
                            **pool.estimate.as_json(),
                        }
                        for pool in region.pools
                    ],
                }
                for region in self.regions
            ],
        }


def stack_report(
    stack: str,
    root: Path,
    prices: Path | None,
    interval_minutes: float | None,
    on_demand_checkpoints: bool,
) -> StackCost:
    """Cost every team's GPU pools in every region of `stack` on every priced instance type of
    the pools' families; BurstError naming the key, file or option of every problem."""
    from burst_platform.infra.config import parse_stack_config, read_stack_file

    config = parse_stack_config(read_stack_file(root / f"Pulumi.{stack}.yaml"))
    table = load_prices(prices)
    regions: list[RegionCost] = []
    problems: list[str] = []
    for region in config.regions:
        priced = table.in_region(region, config.gpu_families)
        families = {entry.family for entry in priced}
        pools: list[PoolCost] = []
        for team in config.teams:
            for entry in priced:
                scenario = Scenario(
                    rate_per_hour=rate_from_bucket(entry.interruption_frequency),
                    checkpoint_minutes=team.checkpoint_minutes,
                    restart_minutes=team.restart_minutes,
                    spot_price_per_hour=entry.spot_usd_per_hour,
                    on_demand_price_per_hour=entry.on_demand_usd_per_hour,
                    gpus_per_instance=entry.gpus,
                    interval_minutes=interval_minutes,
                    on_demand_checkpoints=on_demand_checkpoints,
                    frequency_bucket=entry.interruption_frequency,
                )
                try:
                    result = estimate(scenario)
                except CostInputError as error:
                    where = f"{region} {entry.instance_type} team {team.name}"
                    problems += [f"{where}: {line}" for line in _option_lines(error)]
                    continue
                pools.append(PoolCost(team.name, f"gpu-{team.name}", entry, result))
        unpriced = [family for family in config.gpu_families if family not in families]
        regions.append(RegionCost(region, pools, unpriced))
    if problems:
        raise BurstError(sorted(set(problems), key=problems.index))
    return StackCost(stack, table, config.gpu_families, regions)


def _display(path: Path) -> str:
    """`path` relative to the working directory when it is under it."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


# --- rendering -----------------------------------------------------------------------------------


def render_job(result: CostEstimate, output: str) -> str:
    """The report of one job in `output` format (text, json or markdown)."""
    if output == "json":
        return json.dumps(result.as_json(), indent=1) + "\n"
    rows = _job_rows(result)
    if output == "markdown":
        lines = ["| | spot | on-demand |", "| --- | ---: | ---: |"]
        lines += [f"| {label} | {spot} | {on_demand} |" for label, spot, on_demand in rows[:2]]
        lines += ["", *(f"- {label}: {value}" for label, value, _ in rows[2:])]
        return "\n".join(lines) + "\n"
    width = max(len(label) for label, _, _ in rows)
    lines = [f"{'':{width}}  {'spot':>10}  {'on-demand':>10}"]
    lines += [
        f"{label:{width}}  {spot:>10}  {on_demand:>10}" for label, spot, on_demand in rows[:2]
    ]
    lines += [f"{label:{width}}  {value}" for label, value, _ in rows[2:]]
    return "\n".join(lines) + "\n"


def _job_rows(result: CostEstimate) -> list[tuple[str, str, str]]:
    s = result.scenario
    rate = f"{s.rate_per_hour:.3g} per hour"
    if s.frequency_bucket is not None:
        rate += f" (bucket {s.frequency_bucket})"
    mean = result.mean_minutes_between_interruptions
    if mean is not None:
        rate += f", one every {_minutes(mean)} on average"
    gpus = f", {s.gpus_per_instance} GPUs per instance" if s.gpus_per_instance > 1 else ""
    return [
        (
            "wall-clock h per useful h",
            f"{result.wall_hours_per_useful_hour:.4f}",
            f"{result.on_demand_wall_hours_per_useful_hour:.4f}",
        ),
        (
            "USD per useful GPU-hour",
            _usd(result.spot_cost_per_useful_gpu_hour),
            _usd(result.on_demand_cost_per_useful_gpu_hour),
        ),
        ("saving on spot", f"{result.saving_percent:.1f} %", ""),
        ("interruptions", rate, ""),
        (
            "job",
            f"checkpoint {_minutes(s.checkpoint_minutes)}, restart {_minutes(s.restart_minutes)}, "
            f"spot {_usd(s.spot_price_per_hour)}/h, on-demand {_usd(s.on_demand_price_per_hour)}/h"
            f"{gpus}",
            "",
        ),
        ("interval used", _interval_used(result), ""),
        (
            "optimal interval",
            f"{_opt_minutes(result.optimal_interval_minutes)} (Young "
            f"{_opt_minutes(result.young_interval_minutes)}, Daly "
            f"{_opt_minutes(result.daly_interval_minutes)})",
            "",
        ),
        ("break-even rate", _break_even(result), ""),
    ]


def _interval_used(result: CostEstimate) -> str:
    if result.interval_minutes is None:
        return "none: never interrupted, no checkpoints needed"
    on_demand = "on spot and on-demand" if result.scenario.on_demand_checkpoints else "on spot"
    return f"{_minutes(result.interval_minutes)} ({result.interval_source}), {on_demand}"


def _break_even(result: CostEstimate) -> str:
    even = result.break_even
    if even.status == FOUND and even.rate_per_hour is not None:
        return (
            f"{even.rate_per_hour:.3g} interruptions per hour (one every "
            f"{_minutes(60 / even.rate_per_hour)}): on-demand is cheaper above it"
        )
    if even.status == SPOT_NEVER_CHEAPER:
        return "none: spot is not cheaper even without interruptions"
    return f"none: spot stays cheaper up to {MAX_RATE_PER_HOUR:g} per hour"


def render_stack(report: StackCost, output: str) -> str:
    """The report of every pool of a stack in `output` format: one table per region."""
    if output == "json":
        return json.dumps(report.as_json(), indent=1) + "\n"
    markdown = output == "markdown"
    prices = report.prices
    title = f"Stack {report.stack}: GPU pools, cost per useful GPU-hour"
    source = f"Prices: {_display(prices.path)}, as of {prices.as_of}. {prices.source}"
    lines = [f"## {title}" if markdown else title, "", source]
    for region in report.regions:
        lines += ["", f"### {region.region}" if markdown else region.region]
        if markdown:
            lines.append("")
        given = any(pool.estimate.interval_source == "given" for pool in region.pools)
        columns = list(POOL_COLUMNS)
        if given:
            columns.insert(INTERVAL_COLUMN, ("interval min", ">"))
        rows = [_pool_cells(pool, given) for pool in region.pools]
        if rows:
            lines += _table(columns, rows, markdown)
        if region.unpriced_families:
            lines += [
                "",
                f"Not costed (no price in {_display(prices.path)} for {region.region}): "
                + ", ".join(region.unpriced_families),
            ]
    lines += ["", _legend(report)]
    return "\n".join(lines) + "\n"


POOL_COLUMNS = (
    ("pools", "<"),
    ("C/R min", "<"),
    ("instance", "<"),
    ("GPUs", ">"),
    ("bucket", ">"),
    ("τ* min", ">"),
    ("Young", ">"),
    ("Daly", ">"),
    ("wall/useful", ">"),
    ("spot $/GPU-h", ">"),
    ("on-demand $/GPU-h", ">"),
    ("saving", ">"),
    ("break-even /h", ">"),
)
INTERVAL_COLUMN = 5
"""Where the `interval min` column goes when --interval-minutes is given (before τ*)."""


def _pool_cells(pool: PoolCost, given_interval: bool) -> list[str]:
    e = pool.estimate
    s = e.scenario
    even = e.break_even
    cells = [
        pool.pool,
        f"{s.checkpoint_minutes:g}/{s.restart_minutes:g}",
        pool.price.instance_type,
        str(s.gpus_per_instance),
        str(s.frequency_bucket),
        _number(e.optimal_interval_minutes),
        _number(e.young_interval_minutes),
        _number(e.daly_interval_minutes),
        f"{e.wall_hours_per_useful_hour:.4f}",
        _usd(e.spot_cost_per_useful_gpu_hour),
        _usd(e.on_demand_cost_per_useful_gpu_hour),
        f"{e.saving_percent:.1f} %",
        f"{even.rate_per_hour:.3g}" if even.rate_per_hour is not None else even.status,
    ]
    if given_interval:
        cells.insert(INTERVAL_COLUMN, _number(e.interval_minutes))
    return cells


def _table(columns: Sequence[tuple[str, str]], rows: list[list[str]], markdown: bool) -> list[str]:
    if markdown:
        rule = ["---:" if align == ">" else "---" for _, align in columns]
        return [
            "| " + " | ".join(name for name, _ in columns) + " |",
            "| " + " | ".join(rule) + " |",
            *("| " + " | ".join(row) + " |" for row in rows),
        ]
    widths = [max(len(name), *(len(row[i]) for row in rows)) for i, (name, _) in enumerate(columns)]

    def line(cells: Sequence[str]) -> str:
        return "  ".join(
            f"{cell:{align}{width}}"
            for cell, (_, align), width in zip(cells, columns, widths, strict=True)
        ).rstrip()

    return [line([name for name, _ in columns]), *(line(row) for row in rows)]


def _legend(report: StackCost) -> str:
    on_demand = "checkpoints at the same interval"
    if not any(p.estimate.scenario.on_demand_checkpoints for r in report.regions for p in r.pools):
        on_demand = "never checkpoints"
    return (
        "pools: gpu-<team>-spot and gpu-<team>-on-demand; C/R: the team's checkpointMinutes and "
        "restartMinutes; bucket: the Spot Instance Advisor's share of instances interrupted per "
        "month (its upper end is used, '>20%' as 30%); costed at τ* unless --interval-minutes; "
        "wall/useful: wall-clock hours per useful hour on spot; on on-demand the job "
        f"{on_demand}; break-even: the interruption rate above which on-demand is cheaper."
    )


def _usd(value: float) -> str:
    return f"${value:.3f}" if value < 100 else f"${value:,.0f}"


def _minutes(value: float) -> str:
    if value >= 120:
        return f"{value:,.0f} min = {value / 60:,.1f} h"
    return f"{value:.3g} min"


def _opt_minutes(value: float | None) -> str:
    return "none" if value is None else _minutes(value)


def _number(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:,.0f}" if value >= 100 else f"{value:.3g}"
