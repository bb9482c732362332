"""The API server is the judge of the objects the components emit: every Kubernetes object of the
example stacks' plans, and of the components under other arguments, is accepted by a server-side
dry run on the real kube-apiserver with the pinned CRDs (their schemas and CEL rules); every
known-bad object of `tests/test_k8s_validation.py` is rejected by it with the CRD's own message,
except the few the server accepts and only the offline validator's client-side checks catch.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from burst_platform.plan import plan_registrations
from tests.e2e.control_plane import ROOT, ControlPlane
from tests.k8s_validation import objects_from_registrations
from tests.test_k8s_validation import NEGATIVE_CASES, NegativeCase, deployed_objects

pytestmark = pytest.mark.e2e
DRY_RUN_NAMESPACE = "default"
"""Namespaced objects are dry-run in `default`, which always exists: no object is written."""


def dry_run(cluster: ControlPlane, obj: dict[str, Any]) -> tuple[bool, str]:
    """The server's verdict on creating `obj` (namespaced objects in `default`)."""
    candidate = copy.deepcopy(obj)
    candidate.setdefault("metadata", {})["namespace"] = DRY_RUN_NAMESPACE  # cluster-scoped: ignored
    return cluster.dry_run_create(candidate)


def emitted_objects() -> list[tuple[str, dict[str, Any]]]:
    """(where from, object) for every Kubernetes object of the dev and prod plans and of the
    components under the arguments the offline tests use."""
    found = [("components", obj) for obj in deployed_objects()]
    for stack in ("dev", "prod"):
        registrations, _ = plan_registrations(stack, Path(ROOT))
        found += [(stack, obj) for obj in objects_from_registrations(registrations)]
    return found


def test_the_api_server_accepts_every_object_the_program_emits(cluster: ControlPlane) -> None:
    objects = emitted_objects()
    kinds = {obj["kind"] for _, obj in objects}
    assert {"NodePool", "EC2NodeClass", "ClusterQueue", "ResourceFlavor", "LocalQueue"} <= kinds
    rejected = []
    for origin, obj in objects:
        accepted, message = dry_run(cluster, obj)
        if not accepted:
            rejected.append(f"{origin} {obj['kind']}/{obj['metadata']['name']}: {message}")
    assert rejected == []


@pytest.mark.parametrize("case", [pytest.param(c, id=c.title) for c in NEGATIVE_CASES])
def test_the_api_server_judges_each_known_bad_object(
    cluster: ControlPlane, case: NegativeCase
) -> None:
    accepted, message = dry_run(cluster, case.make())
    if case.server_message is None:
        assert accepted, f"the API server refuses it ({message}): give the case its message"
    else:
        assert not accepted, "the API server accepts it"
        assert case.server_message in message, message
