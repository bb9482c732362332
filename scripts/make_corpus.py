"""Write the corpus of real-shape preview documents under tests/corpus/ from our own program.

Each document is what `pulumi preview --json` prints for one situation (see
shared/reference/preview-format.md): a first deploy, an update with and without `--show-sames`,
a replacement with and without `--show-replacement-steps`, deletes, a failed preview, secrets and
unknowns on values the rules read. They start from `burst plan` of the dev stack (first deploy:
`--first-deploy`) and change it the way the engine would. `tests/corpus/expected.yaml` holds the
verdicts `burst check` must give each, checked by tests/test_corpus.py.

    .venv/bin/python scripts/make_corpus.py      # rewrite tests/corpus/
"""

from __future__ import annotations

import copy
import json
import sys
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "tests" / "corpus"
STACK = "dev"
UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"
SECRET = "[secret]"  # noqa: S105 - the placeholder the CLI prints, not a password

Doc = dict[str, Any]


def _summarise(doc: Doc, hidden_same: int = 0) -> Doc:
    """Set `changeSummary` the way the engine counts: logical steps only, hidden sames included."""
    logical = [s for s in doc["steps"] if s["op"] not in ("create-replacement", "delete-replaced")]
    summary = Counter(s["op"] for s in logical)
    if hidden_same:
        summary["same"] += hidden_same
    doc["changeSummary"] = dict(sorted(summary.items()))
    return doc


def _as_existing(plan: Doc) -> Doc:
    """The plan as a preview of an unchanged stack with --show-sames: every step `same`."""
    doc = copy.deepcopy(plan)
    for step in doc["steps"]:
        step["op"] = "same"
    return doc


def _find(doc: Doc, suffix: str) -> dict[str, Any]:
    return next(s for s in doc["steps"] if s["urn"].endswith(suffix))


def _of_type(doc: Doc, resource_type: str) -> list[dict[str, Any]]:
    return [s for s in doc["steps"] if s["newState"]["type"] == resource_type]


def _without_sames(doc: Doc) -> Doc:
    """What the CLI prints without --show-sames: sames left out (the root stack stays)."""
    partial = copy.deepcopy(doc)
    kept = [
        s
        for s in partial["steps"]
        if s["op"] != "same" or s["newState"]["type"] == "pulumi:pulumi:Stack"
    ]
    hidden = len(partial["steps"]) - len(kept)
    partial["steps"] = kept
    return _summarise(partial, hidden_same=hidden)


def _update_nodepool(plan: Doc) -> Doc:
    """A GPU pool's instance families changed (valid: still diversified), everything else same."""
    doc = _as_existing(plan)
    step = next(
        s
        for s in _of_type(doc, "kubernetes:karpenter.sh/v1:NodePool")
        if s["newState"]["inputs"]["metadata"]["name"].endswith("-spot")
    )
    step["op"] = "update"
    step["oldState"] = copy.deepcopy(step["newState"])
    for requirement in step["newState"]["inputs"]["spec"]["template"]["spec"]["requirements"]:
        if requirement["key"] == "karpenter.k8s.aws/instance-family":
            requirement["values"] = sorted({*requirement["values"], "g6e"})
    step["diffReasons"] = ["spec"]
    return _summarise(doc)


def _unclassified_bucket(plan: Doc) -> Doc:
    """A bucket update that drops its data-classification tag (a resource-local deny)."""
    doc = _as_existing(plan)
    step = next(
        s
        for s in _of_type(doc, "aws:s3/bucket:Bucket")
        if "data-classification" in s["newState"]["inputs"].get("tags", {})
    )
    step["op"] = "update"
    step["oldState"] = copy.deepcopy(step["newState"])
    del step["newState"]["inputs"]["tags"]["data-classification"]
    return _summarise(doc)


def _replace_role(plan: Doc, with_steps: bool) -> Doc:
    """A role replaced (its name changed); the physical steps only with --show-replacement-steps."""
    doc = _as_existing(plan)
    index, step = next(
        (i, s) for i, s in enumerate(doc["steps"]) if s["newState"]["type"] == "aws:iam/role:Role"
    )
    old = copy.deepcopy(step["newState"])
    step["op"] = "replace"
    step["oldState"] = old
    step["replaceReasons"] = ["name"]
    if with_steps:
        create = {**copy.deepcopy(step), "op": "create-replacement"}
        delete = {"op": "delete-replaced", "urn": step["urn"], "provider": step.get("provider"),
                  "oldState": old}  # fmt: skip
        doc["steps"][index + 1 : index + 1] = [create, delete]
    return _summarise(doc)


