"""The Kubernetes layer of the burst program (`infra.program.build_kubernetes_layer`), with the
stack config of `infra/` and, as `e2e:` config, what it would take from the AWS layer: the
kubeconfig of the cluster, the nodes' instance profile and the volume key.

`e2e:breakObjects` (a list of `{kind, path, value}`, optionally `name`) sets a dotted path of
every object of that kind (and name) after the components built it, through a resource
transform: the tests use it to send objects the components would never emit and see the API
server refuse them at preview. The value `"e2e:unknown"` stands for a value the preview does
not know (the SDK's unknown value, sent to the engine as Pulumi's unknown sentinel, as an input
computed from a resource still to be created is): the CrossGuard tests use it to see an unknown
reported.
"""

import copy
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from burst_platform.errors import BurstError
from burst_platform.infra.config import PROJECT, parse_stack_config, read_pulumi_config
from burst_platform.infra.program import KubernetesLayerInputs, build_kubernetes_layer

try:
    config = parse_stack_config(read_pulumi_config(pulumi.Config(PROJECT).get))
except BurstError as error:
    raise pulumi.RunError("invalid stack configuration:\n" + "\n".join(error.problems)) from None

aws_layer = pulumi.Config("e2e")
UNKNOWN_VALUE = "e2e:unknown"


def _value(new: Any) -> Any:
    return pulumi.output.UNKNOWN if new == UNKNOWN_VALUE else new


def _set_path(value: Any, path: list[str], new: Any) -> Any:
    changed = copy.deepcopy(value)
    node = changed
    for key in path[:-1]:
        node = node.setdefault(key, {})
    node[path[-1]] = new
    return changed


def _break(edits: list[dict[str, Any]]) -> Any:
    def transform(args: pulumi.ResourceTransformArgs) -> pulumi.ResourceTransformResult | None:
        props = dict(args.props)
        for edit in edits:
            metadata = props.get("metadata")
            name = metadata.get("name") if isinstance(metadata, dict) else None
            if props.get("kind") != edit["kind"] or edit.get("name", name) != name:
                continue
            top, *rest = edit["path"].split(".")
            new = _value(edit["value"])
            props[top] = pulumi.Output.from_input(props.get(top, {})).apply(
                lambda v, rest=rest, new=new: _set_path(v, rest, new)
            )
        return pulumi.ResourceTransformResult(props=props, opts=args.opts)

    return transform


broken_objects = aws_layer.get_object("breakObjects")
if broken_objects:
    pulumi.runtime.register_resource_transform(_break(list(broken_objects)))
region = config.regions[0]
provider = k8s.Provider(
    f"k8s-{region}",
    kubeconfig=aws_layer.require_secret("kubeconfig"),
    enable_server_side_apply=True,
)
build_kubernetes_layer(
    config,
    region,
    KubernetesLayerInputs(
        instance_profile_name=aws_layer.require("instanceProfileName"),
        volume_kms_key_arn=aws_layer.require("volumeKmsKeyArn"),
        install_kueue=False,  # the charts live on registries this machine cannot reach
    ),
    opts=pulumi.ResourceOptions(providers=[provider]),
)
