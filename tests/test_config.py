"""Stack config loader: every bad input is one line naming the key; good input round-trips."""

from __future__ import annotations

import copy
import json
import math
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

from burst_platform.errors import BurstError
from burst_platform.infra.config import (
    KNOWN_KEYS,
    PROJECT,
    StackSettings,
    parse_stack_config,
    read_pulumi_config,
    read_stack_file,
    to_pulumi_config,
)
from scripts.readme_tables import with_tables
from tests.conftest import ROOT

PROD = read_stack_file(ROOT / "Pulumi.prod.yaml")


def problems(raw: dict[str, Any]) -> list[str]:
    with pytest.raises(BurstError) as error:
        parse_stack_config(raw)
    return error.value.problems


def mutated(**changes: Any) -> dict[str, Any]:
    raw = copy.deepcopy(PROD)
    for key, value in changes.items():
        if value is None:
            raw.pop(key, None)
        else:
            raw[key] = value
    return raw


def test_example_stacks_are_valid() -> None:
    prod = parse_stack_config(PROD)
    assert prod.regions == ("eu-west-1", "us-east-1")
    assert [t.name for t in prod.teams] == ["quant", "ml", "research"]
    assert prod.data_classes["restricted"].regions == ("eu-west-1",)
    dev = parse_stack_config(read_stack_file(ROOT / "Pulumi.dev.yaml"))
    assert len(dev.regions) == 1 and len(dev.teams) == 2


def test_missing_regions() -> None:
    assert problems(mutated(regions=None)) == [f"{PROJECT}:regions: required"]
    assert problems(mutated(regions=[])) == [f"{PROJECT}:regions: must list at least one region"]


def test_unknown_team_in_a_data_class() -> None:
    classes = copy.deepcopy(PROD["dataClasses"])
    classes["restricted"]["datasets"][0]["team"] = "hft"
    (line,) = problems(mutated(dataClasses=classes))
    assert line.startswith(f"{PROJECT}:dataClasses.restricted.datasets[0].team: unknown team 'hft'")


@pytest.mark.parametrize(
    ("value", "fragment"), [(-4, "must be at least 0"), ("lots", "must be a whole number")]
)
def test_negative_or_non_numeric_quota(value: Any, fragment: str) -> None:
    teams = copy.deepcopy(PROD["teams"])
    teams[1]["gpuQuota"] = value
    lines = problems(mutated(teams=teams))
    assert any(line.startswith(f"{PROJECT}:teams[1].gpuQuota: {fragment}") for line in lines)


def test_empty_gpu_family_list() -> None:
    lines = problems(mutated(gpu={"instanceFamilies": []}))
    assert lines == [f"{PROJECT}:gpu.instanceFamilies: must list at least one GPU instance family"]


def test_duplicate_team() -> None:
    teams = copy.deepcopy(PROD["teams"])
    teams.append(dict(teams[0]))
    assert problems(mutated(teams=teams)) == [f"{PROJECT}:teams[3].name: duplicate team 'quant'"]


def test_region_outside_the_allowed_list() -> None:
    lines = problems(mutated(regions=["eu-west-1", "ap-south-1"]))
    assert any(
        line.startswith(f"{PROJECT}:regions[1]: ap-south-1 is outside allowedRegions")
        for line in lines
    )


def test_several_problems_are_all_reported() -> None:
    teams = copy.deepcopy(PROD["teams"])
    teams[0]["monthlyBudgetUsd"] = 0
    lines = problems(
        mutated(regions=None, teams=teams, accountId="42", gpu={"instanceFamilies": []})
    )
    keys = {line.split(": ", 1)[0] for line in lines}
    assert keys == {
        f"{PROJECT}:regions",
        f"{PROJECT}:teams[0].monthlyBudgetUsd",
        f"{PROJECT}:accountId",
        f"{PROJECT}:gpu.instanceFamilies",
    }


def test_typo_in_a_key_is_reported() -> None:
    assert problems(mutated(region=["eu-west-1"]))[0].startswith(f"{PROJECT}:region: unknown key")


def test_pulumi_config_round_trip() -> None:
    encoded = to_pulumi_config(PROD)
    assert all(isinstance(v, str) for v in encoded.values())
    decoded = read_pulumi_config(lambda key: encoded.get(f"{PROJECT}:{key}"))
    assert parse_stack_config(decoded) == parse_stack_config(PROD)


