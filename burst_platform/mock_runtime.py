"""Run a Pulumi program offline under Pulumi's mock runtime and record every registration.

`burst plan` and the unit tests share this runtime, so what the tests assert is what the plan
shows. The mocks are deterministic: the same program and config give the same IDs, ARNs and URNs
on every run, in every process, which keeps plans diffable and policy results stable.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import pulumi
from pulumi.runtime import mocks as pulumi_mocks
from pulumi.runtime import rpc, settings
from pulumi.runtime.stack import run_pulumi_func
from pulumi.runtime.sync_await import _ensure_event_loop, _sync_await

MOCK_ACCOUNT_ID = "111122223333"
"""Account ID the mocks use when the stack config names none."""

_ID_PREFIXES = {
    "aws:ec2/vpc:Vpc": "vpc-",
    "aws:ec2/subnet:Subnet": "subnet-",
    "aws:ec2/securityGroup:SecurityGroup": "sg-",
    "aws:ec2/routeTable:RouteTable": "rtb-",
    "aws:ec2/vpcEndpoint:VpcEndpoint": "vpce-",
    "aws:ec2/vpnGateway:VpnGateway": "vgw-",
    "aws:ec2/customerGateway:CustomerGateway": "cgw-",
    "aws:ec2/vpnConnection:VpnConnection": "vpn-",
    "aws:ec2transitgateway/vpcAttachment:VpcAttachment": "tgw-attach-",
    "aws:kms/key:Key": "",
}


@dataclass(frozen=True)
class Registration:
    """One resource registration as the Pulumi engine would have seen it."""

    urn: str
    type: str
    name: str
    custom: bool
    parent: str
    provider: str
    inputs: dict[str, Any]
    id: str = ""
    providers: dict[str, str] = field(default_factory=dict)
    """Provider references a component was given, by package (empty for custom resources)."""
    dependencies: list[str] = field(default_factory=list)
    """URNs the resource depends on, as the SDK sends them to the engine."""
    property_dependencies: dict[str, list[str]] = field(default_factory=dict)
    """For each input key, the URNs its value was computed from."""
    source_file: str = ""
    """Absolute path of the program file that registered the resource ("" if not sent)."""
    source_line: int = 0


def _digest(*parts: str, length: int = 17) -> str:
    return hashlib.sha256("/".join(parts).encode()).hexdigest()[:length]


def _eks_endpoint(cluster: str, region: str) -> str:
    return f"https://{_digest(cluster, region, length=32).upper()}.gr7.{region}.eks.amazonaws.com"


class DeterministicMocks(pulumi_mocks.Mocks):
    """Mocks whose outputs are a pure function of the resource type, name and inputs.

    Outputs echo the inputs and add what later resources read: IDs in the AWS format of the type,
    ARNs in the resource's region, and the computed attributes of EKS clusters, queues and buckets.
    """

    def __init__(self, account_id: str, default_region: str, first_deploy: bool = False) -> None:
        self.account_id = account_id
        self.default_region = default_region
        self.first_deploy = first_deploy
        """Resources do not exist yet: IDs and computed outputs are unknown, as in the first
        `pulumi preview` of a new stack."""
        self.region_of_provider: dict[str, str] = {}

    def _region(self, provider: str | None) -> str:
        """Region of a provider reference `URN::ID` (looked up by URN: the ID may be unknown)."""
        reference = provider or ""
        urn = reference.rsplit("::", 1)[0] if reference.count("::") > 3 else reference
        return self.region_of_provider.get(urn, self.default_region)

    def new_resource(self, args: pulumi_mocks.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        """Return a deterministic ID and output state for a new resource.

        On a first deploy the ID is empty (the SDK then treats it as unknown) and every output
        that is not an input is the unknown sentinel.
        """
        resource_id, state = self._existing_resource(args)
        if not self.first_deploy:
            return resource_id, state
        inputs = args.inputs
        return "", {k: v if inputs.get(k) == v else rpc.UNKNOWN for k, v in state.items()}

    def _existing_resource(self, args: pulumi_mocks.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        typ, name, inputs = args.typ, args.name, dict(args.inputs)
        if typ.startswith("pulumi:providers:"):
            return f"{_digest(typ, name, length=8)}-provider", inputs
        region = self._region(args.provider)
        physical = inputs.get("name") or inputs.get("bucket") or name
        resource_id = _ID_PREFIXES.get(typ, "") + _digest(typ, region, name)
        service, _, kind = typ.removeprefix("aws:").partition("/")
        kind = kind.split(":")[0]
        arn_region = "" if service in ("iam", "budgets", "ce") else region
        state: dict[str, Any] = {
            **inputs,
            "arn": f"arn:aws:{service}:{arn_region}:{self.account_id}:{kind}/{physical}",
        }
        state.setdefault("name", physical)
        if typ == "aws:eks/cluster:Cluster":
            state.update(
                endpoint=_eks_endpoint(inputs.get("name", name), region),
                certificateAuthority={"data": "bW9jay1jYQ=="},
                vpcConfig={
                    **inputs.get("vpcConfig", {}),
                    "clusterSecurityGroupId": f"sg-{_digest(name, 'cluster')}",
                },
            )
        elif typ == "aws:sqs/queue:Queue":
            state["url"] = f"https://sqs.{region}.amazonaws.com/{self.account_id}/{physical}"
            state["arn"] = f"arn:aws:sqs:{region}:{self.account_id}:{physical}"
        elif typ == "aws:s3/bucket:Bucket" or typ.startswith("aws:s3/bucketV2"):
            state["arn"] = f"arn:aws:s3:::{physical}"
            state.setdefault("bucket", physical)
        elif typ == "aws:iam/role:Role":
            state["arn"] = f"arn:aws:iam::{self.account_id}:role{inputs.get('path', '/')}{physical}"
        elif typ == "aws:iam/policy:Policy":
            state["arn"] = (
                f"arn:aws:iam::{self.account_id}:policy{inputs.get('path', '/')}{physical}"
            )
        elif typ == "aws:ec2/vpcEndpoint:VpcEndpoint":
            state["prefixListId"] = f"pl-{_digest(typ, region, name, length=8)}"
        elif typ == "aws:cloudwatch/eventRule:EventRule":
            state["arn"] = f"arn:aws:events:{region}:{self.account_id}:rule/{physical}"
        elif typ == "aws:kms/key:Key":
            state["keyId"] = resource_id
            state["arn"] = f"arn:aws:kms:{region}:{self.account_id}:key/{resource_id}"
        return resource_id, state

    def call(self, args: pulumi_mocks.MockCallArgs) -> dict[str, Any]:  # type: ignore[override]
        """Answer the data-source calls the components make."""
        region = self._region(args.provider)
        function = args.token
        if function == "aws:eks/getCluster:getCluster":
            cluster = args.args["name"]
            return {
                "name": cluster,
                "arn": f"arn:aws:eks:{region}:{self.account_id}:cluster/{cluster}",
                "endpoint": _eks_endpoint(cluster, region),
                "certificateAuthorities": [{"data": "bW9jay1jYQ=="}],
                "vpcConfig": {
                    "clusterSecurityGroupId": f"sg-{_digest(cluster, region, 'cluster')}",
                    "vpcId": f"vpc-{_digest(cluster, region, 'vpc')}",
                    "subnetIds": [
                        f"subnet-{_digest(cluster, region, zone)}" for zone in ("b", "a", "c")
                    ],
                    "endpointPrivateAccess": True,
                    "endpointPublicAccess": False,
                },
                "version": "1.34",
            }
        if function == "aws:index/getCallerIdentity:getCallerIdentity":
            return {"accountId": self.account_id, "arn": f"arn:aws:iam::{self.account_id}:root"}
        raise NotImplementedError(f"no mock for data source {function}")


class RecordingMonitor(pulumi_mocks.MockMonitor):
    """A mock monitor that keeps every registration with its parent and provider reference."""

    def __init__(self, mocks: DeterministicMocks) -> None:
        super().__init__(mocks)
        self.deterministic = mocks
        self.registrations: list[Registration] = []

    def make_urn(self, parent: str, type_: str, name: str) -> str:
        """Build URNs the way the engine does: the type chain of every ancestor but the stack."""
        if parent:
            parent_type = parent.split("::")[2]
            if parent_type != "pulumi:pulumi:Stack":
                type_ = f"{parent_type}${type_}"
        return "::".join(
            ["urn:pulumi:" + settings.get_stack(), settings.get_project(), type_, name]
        )

    def RegisterResource(self, request: Any) -> Any:
        """Register a resource with the mocks and record what the engine would see."""
        response = super().RegisterResource(request)  # type: ignore[no-untyped-call]
        _ensure_event_loop()  # type: ignore[no-untyped-call]
        inputs = rpc.deserialize_properties(request.object) if request.object else {}
        inputs = _plain(inputs)
        if request.type.startswith("pulumi:providers:"):
            self.deterministic.region_of_provider[response.urn] = str(inputs.get("region", ""))
        self.registrations.append(
            Registration(
                urn=response.urn,
                type=request.type,
                name=request.name,
                custom=bool(request.custom),
                parent=request.parent,
                provider=request.provider,
                inputs=inputs,
                id=response.id if request.custom else "",
                providers=dict(request.providers),
                dependencies=sorted(set(request.dependencies)),
                property_dependencies={
                    key: sorted(set(deps.urns))
                    for key, deps in sorted(request.propertyDependencies.items())
                },
                source_file=_file_path(request.sourcePosition.uri)
                if request.HasField("sourcePosition")
                else "",
                source_line=request.sourcePosition.line
                if request.HasField("sourcePosition")
                else 0,
            )
        )
        return response


def _file_path(uri: str) -> str:
    """The local path of a `file://` URI as the SDK sends it in `sourcePosition`."""
    from urllib.parse import unquote, urlsplit

    parts = urlsplit(uri)
    return unquote(parts.path) if parts.scheme == "file" else ""


def _plain(value: Any) -> Any:
    """Strip Pulumi's secret, unknown and resource wrappers so inputs are plain JSON."""
    if isinstance(value, Mapping):
        if rpc._special_sig_key in value and value[rpc._special_sig_key] == rpc._special_secret_sig:
            return "[secret]"
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, pulumi.Resource):
        return getattr(value, "_urn_value", repr(value))
    if isinstance(value, pulumi.output.Unknown):
        return rpc.UNKNOWN  # how the engine prints an unknown value
    return value


def run_program(
    program: Callable[[], None],
    *,
    project: str,
    stack: str,
    config: Mapping[str, Any] | None = None,
    account_id: str = MOCK_ACCOUNT_ID,
    default_region: str = "us-east-1",
    first_deploy: bool = False,
) -> list[Registration]:
    """Run `program` under the mock runtime and return its registrations in order.

    `config` maps fully qualified keys (`project:key`) to values; structured values are passed as
    JSON, the way the Pulumi CLI passes them. Each call starts from a fresh root stack, so runs in
    one process do not leak resources into each other. `first_deploy` makes every ID and computed
    output unknown, as in the first preview of a new stack.
    """
    mocks = DeterministicMocks(account_id, default_region, first_deploy=first_deploy)
    monitor = RecordingMonitor(mocks)
    settings.ROOT.set(None)
    pulumi.runtime.set_all_config(
        {k: v if isinstance(v, str) else json.dumps(v) for k, v in (config or {}).items()}
    )
    pulumi.runtime.set_mocks(mocks, project=project, stack=stack, preview=True, monitor=monitor)
    settings.SETTINGS.rpc_manager.clear()
    _sync_await(run_pulumi_func(program))
    return monitor.registrations
