"""`burst preflight`: the preconditions of a first `pulumi up`, checked before running it.

What can be checked offline is checked (exit 1 when one fails): the stack plans, the tools the
deploy runs are on PATH, the default providers are disabled, and each region's private API
endpoint is reachable from somewhere the stack names. What only the account can answer (the EC2
Spot service-linked role, the pinned Bottlerocket release in each region, the EC2 vCPU quotas the
GPU pools can reach) is printed as the AWS CLI command that answers it, with the figure the plan
needs, read from the NodePools the program declares.
"""

from __future__ import annotations

import shutil
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from burst_platform.components.network import DEFAULT_INTERFACE_ENDPOINTS
from burst_platform.documents import read_yaml
from burst_platform.errors import BurstError
from burst_platform.infra.config import StackConfig, parse_stack_config, read_stack_file
from burst_platform.mock_runtime import Registration
from burst_platform.plan import plan_registrations, resource_regions

REQUIRED_TOOLS = {
    "pulumi": "runs the deploy",
    "aws": "the Kubernetes provider authenticates with `aws eks get-token`",
}
"""Commands `pulumi up` needs on PATH, and why."""

STANDARD = "A, C, D, H, I, M, R, T, Z"
"""First letters of the instance families EC2 counts as Standard."""
EC2_VCPU_QUOTAS = {
    ("spot", "G"): ("L-3819A6DF", "All G and VT Spot Instance Requests"),
    ("spot", "P"): ("L-7212CCBC", "All P Spot Instance Requests"),
    ("spot", "Standard"): (
        "L-34B43A08",
        f"All Standard ({STANDARD}) Spot Instance Requests",
    ),
    ("on-demand", "G"): ("L-DB2E81BA", "Running On-Demand G and VT instances"),
    ("on-demand", "P"): ("L-417A185B", "Running On-Demand P instances"),
    ("on-demand", "Standard"): (
        "L-1216C47A",
        f"Running On-Demand Standard ({STANDARD}) instances",
    ),
}
"""EC2 vCPU quotas (Service Quotas codes) by capacity type and instance class."""


def quota_class(family: str) -> str | None:
    """The EC2 vCPU quota class of an instance family (None: one this report does not cover)."""
    if family.startswith("p"):
        return "P"
    if family.startswith(("g", "vt")):
        return "G"
    if family[:1] in STANDARD.lower().replace(", ", ""):
        return "Standard"
    return None


FAMILY_KEY = "karpenter.k8s.aws/instance-family"
CAPACITY_KEY = "karpenter.sh/capacity-type"


@dataclass(frozen=True)
class Result:
    """One line of the report: `ok`, `FAIL` (a precondition is not met) or `check` (ask AWS)."""

    status: str
    text: str


def preflight(stack: str, root: Path) -> list[Result]:
    """Every precondition of `pulumi up` for `stack`, in report order."""
    config = parse_stack_config(read_stack_file(root / f"Pulumi.{stack}.yaml"))
    registrations, _ = plan_registrations(stack, root)
    results = [Result("ok", f"stack {stack} plans: {len(registrations)} resources")]
    results += _tools()
    results += _default_providers(root)
    results += _api_reachability(config)
    results += _account_checks(config, registrations)
    return results


def _tools() -> list[Result]:
    return [
        Result("ok", f"{tool} on PATH ({why})")
        if shutil.which(tool)
        else Result("FAIL", f"{tool} not on PATH: {why}")
        for tool, why in REQUIRED_TOOLS.items()
    ]


def _default_providers(root: Path) -> list[Result]:
    project = read_yaml(root / "Pulumi.yaml")
    setting = (project.get("config") or {}).get("pulumi:disable-default-providers") or {}
    disabled = setting.get("value", []) if isinstance(setting, dict) else setting
    missing = sorted({"aws", "kubernetes"} - set(disabled if isinstance(disabled, list) else []))
    if missing:
        return [
            Result(
                "FAIL",
                f"Pulumi.yaml: pulumi:disable-default-providers lacks {', '.join(missing)} "
                "(a resource without an explicit provider would deploy to the ambient region)",
            )
        ]
    return [Result("ok", "default aws and kubernetes providers are disabled")]


def _api_reachability(config: StackConfig) -> list[Result]:
    results = []
    for region in config.regions:
        link = config.on_prem.get(region)
        sources = [*(link.cidrs if link else ()), *config.api_access_cidrs]
        if not sources:
            results.append(
                Result(
                    "FAIL",
                    f"{region}: nothing reaches the private API endpoint: set "
                    f"network.onPrem.{region} (where pulumi up runs) or cluster.apiAccessCidrs",
                )
            )
        else:
            results.append(
                Result("ok", f"{region}: the private API endpoint admits {', '.join(sources)}")
            )
    return results


