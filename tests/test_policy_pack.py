"""The OPA policy pack: formatting, strict compilation, unit tests with coverage, fixtures, docs."""

from __future__ import annotations

import json
import random
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from burst_platform import policy_pack
from burst_platform.check.engine import load_policy_pack
from burst_platform.policy_pack import RuleInfo
from tests.conftest import opa_eval

pytestmark = pytest.mark.opa

ROOT = Path(__file__).resolve().parent.parent
POLICIES = ROOT / "policies"
OPA = ROOT / ".tools" / "bin" / "opa"
COVERAGE_THRESHOLD = 90.0

EXPECTED_RULES = {
    "locality.region_not_allowed",
    "locality.storage_unclassified",
    "locality.storage_region_not_allowed",
    "locality.replication_region_not_allowed",
    "quotas.nodepool_without_limits",
    "quotas.team_gpu_over_quota",
    "quotas.unknown_team",
    "quotas.team_without_budget",
    "quotas.budget_over_limit",
    "quotas.budget_missing_notifications",
    "taints.spot_without_taint",
    "taints.gpu_without_taint",
    "taints.spot_not_diversified",
    "taints.flavor_without_spot_taint",
    "taints.spot_workload_not_interruption_ready",
    "taints.spot_workload_without_queue",
    "taints.critical_on_spot",
    "taints.gpu_workload_off_team_pool",
    "taints.foreign_local_queue",
    "interruption.missing_path",
    "iam.session_too_long",
    "iam.trust_open",
    "iam.long_lived_credentials",
    "iam.wildcard_admin",
    "iam.missing_permissions_boundary",
    "iam.platform_role_without_boundary",
    "network.open_ingress",
    "network.public_subnet",
    "network.internet_egress",
    "network.public_ip_nodeclass",
    "main.input_not_normalised",
    "guards.bucket_public_access_not_blocked",
    "guards.bucket_not_kms_encrypted",
    "guards.bucket_allows_insecure_transport",
    "guards.bucket_unversioned",
    "guards.bucket_without_object_lock",
    "guards.kms_key_without_policy",
    "guards.dangling_dependency",
    "guards.budget_without_action",
    "guards.budget_alert_path_incomplete",
    "guards.alarm_alert_path_incomplete",
    "workloads.privileged_container",
    "workloads.host_namespaces",
    "workloads.host_path_volume",
    "workloads.runs_as_root",
    "workloads.capabilities_not_dropped",
    "workloads.privilege_escalation",
    "workloads.plaintext_credentials",
    "checkpoints.interval_far_from_optimal",
}


@pytest.fixture(scope="session")
def opa() -> Path:
    """The pinned OPA binary; its absence is a failure, not a skip."""
    if not (OPA.is_file() and OPA.stat().st_mode & 0o111):
        pytest.fail(f"OPA is not installed at {OPA}: run `make setup`")
    return OPA


def run(command: list[str]) -> subprocess.CompletedProcess[str]:
    """Run a command from the repository root, capturing its output."""
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)


@pytest.fixture(scope="session")
def rules(opa: Path) -> list[RuleInfo]:
    """The rule inventory read from the METADATA annotations."""
    return policy_pack.rule_inventory(opa, POLICIES)


def test_opa_fmt_clean(opa: Path) -> None:
    result = run([str(opa), "fmt", "--list", str(POLICIES)])
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "", f"run `opa fmt -w policies/`:\n{result.stdout}"


def test_opa_check_strict(opa: Path) -> None:
    result = run([str(opa), "check", "--strict", str(POLICIES)])
    assert result.returncode == 0, result.stdout + result.stderr


