"""`make bench`: the policy check at estate scale.

For every estate size (`bench.estate.SHAPES`, about 1k, 4k and 16k resources):

1. **plan**: generate the estate with the real program under the mock runtime and write the
   `pulumi preview --json` document and its guardrails to `bench/out/` (median of `--runs`
   generations, in this process, imports paid once before timing: `imports_s`);
2. **check**: `burst check --preview PLAN --skip-checkov --guardrails GUARDRAILS` as a subprocess,
   wall time end to end (median of `--runs`), CPU time and peak RSS from `wait4`; one extra,
   untimed run samples the summed RSS of the process tree (Python + OPA server) every 10 ms;
3. **opa eval**: the floor, `opa eval` of the same modules (the engine's policy pack, tests
   excluded) and the same guardrails (as JSON, mounted at `data.burst.guardrails` as the engine
   does) over the same input (the engine's `normalise_preview`, written to a file first):
   `opa eval -d <module>... -d burst.guardrails:G.json -i input.json data.burst.main.report
   --format json` (median of `--runs`);
4. **checkov**: the Kubernetes objects of the plan rendered exactly as the check renders them
   (`checkov_runner.kubernetes_objects` + `render_objects`), and checkov's own time on them,
   once per size, with the arguments and environment the check uses; and, for context, one run
   of the whole check with checkov (both scans).

Check and `opa eval` runs alternate, so load from other work on the machine hits both alike.
Writes `bench/results.json`, `bench/check-vs-opa.png`, the table of `bench/README.md`, and prints
as its last line `ratio=R slope=S resources=N seconds=T` (R = check / opa eval at the largest
size, S = log-log slope of check time from the smallest to the largest size, N = custom resources
of the largest plan, T = check seconds at that size).
"""

from __future__ import annotations

import argparse
import gc
import importlib
import json
import os
import re
import shutil
import statistics
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench.estate import SHAPES, Estate, EstateShape
from bench.measure import (
    CommandFailed,
    Sample,
    Series,
    load_average,
    machine_info,
    run_sampled,
    run_timed,
)
from bench.report import loglog_slope, results_table, update_readme, write_chart, write_results

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "bench"

TARGET_RATIO = 1.5
TARGET_SLOPE = 1.15
TARGET_SECONDS = 5.0
TARGET_MIN_RESOURCES = 10_000
TARGET_MEMORY_MIB = 1024.0

_SUMMARY = re.compile(
    r"burst check (?P<verdict>passed|FAILED): (?P<deny>\d+) deny, (?P<warn>\d+) warn, "
    r"(?P<unknown>\d+) unknown, (?P<waived>\d+) waived; (?P<resources>\d+) resources checked"
)


def _log(message: str) -> None:
    print(f"bench: {message}", file=sys.stderr, flush=True)


def _parse_shapes(text: str) -> tuple[EstateShape, ...]:
    shapes = []
    for part in text.split(","):
        regions, _, teams = part.strip().partition("x")
        try:
            shapes.append(EstateShape(int(regions), int(teams)))
        except ValueError as error:
            raise argparse.ArgumentTypeError(
                f"{part!r}: expected REGIONSxTEAMS ({error})"
            ) from None
    return tuple(shapes)


def build_parser() -> argparse.ArgumentParser:
    """Options of `python -m bench.run`."""
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=3, help="timed plan generations (>= 3)")
    parser.add_argument(
        "--check-runs",
        type=int,
        default=5,
        help="timed runs of the check and of opa eval (>= 3; cheap, so more than --runs)",
    )
    parser.add_argument(
        "--shapes",
        type=_parse_shapes,
        default=SHAPES,
        help="estates as REGIONSxTEAMS,... (default: "
        + ",".join(f"{s.regions}x{s.teams}" for s in SHAPES)
        + ")",
    )
    parser.add_argument("--skip-checkov", action="store_true", help="do not time checkov")
    parser.add_argument(
        "--checkov-all-sizes",
        action="store_true",
        help="time checkov at every size (default: the largest only)",
    )
    parser.add_argument("--out-dir", type=Path, default=BENCH / "out", help="plans and inputs")
    parser.add_argument(
        "--results", type=Path, default=BENCH / "results.json", help="results document"
    )
    parser.add_argument(
        "--no-readme", action="store_true", help="do not update bench/README.md and the chart"
    )
    return parser


# ---------------------------------------------------------------------------------------------
# Plan
# ---------------------------------------------------------------------------------------------