def _account_checks(config: StackConfig, registrations: Sequence[Registration]) -> list[Result]:
    results = []
    if config.create_spot_service_linked_role:
        results.append(Result("ok", "the stack creates EC2 Spot's service-linked role"))
    else:
        results.append(
            Result(
                "check",
                "EC2 Spot's service-linked role exists (or set "
                "cluster.createSpotServiceLinkedRole): "
                "aws iam get-role --role-name AWSServiceRoleForEC2Spot",
            )
        )
    if config.cluster_mode == "attach":
        needed = ", ".join(DEFAULT_INTERFACE_ENDPOINTS)
        for region in config.regions:
            vpc = (
                f"$(aws eks describe-cluster --region {region} --name {config.cluster_name} "
                "--query cluster.resourcesVpcConfig.vpcId --output text)"
            )
            results.append(
                Result(
                    "check",
                    f"{region}: the existing cluster's VPC has the S3 gateway endpoint and "
                    f"interface endpoints for {needed} (attach mode creates none): aws ec2 "
                    f"describe-vpc-endpoints --region {region} --filters Name=vpc-id,Values={vpc}",
                )
            )
    regions = resource_regions(registrations)
    node_classes = [r for r in registrations if r.inputs.get("kind") == "EC2NodeClass"]
    for node_class in node_classes:
        region = regions.get(node_class.urn, "")
        for term in node_class.inputs["spec"]["amiSelectorTerms"]:
            version = term["alias"].split("@v", 1)[1]
            parameter = f"/aws/service/bottlerocket/aws-k8s-{_kubernetes_version(registrations)}"
            results.append(
                Result(
                    "check",
                    f"{region}: Bottlerocket {version} is published for the cluster: aws ssm "
                    f"get-parameter --region {region} --name "
                    f"{parameter}-nvidia/x86_64/{version}/image_id",
                )
            )
    for (region, capacity, usage_class), vcpus in sorted(_vcpu_needs(registrations).items()):
        code, name = EC2_VCPU_QUOTAS[(capacity, usage_class)]
        results.append(
            Result(
                "check",
                f"{region}: quota {code} ({name}) is at least {vcpus} vCPUs, what the "
                f"{capacity} pools may launch: aws service-quotas get-service-quota --region "
                f"{region} --service-code ec2 --quota-code {code}",
            )
        )
    return results


def _kubernetes_version(registrations: Sequence[Registration]) -> str:
    versions = {r.inputs["version"] for r in registrations if r.type == "aws:eks/cluster:Cluster"}
    if len(versions) != 1:
        from burst_platform.components.versions import EKS_VERSION

        return EKS_VERSION
    return str(versions.pop())


def _vcpu_needs(registrations: Sequence[Registration]) -> dict[tuple[str, str, str], int]:
    """Most vCPUs each region's NodePools may launch, by capacity type and quota class.

    A pool whose families span both classes counts its whole CPU limit against each, since
    Karpenter may fill it from either.
    """
    regions = resource_regions(registrations)
    needs: dict[tuple[str, str, str], int] = defaultdict(int)
    for pool in (r for r in registrations if r.inputs.get("kind") == "NodePool"):
        spec = pool.inputs["spec"]
        requirements = {
            req["key"]: req.get("values", []) for req in spec["template"]["spec"]["requirements"]
        }
        cpu = int(str(spec.get("limits", {}).get("cpu", "0")))
        if not cpu:
            continue
        classes = {c for family in requirements[FAMILY_KEY] if (c := quota_class(family))}
        for capacity in requirements[CAPACITY_KEY]:
            for usage_class in classes:
                needs[(regions.get(pool.urn, ""), capacity, usage_class)] += cpu
    return dict(needs)


def report(results: Sequence[Result]) -> tuple[str, int]:
    """The report text and the exit code: 1 when a precondition failed, else 0."""
    failed = sum(result.status == "FAIL" for result in results)
    checks = sum(result.status == "check" for result in results)
    lines = [f"{result.status:<5} {result.text}" for result in results]
    verdict = (
        f"preflight failed: {failed} precondition(s) not met"
        if failed
        else "preflight passed offline"
    )
    lines.append(f"\n{verdict}; {checks} to check with the account's credentials (commands above)")
    return "\n".join(lines), 1 if failed else 0


def run(stack: str, root: Path) -> int:
    """`burst preflight --stack S`: print the report; exit 0, 1 (a precondition fails) or 2."""
    try:
        text, code = report(preflight(stack, root))
    except FileNotFoundError as error:
        raise BurstError(f"{error.filename}: not found") from None
    print(text)
    return code
