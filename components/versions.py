"""Pinned versions of the third-party software the burst layer installs and validates against.

This module is the single source of these pins: `scripts/setup.sh` reads it to fetch the matching
CRD schemas and OPA binary, and the components use it for Helm chart versions.
"""

KARPENTER_VERSION = "1.14.1"
"""Karpenter Helm chart and CRD version (karpenter.sh/v1, karpenter.k8s.aws/v1)."""

KUEUE_VERSION = "0.19.2"
"""Kueue Helm chart and CRD version (kueue.x-k8s.io/v1beta2)."""

OPA_VERSION = "1.22.2"
"""Open Policy Agent release used to evaluate the policy pack."""

CONFTEST_VERSION = "0.71.1"
"""conftest release the pack is tested with (its `package main` entry point)."""

ACTIONLINT_VERSION = "1.7.12"
"""actionlint release `make lint` checks the GitHub workflows with."""

SARIF_MULTITOOL_VERSION = "5.7.0"
"""Microsoft SARIF Multitool (npm `@microsoft/sarif-multitool-linux`): the tests validate the
SARIF report against the 2.1.0 schema and GitHub's ingestion rules with it."""

CHECKOV_VERSION = "3.3.30"
"""checkov release, installed in its own virtualenv (`.venv-checkov`)."""

EKS_VERSION = "1.34"
"""Kubernetes version of clusters the platform creates."""
