"""What a useful GPU-hour costs on spot and on on-demand capacity, once interruptions, checkpoints
and restarts are paid for. Pure Python: no cloud calls, no numpy.

Units: the checkpoint cost C, the restart cost R and the checkpoint interval τ are in minutes;
rates are per hour; prices are USD per instance-hour. The formulas below are in any one unit.

Interruptions
    A spot instance is interrupted as a Poisson process of rate λ per hour; M = 1/λ is the mean
    time between interruptions. The AWS Spot Instance Advisor publishes, per region and instance
    type, a bucket of p, the share of instances interrupted over the trailing month. An instance
    survives a month (730 h) with probability e^(-730·λ), so

        λ = -ln(1 - p) / 730 h.

    We take the UPPER end of each bucket, which is conservative (it assumes more interruptions
    than most instances of the bucket saw): `<5%` → 5 %, `5-10%` → 10 %, `10-15%` → 15 %,
    `15-20%` → 20 %. The top bucket `>20%` has no upper end; we cap it at 30 % (`TOP_BUCKET_CAP`),
    a choice, not a measurement: give the rate directly when you know better.

Wall-clock per useful hour (Daly 2006, the exact expression of his "complete" cost function)
    A job of T_s useful hours runs as T_s/τ segments, each τ of work followed by a checkpoint of
    C. An interruption can strike during work, during a checkpoint and during a restart; each one
    loses the work since the last completed checkpoint (and the checkpoint being written), and is
    followed by a restart of R (replacement node, image pull, restore), which an interruption
    starts again. With exponential times between interruptions the expected wall-clock time is

        T_w = M · e^(R/M) · (e^((τ+C)/M) - 1) · T_s/τ,

    so the wall-clock hours per useful hour are W(τ) = T_w/T_s = M·e^(R/M)·(e^((τ+C)/M) - 1)/τ.
    It is exact when T_s is a whole number of segments and every segment, the last one too, ends
    in a checkpoint (`burst_platform.cost.simulate` simulates exactly that process).

The optimal interval τ*
    W(τ) has one minimum on τ > 0 (its derivative has the sign of e^((τ+C)/M)·(τ/M - 1) + 1,
    which increases from 1 - e^(C/M) < 0), and τ* < M. We find it numerically: golden-section
    search on ln τ over [10⁻³·min(√(2CM), M), M] (`optimal_interval_minutes`), minimising
    W·e^(-R/M) - 1 written without cancellation so that the flat minimum is resolved to ~10⁻⁸
    also when C/M is tiny. R scales W but does not move τ*. Reported beside it:

    * Young (1974): τ ≈ √(2CM), first order in C/M;
    * Daly (2006), the higher-order estimate:
      τ ≈ √(2CM)·[1 + (1/3)·√(C/2M) + (1/9)·(C/2M)] - C for C < 2M, and τ ≈ M otherwise.

    (τ* also has a closed form through Lambert's W: τ* = M·(1 + W₀(-e^(-1-C/M))); the tests use
    it to check the search.)

On-demand
    λ = 0: W = (τ + C)/τ when the job still checkpoints every τ, else 1. With λ = 0 the optimal
    interval is "never checkpoint" (τ* = ∞, reported as None).

Cost per useful GPU-hour
    cost = hourly price · W / GPUs per instance, for spot (price P, rate λ) and for on-demand
    (price Q, λ = 0). Both are billed per second for every wall-clock second: lost work,
    checkpoints and restarts included. Two simplifications err towards overstating spot's cost:
    the whole restart R is billed (a replacement node is not billed until it runs), and AWS's
    rule that a spot instance it interrupts within its first hour is not charged is ignored.

Break-even rate
    The λ at which spot's cost per useful GPU-hour equals on-demand's. W increases with λ (at a
    fixed τ, and so does its minimum over τ), so the break-even is found by bisection on ln λ
    within (0, `MAX_RATE_PER_HOUR`]. It is None when spot is never cheaper (already at λ = 0:
    P·W(0) ≥ Q·W_on-demand) or still cheaper at `MAX_RATE_PER_HOUR`; `BreakEven.status` says
    which.

References
    J. W. Young, "A first order approximation to the optimum checkpoint interval",
    Communications of the ACM 17(9), 1974, 530-531.
    J. T. Daly, "A higher order estimate of the optimum checkpoint interval for restart dumps",
    Future Generation Computer Systems 22(3), 2006, 303-312, doi:10.1016/j.future.2004.11.016.
    AWS Spot Instance Advisor, https://aws.amazon.com/ec2/spot/instance-advisor/.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from burst_platform.errors import BurstError

MINUTES_PER_HOUR = 60.0
HOURS_PER_MONTH = 730.0
"""The month of the Spot Instance Advisor's interruption frequency (8,760 h / 12)."""