def warm_up() -> float:
    """Import what planning needs and plan a 1x1 estate once, untimed by the medians.

    pulumi-aws and pulumi-kubernetes load resource modules lazily on first use, so the first
    plan of a process pays seconds of imports; every timed generation runs after this one.
    Returns the seconds it took.
    """
    from bench.estate import plan

    start = time.perf_counter()
    plan(EstateShape(1, 1))
    importlib.import_module("burst_platform.check.normalise")
    gc.collect()
    return time.perf_counter() - start


def time_generation(shape: EstateShape, runs: int, out_dir: Path) -> tuple[Estate, Series]:
    """Generate and write the estate `runs` times; every run must give the same plan."""
    from bench.estate import plan, write_estate

    series = Series()
    estate: Estate | None = None
    for run in range(runs):
        gc.collect()
        cpu0, start = time.process_time(), time.perf_counter()
        registrations, document = plan(shape)
        current = write_estate(shape, registrations, document, out_dir)
        wall, cpu = time.perf_counter() - start, time.process_time() - cpu0
        del registrations, document
        if estate is not None and (current.steps, current.resources) != (
            estate.steps,
            estate.resources,
        ):
            raise RuntimeError(f"{shape.label}: generation is not deterministic")
        estate = current
        series.samples.append(Sample(wall, cpu, 0))
        _log(f"{shape.label}: plan run {run + 1}: {wall:.2f}s ({current.resources} resources)")
    assert estate is not None  # noqa: S101 - runs >= 1
    gc.collect()
    return estate, series


def write_opa_inputs(estate: Estate, out_dir: Path) -> tuple[Path, Path, dict[str, Any]]:
    """Normalise the plan with the engine (`bench.prepare`, in a fresh process).

    Writes the OPA input and the guardrails as JSON; returns their paths and the preparation
    timings and resource count that `bench.prepare` reports.
    """
    import subprocess

    label = estate.shape.label
    input_path = out_dir / f"{label}-input.json"
    data_path = out_dir / f"{label}-guardrails.json"
    command = [sys.executable, "-m", "bench.prepare", str(estate.plan_path),
               str(estate.guardrails_path), str(input_path), str(data_path)]  # fmt: skip
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"{label}: bench.prepare failed: {result.stderr.strip()[-2000:]}")
    prepared: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    return input_path, data_path, prepared


# ---------------------------------------------------------------------------------------------
# Check and OPA
# ---------------------------------------------------------------------------------------------


def burst_command() -> list[str]:
    """The `burst` CLI of this interpreter's environment."""
    script = Path(sys.executable).parent / "burst"
    if script.is_file() and os.access(script, os.X_OK):
        return [str(script)]
    return [sys.executable, "-m", "burst_platform.cli"]


def check_command(estate: Estate) -> list[str]:
    """`burst check` of the estate's plan against its guardrails, without checkov."""
    return [
        *burst_command(),
        "check",
        "--preview",
        str(estate.plan_path),
        "--skip-checkov",
        "--guardrails",
        str(estate.guardrails_path),
        "--root",
        str(ROOT),
    ]


def opa_command(opa: Path, input_path: Path, data_path: Path, *extra: str) -> list[str]:
    """`opa eval` of the engine's policy pack and guardrails over `input_path`."""
    from burst_platform.check.engine import REPORT_PACKAGE, REPORT_RULE, load_policy_pack
    from burst_platform.check.guardrails import GUARDRAILS_DATA_PATH

    pack = load_policy_pack(ROOT / "policies")
    modules = [arg for m in pack.modules for arg in ("-d", str(m.path.resolve()))]
    prefix = GUARDRAILS_DATA_PATH.replace("/", ".")
    return [
        str(opa),
        "eval",
        *modules,
        "-d",
        f"{prefix}:{data_path.resolve()}",
        "-i",
        str(input_path.resolve()),
        f"data.{REPORT_PACKAGE}.{REPORT_RULE}",
        "--format",
        "json",
        *extra,
    ]


def parse_check_summary(path: Path) -> dict[str, Any]:
    """The counts of the check's summary line (text report on stdout)."""
    matches = list(_SUMMARY.finditer(path.read_text(errors="replace")))
    if not matches:
        return {}
    match = matches[-1]
    return {k: (v if k == "verdict" else int(v)) for k, v in match.groupdict().items()}


def opa_report(path: Path) -> dict[str, Any]:
    """The `data.burst.main.report` value of an `opa eval --format json` output."""
    document = json.loads(path.read_text())
    value: dict[str, Any] = document["result"][0]["expressions"][0]["value"]
    return value


