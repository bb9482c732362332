"""`burst check` input normalisation: preview steps, regions, providers, unknowns, manifests."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from burst_platform.check.model import Location
from burst_platform.check.normalise import (
    UNKNOWN_SENTINEL,
    kubernetes_type,
    load_preview,
    merge,
    normalise_manifests,
    normalise_preview,
    provider_urn,
    source_location,
    urn_name,
)
from burst_platform.errors import BurstError

FIXTURES = Path(__file__).parent / "fixtures" / "check"
P = "urn:pulumi:dev::burst-platform::"
PROVIDER_EU = P + "pulumi:providers:aws::aws-eu"
PROVIDER_US = P + "pulumi:providers:aws::aws-us"


def normalised(doc: Any, **kwargs: Any) -> dict[str, Any]:
    """The policy input of a preview document."""
    return normalise_preview(doc, **kwargs).document


def provider_step(urn: str, region: str | None) -> dict[str, Any]:
    inputs = {"region": region} if region is not None else {}
    return {
        "op": "create",
        "urn": urn,
        "newState": {"urn": urn, "type": "pulumi:providers:aws", "custom": True, "inputs": inputs},
    }


def step(
    name: str,
    resource_type: str = "aws:s3/bucket:Bucket",
    inputs: dict[str, Any] | None = None,
    provider: str | None = None,
    op: str = "create",
    parent: str = "",
) -> dict[str, Any]:
    urn = f"{P}{resource_type}::{name}"
    state: dict[str, Any] = {
        "urn": urn,
        "type": resource_type,
        "custom": True,
        "inputs": inputs if inputs is not None else {},
        "parent": parent,
    }
    if provider is not None:
        state["provider"] = provider
    return {"op": op, "urn": urn, "provider": provider or "", "newState": state}


def by_name(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {r["name"]: r for r in doc["resources"]}


def test_resource_shape() -> None:
    doc = normalised(
        {
            "config": {"aws:region": "eu-west-1"},
            "steps": [step("data", inputs={"bucket": "x"}, parent=P + "pulumi:pulumi:Stack::s")],
        }
    )
    assert doc["format"] == "burst.policy-input/v1"
    assert doc["stack"] == {"name": "dev", "source": "preview", "complete": False, "hidden": 0}
    assert doc["removed"] == []
    assert doc["resources"] == [
        {
            "urn": P + "aws:s3/bucket:Bucket::data",
            "type": "aws:s3/bucket:Bucket",
            "name": "data",
            "region": "eu-west-1",
            "inputs": {"bucket": "x"},
            "parent": P + "pulumi:pulumi:Stack::s",
            "op": "create",
            "provider": None,
            "dependencies": [],
            "propertyDependencies": {},
        }
    ]


def test_region_resolution_order() -> None:
    """Own `region` input, then the provider's region; config aws:region only without one."""
    doc = normalised(
        {
            "config": {"aws:region": "eu-west-1"},
            "steps": [
                provider_step(PROVIDER_US, "us-east-1"),
                provider_step(PROVIDER_EU, None),
                step("own", inputs={"region": "eu-central-1"}, provider=f"{PROVIDER_US}::id1"),
                step("from-provider", provider=f"{PROVIDER_US}::{UNKNOWN_SENTINEL}"),
                step("provider-without-region", provider=f"{PROVIDER_EU}::id2"),
                step("default-provider"),
            ],
        }
    )
    resources = by_name(doc)
    assert resources["own"]["region"] == "eu-central-1"
    assert resources["from-provider"]["region"] == "us-east-1"
    assert resources["provider-without-region"]["region"] == UNKNOWN_SENTINEL
    assert resources["default-provider"]["region"] == "eu-west-1"
    assert resources["aws-us"]["region"] == "us-east-1"
    assert resources["aws-eu"]["region"] == UNKNOWN_SENTINEL


def test_provider_defined_after_its_resources() -> None:
    doc = normalised(
        {
            "steps": [
                step("early", provider=f"{PROVIDER_US}::id"),
                provider_step(PROVIDER_US, "us-west-2"),
            ]
        }
    )
    assert by_name(doc)["early"]["region"] == "us-west-2"


