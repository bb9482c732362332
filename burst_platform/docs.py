"""Where the documentation of a rule lives: one section of `policies/README.md` per rule.

The README is generated (`python -m burst_platform.policy_pack`) with `rule_heading`, and
reports link to it with `rule_doc_url`, so the link and the heading cannot drift apart.
"""

from __future__ import annotations

import re

from burst_platform import REPOSITORY_URL

POLICY_DOCS_URL = f"{REPOSITORY_URL}/blob/main/policies/README.md"
"""The policy pack's README on the repository's default branch."""

WAIVER_RULES_PREFIX = "waiver."
"""Rules the check itself adds about waivers (`waiver.expired`, `waiver.unused`)."""

_NOT_IN_SLUG = re.compile(r"[^\w\- ]")
_MARKUP = re.compile(r"[`*]")


def rule_heading(rule_id: str, title: str) -> str:
    """The heading of a rule's section in `policies/README.md` (without the `####`)."""
    return f"`{rule_id}`: {title}"


def heading_anchor(heading: str) -> str:
    """The fragment GitHub gives a Markdown heading: lower case, markup and punctuation other
    than `-` and `_` dropped, spaces turned into `-`."""
    text = _MARKUP.sub("", heading).strip().lower()
    return _NOT_IN_SLUG.sub("", text).replace(" ", "-")


def rule_doc_url(
    rule_id: str, title: str, engine: str, engine_url: str | None = None
) -> str | None:
    """The page that documents a rule, or None when there is none.

    Policy-pack rules link to their section of `policies/README.md`; the waiver rules to its
    "Waivers" section; checkov checks to the page checkov names (`engine_url`: its guideline, or
    the check's definition, see `burst_platform.check.checkov_runner.guideline_url`), if any.
    """
    if engine == "checkov":
        return engine_url
    if rule_id.startswith(WAIVER_RULES_PREFIX):
        return f"{POLICY_DOCS_URL}#waivers"
    return f"{POLICY_DOCS_URL}#{heading_anchor(rule_heading(rule_id, title))}"
