"""Measuring tools of the benchmark: timed subprocesses, process-tree memory, machine facts."""

from __future__ import annotations

import datetime as dt
import os
import platform
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Sample:
    """One timed run of a command."""

    wall_s: float
    """Wall-clock seconds from start to exit."""
    cpu_s: float
    """User + system CPU seconds of the process and every descendant it waited for."""
    returncode: int

    def to_json(self) -> dict[str, Any]:
        """The sample as a JSON object (times rounded to the millisecond)."""
        return {
            "wall_s": round(self.wall_s, 4),
            "cpu_s": round(self.cpu_s, 4),
            "returncode": self.returncode,
        }


@dataclass
class Series:
    """Repeated samples of one measurement and their medians."""

    samples: list[Sample] = field(default_factory=list)

    @property
    def median_wall(self) -> float:
        """Median wall time in seconds."""
        return statistics.median(s.wall_s for s in self.samples)

    @property
    def median_cpu(self) -> float:
        """Median CPU time in seconds."""
        return statistics.median(s.cpu_s for s in self.samples)

    def to_json(self) -> dict[str, Any]:
        """Medians and every sample as a JSON object."""
        return {
            "median_wall_s": round(self.median_wall, 4),
            "median_cpu_s": round(self.median_cpu, 4),
            "min_wall_s": round(min(s.wall_s for s in self.samples), 4),
            "max_wall_s": round(max(s.wall_s for s in self.samples), 4),
            "samples": [s.to_json() for s in self.samples],
        }


class CommandFailed(RuntimeError):
    """A benchmarked command exited with an unexpected code."""


def run_timed(
    command: Sequence[str],
    *,
    cwd: Path,
    stdout: Path,
    stderr: Path,
    env: Mapping[str, str] | None = None,
    ok_codes: Sequence[int] = (0,),
) -> Sample:
    """Run `command` and measure its wall time and CPU time (via `os.wait4`).

    The rusage of `wait4` covers the child and every descendant it waited for (the OPA server
    of `burst check` included). Memory is measured by `run_sampled` instead. Raises
    CommandFailed (with the tail of stderr) if the exit code is not in `ok_codes`.
    """
    with stdout.open("wb") as out, stderr.open("wb") as err:
        start = time.perf_counter()
        process = subprocess.Popen(
            list(command),
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=err,
            env=dict(env) if env is not None else None,
        )
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - start
    process.returncode = code = os.waitstatus_to_exitcode(status)
    if code not in ok_codes:
        tail = stderr.read_text(errors="replace").strip().splitlines()[-10:]
        raise CommandFailed(f"{' '.join(command[:3])} ... exited {code}: " + " | ".join(tail))
    return Sample(
        wall_s=wall,
        cpu_s=usage.ru_utime + usage.ru_stime,
        returncode=code,
    )


def _parents() -> dict[int, int]:
    """Parent PID of every process (from `/proc/<pid>/stat`)."""
    parents: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as handle:
                stat = handle.read()
        except OSError:
            continue
        # The command name (field 2) may contain spaces and parentheses: split after the last ")".
        fields = stat.rsplit(")", 1)[-1].split()
        if len(fields) > 1:
            parents[int(entry)] = int(fields[1])
    return parents


def descendants(root: int) -> list[int]:
    """`root` and every process below it."""
    children: dict[int, list[int]] = {}
    for pid, parent in _parents().items():
        children.setdefault(parent, []).append(pid)
    found, pending = [], [root]
    while pending:
        pid = pending.pop()
        found.append(pid)
        pending.extend(children.get(pid, []))
    return found