def test_no_region_anywhere_is_null() -> None:
    doc = normalised({"steps": [step("bucket"), step("c", "burst:storage:DatasetStorage")]})
    assert [r["region"] for r in doc["resources"]] == [None, None]


def test_config_value_objects() -> None:
    doc = normalised(
        {"config": {"aws:region": {"value": "us-west-2", "secret": False}}, "steps": [step("b")]}
    )
    assert doc["resources"][0]["region"] == "us-west-2"


@pytest.mark.parametrize(
    ("reference", "expected"),
    [
        (f"{PROVIDER_EU}::0c5a-id", PROVIDER_EU),
        (f"{PROVIDER_EU}::{UNKNOWN_SENTINEL}", PROVIDER_EU),
        (PROVIDER_EU, PROVIDER_EU),
        (
            P + "burst:index:Parent$pulumi:providers:aws::eu::id",
            P + "burst:index:Parent$pulumi:providers:aws::eu",
        ),
        ("", None),
        (None, None),
        ("not-a-urn", None),
    ],
)
def test_provider_reference_parsing(reference: Any, expected: str | None) -> None:
    assert provider_urn(reference) == expected


def test_urn_name_keeps_double_colons_in_names() -> None:
    assert urn_name(P + "aws:s3/bucket:Bucket::a::b") == "a::b"


def test_unknown_and_secret_values_pass_through() -> None:
    inputs = {
        "region": UNKNOWN_SENTINEL,
        "tags": {"team": "[secret]"},
        "policy": UNKNOWN_SENTINEL,
        "list": [UNKNOWN_SENTINEL, "[secret]"],
    }
    doc = normalised({"config": {"aws:region": "eu-west-1"}, "steps": [step("b", inputs=inputs)]})
    resource = doc["resources"][0]
    assert resource["inputs"] == inputs
    assert resource["region"] == UNKNOWN_SENTINEL


def test_unknown_whole_inputs_pass_through() -> None:
    doc = normalised({"steps": [step("b", inputs=UNKNOWN_SENTINEL)]})  # type: ignore[arg-type]
    assert doc["resources"][0]["inputs"] == UNKNOWN_SENTINEL


def test_skipped_ops_and_replacement_dedup() -> None:
    deleted = step("gone", op="delete")
    del deleted["newState"]
    deleted["oldState"] = {"urn": deleted["urn"], "type": "aws:s3/bucket:Bucket"}
    doc = normalised(
        {
            "steps": [
                deleted,
                step("read-only", op="read"),
                step("stale", op="discard"),
                step("replaced", op="create-replacement", inputs={"v": 2}),
                step("replaced", op="replace", inputs={"v": 2}),
                step("replaced", op="delete-replaced", inputs={"v": 1}),
                step("kept", op="same"),
                step("changed", op="update"),
                step("imported", op="import"),
            ]
        }
    )
    assert [r["name"] for r in doc["resources"]] == ["replaced", "kept", "changed", "imported"]
    assert by_name(doc)["replaced"]["inputs"] == {"v": 2}


def test_kubernetes_resources_region_only_when_stated() -> None:
    labelled = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "c", "labels": {"topology.kubernetes.io/region": "eu-west-1"}},
    }
    doc = normalised(
        {
            "config": {"aws:region": "us-east-1"},
            "steps": [
                step(
                    "pool",
                    "kubernetes:karpenter.sh/v1:NodePool",
                    {"kind": "NodePool"},
                    provider=f"{PROVIDER_US}::x",
                ),
                step("cm", "kubernetes:core/v1:ConfigMap", labelled),
            ],
        }
    )
    resources = by_name(doc)
    assert resources["pool"]["region"] == UNKNOWN_SENTINEL  # its provider is not in the preview
    assert resources["cm"]["region"] == "eu-west-1"