def _delete_queue(plan: Doc) -> Doc:
    """The interruption queue deleted while the spot pools stay: the path is gone."""
    doc = _as_existing(plan)
    step = _of_type(doc, "aws:sqs/queue:Queue")[0]
    step["op"] = "delete"
    step["oldState"] = step.pop("newState")
    return _summarise(doc)


def _failed(plan: Doc) -> Doc:
    """A preview that failed half-way: an error diagnostic and the steps registered before it."""
    doc = copy.deepcopy(plan)
    cut = len(doc["steps"]) // 2
    failing = doc["steps"][cut]["urn"]
    doc["steps"] = doc["steps"][:cut]
    doc["diagnostics"] = [
        {
            "urn": failing,
            "message": "error: creating EKS Cluster: InvalidParameterException: unsupported "
            "Kubernetes version",
            "severity": "error",
        }
    ]
    return _summarise(doc)


def _secrets(plan: Doc) -> Doc:
    """Secret values standing for one list element and a whole role policy document."""
    doc = _as_existing(plan)
    group = next(
        s
        for s in _of_type(doc, "aws:ec2/securityGroup:SecurityGroup")
        if s["newState"]["inputs"].get("ingress")
    )
    group["op"] = "update"
    group["newState"]["inputs"]["ingress"][0] = SECRET
    policy = _of_type(doc, "aws:iam/rolePolicy:RolePolicy")[0]
    policy["op"] = "update"
    policy["newState"]["inputs"]["policy"] = SECRET
    return _summarise(doc)


def _unknown_spec(plan: Doc) -> Doc:
    """A NodePool whose whole spec is unknown (built with apply on a first deploy)."""
    doc = _as_existing(plan)
    step = _of_type(doc, "kubernetes:karpenter.sh/v1:NodePool")[0]
    step["op"] = "update"
    step["newState"]["inputs"]["spec"] = UNKNOWN
    return _summarise(doc)


def documents(plan: Doc, first_deploy: Doc) -> dict[str, Doc]:
    """Every corpus document by file name."""
    makers: dict[str, Callable[[], Doc]] = {
        "first-deploy": lambda: _summarise(copy.deepcopy(first_deploy)),
        "unchanged-show-sames": lambda: _summarise(_as_existing(plan)),
        "unchanged-without-sames": lambda: _without_sames(_summarise(_as_existing(plan))),
        "update-show-sames": lambda: _update_nodepool(plan),
        "update-without-sames": lambda: _without_sames(_update_nodepool(plan)),
        "local-deny-without-sames": lambda: _without_sames(_unclassified_bucket(plan)),
        "replace-with-steps": lambda: _replace_role(plan, with_steps=True),
        "replace-logical": lambda: _replace_role(plan, with_steps=False),
        "delete-queue-show-sames": lambda: _delete_queue(plan),
        "delete-queue-without-sames": lambda: _without_sames(_delete_queue(plan)),
        "failed-preview": lambda: _failed(first_deploy),
        "secrets": lambda: _secrets(plan),
        "nodepool-spec-unknown": lambda: _unknown_spec(plan),
    }
    return {name: make() for name, make in makers.items()}


def build() -> dict[str, str]:
    """The corpus files' contents (compact JSON, one document per file)."""
    sys.path.insert(0, str(ROOT))
    from burst_platform.plan import plan_stack

    plan = plan_stack(STACK, ROOT)
    first = plan_stack(STACK, ROOT, first_deploy=True)
    return {
        f"{name}.json": json.dumps(doc, sort_keys=True, separators=(",", ":")) + "\n"
        for name, doc in documents(plan, first).items()
    }


def main() -> int:
    """Rewrite tests/corpus/*.json (expected.yaml is maintained by hand)."""
    CORPUS.mkdir(parents=True, exist_ok=True)
    for name, text in build().items():
        (CORPUS / name).write_text(text)
        print(f"wrote tests/corpus/{name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
