"""The burst-platform Pulumi program and its stack configuration."""