def test_stack_name_argument_wins() -> None:
    doc = normalised({"steps": [step("b")]}, stack_name="prod")
    assert doc["stack"]["name"] == "prod"


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        ([], "not a JSON object"),
        ({"config": {}}, "steps: missing"),
        ({"steps": {}}, "steps: missing or not a list"),
        (
            {"steps": [{"op": "create", "urn": "u", "newState": {"urn": "u"}}]},
            "steps[0].newState.type: missing",
        ),
        ({"steps": [{"op": "create", "urn": "u"}]}, "steps[0].newState: missing"),
        ({"steps": [{"urn": "u", "newState": {"type": "t"}}]}, "steps[0].op: missing"),
        (
            {"steps": [{"op": "frobnicate", "newState": {"type": "t", "urn": "u"}}]},
            "unknown operation",
        ),
        ({"steps": ["x"]}, "steps[0]: must be an object"),
        (
            {"steps": [{"op": "create", "newState": {"type": "t"}}]},
            "steps[0].newState.urn: missing",
        ),
    ],
)
def test_bad_preview_documents(doc: Any, message: str) -> None:
    with pytest.raises(BurstError) as error:
        normalised(doc, source="plan.json")
    assert any(line.startswith("plan.json: ") and message in line for line in error.value.problems)


def test_every_problem_is_listed_once_per_step() -> None:
    steps = [{"op": "create", "urn": f"u{i}", "newState": {"urn": f"u{i}"}} for i in range(30)]
    with pytest.raises(BurstError) as error:
        normalised({"steps": steps}, source="p.json")
    assert len(error.value.problems) == 21
    assert error.value.problems[-1] == "p.json: ... and 10 more problems"


def test_load_preview_errors_name_the_file(tmp_path: Path) -> None:
    with pytest.raises(BurstError, match=r"missing\.json: file not found"):
        load_preview(tmp_path / "missing.json")
    bad = tmp_path / "bad.json"
    bad.write_text('{"steps": [}')
    with pytest.raises(BurstError, match=r"bad\.json: invalid JSON at line 1 column 12"):
        load_preview(bad)


@settings(max_examples=50, deadline=None)
@given(
    own=st.none() | st.sampled_from(["eu-west-1", UNKNOWN_SENTINEL, "[secret]"]),
    provider_region=st.none() | st.sampled_from(["us-east-1", UNKNOWN_SENTINEL]),
    config_region=st.none() | st.sampled_from(["eu-central-1"]),
    with_provider=st.booleans(),
)
def test_region_precedence_property(
    own: str | None, provider_region: str | None, config_region: str | None, with_provider: bool
) -> None:
    inputs = {"region": own} if own is not None else {}
    steps = [provider_step(PROVIDER_US, provider_region)]
    steps.append(step("r", inputs=inputs, provider=f"{PROVIDER_US}::id" if with_provider else None))
    config = {"aws:region": config_region} if config_region else {}
    region = by_name(normalised({"config": config, "steps": steps}))["r"]["region"]
    expected = own
    if expected is None and with_provider:
        expected = provider_region or UNKNOWN_SENTINEL  # never the config of another provider
    if expected is None:
        expected = config_region
    assert region == expected


# ---------------------------------------------------------------------------------------------
# Manifests
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("api_version", "kind", "expected"),
    [
        ("v1", "ConfigMap", "kubernetes:core/v1:ConfigMap"),
        ("batch/v1", "Job", "kubernetes:batch/v1:Job"),
        ("karpenter.sh/v1", "NodePool", "kubernetes:karpenter.sh/v1:NodePool"),
    ],
)
def test_kubernetes_type(api_version: str, kind: str, expected: str) -> None:
    assert kubernetes_type(api_version, kind) == expected


def test_manifests_fixture() -> None:
    root = FIXTURES.parents[2]
    plan = normalise_manifests([FIXTURES / "manifests"], root=root)
    assert plan.document["stack"] == {
        "name": None,
        "source": "manifests",
        "complete": True,
        "hidden": 0,
    }
    resources = {r["urn"]: r for r in plan.resources}
    base = "k8s://tests/fixtures/check/manifests/"
    assert sorted(resources) == [
        f"{base}jobs/train.yaml#Job/ml/train",
        f"{base}karpenter.yaml#ConfigMap/kube-system/burst-settings",
        f"{base}karpenter.yaml#NodePool/gpu-spot",
    ]
    pool = resources[f"{base}karpenter.yaml#NodePool/gpu-spot"]
    assert pool["type"] == "kubernetes:karpenter.sh/v1:NodePool"
    assert pool["name"] == "gpu-spot"
    assert pool["inputs"]["spec"]["limits"] == {"nvidia.com/gpu": 8}
    assert pool["region"] is None and pool["parent"] is None
    config_map = resources[f"{base}karpenter.yaml#ConfigMap/kube-system/burst-settings"]
    assert config_map["type"] == "kubernetes:core/v1:ConfigMap"
    assert config_map["region"] == "eu-west-1"
    assert plan.locations[config_map["urn"]].path == "tests/fixtures/check/manifests/karpenter.yaml"
    assert plan.locations[config_map["urn"]].line == 28
    assert plan.locations[pool["urn"]].line == 2
    assert plan.primary == Location("tests/fixtures/check/manifests/karpenter.yaml")


