"""Monte-Carlo simulation of the process whose expected value `burst_platform.cost.model` computes.

The simulated process is exactly the one of Daly (2006), so that Daly's exact expression
T_w = M·e^(R/M)·(e^((τ+C)/M) - 1)·T_s/τ is the expectation the simulation estimates:

* a job of T_s = `segments`·τ useful minutes runs `segments` segments, each τ of work followed by
  a checkpoint of C; every segment, the last one too, ends in a checkpoint;
* interruptions arrive as one Poisson process of rate λ over the job's wall-clock time (times
  between interruptions exponential with mean M = 1/λ, independent of what the job is doing),
  and can strike during work, during a checkpoint and during a restart;
* an interruption during a segment (work or checkpoint) loses everything since the last
  completed checkpoint; the job then restarts, which takes R; an interruption during a restart
  loses the restart done so far and starts it again; after a restart the job redoes the segment
  from its beginning;
* nothing else costs time: detecting an interruption is instantaneous, a completed checkpoint is
  never lost, C and R are constants.

The simulation carries each job's time to its next interruption across segment boundaries and
restarts (it does not draw a fresh one at each segment, which the memoryless exponential would
allow), so it checks the model rather than re-deriving it. It is vectorised over jobs: each step
handles one interruption of every job still running (all the segments that complete before it at
once, then the restart and its own interruptions), and finished jobs leave the arrays, so the
work is proportional to the number of interruptions simulated.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from burst_platform.cost.model import (
    MINUTES_PER_HOUR,
    CostInputError,
    Scenario,
    optimal_interval_minutes,
    scenario_problems,
)

FloatArray = npt.NDArray[np.float64]


def simulate_wall_hours(
    rate_per_hour: float,
    interval_minutes: float,
    checkpoint_minutes: float,
    restart_minutes: float,
    segments: int,
    jobs: int,
    rng: np.random.Generator,
) -> FloatArray:
    """Wall-clock hours of `jobs` independent jobs of `segments` x `interval_minutes` useful work.

    `rng` is the only source of randomness: the same seed gives the same result.
    """
    _check(rate_per_hour, interval_minutes, checkpoint_minutes, restart_minutes, segments, jobs)
    segment = (interval_minutes + checkpoint_minutes) / MINUTES_PER_HOUR
    if rate_per_hour == 0:
        return np.full(jobs, segments * segment)
    restart = restart_minutes / MINUTES_PER_HOUR
    mean = 1.0 / rate_per_hour
    result = np.empty(jobs)
    running = np.arange(jobs)  # the jobs still running; the arrays below hold only those
    wall = np.zeros(jobs)
    left = np.full(jobs, float(segments))  # segments still to complete
    to_interruption = rng.exponential(mean, jobs)  # from now to the next interruption
    while running.size:
        # Every whole segment that fits before the next interruption completes.
        whole = np.minimum(left, np.floor(to_interruption / segment))
        wall += whole * segment
        to_interruption -= whole * segment
        left -= whole
        finished = left == 0
        if finished.any():
            result[running[finished]] = wall[finished]
            keep = ~finished
            running, wall, left = running[keep], wall[keep], left[keep]
            to_interruption = to_interruption[keep]
            if not running.size:
                break
        # The interruption strikes inside the next segment (work or checkpoint): its time is lost.
        wall += to_interruption
        # The restart, started again by every interruption that strikes before it completes.
        following = rng.exponential(mean, running.size)
        interrupted = np.flatnonzero(following < restart)
        while interrupted.size:
            wall[interrupted] += following[interrupted]
            following[interrupted] = rng.exponential(mean, interrupted.size)
            interrupted = interrupted[following[interrupted] < restart]
        wall += restart
        to_interruption = following - restart
    return result


def simulate_cost_per_useful_gpu_hour(
    scenario: Scenario, segments: int, jobs: int, rng: np.random.Generator
) -> FloatArray:
    """Each simulated job's spot cost per useful GPU-hour: price x wall-clock / useful / GPUs.

    The job checkpoints at the scenario's interval, else at the optimal one (with no
    interruptions and no interval it never checkpoints). Billing as in the model: every
    wall-clock second of the job, interrupted time included.
    """
    problems = scenario_problems(scenario) + _count_problems(segments, jobs)
    if problems:
        raise CostInputError(problems)
    interval = scenario.interval_minutes
    if interval is None:
        interval = optimal_interval_minutes(scenario.rate_per_hour, scenario.checkpoint_minutes)
    price = scenario.spot_price_per_hour / scenario.gpus_per_instance
    if interval is None:  # never interrupted, never checkpoints: every hour is useful
        return np.full(jobs, price)
    wall = simulate_wall_hours(
        scenario.rate_per_hour,
        interval,
        scenario.checkpoint_minutes,
        scenario.restart_minutes,
        segments,
        jobs,
        rng,
    )
    costs: FloatArray = price * wall / (segments * interval / MINUTES_PER_HOUR)
    return costs


def _check(
    rate: float, interval: float, checkpoint: float, restart: float, segments: int, jobs: int
) -> None:
    problems: list[tuple[str, str]] = []
    for field, value, low in (
        ("rate_per_hour", rate, 0.0),
        ("checkpoint_minutes", checkpoint, 0.0),
        ("restart_minutes", restart, 0.0),
    ):
        if not _finite(value) or value < low:
            problems.append((field, f"must be a number of at least {low:g}, got {value!r}"))
    if not _finite(interval) or interval <= 0:
        problems.append(("interval_minutes", f"must be above 0, got {interval!r}"))
    problems += _count_problems(segments, jobs)
    if problems:
        raise CostInputError(problems)


def _count_problems(segments: int, jobs: int) -> list[tuple[str, str]]:
    return [
        (field, f"must be a whole number of at least 1, got {count!r}")
        for field, count in (("segments", segments), ("jobs", jobs))
        if isinstance(count, bool) or not isinstance(count, int) or count < 1
    ]


def _finite(value: object) -> bool:
    return not isinstance(value, bool) and isinstance(value, int | float) and math.isfinite(value)
