"""The Kubernetes layer of the burst program (`infra.program.build_kubernetes_layer`), with the
stack config of `infra/` and, as `e2e:` config, what it would take from the AWS layer: the
kubeconfig of the cluster, the nodes' instance profile and the volume key."""

import pulumi
import pulumi_kubernetes as k8s

from burst.errors import BurstError
from infra.config import PROJECT, parse_stack_config, read_pulumi_config
from infra.program import KubernetesLayerInputs, build_kubernetes_layer

try:
    config = parse_stack_config(read_pulumi_config(pulumi.Config(PROJECT).get))
except BurstError as error:
    raise pulumi.RunError("invalid stack configuration:\n" + "\n".join(error.problems)) from None

aws_layer = pulumi.Config("e2e")
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
