"""Entry point of the Pulumi program (`pulumi preview` / `pulumi up` run this file)."""

import pulumi

from burst_platform.errors import BurstError
from burst_platform.infra.config import PROJECT, parse_stack_config, read_pulumi_config
from burst_platform.infra.program import build_platform

try:
    stack_config = parse_stack_config(read_pulumi_config(pulumi.Config(PROJECT).get))
except BurstError as error:
    raise pulumi.RunError("invalid stack configuration:\n" + "\n".join(error.problems)) from None

build_platform(stack_config)