def test_opa_unit_tests_and_coverage(opa: Path) -> None:
    command = policy_pack.opa_test_command(opa, POLICIES)
    result = run([*command, "--coverage", "--format", "json"])
    failed = run([*command, "--format", "pretty"]) if result.returncode else None
    assert result.returncode == 0, failed.stdout + failed.stderr if failed else result.stderr
    report = json.loads(result.stdout)
    coverage = float(report["coverage"])
    uncovered = {
        file: [(r["start"]["row"], r["end"]["row"]) for r in data.get("not_covered", [])]
        for file, data in report["files"].items()
        if data.get("not_covered")
    }
    assert coverage > COVERAGE_THRESHOLD, f"coverage {coverage:.1f}%; not covered: {uncovered}"


def test_inventory_has_every_rule(rules: list[RuleInfo]) -> None:
    ids = {r.id for r in rules}
    assert ids == EXPECTED_RULES, (
        f"missing: {sorted(EXPECTED_RULES - ids)}, new: {sorted(ids - EXPECTED_RULES)}"
    )


def test_rule_ids_match_their_package(rules: list[RuleInfo]) -> None:
    for rule in rules:
        assert rule.package == f"burst.{rule.id.split('.')[0]}", rule
        assert rule.path == f"policies/{rule.id.split('.')[0]}/policy.rego", rule


def test_every_rule_set_has_package_metadata(opa: Path, rules: list[RuleInfo]) -> None:
    packages = {p.name: p for p in policy_pack.package_inventory(opa, POLICIES)}
    for name in {r.package for r in rules} | {"burst.main", "burst.lib"}:
        assert name in packages, f"{name} has no package-level METADATA"
        assert packages[name].title and packages[name].description, packages[name]


def test_require_fixtures(rules: list[RuleInfo]) -> None:
    """Every deny/warn rule has an allowed and a denied fixture."""
    missing = [
        str(rule.fixture(kind).relative_to(ROOT))
        for rule in rules
        if rule.severity in ("deny", "warn")
        for kind in ("allowed", "denied")
        if not rule.fixture(kind).is_file()
    ]
    assert not missing, f"missing fixtures: {missing}"


def test_no_orphan_fixtures(rules: list[RuleInfo]) -> None:
    expected = {rule.fixture(kind) for rule in rules for kind in ("allowed", "denied")}
    found = set(POLICIES.glob("*/fixtures/*/*.json"))
    assert found <= expected, f"fixtures without a rule: {sorted(map(str, found - expected))}"


@pytest.fixture(scope="session")
def fixture_reports(opa: Path, rules: list[RuleInfo]) -> dict[str, Any]:
    """The report of every fixture, from one `opa eval` (`with input as` per fixture)."""
    documents = {
        str(path.relative_to(ROOT)): json.loads(path.read_text())
        for path in sorted(POLICIES.glob("*/fixtures/*/*.json"))
    }
    query = (
        "{name: report | some name, doc in input;"
        " report := data.burst.main.report with input as doc}"
    )
    value: dict[str, Any] = opa_eval(query, documents)
    assert set(value) == set(documents), "some fixture has no report"
    return value


def _fired(report: dict[str, Any], rule: str) -> set[str]:
    return {f["severity"] for f in report["findings"] if f["rule"] == rule}


def test_denied_fixtures_raise_their_rule(
    rules: list[RuleInfo], fixture_reports: dict[str, Any]
) -> None:
    problems = []
    for rule in rules:
        name = str(rule.fixture("denied").relative_to(ROOT))
        if name not in fixture_reports:
            problems.append(f"{name}: missing")
            continue
        severities = _fired(fixture_reports[name], rule.id)
        if severities != {rule.severity}:
            problems.append(
                f"{name}: {rule.id} fired with {sorted(severities)}, not {rule.severity}"
            )
    assert not problems, "\n".join(problems)


def test_allowed_fixtures_do_not_raise_their_rule(
    rules: list[RuleInfo], fixture_reports: dict[str, Any]
) -> None:
    problems = []
    for rule in rules:
        name = str(rule.fixture("allowed").relative_to(ROOT))
        if name not in fixture_reports:
            problems.append(f"{name}: missing")
            continue
        severities = _fired(fixture_reports[name], rule.id)
        if severities:
            problems.append(f"{name}: {rule.id} fired with {sorted(severities)}")
    assert not problems, "\n".join(problems)


