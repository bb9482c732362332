"""Report formats: JSON shape, SARIF structure, JUnit XML, Markdown and text."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from typing import Any

import jsonschema
import pytest

from burst_platform.check.formats import FORMATS, render, report_json, report_sarif, summary_line
from burst_platform.check.model import (
    DENY,
    UNKNOWN,
    WAIVED,
    WARN,
    CheckReport,
    Finding,
    Location,
    RuleInfo,
    Waiver,
)

ROLE = "urn:pulumi:prod::burst-platform::aws:iam/role:Role::etl"
POOL = "k8s://manifests/pools.yaml#NodePool/gpu"

# The parts of SARIF 2.1.0 that GitHub code scanning reads (the full schema is not vendored).
SARIF_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["version", "runs", "$schema"],
    "properties": {
        "version": {"const": "2.1.0"},
        "runs": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "required": ["tool", "results"],
                "properties": {
                    "tool": {
                        "type": "object",
                        "required": ["driver"],
                        "properties": {
                            "driver": {
                                "type": "object",
                                "required": ["name", "rules"],
                                "properties": {
                                    "name": {"type": "string"},
                                    "rules": {
                                        "type": "array",
                                        "items": {
                                            "type": "object",
                                            "required": ["id", "shortDescription", "help"],
                                            "properties": {
                                                "id": {"type": "string"},
                                                "shortDescription": {
                                                    "type": "object",
                                                    "required": ["text"],
                                                },
                                                "fullDescription": {
                                                    "type": "object",
                                                    "required": ["text"],
                                                },
                                                "help": {"type": "object", "required": ["text"]},
                                                "defaultConfiguration": {
                                                    "type": "object",
                                                    "properties": {
                                                        "level": {
                                                            "enum": [
                                                                "none",
                                                                "note",
                                                                "warning",
                                                                "error",
                                                            ]
                                                        }
                                                    },
                                                },
                                            },
                                        },
                                    },
                                },
                            }
                        },
                    },
                    "results": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "required": [
                                "ruleId",
                                "level",
                                "message",
                                "locations",
                                "partialFingerprints",
                            ],
                            "properties": {
                                "ruleId": {"type": "string"},
                                "ruleIndex": {"type": "integer", "minimum": 0},
                                "level": {"enum": ["none", "note", "warning", "error"]},
                                "message": {"type": "object", "required": ["text"]},
                                "locations": {
                                    "type": "array",
                                    "minItems": 1,
                                    "items": {
                                        "type": "object",
                                        "required": ["physicalLocation", "logicalLocations"],
                                        "properties": {
                                            "physicalLocation": {
                                                "type": "object",
                                                "required": ["artifactLocation", "region"],
                                                "properties": {
                                                    "artifactLocation": {
                                                        "type": "object",
                                                        "required": ["uri"],
                                                        "properties": {
                                                            "uri": {
                                                                "type": "string",
                                                                "pattern": "^[^/]",
                                                            }
                                                        },
                                                    },
                                                    "region": {
                                                        "type": "object",
                                                        "required": ["startLine"],
                                                        "properties": {
                                                            "startLine": {
                                                                "type": "integer",
                                                                "minimum": 1,
                                                            }
                                                        },
                                                    },
                                                },
                                            },
                                            "logicalLocations": {
                                                "type": "array",
                                                "items": {
                                                    "type": "object",
                                                    "required": ["fullyQualifiedName"],
                                                },
                                            },
                                        },
                                    },
                                },
                                "partialFingerprints": {
                                    "type": "object",
                                    "minProperties": 1,
                                    "additionalProperties": {"type": "string"},
                                },
                                "suppressions": {
                                    "type": "array",
                                    "items": {
                                        "type": "object",
                                        "required": ["kind"],
                                        "properties": {
                                            "kind": {"enum": ["inSource", "external"]},
                                            "status": {
                                                "enum": ["accepted", "underReview", "rejected"]
                                            },
                                        },
                                    },
                                },
                            },
                        },
                    },
                },
            },
        },
    },
}


def sample_report() -> CheckReport:
    waiver = Waiver(
        "iam.missing_permissions_boundary", ROLE, "legacy | role", "iam@example.com", "2027-01-01"
    )
    findings = [
        Finding(
            "iam.session_too_long",
            DENY,
            ROLE,
            "role etl allows 43200 s",
            title="Session too long",
            remediation="Lower it.",
        ),
        Finding(
            "iam.session_too_long",
            UNKNOWN,
            ROLE + "2",
            "cannot decide",
            title="Session too long",
            remediation="Lower it.",
        ),
        Finding(
            "taints.spot_without_taint",
            DENY,
            POOL,
            "no taint <spot>",
            title="Spot taint",
            remediation="Add the taint.",
            location=Location("manifests/pools.yaml", 12),
        ),
        Finding(
            "iam.missing_permissions_boundary",
            WAIVED,
            ROLE,
            "no boundary [warn, waived]",
            title="Boundary",
            waiver=waiver,
        ),
        Finding(
            "CKV_K8S_16",
            WARN,
            POOL,
            "Container should not be privileged (Pod.ml.x)",
            engine="checkov",
            title="Container should not be privileged",
            remediation="Drop privileged.",
            location=Location("manifests/pools.yaml", 12),
        ),
        Finding(
            "CKV_SECRET_2",
            DENY,
            "config/creds.yaml",
            "AWS Access Key (line 3)",
            engine="checkov",
            title="AWS Access Key",
            remediation="Rotate it.",
            location=Location("config/creds.yaml", 3),
        ),
    ]
    rules = [
        RuleInfo(
            "iam.session_too_long",
            "Session too long",
            "Long sessions.",
            "Lower it.",
            DENY,
            "burst.iam",
        ),
        RuleInfo("iam.missing_permissions_boundary", "Boundary", "", "Set one.", WARN, "burst.iam"),
        RuleInfo(
            "taints.spot_without_taint", "Spot taint", "", "Add the taint.", DENY, "burst.taints"
        ),
        RuleInfo("network.open_ingress", "Open ingress", "", "Close it.", DENY, "burst.network"),
    ]
    return CheckReport(
        findings=findings,
        resources=42,
        rules=rules,
        packages=["burst.iam", "burst.network", "burst.taints"],
        primary_location=Location("out/plan.json"),
    )


def test_json_shape() -> None:
    document = json.loads(render(sample_report(), "json"))
    assert document["summary"] == {"deny": 3, "warn": 1, "unknown": 1, "waived": 1, "resources": 42}
    assert set(document) == {"summary", "undecided", "checkov", "findings"}
    for finding in document["findings"]:
        assert set(finding) == {
            "rule",
            "severity",
            "resource",
            "message",
            "engine",
            "remediation",
            "title",
        }
        assert finding["engine"] in {"opa", "checkov"}
    assert [f["severity"] for f in document["findings"]] == [
        DENY,
        DENY,
        DENY,
        UNKNOWN,
        WARN,
        WAIVED,
    ]
    assert document["findings"][0]["rule"] == "CKV_SECRET_2"


def test_empty_report_json() -> None:
    document = report_json(CheckReport(findings=[], resources=0))
    assert document == {
        "summary": {"deny": 0, "warn": 0, "unknown": 0, "waived": 0, "resources": 0},
        "undecided": [],
        "checkov": [],
        "findings": [],
    }


def test_sarif_structure() -> None:
    log = json.loads(render(sample_report(), "sarif"))
    jsonschema.validate(log, SARIF_SCHEMA)
    run = log["runs"][0]
    rules = run["tool"]["driver"]["rules"]
    ids = [r["id"] for r in rules]
    assert ids == sorted(ids)
    assert {"iam.session_too_long", "network.open_ingress", "CKV_K8S_16", "CKV_SECRET_2"} <= set(
        ids
    )
    session = rules[ids.index("iam.session_too_long")]
    assert session["help"]["text"] == "Lower it."
    assert session["fullDescription"]["text"] == "Long sessions."
    results = run["results"]
    assert len(results) == 6
    for result in results:
        assert ids[result["ruleIndex"]] == result["ruleId"]
    by_rule = {(r["ruleId"], r["properties"]["severity"]): r for r in results}
    deny = by_rule[("iam.session_too_long", DENY)]
    assert deny["level"] == "error"
    assert deny["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == "out/plan.json"
    assert deny["locations"][0]["logicalLocations"][0]["fullyQualifiedName"] == ROLE
    assert by_rule[("iam.session_too_long", UNKNOWN)]["level"] == "warning"
    pool = by_rule[("taints.spot_without_taint", DENY)]["locations"][0]["physicalLocation"]
    assert pool == {
        "artifactLocation": {"uri": "manifests/pools.yaml", "uriBaseId": "%SRCROOT%"},
        "region": {"startLine": 12},
    }
    waived = by_rule[("iam.missing_permissions_boundary", WAIVED)]
    assert waived["level"] == "note"
    assert waived["suppressions"][0]["status"] == "accepted"
    assert "iam@example.com" in waived["suppressions"][0]["justification"]
    fingerprints = [next(iter(r["partialFingerprints"].values())) for r in results]
    assert len(set(fingerprints)) == len(fingerprints)


def test_sarif_fingerprints_are_stable() -> None:
    first = report_sarif(sample_report())["runs"][0]["results"]
    second = report_sarif(sample_report())["runs"][0]["results"]
    assert [r["partialFingerprints"] for r in first] == [r["partialFingerprints"] for r in second]


def test_junit_parses_and_counts() -> None:
    root = ET.fromstring(render(sample_report(), "junit"))  # noqa: S314 - our own output
    assert root.tag == "testsuites"
    suites = {s.get("name"): s for s in root.findall("testsuite")}
    assert set(suites) == {"opa", "checkov"}
    opa = suites["opa"]
    cases = opa.findall("testcase")
    names = [(c.get("classname"), c.get("name")) for c in cases]
    assert ("opa.network.open_ingress", "all resources") in names  # a passed rule
    assert ("opa.taints.spot_without_taint", POOL) in names
    failures = [c for c in cases if c.find("failure") is not None]
    assert len(failures) == 2
    assert all(c.find("failure").get("type") == "deny" for c in failures)  # type: ignore[union-attr]
    skipped = [c for c in cases if c.find("skipped") is not None]
    assert sorted(c.find("skipped").get("message", "").split(":")[0] for c in skipped) == [  # type: ignore[union-attr]
        "unknown",
        "waived",
    ]
    assert opa.get("tests") == str(len(cases)) == "5"
    assert opa.get("failures") == "2" and opa.get("skipped") == "2"
    assert root.get("failures") == "3"
    checkov_cases = suites["checkov"].findall("testcase")
    assert {c.get("classname") for c in checkov_cases} == {
        "checkov.CKV_K8S_16",
        "checkov.CKV_SECRET_2",
    }


def test_markdown_comment() -> None:
    text = render(sample_report(), "markdown")
    assert text.startswith("### :x: burst check failed")
    assert "| 3 | 1 | 1 | 1 | 42 |" in text
    assert (
        text.index("#### Deny")
        < text.index("#### Unknown")
        < text.index("Warn: 1")
        < text.index("Waived: 1")
    )
    assert "could not be decided" in text
    assert "*Fix:* Lower it." in text
    assert "no taint &lt;spot&gt;" in text


def test_markdown_truncates_long_groups() -> None:
    findings = [Finding("r", DENY, f"res-{i:03d}", "m", title="t") for i in range(120)]
    text = render(CheckReport(findings=findings, resources=120), "markdown")
    assert "- ... and 70 more" in text


def test_text_report_groups_by_rule_and_ends_with_summary() -> None:
    text = render(sample_report(), "text")
    lines = text.rstrip("\n").splitlines()
    assert lines[-1] == summary_line(sample_report())
    assert lines[-1].startswith(
        "burst check FAILED: 3 deny, 1 warn, 1 unknown, 1 waived; 42 resources"
    )
    assert "could not be decided" in lines[-1]
    assert text.index("DENY  CKV_SECRET_2 [checkov]") < text.index("UNKNOWN  iam.session_too_long")
    assert "  fix: Lower it." in text


def test_passing_summary() -> None:
    report = CheckReport(findings=[Finding("r", WARN, "x", "m")], resources=3)
    assert report.exit_code == 0
    assert summary_line(report).startswith("burst check passed: 0 deny, 1 warn")


@pytest.mark.parametrize("fmt", FORMATS)
def test_every_format_renders_an_empty_report(fmt: str) -> None:
    text = render(CheckReport(findings=[], resources=0), fmt)
    assert text.endswith("\n")


def test_text_report_lists_every_rule_with_its_outcome() -> None:
    rules = [
        RuleInfo("iam.session_too_long", title="Session too long", package="burst.iam"),
        RuleInfo("network.public_subnet", title="Public subnet", package="burst.network"),
    ]
    findings = [
        Finding("iam.session_too_long", DENY, ROLE, "too long"),
        Finding("iam.session_too_long", UNKNOWN, ROLE + "2", "cannot decide"),
    ]
    report = CheckReport(
        findings=findings, resources=2, rules=rules, packages=["burst.iam", "burst.network"]
    )
    text = render(report, "text")
    assert "Rules evaluated (2 in 2 packages):" in text
    (session,) = [line for line in text.splitlines() if line.startswith("  iam.session_too_long")]
    assert "1 deny, 1 unknown" in session
    (subnet,) = [line for line in text.splitlines() if line.startswith("  network.public_subnet")]
    assert subnet.split()[1] == "ok"


def test_github_annotations_anchor_at_the_declaring_line() -> None:
    text = render(sample_report(), "github")
    lines = text.splitlines()
    pool = next(line for line in lines if "spot_without_taint" in line)
    assert pool.startswith(
        "::error file=manifests/pools.yaml,line=12,title=taints.spot_without_taint%3A Spot taint::"
    )
    assert "%0AFix: Add the taint." in pool
    assert any(
        line.startswith("::notice ") and "missing_permissions_boundary" in line for line in lines
    )
    assert lines[-1].startswith("burst check FAILED")
    for line in lines[:-1]:
        assert line.startswith(("::error ", "::warning ", "::notice ")), line


def test_github_escapes_newlines_and_percent() -> None:
    finding = Finding("r.x", DENY, "urn:a\n::error ::fake", "50% off\nsecond line", title="T, t")
    text = render(CheckReport([finding], resources=1), "github")
    first = text.splitlines()[0]
    assert (
        first
        == "::error title=r.x%3A T%2C t::50%25 off%0Asecond line (resource: urn:a%0A::error ::fake)"
    )
    assert len(text.splitlines()) == 2


# ---------------------------------------------------------------------------------------------
# Pull-request formats: SARIF rule metadata, JUnit times and levels, --fail-on, Markdown limits
# ---------------------------------------------------------------------------------------------


def test_sarif_rules_carry_docs_severity_and_names() -> None:
    from burst_platform import REPOSITORY_URL
    from burst_platform.docs import POLICY_DOCS_URL

    driver = report_sarif(sample_report())["runs"][0]["tool"]["driver"]
    assert driver["informationUri"] == REPOSITORY_URL
    rules = {r["id"]: r for r in driver["rules"]}
    session = rules["iam.session_too_long"]
    assert session["name"] == "SessionTooLong"
    assert session["helpUri"] == f"{POLICY_DOCS_URL}#iamsession_too_long-session-too-long"
    assert session["properties"]["security-severity"] == "8.0"
    assert rules["iam.missing_permissions_boundary"]["properties"]["security-severity"] == "5.0"
    assert f"[Rule documentation]({session['helpUri']})" in session["help"]["markdown"]
    checkov = rules["CKV_K8S_16"]
    assert "helpUri" not in checkov  # no guideline in its remediation
    assert checkov["name"] == "ContainerShouldNotBePrivileged"


def test_sarif_rule_names_stay_distinct_when_titles_clash() -> None:
    rules = [RuleInfo("a.one", "Same title"), RuleInfo("b.two", "Same title")]
    report = CheckReport(findings=[], resources=0, rules=rules)
    names = [r["name"] for r in report_sarif(report)["runs"][0]["tool"]["driver"]["rules"]]
    assert names == ["SameTitle", "BTwo"]


def test_checkov_guideline_and_waiver_rules_link_to_their_docs() -> None:
    from burst_platform.docs import POLICY_DOCS_URL

    guideline = "https://docs.prismacloud.io/en/policy-reference/x"
    findings = [
        Finding("CKV_K8S_1", WARN, POOL, "m", engine="checkov", title="T",
                remediation=f"See {guideline}; or waive CKV_K8S_1 for this resource.",
                help_uri=guideline),
        Finding("waiver.unused", WARN, ROLE, "m", title="Waiver matches nothing"),
    ]  # fmt: skip
    rules = report_sarif(CheckReport(findings=findings, resources=1))["runs"][0]["tool"]["driver"]
    by_id = {r["id"]: r for r in rules["rules"]}
    assert by_id["CKV_K8S_1"]["helpUri"] == guideline
    assert by_id["waiver.unused"]["helpUri"] == f"{POLICY_DOCS_URL}#waivers"


def test_files_outside_the_repository() -> None:
    finding = Finding("r.x", DENY, ROLE, "m", title="T", location=Location("/srv/p r/plan.json"))
    report = CheckReport([finding], resources=1)
    physical = report_sarif(report)["runs"][0]["results"][0]["locations"][0]["physicalLocation"]
    assert physical["artifactLocation"] == {"uri": "file:///srv/p%20r/plan.json"}
    assert render(report, "github").startswith("::error title=r.x%3A T::")


def test_junit_times_and_skipped_warnings() -> None:
    report = sample_report()
    report.timings = {"total": 2.5, "evaluation": 0.5, "checkov": 1.2}
    root = ET.fromstring(render(report, "junit"))  # noqa: S314 - our own output
    assert root.get("time") == "2.500"
    suites = {s.get("name"): s for s in root.findall("testsuite")}
    assert suites["opa"].get("time") == "0.500"
    assert suites["checkov"].get("time") == "1.200"
    opa_cases = suites["opa"].findall("testcase")
    assert {c.get("time") for c in opa_cases} == {"0.100"}  # 0.5 s over 5 cases
    (warn,) = [c for c in suites["checkov"].findall("testcase") if c.get("classname") ==
               "checkov.CKV_K8S_16"]  # fmt: skip
    skipped = warn.find("skipped")
    assert skipped is not None and skipped.get("message", "").startswith("warn: Container")
    assert warn.find("system-out") is None
    assert (warn.get("file"), warn.get("line")) == ("manifests/pools.yaml", "12")


@pytest.mark.parametrize(
    ("fail_on", "failing", "code"),
    [(DENY, {DENY}, 1), (UNKNOWN, {DENY, UNKNOWN}, 1), (WARN, {DENY, UNKNOWN, WARN}, 1)],
)
def test_fail_on_levels(fail_on: str, failing: set[str], code: int) -> None:
    report = sample_report()
    report.fail_on = fail_on
    assert report.exit_code == code
    root = ET.fromstring(render(report, "junit"))  # noqa: S314 - our own output
    failures = {c.find("failure").get("type") for c in root.iter("testcase")  # type: ignore[union-attr]
                if c.find("failure") is not None}  # fmt: skip
    assert failures == failing
    github = render(report, "github").splitlines()
    errors = {line for line in github if line.startswith("::error ")}
    assert len(errors) == sum(1 for f in report.findings if f.severity in failing)
    assert any(line.startswith("::notice ") for line in github)  # waived never fails
    words = {DENY: "", UNKNOWN: "deny and unknown fail", WARN: "deny, unknown and warn fail"}
    if fail_on != DENY:
        assert summary_line(report).endswith(f"--fail-on {fail_on}: {words[fail_on]}")
    else:
        assert "--fail-on" not in summary_line(report)


def test_only_warnings_pass_unless_fail_on_warn() -> None:
    findings = [Finding("r.w", WARN, "x", "m"), Finding("r.u", UNKNOWN, "y", "m")]
    report = CheckReport(findings=findings, resources=2)
    assert report.exit_code == 0
    report.fail_on = UNKNOWN
    assert report.exit_code == 1
    report.findings = [findings[0]]
    assert report.exit_code == 0
    report.fail_on = WARN
    assert report.exit_code == 1
    report.findings = [Finding("r.v", WAIVED, "z", "m")]
    assert report.exit_code == 0


def test_text_colours_only_when_asked() -> None:
    plain = render(sample_report(), "text")
    coloured = render(sample_report(), "text", colour=True)
    assert "\x1b" not in plain
    assert "\x1b[1;31mDENY\x1b[0m  CKV_SECRET_2" in coloured
    assert "\x1b[1;33mWARN\x1b[0m  CKV_K8S_16" in coloured
    assert "\x1b[1;35mUNKNOWN\x1b[0m  iam.session_too_long" in coloured
    assert re.sub(r"\x1b\[[0-9;]*m", "", coloured) == plain


def huge_report(findings: int, rules: int) -> CheckReport:
    items = [
        Finding(
            f"rule.r{i % rules:03d}",
            DENY if i % 3 else WARN,
            f"urn:pulumi:prod::burst-platform::aws:s3/bucket:Bucket::bucket-{i:06d}",
            "x" * 900 + f" finding {i}",
            title=f"Rule {i % rules}",
            remediation="Fix it.",
        )
        for i in range(findings)
    ]
    waivers = [
        Waiver("rule.r001", f"urn:pulumi:prod::burst-platform::aws:s3/bucket:Bucket::w{i}",
               "accepted for now", "owner@example.com", "2027-01-01")
        for i in range(3000)
    ]  # fmt: skip
    return CheckReport(findings=items, resources=findings, waivers=waivers, stack="prod")


def test_markdown_stays_under_the_comment_limit() -> None:
    from burst_platform.check.formats import GITHUB_COMMENT_LIMIT

    report = huge_report(20_000, 200)
    text = render(report, "markdown")
    assert len(text) <= GITHUB_COMMENT_LIMIT
    assert len(text.encode("utf-16-le")) // 2 <= GITHUB_COMMENT_LIMIT
    assert len(text) > GITHUB_COMMENT_LIMIT * 0.9  # cut near the limit, not far below
    shown = sum(1 for line in text.splitlines() if line.startswith("- `bucket-"))
    more = sum(int(n) for n in re.findall(r"^- \.\.\. and (\d+) more$", text, re.MULTILINE))
    (left,) = re.findall(r"^\*\*… and (\d+) more findings\*\*", text, re.MULTILINE)
    assert shown + more + int(left) == 20_000
    assert text.count("<details>") == text.count("</details>")
    assert "| 13333 | 6667 | 0 | 0 | 20000 |" in text
    assert "… and " in text.split("#### Waivers in force: 3000", 1)[1]  # waivers cut too
    assert text.rstrip().endswith("<!-- burst-check:prod -->")


def test_markdown_that_fits_is_not_cut() -> None:
    text = render(huge_report(40, 4), "markdown")
    assert "more findings" not in text
    assert sum(1 for line in text.splitlines() if line.startswith("- `bucket-")) == 40


def test_markdown_marker_is_a_safe_comment() -> None:
    report = CheckReport(findings=[], resources=0, stack="prod --><script>")
    assert render(report, "markdown").rstrip().endswith("<!-- burst-check:prod_____script_ -->")


def test_markdown_names_resources_and_links_their_lines() -> None:
    urn = (
        "urn:pulumi:prod::burst-platform::burst:karpenter:GpuCapacity"
        "$kubernetes:karpenter.sh/v1:NodePool::gpu-ml-spot"
    )
    finding = Finding(
        "taints.x", DENY, urn, "m", title="T", location=Location("components/gpu capacity.py", 512)
    )
    plain = render(CheckReport([finding], resources=1, commit="abc123"), "markdown")
    assert (
        "- `gpu-ml-spot` (kubernetes:karpenter.sh/v1:NodePool) at "
        "`components/gpu capacity.py:512`: m" in plain
    )
    linked = render(
        CheckReport(
            [finding], resources=1, commit="abc123", repository_url="https://github.com/acme/burst"
        ),
        "markdown",
    )
    assert (
        "- `gpu-ml-spot` (kubernetes:karpenter.sh/v1:NodePool) at [components/gpu capacity.py:512]"
        "(https://github.com/acme/burst/blob/abc123/components/gpu%20capacity.py#L512): m"
    ) in linked
    elsewhere = Finding(
        "r.x",
        DENY,
        "k8s://manifests/pod.yaml#Pod/ml/x",
        "m",
        title="T",
        location=Location("/abs/pod.yaml", 3),
    )
    assert "- `k8s://manifests/pod.yaml#Pod/ml/x`: m" in render(
        CheckReport([elsewhere], resources=1), "markdown"
    )


def test_the_repository_address_comes_from_github_actions(monkeypatch: pytest.MonkeyPatch) -> None:
    from burst_platform.check.pipeline import current_repository_url

    monkeypatch.setenv("GITHUB_SERVER_URL", "https://github.com/")
    monkeypatch.setenv("GITHUB_REPOSITORY", "acme/burst-infra")
    assert current_repository_url() == "https://github.com/acme/burst-infra"
    monkeypatch.setenv("GITHUB_REPOSITORY", "acme/../../evil)")
    assert current_repository_url() is None
    monkeypatch.delenv("GITHUB_SERVER_URL")
    assert current_repository_url() is None