TOP_BUCKET_CAP = 0.30
"""Share of instances interrupted per month assumed for the open-ended `>20%` bucket."""

FREQUENCY_BUCKETS: dict[str, float] = {
    "<5%": 0.05,
    "5-10%": 0.10,
    "10-15%": 0.15,
    "15-20%": 0.20,
    ">20%": TOP_BUCKET_CAP,
}
"""Spot Instance Advisor interruption-frequency buckets and the monthly share used for each:
the bucket's upper end (conservative), `TOP_BUCKET_CAP` for the open-ended top bucket."""

MAX_RATE_PER_HOUR = 60.0
"""Highest interruption rate accepted and searched for a break-even: one interruption a minute
on average, far beyond any Spot Instance Advisor bucket (`>20%` capped is 0.0005 per hour)."""

MAX_MINUTES = 7 * 24 * 60.0
"""Longest checkpoint or restart accepted (a week)."""

FOUND = "found"
SPOT_NEVER_CHEAPER = "spot_never_cheaper"
SPOT_CHEAPER_THROUGHOUT = "spot_cheaper_throughout"

_GOLDEN = (math.sqrt(5.0) - 1.0) / 2.0
_MAX_EXPONENT = 700.0  # e^700 ~ 1e304: beyond it the expected wall-clock time is not a float


class CostInputError(BurstError):
    """Invalid inputs of the cost model; one `(field, problem)` pair per problem.

    `problems` holds the `field: problem` lines; the CLI renames the fields after its options.
    """

    def __init__(self, fields: Iterable[tuple[str, str]]) -> None:
        self.fields = list(fields)
        super().__init__(f"{field}: {problem}" for field, problem in self.fields)


def rate_from_monthly_share(share: float) -> float:
    """λ per hour from the share of instances interrupted per month: -ln(1 - p)/730."""
    if not _finite(share) or not 0 <= share < 1:
        raise CostInputError([("monthly_share", f"must be at least 0 and below 1, got {share!r}")])
    return -math.log1p(-share) / HOURS_PER_MONTH


def monthly_share(rate_per_hour: float) -> float:
    """The share of instances interrupted within a month at `rate_per_hour`: 1 - e^(-730·λ)."""
    return -math.expm1(-rate_per_hour * HOURS_PER_MONTH)


def rate_from_bucket(bucket: str) -> float:
    """λ per hour of a Spot Instance Advisor frequency bucket (its upper end; `>20%` capped)."""
    share = FREQUENCY_BUCKETS.get(bucket) if isinstance(bucket, str) else None
    if share is None:
        raise CostInputError([("frequency_bucket", _bucket_problem(bucket))])
    return rate_from_monthly_share(share)


def _bucket_problem(bucket: object) -> str:
    return f"unknown bucket {bucket!r} (known: {', '.join(FREQUENCY_BUCKETS)})"


