"""The README's picture of the 工作台: a clinic doctor's workbench on the clinic day, at a clinic
PC's screen size. Always taken (var/e2e/workbench.png); `make screenshot` also writes it to
docs/img/workbench.png (HEALTHNET_README_SCREENSHOT=1)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from django.conf import settings
from playwright.sync_api import expect

from tests.e2e.support import ARTIFACTS, login_as

pytestmark = pytest.mark.e2e

README_IMAGE = Path(settings.BASE_DIR) / "docs" / "img" / "workbench.png"


def test_the_workbench_screenshot(page, base_url, clinic):
    login_as(page, base_url, clinic.users["doctor"])
    page.goto(f"{base_url}/workbench/")
    expect(page.locator("[data-counter]")).to_have_count(5)
    page.evaluate("document.fonts.ready")

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shot = ARTIFACTS / "workbench.png"
    page.screenshot(path=shot)

    assert shot.read_bytes().startswith(b"\x89PNG")
    if os.environ.get("HEALTHNET_README_SCREENSHOT") == "1":
        README_IMAGE.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(shot, README_IMAGE)