def test_stack_file_errors_name_the_file(tmp_path: Path) -> None:
    broken = tmp_path / "Pulumi.broken.yaml"
    broken.write_text("config: [unclosed\n")
    with pytest.raises(BurstError) as error:
        read_stack_file(broken)
    assert error.value.problems[0].startswith(str(broken))
    with pytest.raises(BurstError):
        read_stack_file(tmp_path / "missing.yaml")


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(10**6), 10**6)
    | st.floats(allow_nan=False)
    | st.text(max_size=12),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)
config_keys = st.sampled_from(sorted(PROD))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(key=config_keys, value=json_values)
def test_any_value_either_parses_or_fails_with_key_named_lines(key: str, value: Any) -> None:
    """Replacing any key with arbitrary JSON never crashes the loader."""
    raw = mutated()
    raw[key] = value
    try:
        parse_stack_config(raw)
    except BurstError as error:
        assert error.problems
        assert all(line.startswith(f"{PROJECT}:") and "\n" not in line for line in error.problems)


@settings(max_examples=200, deadline=None)
@given(
    teams=st.lists(
        st.fixed_dictionaries(
            {
                "name": st.sampled_from(["quant", "ml", "research", "risk"]),
                "gpuQuota": st.integers(-3, 64) | st.text(max_size=3),
                "gpuBorrowingLimit": st.integers(-3, 16),
                "monthlyBudgetUsd": st.integers(-10, 50000) | st.floats(),
                "budgetEmails": st.lists(st.sampled_from(["a@example.com", "b@example.org"])),
            }
        ),
        max_size=5,
    )
)
def test_team_lists(teams: list[dict[str, Any]]) -> None:
    """Valid team lists load with their values; invalid ones name the offending team entry."""
    names = [t["name"] for t in teams]
    raw = mutated(teams=teams, dataClasses={"internal": {"regions": ["*"]}})
    expected_valid = (
        bool(teams)
        and len(set(names)) == len(names)
        and all(isinstance(t["gpuQuota"], int) and t["gpuQuota"] >= 0 for t in teams)
        and all(t["gpuBorrowingLimit"] >= 0 and t["monthlyBudgetUsd"] > 0 for t in teams)
        and all(math.isfinite(t["monthlyBudgetUsd"]) and t["budgetEmails"] for t in teams)
    )
    try:
        config = parse_stack_config(raw)
    except BurstError as error:
        assert not expected_valid, error.problems
        assert all(line.startswith(f"{PROJECT}:teams") for line in error.problems)
    else:
        assert expected_valid
        assert [t.gpu_quota for t in config.teams] == [t["gpuQuota"] for t in teams]


def test_yaml_and_json_agree() -> None:
    text = (ROOT / "Pulumi.prod.yaml").read_text()
    assert yaml.safe_load(json.dumps(yaml.safe_load(text))) == yaml.safe_load(text)


@pytest.mark.parametrize(
    ("changes", "key", "fragment"),
    [
        (
            {"cluster": {"adminRoleArns": ["arn:aws:iam::999999999999:role/admin"]}},
            "cluster.adminRoleArns[0]",
            "not of accountId",
        ),
        ({"gpu": {"instanceFamilies": ["g5", "t3"]}}, "gpu.instanceFamilies[1]", "not an NVIDIA"),
        ({"gpu": {"amiAlias": "al2023@v20251001"}}, "gpu.amiAlias", "Bottlerocket release"),
        ({"cluster": {"mode": "adopt"}}, "cluster.mode", "must be 'create' or 'attach'"),
        ({"alerts": {"emails": []}}, "alerts.emails", "at least one address"),
        ({"alerts": {}}, "alerts.emails", "required"),
        ({"gpu": {"amiAlias": "bottlerocket@latest"}}, "gpu.amiAlias", "Bottlerocket release"),
        (
            {"network": {"cidrs": {"eu-west-1": "52.0.0.0/16"}}},
            "network.cidrs.eu-west-1",
            "private",
        ),
        (
            {"budgets": {"anomalyThresholdUsd": float("nan")}},
            "budgets.anomalyThresholdUsd",
            "number",
        ),
        ({"budgets": {"circuitBraker": True}}, "budgets.circuitBraker", "did you mean"),
        ({"budgets": {"circuitBraker": None}}, "budgets.circuitBraker", "did you mean"),
        (
            {"network": {"onPrem": {"eu-west-1": {"customerGatewayIp": 1, "cidrs": []}}}},
            "network.onPrem.eu-west-1.customerGatewayIp",
            "must be a string, got int",
        ),
        (
            {
                "dataClasses": {
                    "internal": {"regions": ["*"], "datasets": [{"name": "x", "team": ""}]}
                }
            },
            "dataClasses.internal.datasets[0].team",
            "unknown team ''",
        ),
    ],
)
def test_values_a_reviewer_would_refuse(changes: dict[str, Any], key: str, fragment: str) -> None:
    lines = problems(mutated(**changes))
    assert any(line.startswith(f"{PROJECT}:{key}: ") and fragment in line for line in lines), lines