def wall_hours_per_useful_hour(
    rate_per_hour: float,
    interval_minutes: float,
    checkpoint_minutes: float,
    restart_minutes: float,
) -> float:
    """Expected wall-clock hours per useful hour, Daly's exact T_w/T_s (inf when it overflows).

    λ = 0 gives (τ + C)/τ: no interruption, a checkpoint every τ.
    """
    tau = interval_minutes / MINUTES_PER_HOUR
    segment = (interval_minutes + checkpoint_minutes) / MINUTES_PER_HOUR
    if rate_per_hour == 0:
        return segment / tau
    restart = restart_minutes / MINUTES_PER_HOUR
    exponent = rate_per_hour * segment
    if exponent > _MAX_EXPONENT or rate_per_hour * restart > _MAX_EXPONENT:
        return math.inf
    return math.exp(rate_per_hour * restart) * math.expm1(exponent) / (rate_per_hour * tau)


def optimal_interval_minutes(rate_per_hour: float, checkpoint_minutes: float) -> float | None:
    """τ* in minutes: the minimum of Daly's exact W(τ), by golden-section search on ln τ.

    None for λ = 0 (never checkpoint). R does not move the optimum, so it is not an argument.
    """
    if rate_per_hour == 0:
        return None
    mean = MINUTES_PER_HOUR / rate_per_hour
    c = checkpoint_minutes / mean
    young = math.sqrt(2.0 * c)  # τ/M

    def excess(log_t: float) -> float:
        # W·e^(-R/M) - 1 = (e^(t+c) - 1 - t - c + c)/t with t = τ/M, computed without the
        # cancellation of 1 + (something small), so that the flat minimum is resolved.
        t = math.exp(log_t)
        return (_expm1_minus_x(t + c) + c) / t

    low, high = math.log(1e-3 * min(young, 1.0)), 0.0
    return mean * math.exp(golden_section_minimum(excess, low, high, 1e-10))


def _expm1_minus_x(x: float) -> float:
    """e^x - 1 - x, accurate to rounding also for small x (series below 0.1); inf on overflow."""
    if x > _MAX_EXPONENT:
        return math.inf
    if x >= 0.1:
        return math.expm1(x) - x
    term, total, k = x * x / 2.0, 0.0, 2
    while term > 1e-17 * total or total == 0.0:
        total += term
        k += 1
        term *= x / k
        if term == 0.0:
            break
    return total


def golden_section_minimum(
    function: Callable[[float], float], low: float, high: float, tolerance: float
) -> float:
    """The minimiser of a unimodal `function` on [low, high], to within `tolerance`."""
    a, b = low, high
    c, d = b - _GOLDEN * (b - a), a + _GOLDEN * (b - a)
    fc, fd = function(c), function(d)
    while b - a > tolerance:
        if fc < fd:
            b, d, fd = d, c, fc
            c = b - _GOLDEN * (b - a)
            fc = function(c)
        else:
            a, c, fc = c, d, fd
            d = a + _GOLDEN * (b - a)
            fd = function(d)
    return (a + b) / 2.0


def young_interval_minutes(rate_per_hour: float, checkpoint_minutes: float) -> float | None:
    """Young's (1974) first-order estimate √(2CM) in minutes; None for λ = 0."""
    if rate_per_hour == 0:
        return None
    return math.sqrt(2.0 * checkpoint_minutes * MINUTES_PER_HOUR / rate_per_hour)


def daly_interval_minutes(rate_per_hour: float, checkpoint_minutes: float) -> float | None:
    """Daly's (2006) higher-order estimate in minutes; None for λ = 0.

    √(2CM)·[1 + (1/3)√(C/2M) + (1/9)(C/2M)] - C for C < 2M, else M.
    """
    if rate_per_hour == 0:
        return None
    mean = MINUTES_PER_HOUR / rate_per_hour
    c = checkpoint_minutes
    if c >= 2.0 * mean:
        return mean
    xi = c / (2.0 * mean)
    return math.sqrt(2.0 * c * mean) * (1.0 + math.sqrt(xi) / 3.0 + xi / 9.0) - c


def cost_per_useful_gpu_hour(
    price_per_hour: float, wall_hours_per_useful: float, gpus_per_instance: int = 1
) -> float:
    """Hourly price x wall-clock hours per useful hour / GPUs per instance."""
    return price_per_hour * wall_hours_per_useful / gpus_per_instance


