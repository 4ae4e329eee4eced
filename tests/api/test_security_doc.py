"""docs/security.md is complete and true to the code: its permission table is the catalogue's,
its limits are settings that exist, and it says how to report a vulnerability."""

from __future__ import annotations

import re
from pathlib import Path

from django.conf import settings

from healthnet.permissions import catalogue_markdown

DOC = (Path(__file__).resolve().parents[2] / "docs" / "security.md").read_text(encoding="utf-8")


def test_the_permission_table_is_the_catalogue():
    block = DOC.split("<!-- permissions:begin -->\n", 1)[1].split("\n<!-- permissions:end -->")[0]

    assert block == catalogue_markdown(), "regenerate: healthnet.permissions.catalogue_markdown()"


def test_every_limit_named_is_a_setting_and_the_new_ones_are_named():
    limits = DOC.split("## Limits and their settings", 1)[1].split("\n## ", 1)[0]
    named = set(re.findall(r"`([A-Z][A-Z0-9_]+)`", limits))

    assert {
        "RESIDENT_LOOKUP_LIMIT",
        "RESIDENT_LOOKUP_WINDOW_SECONDS",
        "LOGIN_FAILURE_LIMIT",
    } <= named
    healthcode = {"HEALTHCODE_SCAN_RATE_LIMIT", "HEALTHCODE_SCAN_RATE_WINDOW_SECONDS"}
    assert [name for name in named - healthcode if not hasattr(settings, name)] == []


def test_it_says_how_to_report_a_vulnerability_with_no_dead_placeholder():
    report = DOC.split("## Reporting a vulnerability", 1)[1]

    assert "security/advisories/new" in report
    assert "security@healthnet.example" in report
    assert "placeholder" in report  # marked as the maintainers' to set
    assert "TODO" not in DOC
    assert "will narrow" not in DOC  # no promise left for what is done