def require_summary(stdout: Path, stderr: Path, expected_resources: int) -> dict[str, Any]:
    """The summary of a finished check; CommandFailed if it did not check the whole plan.

    Exit code 1 is accepted by the timed runs (a deny still measures the check), but a crash
    also exits 1: only a summary line counting every resource proves the check was made.
    """
    summary = parse_check_summary(stdout)
    if not summary:
        tail = stderr.read_text(errors="replace").strip().splitlines()[-5:]
        raise CommandFailed("burst check printed no summary: " + " | ".join(tail))
    if summary["resources"] != expected_resources:
        raise CommandFailed(
            f"burst check checked {summary['resources']} resources, "
            f"{expected_resources} were normalised"
        )
    return summary


def time_check_and_opa(
    estate: Estate,
    opa: Path,
    input_path: Path,
    data_path: Path,
    runs: int,
    out_dir: Path,
    expected_resources: int,
) -> dict[str, Any]:
    """Memory run of the check, then `runs` alternating timed runs of the check and `opa eval`."""
    label = estate.shape.label
    check = check_command(estate)
    floor = opa_command(opa, input_path, data_path)
    logs = {
        name: (out_dir / f"{label}-{name}.out", out_dir / f"{label}-{name}.err")
        for name in ("check", "opa")
    }
    # Exit code 1 (a deny) still measures the check; 2 means it could not be made.
    memory = run_sampled(
        check, cwd=ROOT, stdout=logs["check"][0], stderr=logs["check"][1], ok_codes=(0, 1)
    )
    require_summary(*logs["check"], expected_resources)
    run_timed(floor, cwd=ROOT, stdout=logs["opa"][0], stderr=logs["opa"][1])  # warm-up
    check_series, opa_series = Series(), Series()
    for run in range(runs):
        check_series.samples.append(
            run_timed(
                check, cwd=ROOT, stdout=logs["check"][0], stderr=logs["check"][1], ok_codes=(0, 1)
            )
        )
        require_summary(*logs["check"], expected_resources)
        opa_series.samples.append(
            run_timed(floor, cwd=ROOT, stdout=logs["opa"][0], stderr=logs["opa"][1])
        )
        _log(
            f"{label}: run {run + 1}: check {check_series.samples[-1].wall_s:.2f}s, "
            f"opa eval {opa_series.samples[-1].wall_s:.2f}s"
        )
    summary = require_summary(*logs["check"], expected_resources)
    report = opa_report(logs["opa"][0])
    metrics_out = out_dir / f"{label}-opa-metrics.json"
    run_timed([*floor, "--metrics"], cwd=ROOT, stdout=metrics_out, stderr=logs["opa"][1])
    metrics = json.loads(metrics_out.read_text()).get("metrics", {})
    return {
        "check": check_series.to_json(),
        "check_memory": memory.to_json(),
        "opa_eval": opa_series.to_json(),
        "check_summary": summary,
        "opa_report": {
            "resources": report.get("resources"),
            "findings": len(report.get("findings", [])),
            "packages": report.get("packages"),
        },
        "opa_metrics_s": {
            key.removeprefix("timer_rego_").removesuffix("_ns"): round(value / 1e9, 4)
            for key, value in metrics.items()
            if key.startswith("timer_rego_")
        },
    }