@pytest.mark.parametrize("emails", [[], None])
def test_a_budget_needs_someone_to_alert(emails: list[str] | None) -> None:
    teams = copy.deepcopy(PROD["teams"])
    teams[0]["budgetEmails"] = emails
    if emails is None:
        del teams[0]["budgetEmails"]
    lines = problems(mutated(teams=teams))
    assert any(line.startswith(f"{PROJECT}:teams[0].budgetEmails: ") for line in lines), lines


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        # pydantic counts only the valid items of a list: no "must list at least one" on top
        (
            {"alerts": {"emails": ["oncall"]}},
            ["alerts.emails[0]: 'oncall' is not an email address"],
        ),
        # an invalid quota is not read as 0, so no "onDemandGpus: 2 exceeds gpuQuota 0" follows
        (
            {"teams": [{**PROD["teams"][0], "gpuQuota": True}, *PROD["teams"][1:]]},
            ["teams[0].gpuQuota: must be a whole number, got True"],
        ),
        # an invalid region is not compared with allowedRegions, data classes or network keys
        ({"regions": ["eu-west-1", "EU"]}, ["regions[1]: 'EU' is not an AWS region"]),
        (
            {"budgets": {"anomalyThresholdUsd": 0}},
            ["budgets.anomalyThresholdUsd: must be above 0, got 0"],
        ),
        ({"cpu": {"instanceFamilies": ["g5"]}}, ["cpu.instanceFamilies[0]: 'g5' is a GPU family"]),
        (
            {"network": {"cidrs": {"eu-west-1": "52.0.0.0/24", "us-east-1": "10.65.0.0/16"}}},
            [
                "network.cidrs.eu-west-1: must be a /20 or larger",
                "network.cidrs.eu-west-1: 52.0.0.0/24 is not private address space"
                " (RFC 1918, or RFC 6598 100.64.0.0/10)",
            ],
        ),
    ],
)
def test_one_line_per_problem_and_none_for_its_consequences(
    changes: dict[str, Any], expected: list[str]
) -> None:
    assert problems(mutated(**changes)) == [f"{PROJECT}:{line}" for line in expected]


def test_a_null_value_is_an_absent_key() -> None:
    network = {**PROD["network"], "onPrem": {**PROD["network"]["onPrem"], "us-east-1": None}}
    config = parse_stack_config(mutated(cluster={"name": None}, gpu=None, network=network))
    assert config.cluster_name == "burst-prod"
    assert config.gpu_families == ("g5", "g6", "g6e", "p4d", "p5")
    assert list(config.on_prem) == ["eu-west-1"]


def test_rules_between_sections_still_run_when_a_section_is_invalid() -> None:
    """The cross-section rules read the sections that are valid, so one run reports both."""
    lines = problems(mutated(accountId=42, regions=["eu-west-1", "ap-south-1"]))
    assert lines[0] == f"{PROJECT}:accountId: must be a string, got int"
    assert lines[1].startswith(f"{PROJECT}:regions[1]: ap-south-1 is outside allowedRegions")


def _models(model: type[BaseModel]) -> list[type[BaseModel]]:
    found = [model]
    for field in model.model_fields.values():
        for inner in (field.annotation, *getattr(field.annotation, "__args__", ())):
            if isinstance(inner, type) and issubclass(inner, BaseModel) and inner not in found:
                found += [m for m in _models(inner) if m not in found]
    return found


def test_every_config_key_has_a_description() -> None:
    models = _models(StackSettings)
    assert len(models) == 12  # the root, its ten sections and teams, datasets, links
    missing = [
        f"{model.__name__}.{name}"
        for model in models
        for name, field in model.model_fields.items()
        if not field.description
    ]
    assert missing == []


def test_the_readme_table_is_generated_from_the_model() -> None:
    readme = (ROOT / "README.md").read_text()
    assert with_tables(readme, ("config-table",)) == readme, "run `make readme-tables`"


def test_the_model_exports_a_json_schema_of_the_keys() -> None:
    schema = StackSettings.model_json_schema(by_alias=True)
    assert set(schema["properties"]) == KNOWN_KEYS
    assert schema["additionalProperties"] is False
    assert set(schema["required"]) == {
        "environment", "accountId", "regions", "teams", "dataClasses", "alerts"
    }  # fmt: skip