@dataclass(frozen=True)
class Scenario:
    """One job on one instance type, on spot (interrupted at `rate_per_hour`) or on on-demand."""

    rate_per_hour: float
    """Spot interruption rate λ per hour (0: never interrupted)."""

    checkpoint_minutes: float
    """C: minutes to write one checkpoint (above 0)."""

    restart_minutes: float
    """R: minutes from an interruption to work resuming: replacement node, image pull, restore."""

    spot_price_per_hour: float
    """P: spot price per instance-hour."""

    on_demand_price_per_hour: float
    """Q: on-demand price per instance-hour."""

    gpus_per_instance: int = 1
    """GPUs per instance: prices are per instance, costs per GPU-hour."""

    interval_minutes: float | None = None
    """τ: the job's checkpoint interval; None uses the optimal interval on spot."""

    on_demand_checkpoints: bool = False
    """Whether the job also checkpoints every τ on on-demand (else it never does there)."""

    frequency_bucket: str | None = None
    """The Spot Instance Advisor bucket `rate_per_hour` came from, if it did."""


def scenario_problems(scenario: Scenario) -> list[tuple[str, str]]:
    """Every problem of `scenario` as `(field, problem)`, empty when it can be evaluated."""
    problems: list[tuple[str, str]] = []
    s = scenario
    if not _finite(s.rate_per_hour) or not 0 <= s.rate_per_hour <= MAX_RATE_PER_HOUR:
        problems.append(("rate_per_hour", _range(s.rate_per_hour, 0, MAX_RATE_PER_HOUR)))
    if not _finite(s.checkpoint_minutes) or not 0 < s.checkpoint_minutes <= MAX_MINUTES:
        problems.append(("checkpoint_minutes", _above_zero(s.checkpoint_minutes, MAX_MINUTES)))
    if not _finite(s.restart_minutes) or not 0 <= s.restart_minutes <= MAX_MINUTES:
        problems.append(("restart_minutes", _range(s.restart_minutes, 0, MAX_MINUTES)))
    for field, price in (
        ("spot_price_per_hour", s.spot_price_per_hour),
        ("on_demand_price_per_hour", s.on_demand_price_per_hour),
    ):
        if not _finite(price) or price <= 0:
            problems.append((field, f"must be a price above 0, got {price!r}"))
    if (
        isinstance(s.gpus_per_instance, bool)
        or not isinstance(s.gpus_per_instance, int)
        or s.gpus_per_instance < 1
    ):
        problems.append(
            (
                "gpus_per_instance",
                f"must be a whole number of at least 1, got {s.gpus_per_instance!r}",
            )
        )
    if s.interval_minutes is not None and (
        not _finite(s.interval_minutes) or s.interval_minutes <= 0
    ):
        problems.append(("interval_minutes", f"must be above 0, got {s.interval_minutes!r}"))
    if s.frequency_bucket is not None and s.frequency_bucket not in FREQUENCY_BUCKETS:
        problems.append(("frequency_bucket", _bucket_problem(s.frequency_bucket)))
    if not isinstance(s.on_demand_checkpoints, bool):
        problems.append(("on_demand_checkpoints", "must be true or false"))
    if problems:
        return problems
    wall = spot_wall_hours(s, s.rate_per_hour)
    if not math.isfinite(wall):
        field = "interval_minutes" if s.interval_minutes is not None else "checkpoint_minutes"
        problems.append(
            (
                field,
                f"at {s.rate_per_hour:g} interruptions per hour the job practically never "
                "finishes (its expected wall-clock time overflows)",
            )
        )
    return problems


def _finite(value: object) -> bool:
    return not isinstance(value, bool) and isinstance(value, int | float) and math.isfinite(value)


def _range(value: object, low: float, high: float) -> str:
    return f"must be between {low:g} and {high:g}, got {value!r}"


