"""The whole program: multi-region synthesis of the example stacks and the `burst plan` command."""

from __future__ import annotations

import functools
import importlib
import inspect
import json
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from burst_platform.infra.config import parse_stack_config, read_stack_file, to_pulumi_config
from burst_platform.infra.program import build_platform
from burst_platform.mock_runtime import Registration, run_program
from burst_platform.plan import plan_registrations, resource_regions
from tests.conftest import ROOT
from tests.iam_lint import lint_document, policy_documents
from tests.k8s_validation import validate_object


@functools.cache
def planned(stack: str) -> tuple[list[Registration], dict[str, Any]]:
    return plan_registrations(stack, ROOT)


def custom_resources(stack: str) -> list[Registration]:
    return [r for r in planned(stack)[0] if r.custom and not r.type.startswith("pulumi:providers:")]


def planned_with(stack: str, section: str, **changes: Any) -> list[Registration]:
    """The registrations of `stack` with `changes` made to one section of its config."""
    raw = read_stack_file(ROOT / f"Pulumi.{stack}.yaml")
    raw[section] = {**raw.get(section, {}), **changes}
    config = parse_stack_config(raw)
    return run_program(
        lambda: build_platform(config),
        project="burst-platform",
        stack=stack,
        config=to_pulumi_config(raw),
        account_id=config.account_id,
        default_region=config.regions[0],
    )


@functools.cache
def takes_tags(resource_type: str) -> bool:
    """Whether the pulumi-aws class behind a type token accepts `tags`."""
    module_path, _, class_name = resource_type.removeprefix("aws:").partition(":")
    module = importlib.import_module(f"pulumi_aws.{module_path.split('/')[0]}")
    cls = getattr(module, class_name)
    return "tags" in inspect.signature(cls._internal_init).parameters


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_every_resource_uses_an_explicit_provider(stack: str) -> None:
    for resource in custom_resources(stack):
        assert resource.provider, resource.urn
        assert "::default" not in resource.provider, resource.urn


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_every_taggable_aws_resource_is_tagged(stack: str) -> None:
    checked = 0
    for resource in custom_resources(stack):
        if not resource.type.startswith("aws:") or not takes_tags(resource.type):
            continue
        tags = resource.inputs.get("tags") or {}
        assert ("team" in tags) != ("platform" in tags), resource.urn
        assert tags.get("environment") == stack, resource.urn
        if resource.type == "aws:s3/bucket:Bucket":
            assert tags.get("data-classification"), resource.urn
        checked += 1
    assert checked > 50


def test_prod_deploys_two_regions_with_their_own_providers() -> None:
    registrations, _ = planned("prod")
    providers = [r for r in registrations if r.type == "pulumi:providers:aws"]
    assert {p.inputs["region"] for p in providers} == {"eu-west-1", "us-east-1"}
    regions = resource_regions(registrations)
    clusters = [r for r in registrations if r.type == "aws:eks/cluster:Cluster"]
    assert sorted(regions[c.urn] for c in clusters) == ["eu-west-1", "us-east-1"]
    pools = [r for r in registrations if r.type == "kubernetes:karpenter.sh/v1:NodePool"]
    per_region = 3 * 3  # a GPU spot, a GPU on-demand and a CPU spot pool for each of 3 teams
    assert Counter(regions[p.urn] for p in pools) == {
        "eu-west-1": per_region,
        "us-east-1": per_region,
    }


def test_restricted_data_stays_in_the_eu() -> None:
    registrations, _ = planned("prod")
    regions = resource_regions(registrations)
    buckets = [r for r in registrations if r.type == "aws:s3/bucket:Bucket"]
    restricted = [b for b in buckets if b.inputs["tags"]["data-classification"] == "restricted"]
    assert restricted
    assert {regions[b.urn] for b in restricted} == {"eu-west-1"}


@pytest.mark.parametrize(
    ("resource_type", "field"),
    [
        ("aws:iam/role:Role", "name"),
        ("aws:iam/policy:Policy", "name"),
        ("aws:sqs/queue:Queue", "name"),
        ("aws:cloudwatch/eventRule:EventRule", "name"),
        ("aws:s3/bucket:Bucket", "bucket"),
        ("aws:budgets/budget:Budget", "name"),
    ],
)
def test_global_names_are_unique_across_regions(resource_type: str, field: str) -> None:
    names = [r.inputs[field] for r in custom_resources("prod") if r.type == resource_type]
    assert names
    assert len(names) == len(set(names)), Counter(names).most_common(3)