def time_startup() -> float:
    """Wall seconds of `burst check --help`: interpreter start, imports and argument parsing."""
    import subprocess

    samples = []
    for _ in range(3):
        start = time.perf_counter()
        subprocess.run(
            [*burst_command(), "check", "--help"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            check=True,
        )
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def check_phases(entry: dict[str, Any], prepared: dict[str, Any]) -> dict[str, float]:
    """Where the check's wall time goes: the OPA floor plus the Python work, and what is left.

    `python_start_and_imports_s` is `burst check --help`; reading, normalising and encoding are
    timed by `bench.prepare` with the engine's functions; `opa_eval_floor_s` is the median of
    `opa eval` (its own query evaluation: `opa_query_eval_s`). `unexplained_s` is the rest of
    the check's median: OPA server start, readiness polling and stop, the OPA client import,
    HTTP, reading the policy inventory and rendering the report (minus the pack compile, which
    overlaps the reading).
    """
    phases = {
        "python_start_and_imports_s": time_startup(),
        "read_plan_json_s": prepared["read_plan_json_s"],
        "normalise_s": prepared["normalise_s"],
        "encode_request_s": prepared["encode_request_s"],
        "opa_eval_floor_s": entry["opa_eval"]["median_wall_s"],
    }
    phases["unexplained_s"] = entry["check"]["median_wall_s"] - sum(phases.values())
    phases["opa_query_eval_s"] = entry["opa_metrics_s"].get("query_eval", 0.0)
    return {name: round(value, 3) for name, value in phases.items()}


# ---------------------------------------------------------------------------------------------
# checkov
# ---------------------------------------------------------------------------------------------


def time_checkov(input_path: Path, out_dir: Path, label: str) -> dict[str, Any]:
    """Render the plan's Kubernetes objects as the check does, and time checkov alone on them."""
    from burst_platform.check.checkov_runner import kubernetes_objects, render_objects
    from burst_platform.tools import find_checkov

    checkov = find_checkov(ROOT)
    resources = json.loads(input_path.read_text())["resources"]
    objects = kubernetes_objects(resources)
    manifests = out_dir / f"{label}-manifests"
    shutil.rmtree(manifests, ignore_errors=True)
    manifests.mkdir(parents=True)
    start = time.perf_counter()
    render_objects(objects, manifests)
    render_s = time.perf_counter() - start
    # The same arguments and environment as checkov_runner._start uses for the Kubernetes scan.
    command = [str(checkov), "-d", ".", "--framework", "kubernetes",
               "--skip-download", "-o", "json", "--quiet"]  # fmt: skip
    env = dict(os.environ, BC_SKIP_MAPPING="TRUE", LOG_LEVEL="ERROR")
    out, err = out_dir / f"{label}-checkov.json", out_dir / f"{label}-checkov.err"
    sample = run_timed(command, cwd=manifests, stdout=out, stderr=err, env=env, ok_codes=(0, 1))
    try:
        reports = json.loads(out.read_text() or "{}")
    except json.JSONDecodeError:
        reports = {}
    reports = reports if isinstance(reports, list) else [reports]
    scanned = sum(int(r.get("resource_count", 0) or 0) for r in reports if isinstance(r, dict))
    failed = sum(
        int((r.get("summary") or r).get("failed", 0) or 0) for r in reports if isinstance(r, dict)
    )
    _log(f"{label}: checkov {sample.wall_s:.2f}s on {len(objects)} objects")
    return {
        "objects": len(objects),
        "render_s": round(render_s, 4),
        "wall_s": round(sample.wall_s, 4),
        "cpu_s": round(sample.cpu_s, 4),
        "returncode": sample.returncode,
        "resources_scanned": scanned,
        "failed_checks": failed,
    }


def time_full_check(estate: Estate, out_dir: Path) -> float:
    """Wall seconds of one `burst check` with checkov (both scans), for context."""
    command = [arg for arg in check_command(estate) if arg != "--skip-checkov"]
    label = estate.shape.label
    sample = run_timed(
        command,
        cwd=ROOT,
        stdout=out_dir / f"{label}-full-check.out",
        stderr=out_dir / f"{label}-full-check.err",
        ok_codes=(0, 1),
    )
    summary = parse_check_summary(out_dir / f"{label}-full-check.out")
    if not summary:
        raise CommandFailed(f"{label}: burst check with checkov printed no summary")
    _log(f"{label}: full check with checkov {sample.wall_s:.2f}s")
    return round(sample.wall_s, 3)


# ---------------------------------------------------------------------------------------------
# Main
# ---------------------------------------------------------------------------------------------


def _target(value: float, op: str, limit: float, digits: int = 2) -> dict[str, Any]:
    met = value <= limit if op == "<=" else value >= limit
    return {"value": round(value, digits), "op": op, "limit": limit, "met": met}


def summarise(sizes: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Ratio, slope, size and time at the largest size, the targets, and the last line."""
    small, large = sizes[0], sizes[-1]
    check_large = large["check"]["median_wall_s"]
    ratio = check_large / large["opa_eval"]["median_wall_s"]
    slope = (
        loglog_slope(
            small["resources"],
            small["check"]["median_wall_s"],
            large["resources"],
            check_large,
        )
        if len(sizes) > 1
        else float("nan")
    )
    opa_slope = (
        loglog_slope(
            small["resources"],
            small["opa_eval"]["median_wall_s"],
            large["resources"],
            large["opa_eval"]["median_wall_s"],
        )
        if len(sizes) > 1
        else float("nan")
    )
    memory = max(s["check_memory"]["tree_peak_mib"] for s in sizes)
    n = large["resources"]
    last = f"ratio={ratio:.2f} slope={slope:.2f} resources={n} seconds={check_large:.2f}"
    return {
        "ratio": round(ratio, 3),
        "slope": round(slope, 3),
        "opa_eval_slope": round(opa_slope, 3),
        "resources": n,
        "seconds": round(check_large, 3),
        "peak_memory_mib": round(memory, 1),
        "targets": {
            "ratio": _target(ratio, "<=", TARGET_RATIO, 3),
            "slope": _target(slope, "<=", TARGET_SLOPE, 3),
            "seconds": _target(check_large, "<=", TARGET_SECONDS),
            "resources": _target(n, ">=", TARGET_MIN_RESOURCES, 0),
            "peak memory MiB": _target(memory, "<=", TARGET_MEMORY_MIB, 0),
        },
        "last_line": last,
    }


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark; prints the summary line last. Returns 0, or 2 if a command failed."""
    args = build_parser().parse_args(argv)
    if min(args.runs, args.check_runs) < 3:
        _log("--runs and --check-runs must be at least 3 (medians of at least 3 runs)")
        return 2
    started = time.perf_counter()
    out_dir: Path = args.out_dir
    out_dir.mkdir(parents=True, exist_ok=True)

    from burst_platform.tools import find_opa

    opa = find_opa(ROOT)
    checkov = None
    if not args.skip_checkov:
        from burst_platform.tools import find_checkov

        checkov = find_checkov(ROOT)
    machine = machine_info(ROOT, opa, checkov)
    machine["load_average_start"] = load_average()
    imports_s = warm_up()
    _log(
        f"imports and warm-up plan {imports_s:.2f}s; "
        f"machine: {machine['cpu_model']}, {machine['cores']} cores"
    )

    sizes: list[dict[str, Any]] = []
    try:
        for index, shape in enumerate(args.shapes):
            estate, plan_series = time_generation(shape, args.runs, out_dir)
            input_path, data_path, prepared = write_opa_inputs(estate, out_dir)
            count = prepared["resources"]
            timings = time_check_and_opa(
                estate, opa, input_path, data_path, args.check_runs, out_dir, count
            )
            if timings["opa_report"]["resources"] != count:
                raise RuntimeError(
                    f"{shape.label}: opa eval saw {timings['opa_report']['resources']} "
                    f"resources, {count} were normalised"
                )
            largest = index == len(args.shapes) - 1
            entry: dict[str, Any] = {
                "label": shape.label,
                "regions": shape.regions,
                "teams": shape.teams,
                "resources": estate.resources,
                "steps": estate.steps,
                "normalised_resources": count,
                "plan_bytes": estate.plan_path.stat().st_size,
                "input_bytes": input_path.stat().st_size,
                "prepare": prepared,
                "plan": plan_series.to_json(),
                **timings,
            }
            entry["ratio"] = round(
                entry["check"]["median_wall_s"] / entry["opa_eval"]["median_wall_s"], 3
            )
            if largest:
                entry["check_phases"] = check_phases(entry, prepared)
            if checkov is not None and (largest or args.checkov_all_sizes):
                entry["checkov"] = time_checkov(input_path, out_dir, shape.label)
                entry["checkov"]["full_check_wall_s"] = time_full_check(estate, out_dir)
            sizes.append(entry)
            _log(
                f"{shape.label}: {estate.resources} resources; plan "
                f"{entry['plan']['median_wall_s']:.2f}s, check "
                f"{entry['check']['median_wall_s']:.2f}s, opa eval "
                f"{entry['opa_eval']['median_wall_s']:.2f}s, ratio {entry['ratio']:.2f}"
            )
    except (CommandFailed, RuntimeError) as error:
        _log(f"failed: {error}")
        return 2

    machine["load_average_end"] = load_average()
    summary = summarise(sizes)
    results = {
        "schema": 1,
        "machine": machine,
        "settings": {
            "runs": args.runs,
            "check_runs": args.check_runs,
            "resources_counted": "custom resources (steps also count components and the stack)",
            "check_command": "burst check --preview <label>-preview.json --skip-checkov "
            "--guardrails <label>-guardrails.yaml --root <repository>",
            "opa_eval_command": "opa eval -d <each module of the pack> "
            "-d burst.guardrails:<label>-guardrails.json -i <label>-input.json "
            "data.burst.main.report --format json",
            "checkov_command": "checkov -d <label>-manifests --framework kubernetes "
            "--skip-download -o json --quiet (BC_SKIP_MAPPING=TRUE, LOG_LEVEL=ERROR)",
        },
        "imports_and_warm_up_s": round(imports_s, 3),
        "total_s": round(time.perf_counter() - started, 1),
        "sizes": sizes,
        "summary": summary,
    }
    write_results(results, args.results)
    if not args.no_readme:
        write_chart(sizes, BENCH / "check-vs-opa.png")
        update_readme(BENCH / "README.md", results_table(results))
    _log(f"done in {results['total_s']:.0f}s; results in {args.results}")
    print(summary["last_line"], flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