def _above_zero(value: object, high: float) -> str:
    return f"must be above 0 and at most {high:g}, got {value!r}"


@dataclass(frozen=True)
class BreakEven:
    """The interruption rate at which on-demand becomes as cheap as spot, or why there is none."""

    rate_per_hour: float | None
    """λ per hour; None when `status` is not `found`."""

    status: str
    """`found`, `spot_never_cheaper` (not even at λ = 0) or `spot_cheaper_throughout` (still
    cheaper at `MAX_RATE_PER_HOUR`)."""

    @property
    def monthly_percent(self) -> float | None:
        """The break-even rate as the percentage of instances interrupted per month."""
        if self.rate_per_hour is None:
            return None
        return 100.0 * monthly_share(self.rate_per_hour)


@dataclass(frozen=True)
class CostEstimate:
    """What `burst cost` reports for one scenario."""

    scenario: Scenario
    interval_minutes: float | None
    """The interval spot is costed at: the given one, else τ* (None: λ = 0, no checkpoints)."""
    interval_source: str
    """`given`, `optimal` or `none`."""
    optimal_interval_minutes: float | None
    young_interval_minutes: float | None
    daly_interval_minutes: float | None
    wall_hours_per_useful_hour: float
    """On spot, at `interval_minutes`."""
    on_demand_wall_hours_per_useful_hour: float
    spot_cost_per_useful_gpu_hour: float
    on_demand_cost_per_useful_gpu_hour: float
    break_even: BreakEven

    @property
    def saving_percent(self) -> float:
        """How much cheaper a useful GPU-hour is on spot than on on-demand (negative: dearer)."""
        spot, on_demand = (
            self.spot_cost_per_useful_gpu_hour,
            self.on_demand_cost_per_useful_gpu_hour,
        )
        return 100.0 * (on_demand - spot) / on_demand

    @property
    def mean_minutes_between_interruptions(self) -> float | None:
        """M in minutes; None for λ = 0."""
        rate = self.scenario.rate_per_hour
        return None if rate == 0 else MINUTES_PER_HOUR / rate

    def as_json(self) -> dict[str, Any]:
        """The stable JSON object of `burst cost --format json` (keys documented in the README)."""
        s = self.scenario
        return {
            "rate_per_hour": s.rate_per_hour,
            "frequency_bucket": s.frequency_bucket,
            "monthly_interruption_percent": 100.0 * monthly_share(s.rate_per_hour),
            "mean_minutes_between_interruptions": self.mean_minutes_between_interruptions,
            "checkpoint_minutes": s.checkpoint_minutes,
            "restart_minutes": s.restart_minutes,
            "gpus_per_instance": s.gpus_per_instance,
            "spot_price_per_hour": s.spot_price_per_hour,
            "on_demand_price_per_hour": s.on_demand_price_per_hour,
            "on_demand_checkpoints": s.on_demand_checkpoints,
            "interval_minutes": self.interval_minutes,
            "interval_source": self.interval_source,
            "optimal_interval_minutes": self.optimal_interval_minutes,
            "young_interval_minutes": self.young_interval_minutes,
            "daly_interval_minutes": self.daly_interval_minutes,
            "wall_hours_per_useful_hour": self.wall_hours_per_useful_hour,
            "on_demand_wall_hours_per_useful_hour": self.on_demand_wall_hours_per_useful_hour,
            "spot_cost_per_useful_gpu_hour": self.spot_cost_per_useful_gpu_hour,
            "on_demand_cost_per_useful_gpu_hour": self.on_demand_cost_per_useful_gpu_hour,
            "saving_percent": self.saving_percent,
            "break_even_rate_per_hour": self.break_even.rate_per_hour,
            "break_even_monthly_interruption_percent": self.break_even.monthly_percent,
            "break_even_status": self.break_even.status,
            "break_even_max_rate_per_hour": MAX_RATE_PER_HOUR,
        }