def test_preview_document_has_the_shape_of_pulumi_preview_json() -> None:
    registrations, document = planned("prod")
    assert set(document) == {"config", "steps", "diagnostics", "changeSummary"}
    assert document["config"]["aws:region"] == "eu-west-1"
    assert document["changeSummary"] == {"create": len(document["steps"])}
    urns = {step["urn"] for step in document["steps"]}
    for step in document["steps"]:
        assert step["op"] == "create"
        state = step["newState"]
        assert set(state) >= {"urn", "type", "custom", "inputs"}
        assert state["urn"] == step["urn"]
        if state.get("parent"):
            assert state["parent"] in urns
        if state.get("provider"):
            assert state["provider"].rsplit("::", 1)[0] in urns
        for urn in state.get("dependencies", []):
            assert urn in urns, f"{state['urn']} depends on {urn}, which is not planned"
        for key, sources in state.get("propertyDependencies", {}).items():
            assert set(sources) <= set(state.get("dependencies", [])), key
        if state["type"] != "pulumi:pulumi:Stack" and not state["type"].startswith("pulumi:"):
            assert state["sourcePosition"].startswith(
                ("project:///components/", "project:///infra/")
            )
    provider_steps = [
        s for s in document["steps"] if s["newState"]["type"] == "pulumi:providers:aws"
    ]
    assert all(s["newState"]["inputs"]["region"] for s in provider_steps)
    assert len(document["steps"]) == len(registrations)


def test_plans_are_deterministic() -> None:
    first = json.dumps(plan_registrations("dev", ROOT)[1], sort_keys=True)
    second = json.dumps(plan_registrations("dev", ROOT)[1], sort_keys=True)
    assert first == second