def test_fixture_reports_are_complete(
    rules: list[RuleInfo], fixture_reports: dict[str, Any]
) -> None:
    expected_packages = sorted({r.package for r in rules} - {"burst.main"})
    for name, report in fixture_reports.items():
        document = json.loads((ROOT / name).read_text())
        assert report["packages"] == expected_packages, name
        normalised = document.get("format") == "burst.policy-input/v1"
        assert report["resources"] == (len(document["resources"]) if normalised else 0), name
        for finding in report["findings"]:
            assert set(finding) == {
                "rule",
                "severity",
                "resource",
                "message",
                "title",
                "remediation",
            }


def test_findings_take_title_and_remediation_from_metadata(
    rules: list[RuleInfo], fixture_reports: dict[str, Any]
) -> None:
    by_id = {r.id: r for r in rules}
    for report in fixture_reports.values():
        for finding in report["findings"]:
            rule = by_id[finding["rule"]]
            assert finding["title"] == rule.title
            assert " ".join(finding["remediation"].split()) == rule.remediation


def test_report_undefined_without_guardrails(opa: Path, tmp_path: Path) -> None:
    plan = tmp_path / "plan.json"
    plan.write_text(json.dumps({"resources": [], "stack": {"name": "t", "source": "preview"}}))
    command = [str(opa), "eval", *policy_pack.ignore_args(), "-d", str(POLICIES)]
    result = run([*command, "-i", str(plan), "--format", "json", policy_pack.ENTRYPOINT])
    assert result.returncode == 0, result.stderr
    assert "result" not in json.loads(result.stdout), "report must be undefined (fail closed)"


def test_readme_is_up_to_date(opa: Path, rules: list[RuleInfo]) -> None:
    expected = policy_pack.render_rules_markdown(
        rules, policy_pack.package_inventory(opa, POLICIES)
    )
    current = (POLICIES / "README.md").read_text()
    assert current == expected, "run `python -m burst_platform.policy_pack > policies/README.md`"
    for rule in rules:
        assert f"`{rule.id}`" in current


def test_rule_inventory_rejects_bad_metadata(opa: Path, tmp_path: Path) -> None:
    pack = tmp_path / "policies"
    (pack / "bad").mkdir(parents=True)
    (pack / "bad" / "policy.rego").write_text(
        "package burst.bad\n\n"
        "# METADATA\n"
        "# title: Bad\n"
        "# custom:\n"
        "#   id: bad.rule\n"
        "#   severity: fatal\n"
        "findings contains 1 if false\n"
    )
    with pytest.raises(ValueError, match=r"custom\.severity") as raised:
        policy_pack.rule_inventory(opa, pack)
    assert "lacks description" in str(raised.value)
    assert "lacks remediation" in str(raised.value)


def test_waivers_file_is_an_empty_list() -> None:
    assert yaml.safe_load((POLICIES / "waivers.yaml").read_text()) == []


def test_guardrails_file_has_the_contract_keys() -> None:
    data = yaml.safe_load((POLICIES / "data" / "guardrails.yaml").read_text())
    assert set(data) == {
        "allowed_regions",
        "data_classifications",
        "teams",
        "iam",
        "spot",
        "budgets",
        "waivers",
        "checkpoints",
    }
    assert data["budgets"] == {"require_action": True}
    assert data["waivers"] == {"max_days": 90}
    assert data["iam"] == {"max_session_seconds": 3600}
    assert data["spot"] == {"taint_key": "spot", "min_instance_types": 3}
    assert data["teams"]["quant"] == {"gpu_quota": 32, "monthly_budget_usd": 20000}


