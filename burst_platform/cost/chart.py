"""`burst cost --chart`: cost per useful GPU-hour against the checkpoint interval, spot against
on-demand, drawn with matplotlib (Agg backend, no display needed).

matplotlib is optional (`pip install 'burst-platform[chart]'`); without it `--chart` is a
one-line error, and the rest of `burst cost` works.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

from burst_platform.cost.model import (
    CostEstimate,
    Scenario,
    cost_per_useful_gpu_hour,
    wall_hours_per_useful_hour,
)
from burst_platform.errors import BurstError

if TYPE_CHECKING:
    from burst_platform.cost.cli import StackCost

POINTS = 300


def _pyplot() -> Any:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise BurstError(
            "--chart: matplotlib is not installed (pip install 'burst-platform[chart]')"
        ) from None
    return plt


def intervals(shortest_minutes: float, longest_minutes: float) -> list[float]:
    """Checkpoint intervals (minutes) from a 30th of the shortest to 10 times the longest given,
    spread evenly on a log scale."""
    low = math.log(max(0.5, shortest_minutes / 30))
    high = math.log(longest_minutes * 10)
    return [math.exp(low + (high - low) * i / (POINTS - 1)) for i in range(POINTS)]


def spot_curve(scenario: Scenario, taus: list[float]) -> list[float]:
    """Spot cost per useful GPU-hour of `scenario` at each interval of `taus`."""
    s = scenario
    return [
        cost_per_useful_gpu_hour(
            s.spot_price_per_hour,
            wall_hours_per_useful_hour(
                s.rate_per_hour, tau, s.checkpoint_minutes, s.restart_minutes
            ),
            s.gpus_per_instance,
        )
        for tau in taus
    ]


def on_demand_curve(scenario: Scenario, taus: list[float]) -> list[float]:
    """On-demand cost per useful GPU-hour at each interval: flat unless the job checkpoints."""
    s = scenario
    return [
        cost_per_useful_gpu_hour(
            s.on_demand_price_per_hour,
            wall_hours_per_useful_hour(0.0, tau, s.checkpoint_minutes, 0.0)
            if s.on_demand_checkpoints
            else 1.0,
            s.gpus_per_instance,
        )
        for tau in taus
    ]


def draw_job(result: CostEstimate, path: Path) -> None:
    """Draw one job's spot and on-demand cost against the interval, with τ*, Young and Daly."""
    plt = _pyplot()
    s = result.scenario
    centre = result.optimal_interval_minutes or result.interval_minutes or 60.0
    taus = intervals(centre, centre)
    spot, on_demand = spot_curve(s, taus), on_demand_curve(s, taus)
    figure, axes = plt.subplots(figsize=(8, 5))
    axes.plot(taus, spot, label="spot", color="tab:blue")
    axes.plot(taus, on_demand, label="on-demand", color="tab:orange", linestyle="--")
    marks = (
        ("τ*", result.optimal_interval_minutes, "tab:blue", "-"),
        ("Young", result.young_interval_minutes, "grey", ":"),
        ("Daly", result.daly_interval_minutes, "black", ":"),
    )
    for label, tau, colour, style in marks:
        if tau is not None:
            axes.axvline(
                tau, color=colour, linestyle=style, linewidth=1, label=f"{label} {tau:.3g} min"
            )
    if result.interval_source == "given" and result.interval_minutes is not None:
        axes.plot(
            [result.interval_minutes],
            [result.spot_cost_per_useful_gpu_hour],
            "o",
            color="tab:red",
            label=f"given {result.interval_minutes:g} min",
        )
    top = 3 * max(result.on_demand_cost_per_useful_gpu_hour, min(spot))
    axes.set_ylim(0, top)
    axes.set_xscale("log")
    axes.set_xlabel("checkpoint interval (minutes)")
    axes.set_ylabel("USD per useful GPU-hour")
    axes.set_title(
        f"λ = {s.rate_per_hour:.3g}/h, C = {s.checkpoint_minutes:g} min, "
        f"R = {s.restart_minutes:g} min"
    )
    axes.grid(True, which="both", alpha=0.3)
    axes.legend(loc="best")
    _save(plt, figure, path)


