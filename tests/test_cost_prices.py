"""The pinned price table against a source this project did not write: Karpenter's generated
On-Demand price table (`zz_generated.pricing_aws.go` of the pinned karpenter-provider-aws,
generated from the AWS price list API), which `make setup` fetches from the Go module proxy."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from burst_platform.cost.prices import load_prices

ROOT = Path(__file__).resolve().parent.parent
KARPENTER_PRICING = ROOT / ".tools" / "crds" / "karpenter-pricing.go"


def karpenter_on_demand() -> tuple[str, dict[str, dict[str, float]]]:
    """The generation stamp and `{region: {instance type: USD per hour}}` of Karpenter's table."""
    assert KARPENTER_PRICING.is_file(), "Karpenter's price table is missing: run `make setup`"
    text = KARPENTER_PRICING.read_text()
    (stamp,) = re.findall(r"^// generated at (\S+)", text, re.MULTILINE)
    regions: dict[str, dict[str, float]] = {}
    for block in re.finditer(r'^\t"([a-z]+-[a-z]+-\d)": \{(.*?)^\t\}', text, re.M | re.S):
        regions[block.group(1)] = {
            m.group(1): float(m.group(2))
            for m in re.finditer(r'"([a-z0-9-]+\.[a-z0-9-]+)": ([0-9.]+)', block.group(2))
        }
    return stamp, regions


def test_on_demand_prices_match_karpenters_table() -> None:
    stamp, upstream = karpenter_on_demand()
    assert upstream, "no region parsed from Karpenter's table"
    table = load_prices()
    compared = 0
    for region, prices in upstream.items():
        for instance_type, ours in table.regions.get(region, {}).items():
            assert instance_type in prices, f"{region} {instance_type}: not in Karpenter's table"
            assert ours.on_demand_usd_per_hour == pytest.approx(
                prices[instance_type], abs=0.0006
            ), f"{region} {instance_type} (Karpenter's table generated at {stamp})"
            compared += 1
    assert compared >= 5, "too few prices compared to mean anything"