_JUNK_TYPES = [
    "aws:s3/bucketV2:BucketV2",
    "aws:s3/bucketReplicationConfig:BucketReplicationConfig",
    "aws:ebs/volume:Volume",
    "aws:iam/role:Role",
    "aws:iam/policy:Policy",
    "aws:ec2/securityGroup:SecurityGroup",
    "aws:ec2/subnet:Subnet",
    "aws:sqs/queue:Queue",
    "aws:cloudwatch/eventRule:EventRule",
    "aws:cloudwatch/eventTarget:EventTarget",
    "aws:budgets/budget:Budget",
    "kubernetes:karpenter.sh/v1:NodePool",
    "kubernetes:karpenter.k8s.aws/v1:EC2NodeClass",
    "kubernetes:kueue.x-k8s.io/v1beta2:ClusterQueue",
    "kubernetes:kueue.x-k8s.io/v1beta2:ResourceFlavor",
    "kubernetes:batch/v1:Job",
    "kubernetes:jobset.x-k8s.io/v1alpha2:JobSet",
    "pulumi:providers:aws",
]
_JUNK_KEYS = [
    "tags", "bucket", "rules", "destination", "maxSessionDuration", "assumeRolePolicy", "policy",
    "ingress", "cidrBlocks", "mapPublicIpOnLaunch", "name", "eventPattern", "arn", "rule",
    "limitAmount", "timeUnit", "costFilters", "notifications", "metadata", "labels", "team",
    "spec", "template", "requirements", "taints", "key", "operator", "values", "limits",
    "resourceGroups", "flavors", "resources", "nominalQuota", "tolerations", "containers",
]  # fmt: skip
_JUNK_SCALARS = [
    None, True, 0, 7200, "", "*", "spot", "0.0.0.0/0", "04da6b54-80e4-46f7-96ec-b56ff0331ba9",
    "[secret]", "16", "1k", "{", "In", "NoSchedule", "MONTHLY", "user:team$quant", "quant",
    json.dumps({"Statement": {"Effect": "Allow", "Principal": "*", "Action": "*"}}),
]  # fmt: skip


def _junk(rng: random.Random, depth: int = 0) -> Any:
    roll = rng.random()
    if depth > 3 or roll < 0.45:
        return rng.choice(_JUNK_SCALARS)
    if roll < 0.8:
        return {rng.choice(_JUNK_KEYS): _junk(rng, depth + 1) for _ in range(rng.randint(0, 4))}
    return [_junk(rng, depth + 1) for _ in range(rng.randint(0, 3))]


def test_malformed_plans_never_break_the_report(opa: Path) -> None:
    """Wrong types, duplicate URNs and unknowns anywhere give a report, never an OPA error."""
    rng = random.Random(20261121)  # noqa: S311 - reproducible test data, not cryptography
    documents = {}
    for n in range(150):
        resources = [
            {
                "urn": rng.choice(["urn:a", "urn:b", f"urn:{i}"]),
                "type": rng.choice(_JUNK_TYPES),
                "name": rng.choice(["a", f"n{i}"]),
                "region": rng.choice([None, "eu-west-1", "ap-south-1", 3]),
                "inputs": _junk(rng),
                "parent": "",
            }
            for i in range(rng.randint(0, 10))
        ]
        source = rng.choice(["preview", "manifests"])
        complete = rng.choice([True, False])
        documents[str(n)] = {
            "format": "burst.policy-input/v1",
            "resources": resources,
            "stack": {"name": "x", "source": source, "complete": complete},
        }
    query = (
        "{name: report | some name, doc in input;"
        " report := data.burst.main.report with input as doc}"
    )
    reports = opa_eval(query, documents)
    assert set(reports) == set(documents)
    for report in reports.values():
        assert all(f["severity"] in ("deny", "warn", "unknown") for f in report["findings"])


def test_every_rule_declares_what_it_reads(opa: Path, rules: list[RuleInfo]) -> None:
    """The shared unknown mechanism knows every rule: `reads` has exactly the package's rule ids."""
    declared = opa_eval("{name: object.keys(data.burst[name].reads) | data.burst[name].findings}")
    for package, ids in declared.items():
        expected = {r.id for r in rules if r.package == f"burst.{package}"}
        assert set(ids) == expected, package
    assert {f"burst.{p}" for p in declared} == {r.package for r in rules} - {"burst.main"}


