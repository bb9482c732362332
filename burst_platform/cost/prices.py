"""The price table of `burst cost --stack`: per region and instance type, the On-Demand price, a
spot price, the GPUs per instance and the Spot Instance Advisor's interruption-frequency bucket.

The pinned table is `prices.yaml` beside this module: it is data of `burst cost` alone (the
Pulumi program and the components never read it), so it lives, is versioned and is installed
with the command that reads it. `--prices FILE` supplies another table of the same shape. A table
is read strictly (`burst.documents`) and validated completely before use: every problem is one
line naming the file and the field, e.g. `prices.yaml: regions.eu-west-1.g5.xlarge.gpus: ...`.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from burst_platform.cost.model import FREQUENCY_BUCKETS
from burst_platform.documents import is_finite_number, read_yaml, unknown_keys
from burst_platform.errors import BurstError

PINNED_PRICES = Path(__file__).with_name("prices.yaml")
"""The price table in the repository (a dated snapshot; see its header)."""

TOP_KEYS = ("source", "as_of", "currency", "regions")
ENTRY_KEYS = ("gpus", "on_demand_usd_per_hour", "spot_usd_per_hour", "interruption_frequency")
CURRENCY = "USD"

_REGION = re.compile(r"^[a-z]{2}(-gov)?-[a-z]+-\d$")
_INSTANCE_TYPE = re.compile(r"^(?P<family>[a-z][a-z0-9-]*)\.(?P<size>[a-z0-9-]+)$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


@dataclass(frozen=True)
class InstancePrice:
    """What one instance type costs in one region, and how often spot interrupts it."""

    instance_type: str
    gpus: int
    on_demand_usd_per_hour: float
    spot_usd_per_hour: float
    interruption_frequency: str
    """A Spot Instance Advisor bucket (`burst_platform.cost.model.FREQUENCY_BUCKETS`)."""

    @property
    def family(self) -> str:
        """The instance family: `g5` of `g5.xlarge`."""
        return self.instance_type.split(".", 1)[0]


@dataclass(frozen=True)
class PriceTable:
    """A validated price table and where it came from."""

    path: Path
    source: str
    as_of: str
    """The snapshot's date, YYYY-MM-DD."""
    regions: Mapping[str, Mapping[str, InstancePrice]]

    def in_region(self, region: str, families: tuple[str, ...]) -> list[InstancePrice]:
        """The priced instance types of `region` in `families`, in family order, then by GPUs."""
        entries = self.regions.get(region, {}).values()
        return sorted(
            (e for e in entries if e.family in families),
            key=lambda e: (families.index(e.family), e.gpus, e.instance_type),
        )


def load_prices(path: Path | None = None) -> PriceTable:
    """Read and validate a price table (default: the pinned one); BurstError on any problem."""
    path = PINNED_PRICES if path is None else path
    return parse_prices(read_yaml(path), path)


def parse_prices(document: Any, path: Path) -> PriceTable:
    """Validate a price table document read from `path`; one problem line per bad field."""
    name = str(path)
    if not isinstance(document, dict):
        raise BurstError(f"{name}: expected a mapping with {', '.join(TOP_KEYS)}")
    problems = unknown_keys(document, TOP_KEYS, name)
    problems += [f"{name}: {key}: required" for key in TOP_KEYS if key not in document]
    source = document.get("source")
    if "source" in document and (not isinstance(source, str) or not source.strip()):
        problems.append(f"{name}: source: must say where the figures come from")
    as_of = document.get("as_of")
    if isinstance(as_of, dt.date) and not isinstance(as_of, dt.datetime):
        as_of = as_of.isoformat()
    if "as_of" in document and (not isinstance(as_of, str) or not _DATE.fullmatch(as_of)):
        problems.append(f"{name}: as_of: must be the snapshot's date, YYYY-MM-DD, got {as_of!r}")
    if "currency" in document and document.get("currency") != CURRENCY:
        problems.append(f"{name}: currency: must be {CURRENCY}, got {document.get('currency')!r}")
    regions: dict[str, dict[str, InstancePrice]] = {}
    raw_regions = document.get("regions")
    if "regions" in document and (not isinstance(raw_regions, dict) or not raw_regions):
        problems.append(f"{name}: regions: must map regions to their instance types")
        raw_regions = {}
    for region, types in (raw_regions or {}).items():
        where = f"{name}: regions.{region}"
        if not isinstance(region, str) or not _REGION.fullmatch(region):
            problems.append(f"{where}: not an AWS region name")
            continue
        if not isinstance(types, dict) or not types:
            problems.append(f"{where}: must map instance types to their prices")
            continue
        regions[region] = {}
        for instance_type, entry in types.items():
            price = _entry(f"{where}.{instance_type}", instance_type, entry, problems)
            if price is not None:
                regions[region][instance_type] = price
    if problems:
        raise BurstError(problems)
    return PriceTable(
        path=path, source=" ".join(str(source).split()), as_of=str(as_of), regions=regions
    )


def _entry(
    where: str, instance_type: object, entry: object, problems: list[str]
) -> InstancePrice | None:
    if not isinstance(instance_type, str) or not _INSTANCE_TYPE.fullmatch(instance_type):
        problems.append(f"{where}: not an instance type such as g5.xlarge")
        return None
    if not isinstance(entry, dict):
        problems.append(f"{where}: must be a mapping with {', '.join(ENTRY_KEYS)}")
        return None
    before = len(problems)
    problems += unknown_keys(entry, ENTRY_KEYS, where)
    problems += [f"{where}.{key}: required" for key in ENTRY_KEYS if key not in entry]
    gpus = entry.get("gpus")
    if "gpus" in entry and (isinstance(gpus, bool) or not isinstance(gpus, int) or gpus < 1):
        problems.append(f"{where}.gpus: must be a whole number of at least 1, got {gpus!r}")
    for key in ("on_demand_usd_per_hour", "spot_usd_per_hour"):
        value = entry.get(key)
        if key in entry and not _positive(value):
            problems.append(f"{where}.{key}: must be a price above 0, got {value!r}")
    bucket = entry.get("interruption_frequency")
    known = isinstance(bucket, str) and bucket in FREQUENCY_BUCKETS
    if "interruption_frequency" in entry and not known:
        problems.append(
            f"{where}.interruption_frequency: unknown bucket {bucket!r} "
            f"(known: {', '.join(FREQUENCY_BUCKETS)})"
        )
    if len(problems) > before:
        return None
    return InstancePrice(
        instance_type=instance_type,
        gpus=int(entry["gpus"]),
        on_demand_usd_per_hour=float(entry["on_demand_usd_per_hour"]),
        spot_usd_per_hour=float(entry["spot_usd_per_hour"]),
        interruption_frequency=str(bucket),
    )


def _positive(value: object) -> bool:
    return is_finite_number(value) and isinstance(value, int | float) and value > 0