def test_manifest_lists_duplicates_and_empty_documents(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(
        "---\n---\napiVersion: v1\nkind: List\nitems:\n"
        "  - {apiVersion: v1, kind: ConfigMap, metadata: {name: x, namespace: n}}\n"
        "  - {apiVersion: v1, kind: ConfigMap, metadata: {name: x, namespace: n}}\n"
    )
    (tmp_path / "b.json").write_text(
        json.dumps({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "ml"}})
    )
    (tmp_path / "notes.txt").write_text("ignored")
    plan = normalise_manifests([tmp_path], root=tmp_path)
    assert [r["urn"] for r in plan.resources] == [
        "k8s://a.yaml#ConfigMap/n/x",
        "k8s://a.yaml#ConfigMap/n/x~2",
        "k8s://b.json#Namespace/ml",
    ]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("kind: Pod\nmetadata: {name: x}\n", "a.yaml: document 1 (line 1): apiVersion: missing"),
        (
            "apiVersion: v1\nkind: Pod\n---\n- 1\n",
            "a.yaml: document 2 (line 4): not a Kubernetes object",
        ),
        ("apiVersion: v1\nkind: [\n", "a.yaml: invalid YAML at line"),
        ("apiVersion: v1\nkind: Pod\nmetadata: 3\n", "metadata: must be a mapping"),
    ],
)
def test_bad_manifests(tmp_path: Path, text: str, message: str) -> None:
    (tmp_path / "a.yaml").write_text(text)
    with pytest.raises(BurstError) as error:
        normalise_manifests([tmp_path], root=tmp_path)
    assert any(message in line for line in error.value.problems), error.value.problems


def test_missing_manifest_directory(tmp_path: Path) -> None:
    with pytest.raises(BurstError, match="nope: no such file or directory"):
        normalise_manifests([tmp_path / "nope"])


def test_merge_keeps_preview_source() -> None:
    preview = load_preview(FIXTURES / "clean-preview.json")
    manifests = normalise_manifests([FIXTURES / "manifests"])
    merged = merge(preview, manifests)
    assert merged.document["stack"]["source"] == "preview"
    assert len(merged.resources) == len(preview.resources) + len(manifests.resources)
    assert merged.locations == manifests.locations
    assert merged.primary == preview.primary
    with pytest.raises(BurstError, match="nothing to check"):
        merge(None, None)


@pytest.mark.parametrize(
    ("position", "stack", "expected"),
    [
        ("project:///components/karpenter.py#42,7", None, ("components/karpenter.py", 42)),
        # a component from an installed wheel: the program line that called it
        (
            "project:///../.venv/lib/python3.11/site-packages/burst_platform/components/k.py#9",
            [
                {"sourcePosition": "project:///../.venv/lib/site-packages/x.py#9"},
                {},
                {"sourcePosition": "project:///infra/program.py#263"},
                {"sourcePosition": "project:///infra/program.py#262"},
            ],
            ("infra/program.py", 263),
        ),
        ("project:///../elsewhere.py#3", [{"sourcePosition": "project:///../x.py#1"}], None),
        ("project:///infra/program.py#0", "not a list", ("infra/program.py", 1)),
        (None, [{"sourcePosition": 7}, "junk", {"sourcePosition": "file:///x.py#1"}], None),
    ],
)
def test_the_location_is_the_first_position_in_the_project(
    position: object, stack: object, expected: tuple[str, int] | None
) -> None:
    location = source_location(position, stack)
    assert (None if location is None else (location.path, location.line)) == expected