def draw_stack(report: StackCost, path: Path) -> None:
    """Draw every pool of a stack: one panel per region and team, one colour per instance type,
    spot solid (dot at τ*), on-demand dashed."""
    plt = _pyplot()
    teams = list(dict.fromkeys(p.team for r in report.regions for p in r.pools))
    types = list(dict.fromkeys(p.price.instance_type for r in report.regions for p in r.pools))
    if not teams:
        raise BurstError(f"--chart: stack {report.stack} has no priced GPU pool to draw")
    colours = {t: plt.get_cmap("tab10")(i % 10) for i, t in enumerate(types)}
    from matplotlib.ticker import FuncFormatter, LogLocator

    dollars = FuncFormatter(lambda value, _: f"${value:g}")
    costed = [
        p.estimate.interval_minutes or 60.0 for region in report.regions for p in region.pools
    ]
    taus = intervals(min(costed), max(costed))
    rows, columns = len(report.regions), len(teams)
    figure, grid = plt.subplots(
        rows, columns, figsize=(4.6 * columns, 3.8 * rows), sharex=True, sharey=True, squeeze=False
    )
    for row, region in enumerate(report.regions):
        for column, team in enumerate(teams):
            axes = grid[row][column]
            pools = [p for p in region.pools if p.team == team]
            for pool in pools:
                colour = colours[pool.price.instance_type]
                s = pool.estimate.scenario
                axes.plot(taus, spot_curve(s, taus), color=colour)
                axes.plot(taus, on_demand_curve(s, taus), color=colour, linestyle="--", alpha=0.6)
                if pool.estimate.interval_minutes is not None:
                    at = pool.estimate.interval_minutes, pool.estimate.spot_cost_per_useful_gpu_hour
                    axes.plot([at[0]], [at[1]], "o", color=colour, markersize=4)
            scenario = pools[0].estimate.scenario if pools else None
            detail = (
                f" (C {scenario.checkpoint_minutes:g}, R {scenario.restart_minutes:g} min)"
                if scenario
                else ""
            )
            axes.set_title(f"{region.region}, {team}{detail}", fontsize=10)
            axes.set_xscale("log")
            axes.set_yscale("log")
            axes.yaxis.set_major_formatter(dollars)
            axes.yaxis.set_minor_locator(LogLocator(subs=(2.0, 3.0, 5.0)))
            axes.yaxis.set_minor_formatter(dollars)
            axes.tick_params(axis="y", which="minor", labelsize=8)
            axes.grid(True, which="both", alpha=0.3)
            if row == rows - 1:
                axes.set_xlabel("checkpoint interval (minutes)")
            if column == 0:
                axes.set_ylabel("USD per useful GPU-hour")
    from matplotlib.lines import Line2D

    handles = [Line2D([], [], color=colours[t], label=t) for t in types]
    handles += [
        Line2D([], [], color="black", label="spot (dot: interval costed)"),
        Line2D([], [], color="black", linestyle="--", label="on-demand"),
    ]
    figure.legend(handles=handles, loc="lower center", ncol=min(len(handles), 6), fontsize=9)
    figure.suptitle(
        f"burst cost --stack {report.stack}: cost per useful GPU-hour against the checkpoint "
        f"interval (prices as of {report.prices.as_of})"
    )
    figure.tight_layout(rect=(0, 0.09 if len(handles) > 6 else 0.06, 1, 0.96))
    _save(plt, figure, path)


def _save(plt: Any, figure: Any, path: Path) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        figure.savefig(path, dpi=100, metadata={"Software": None})
    except OSError as error:
        raise BurstError(f"{path}: cannot write the chart: {error.strerror}") from None
    except ValueError as error:  # an unknown image format, named by the file's extension
        raise BurstError(f"{path}: cannot write the chart: {error}") from None
    finally:
        plt.close(figure)