def on_demand_wall_hours_per_useful_hour(scenario: Scenario, interval_minutes: float) -> float:
    """W on on-demand (λ = 0): (τ + C)/τ when the job checkpoints there too, else 1."""
    if not scenario.on_demand_checkpoints:
        return 1.0
    return wall_hours_per_useful_hour(0.0, interval_minutes, scenario.checkpoint_minutes, 0.0)


def spot_wall_hours(scenario: Scenario, rate_per_hour: float) -> float:
    """W on spot at `rate_per_hour`: at the scenario's interval, else at τ*(λ) (1 when λ = 0)."""
    if scenario.interval_minutes is not None:
        return wall_hours_per_useful_hour(
            rate_per_hour,
            scenario.interval_minutes,
            scenario.checkpoint_minutes,
            scenario.restart_minutes,
        )
    optimum = optimal_interval_minutes(rate_per_hour, scenario.checkpoint_minutes)
    if optimum is None:
        return 1.0
    return wall_hours_per_useful_hour(
        rate_per_hour, optimum, scenario.checkpoint_minutes, scenario.restart_minutes
    )


def break_even(scenario: Scenario) -> BreakEven:
    """The λ at which spot costs as much per useful GPU-hour as on-demand (bisection on ln λ)."""
    s = scenario
    on_demand = s.on_demand_price_per_hour * _on_demand_wall(s)

    def excess(rate: float) -> float:
        return s.spot_price_per_hour * spot_wall_hours(s, rate) - on_demand

    if excess(0.0) >= 0:
        return BreakEven(None, SPOT_NEVER_CHEAPER)
    if excess(MAX_RATE_PER_HOUR) < 0:
        return BreakEven(None, SPOT_CHEAPER_THROUGHOUT)
    low, high = math.log(1e-12), math.log(MAX_RATE_PER_HOUR)
    if excess(math.exp(low)) >= 0:
        return BreakEven(math.exp(low), FOUND)
    while high - low > 1e-12:
        middle = (low + high) / 2.0
        if excess(math.exp(middle)) < 0:
            low = middle
        else:
            high = middle
    return BreakEven(math.exp((low + high) / 2.0), FOUND)


def _on_demand_wall(scenario: Scenario) -> float:
    interval = scenario.interval_minutes
    if interval is None:
        optimum = optimal_interval_minutes(scenario.rate_per_hour, scenario.checkpoint_minutes)
        interval = optimum
    if interval is None or not scenario.on_demand_checkpoints:
        return 1.0
    return on_demand_wall_hours_per_useful_hour(scenario, interval)


def estimate(scenario: Scenario) -> CostEstimate:
    """Evaluate `scenario`; a `CostInputError` names every invalid field first."""
    problems = scenario_problems(scenario)
    if problems:
        raise CostInputError(problems)
    s = scenario
    optimum = optimal_interval_minutes(s.rate_per_hour, s.checkpoint_minutes)
    if s.interval_minutes is not None:
        interval: float | None = s.interval_minutes
        source = "given"
    else:
        interval, source = optimum, "optimal" if optimum is not None else "none"
    wall = spot_wall_hours(s, s.rate_per_hour)
    on_demand_wall = _on_demand_wall(s)
    return CostEstimate(
        scenario=s,
        interval_minutes=interval,
        interval_source=source,
        optimal_interval_minutes=optimum,
        young_interval_minutes=young_interval_minutes(s.rate_per_hour, s.checkpoint_minutes),
        daly_interval_minutes=daly_interval_minutes(s.rate_per_hour, s.checkpoint_minutes),
        wall_hours_per_useful_hour=wall,
        on_demand_wall_hours_per_useful_hour=on_demand_wall,
        spot_cost_per_useful_gpu_hour=cost_per_useful_gpu_hour(
            s.spot_price_per_hour, wall, s.gpus_per_instance
        ),
        on_demand_cost_per_useful_gpu_hour=cost_per_useful_gpu_hour(
            s.on_demand_price_per_hour, on_demand_wall, s.gpus_per_instance
        ),
        break_even=break_even(s),
    )