def burst(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "burst_platform.cli", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_burst_plan_writes_the_document_and_a_summary(tmp_path: Path) -> None:
    out = tmp_path / "plan.json"
    result = burst("plan", "--stack", "dev", "--out", str(out), cwd=ROOT)
    assert result.returncode == 0, result.stderr
    assert "eu-west-1" in result.stdout and "aws:eks/cluster:Cluster" in result.stdout
    assert json.loads(out.read_text())["steps"]


def broken_project(tmp_path: Path, config_text: str) -> Path:
    shutil.copy(ROOT / "Pulumi.yaml", tmp_path / "Pulumi.yaml")
    (tmp_path / "Pulumi.broken.yaml").write_text(config_text)
    return tmp_path


def test_bad_config_exits_2_with_one_line_per_problem(tmp_path: Path) -> None:
    config = """config:
  burst-platform:environment: dev
  burst-platform:accountId: "111122223333"
  burst-platform:regions: [eu-west-1, ap-south-1]
  burst-platform:teams:
    - {name: quant, gpuQuota: -1, monthlyBudgetUsd: 100, budgetEmails: [q@example.com]}
    - {name: quant, gpuQuota: lots, monthlyBudgetUsd: 100, budgetEmails: [q@example.com]}
  burst-platform:dataClasses:
    internal:
      regions: ["*"]
      datasets: [{name: ticks, team: hft}]
  burst-platform:gpu: {instanceFamilies: []}
  burst-platform:alerts: {emails: [oncall@example.com]}
"""
    result = burst(
        "plan", "--stack", "broken", "--root", str(broken_project(tmp_path, config)), cwd=ROOT
    )
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    keys = {line.split(": ")[2] for line in lines}
    assert keys == {
        "burst-platform:regions[1]",
        "burst-platform:teams[0].gpuQuota",
        "burst-platform:teams[1].name",
        "burst-platform:teams[1].gpuQuota",
        "burst-platform:dataClasses.internal.datasets[0].team",
        "burst-platform:gpu.instanceFamilies",
    }
    assert all(line.startswith("burst plan: ") for line in lines)


@pytest.mark.parametrize(
    "config_text",
    ["config: [unclosed\n", "just a string\n", "config:\n  burst-platform:regions: []\n"],
)
def test_malformed_stack_files_exit_2(tmp_path: Path, config_text: str) -> None:
    result = burst(
        "plan", "--stack", "broken", "--root", str(broken_project(tmp_path, config_text)), cwd=ROOT
    )
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert result.stderr.startswith("burst plan: ")


def test_missing_stack_exits_2() -> None:
    result = burst("plan", "--stack", "nope", cwd=ROOT)
    assert result.returncode == 2
    assert "Pulumi.nope.yaml: stack file not found" in result.stderr


def test_every_iam_document_of_prod_passes_the_linter() -> None:
    documents = policy_documents(planned("prod")[0], account_id="111122223333")
    kinds = Counter(d.resource_type for d in documents)
    assert kinds["aws:iam/role:Role"] >= 10
    assert kinds["aws:iam/rolePolicy:RolePolicy"] >= 2
    assert kinds["aws:sqs/queuePolicy:QueuePolicy"] == 2
    for document in documents:
        findings = lint_document(document)
        assert not findings, (document.resource_type, document.resource_name, findings)


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_every_kubernetes_object_of_the_plan_validates(stack: str) -> None:
    objects = [
        r
        for r in custom_resources(stack)
        if r.type.startswith("kubernetes:") and not r.type.startswith("kubernetes:helm.sh/")
    ]
    kinds = Counter(r.type.rsplit(":", 1)[1] for r in objects)
    assert kinds["NodePool"] >= 2 and kinds["EC2NodeClass"] >= 1 and kinds["ClusterQueue"] >= 2
    for resource in objects:
        assert validate_object(resource.inputs) == [], resource.urn


def test_unwritable_out_exits_2(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    result = burst("plan", "--stack", "dev", "--out", str(blocker / "plan.json"), cwd=ROOT)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert "cannot write the preview" in result.stderr


def test_controller_images_come_from_the_private_mirror() -> None:
    releases = [
        r
        for r in custom_resources("prod")
        if r.type == "kubernetes:helm.sh/v3:Release" and r.inputs["name"] != "karpenter-crd"
    ]  # the CRD chart runs nothing
    images = {
        r.inputs["name"]: (
            r.inputs["values"]["controller"]["image"]["repository"]
            if r.inputs["name"] == "karpenter"
            else r.inputs["values"]["controllerManager"]["manager"]["image"]["repository"]
        )
        for r in releases
    }
    assert len(releases) == 4
    for image in images.values():
        assert image.startswith("111122223333.dkr.ecr.")


def test_pulumi_up_from_on_prem_reaches_the_private_api_endpoint() -> None:
    """The dev stack's on-prem network gets TCP 443 on the cluster security group."""
    registrations, _ = planned("dev")
    rules = [
        r.inputs
        for r in registrations
        if r.type == "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
        and r.inputs.get("fromPort") == 443
    ]
    assert [r["cidrIpv4"] for r in rules] == ["192.168.0.0/16"]


def test_cost_allocation_tags_are_a_second_step() -> None:
    """On a first `up` AWS Billing does not know the tag keys yet, so activating them fails:
    the program activates them only when the stack says so (budgets.activateCostAllocationTags)."""
    registrations, _ = planned("dev")
    assert not [r for r in registrations if r.type.startswith("aws:costexplorer/costAllocationTag")]
    second = planned_with("dev", "budgets", activateCostAllocationTags=True)
    tags = [r for r in second if r.type == "aws:costexplorer/costAllocationTag:CostAllocationTag"]
    assert {r.inputs["tagKey"] for r in tags} >= {"team", "environment"}


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_karpenter_objects_wait_for_their_crds_and_the_node_class(stack: str) -> None:
    """A resource waits for what it depends on and for what its parents depend on (the engine
    orders creation and deletion along both): NodePools and EC2NodeClasses wait for the CRD chart,
    and are deleted before it (their finalizers need the controller)."""
    registrations, _ = planned(stack)
    by_urn = {r.urn: r for r in registrations}

    def waits_for(registration: Registration) -> set[str]:
        urns = set(registration.dependencies)
        if registration.parent in by_urn:
            urns |= waits_for(by_urn[registration.parent])
        return urns

    crd_releases = {
        r.urn: r.provider
        for r in registrations
        if r.type == "kubernetes:helm.sh/v3:Release" and r.inputs["name"] == "karpenter-crd"
    }
    regions = parse_stack_config(read_stack_file(ROOT / f"Pulumi.{stack}.yaml")).regions
    assert len(crd_releases) == len(regions)
    objects = [r for r in registrations if r.inputs.get("kind") in ("NodePool", "EC2NodeClass")]
    assert objects
    for obj in objects:
        (crds,) = [urn for urn, provider in crd_releases.items() if provider == obj.provider]
        assert crds in waits_for(obj), obj.urn
        if obj.inputs["kind"] == "NodePool":
            assert any("EC2NodeClass" in urn for urn in obj.dependencies), obj.urn


def test_the_spot_service_linked_role_is_created_once_when_the_stack_asks() -> None:
    """dev asks for it (a fresh account); prod assumes the account has it (IAM refuses a
    second one). It is account-wide, so a multi-region stack creates it at most once, and the
    Karpenter objects wait for it."""
    dev, _ = planned("dev")
    (role,) = [r for r in dev if r.type == "aws:iam/serviceLinkedRole:ServiceLinkedRole"]
    assert role.inputs["awsServiceName"] == "spot.amazonaws.com"
    pools = [r for r in dev if r.inputs.get("kind") == "NodePool"]
    by_urn = {r.urn: r for r in dev}
    for pool in pools:
        parent = by_urn[pool.parent]
        assert role.urn in parent.dependencies, pool.urn
    prod, _ = planned("prod")
    assert not [r for r in prod if r.type == "aws:iam/serviceLinkedRole:ServiceLinkedRole"]
    both_regions = planned_with("prod", "cluster", createSpotServiceLinkedRole=True)
    roles = [r for r in both_regions if r.type == "aws:iam/serviceLinkedRole:ServiceLinkedRole"]
    regions = {r.inputs["region"] for r in both_regions if r.type == "pulumi:providers:aws"}
    assert len(regions) == 2 and len(roles) == 1


def _denies(statement: dict[str, Any], request_tags: dict[str, str]) -> bool:
    """Whether a Deny statement applies to a launch whose request tags instances with
    `request_tags` (only the condition operators the circuit breaker uses are understood)."""
    conditions = statement.get("Condition", {})
    assert set(conditions) <= {"StringEquals"}, conditions
    return all(
        key.startswith("aws:RequestTag/") and request_tags.get(key.split("/", 1)[1]) == value
        for key, value in conditions.get("StringEquals", {}).items()
    )


def test_a_teams_circuit_breaker_stops_its_own_launches_and_no_other_teams() -> None:
    """Each team's capacity is tagged for its budget, and its budget action's deny matches the
    launches of that team's EC2NodeClass and of no other team's (issue 10 items 12 and 13)."""
    registrations, _ = planned("prod")
    node_classes = [r for r in registrations if r.inputs.get("kind") == "EC2NodeClass"]
    launch_tags = {r.inputs["metadata"]["name"]: r.inputs["spec"]["tags"] for r in node_classes}
    teams = {tags["team"] for tags in launch_tags.values()}
    assert teams == {
        t.name for t in parse_stack_config(read_stack_file(ROOT / "Pulumi.prod.yaml")).teams
    }
    budgets = {
        r.inputs["costFilters"][0]["values"][0].split("$", 1)[1]: r
        for r in registrations
        if r.type == "aws:budgets/budget:Budget"
    }
    assert set(budgets) == teams  # each team's budget filters on the tag its capacity carries
    denies = {
        r.name.removeprefix("budget-").removesuffix("-circuit-breaker"): json.loads(
            r.inputs["policy"]
        )["Statement"]
        for r in registrations
        if r.type == "aws:iam/policy:Policy" and r.name.endswith("-circuit-breaker")
    }
    assert set(denies) == teams
    for tripped, statements in denies.items():
        for node_class, tags in launch_tags.items():
            stopped = any(_denies(s, tags) for s in statements if s["Effect"] == "Deny")
            assert stopped == (tags["team"] == tripped), (tripped, node_class)


def test_workload_service_accounts_wait_for_their_namespace() -> None:
    registrations, _ = planned("prod")
    by_urn = {r.urn: r for r in registrations}
    namespaces = {
        (r.provider, r.inputs["metadata"]["name"]): r
        for r in registrations
        if r.type == "kubernetes:core/v1:Namespace"
    }
    accounts = [r for r in registrations if r.type == "kubernetes:core/v1:ServiceAccount"]
    assert accounts
    for account in accounts:  # same cluster (provider), and created after the namespace
        namespace = namespaces[(account.provider, account.inputs["metadata"]["namespace"])]
        assert namespace.urn in by_urn[account.parent].dependencies, account.urn


def test_attach_mode_uses_the_existing_clusters_vpc_and_subnets() -> None:
    """Attaching builds no second network beside the cluster (issue 10 item 9): no VPC, subnets,
    endpoints or on-prem link; Karpenter launches into the looked-up cluster's subnets."""
    registrations = planned_with("dev", "cluster", mode="attach")
    types = {r.type for r in registrations}
    assert not types & {
        "aws:ec2/vpc:Vpc",
        "aws:ec2/subnet:Subnet",
        "aws:ec2/vpcEndpoint:VpcEndpoint",
        "aws:ec2/vpnConnection:VpnConnection",
        "aws:ec2transitgateway/vpcAttachment:VpcAttachment",
        "aws:eks/cluster:Cluster",
    }
    node_classes = [r for r in registrations if r.inputs.get("kind") == "EC2NodeClass"]
    assert node_classes
    for node_class in node_classes:
        terms = node_class.inputs["spec"]["subnetSelectorTerms"]
        assert terms and all(set(term) == {"id"} for term in terms), terms
        assert [t["id"] for t in terms] == sorted(t["id"] for t in terms)
    (sg_tag,) = [r for r in registrations if r.type == "aws:ec2/tag:Tag"]
    assert sg_tag.inputs["key"] == "karpenter.sh/discovery"
    assert sg_tag.inputs["resourceId"].startswith("sg-")


def _tolerated(taints: list[dict[str, str]], tolerations: list[dict[str, str]]) -> bool:
    def tolerates(taint: dict[str, str], toleration: dict[str, str]) -> bool:
        if (
            toleration.get("key") != taint["key"]
            or toleration.get("effect", taint["effect"]) != taint["effect"]
        ):
            return False
        return toleration.get("operator") == "Exists" or toleration.get("value") == taint["value"]

    return all(any(tolerates(t, tol) for tol in tolerations) for t in taints)


def test_cpu_only_work_lands_on_the_cpu_pool_and_gpu_work_on_gpu_pools() -> None:
    """The pool Karpenter tries first for a team's pod, after Kueue's spot flavor adds its node
    labels and tolerations: the CPU pool for a CPU-only backtest, a GPU pool for a GPU job."""
    registrations, _ = planned("prod")
    region = "eu-west-1"
    regions = resource_regions(registrations)
    (flavor,) = [
        r.inputs["spec"]
        for r in registrations
        if r.inputs.get("kind") == "ResourceFlavor"
        and r.inputs["metadata"]["name"] == "gpu-spot"
        and regions[r.urn] == region
    ]
    pools = [
        r.inputs["spec"]
        for r in registrations
        if r.inputs.get("kind") == "NodePool"
        and regions[r.urn] == region
        and r.inputs["spec"]["template"]["metadata"]["labels"].get("burst.io/team") == "quant"
    ]
    own = [
        {"key": "burst.io/team", "operator": "Equal", "value": "quant", "effect": "NoSchedule"},
        {"key": "spot", "operator": "Exists", "effect": "NoSchedule"},
    ]
    selector = {**flavor["nodeLabels"], "burst.io/team": "quant"}

    def first_pool(wants_gpu: bool) -> str:
        def fits(pool: dict[str, Any]) -> bool:
            template = pool["template"]
            requirements = {r["key"]: r for r in template["spec"]["requirements"]}
            labels = template["metadata"]["labels"]
            offers_gpu = "karpenter.k8s.aws/instance-gpu-manufacturer" in requirements
            selected = all(
                labels.get(k) == v or v in requirements.get(k, {}).get("values", [])
                for k, v in selector.items()
            )
            return (
                selected
                and _tolerated(template["spec"]["taints"], [*flavor["tolerations"], *own])
                and (offers_gpu or not wants_gpu)
            )

        best = max((p for p in pools if fits(p)), key=lambda p: p["weight"])
        return str(best["template"]["metadata"]["labels"]["burst.io/capacity-tier"])

    assert first_pool(wants_gpu=False) == "cpu"
    assert first_pool(wants_gpu=True) == "spot"