def test_partial_undecided_names_rules(opa: Path, rules: list[RuleInfo]) -> None:
    """`partial_undecided` names rules of its own package (checked on an input touching all)."""
    touching = {
        "format": "burst.policy-input/v1",
        "resources": [
            {"urn": f"urn:{t}", "type": t, "name": "x", "region": "eu-west-1",
             "inputs": {"metadata": {"labels": {"team": "quant"}}, "tags": {"team": "quant"}}}
            for t in ("kubernetes:karpenter.sh/v1:NodePool", "aws:budgets/budget:Budget",
                      "kubernetes:kueue.x-k8s.io/v1beta2:ClusterQueue", "aws:sqs/queue:Queue")
        ],
        "removed": [],
        "stack": {"source": "preview", "complete": False},
    }  # fmt: skip
    query = (
        "{name: ids | data.burst[name].findings;"
        f" ids := data.burst[name].partial_undecided with input as {json.dumps(touching)}}}"
    )
    declared = opa_eval(query)
    assert sum(len(names) for names in declared.values()) == 5, declared
    ids = {r.id: r.package for r in rules}
    for package, names in declared.items():
        for name in names:
            assert ids.get(name) == f"burst.{package}", name


def test_the_bundle_is_the_pack(opa: Path, fixture_reports: dict[str, Any], tmp_path: Path) -> None:
    """`burst policies bundle` serves the same reports as the directory, and nothing else."""
    bundle = tmp_path / "pack.tar.gz"
    policy_pack.build_bundle(opa, bundle, "rev-1")
    inspected = json.loads(
        subprocess.run(
            [str(opa), "inspect", "--format", "json", str(bundle)],
            capture_output=True, text=True, check=True,
        ).stdout
    )  # fmt: skip
    assert inspected["manifest"] == {"revision": "rev-1", "roots": ["burst"], "rego_version": 1}
    namespaces = set(inspected["namespaces"]) - {"data"}
    shipped = load_policy_pack(POLICIES).packages  # every non-test module's package
    assert namespaces == {f"data.{p}" for p in shipped if p.startswith("burst.")}
    assert "main" in shipped  # conftest's shim stays out: it is outside the bundle's roots
    documents = {
        str(path.relative_to(ROOT)): json.loads(path.read_text())
        for path in sorted(POLICIES.glob("*/fixtures/*/*.json"))
    }
    (tmp_path / "input.json").write_text(json.dumps(documents))
    query = (
        "{name: report | some name, doc in input;"
        " report := data.burst.main.report with input as doc}"
    )
    evaluated = subprocess.run(
        [str(opa), "eval", "--bundle", str(bundle), "--input", str(tmp_path / "input.json"),
         "--format", "json", query],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert json.loads(evaluated.stdout)["result"][0]["expressions"][0]["value"] == fixture_reports


def test_config_keys_name_stack_config_keys(opa: Path) -> None:
    """A rule's `custom.config_key` (where its findings point without a program line) is a key
    the stack configuration has."""
    from burst_platform.infra.config import KNOWN_KEYS

    inspected = json.loads(
        subprocess.run(
            [str(opa), "inspect", "-a", "--format", "json", str(POLICIES)],
            capture_output=True, text=True, check=True,
        ).stdout
    )  # fmt: skip
    keys = {
        entry["annotations"]["custom"]["id"]: entry["annotations"]["custom"]["config_key"]
        for entry in inspected["annotations"]
        if "config_key" in (entry["annotations"].get("custom") or {})
    }
    assert keys, "no rule names a config key"
    assert {rule: key for rule, key in keys.items() if key not in KNOWN_KEYS} == {}


def test_readme_says_where_each_rule_applies() -> None:
    from scripts.readme_tables import with_tables

    readme = (ROOT / "README.md").read_text()
    assert with_tables(readme, ("enforcement-table",)) == readme, "run `make readme-tables`"
