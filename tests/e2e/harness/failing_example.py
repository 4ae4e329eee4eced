"""Run only by tests/e2e/test_harness.py (the name keeps it out of normal collection): a browser
test that fails when HEALTHNET_HARNESS_FAIL=1, to prove the harness screenshots failures."""

from __future__ import annotations

import os

import pytest

pytestmark = pytest.mark.e2e


def test_example(page, base_url):
    page.goto(f"{base_url}/accounts/login/")
    assert os.environ.get("HEALTHNET_HARNESS_FAIL") != "1", "failing on purpose"