def _status(pid: int) -> tuple[str, int, int]:
    """(command name, VmRSS bytes, VmHWM bytes) of `pid`; zeros once it is gone."""
    name, rss, hwm = "", 0, 0
    try:
        with open(f"/proc/{pid}/status") as handle:
            for line in handle:
                key, _, value = line.partition(":")
                if key == "Name":
                    name = value.strip()
                elif key == "VmRSS":
                    rss = int(value.split()[0]) * 1024
                elif key == "VmHWM":
                    hwm = int(value.split()[0]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return name, rss, hwm


def tree_rss_bytes(root: int) -> int:
    """Resident memory of `root` and all its descendants, summed (Linux `/proc`)."""
    return sum(_status(pid)[1] for pid in descendants(root))


@dataclass(frozen=True)
class MemoryRun:
    """Peak memory of one (untimed) run of a command, sampled from `/proc`."""

    tree_peak_mib: float
    """Largest sum of the resident sets of the whole process tree at one sample."""
    process_peak_mib: dict[str, float]
    """Peak resident set (VmHWM) of each process of the tree, by command name (largest if a name
    occurs more than once)."""
    interval_s: float
    returncode: int

    def to_json(self) -> dict[str, Any]:
        """The run as a JSON object."""
        return {
            "tree_peak_mib": round(self.tree_peak_mib, 1),
            "process_peak_mib": {k: round(v, 1) for k, v in self.process_peak_mib.items()},
            "interval_s": self.interval_s,
            "returncode": self.returncode,
        }


def run_sampled(
    command: Sequence[str],
    *,
    cwd: Path,
    stdout: Path,
    stderr: Path,
    interval_s: float = 0.02,
    ok_codes: Sequence[int] = (0,),
) -> MemoryRun:
    """Run `command` while sampling the memory of its process tree; return the peaks.

    Every `interval_s` the tree is found again from `/proc/*/stat` (children appear and go), its
    VmRSS values are summed, and every process's VmHWM (its own high-water mark) is kept. The
    rusage of `wait4` is not used for memory: a child forked from this (large) process inherits
    the parent's high-water mark in `ru_maxrss`. Sampling costs CPU, so this run is not timed.
    """
    tree_peak = 0
    per_process: dict[int, tuple[str, int]] = {}
    done = threading.Event()
    pid_box: list[int] = []

    def sample() -> None:
        nonlocal tree_peak
        while not done.is_set():
            if pid_box:
                total = 0
                for pid in descendants(pid_box[0]):
                    name, rss, hwm = _status(pid)
                    total += rss
                    if name and hwm >= per_process.get(pid, ("", 0))[1]:
                        per_process[pid] = (name, hwm)
                tree_peak = max(tree_peak, total)
            done.wait(interval_s)

    sampler = threading.Thread(target=sample, daemon=True)
    with stdout.open("wb") as out, stderr.open("wb") as err:
        process = subprocess.Popen(
            list(command), cwd=cwd, stdin=subprocess.DEVNULL, stdout=out, stderr=err
        )
        pid_box.append(process.pid)
        sampler.start()
        _, status, _ = os.wait4(process.pid, 0)
        done.set()
        sampler.join()
    process.returncode = code = os.waitstatus_to_exitcode(status)
    if code not in ok_codes:
        tail = stderr.read_text(errors="replace").strip().splitlines()[-10:]
        raise CommandFailed(f"{' '.join(command[:3])} ... exited {code}: " + " | ".join(tail))
    peaks: dict[str, float] = {}
    for name, hwm in per_process.values():
        peaks[name] = max(peaks.get(name, 0.0), hwm / 2**20)
    return MemoryRun(
        tree_peak_mib=tree_peak / 2**20,
        process_peak_mib=peaks,
        interval_s=interval_s,
        returncode=code,
    )


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _mem_total_gib() -> float:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 2**20, 1)
    except OSError:
        pass
    return 0.0


def _first_line(command: Sequence[str], cwd: Path) -> str:
    try:
        result = subprocess.run(
            list(command), cwd=cwd, capture_output=True, text=True, timeout=120, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    lines = (result.stdout or result.stderr).strip().splitlines()
    return lines[0].strip() if lines else "unknown"


def load_average() -> list[float]:
    """The 1, 5 and 15 minute load averages (other work on the machine skews timings)."""
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return []


def machine_info(root: Path, opa: Path, checkov: Path | None) -> dict[str, Any]:
    """CPU model, cores, RAM, OS, tool versions, date and git revision of the run."""
    from importlib.metadata import PackageNotFoundError, version

    def package(name: str) -> str:
        try:
            return version(name)
        except PackageNotFoundError:
            return "not installed"

    revision = _first_line(["git", "rev-parse", "--short", "HEAD"], root)
    status = subprocess.run(
        ["git", "status", "--porcelain"], cwd=root, capture_output=True, text=True, check=False
    )
    dirty = status.returncode == 0 and bool(status.stdout.strip())
    return {
        "cpu_model": _cpu_model(),
        "cores": os.cpu_count(),
        "ram_gib": _mem_total_gib(),
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "python_executable": sys.executable,
        "opa": _first_line([str(opa), "version"], root).removeprefix("Version: "),
        "checkov": _first_line([str(checkov), "--version"], root) if checkov else "not used",
        "pulumi": package("pulumi"),
        "pulumi_aws": package("pulumi-aws"),
        "pulumi_kubernetes": package("pulumi-kubernetes"),
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "git_revision": revision + (" + uncommitted changes" if dirty else ""),
    }
