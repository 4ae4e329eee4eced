"""The browser-test harness itself: without chromium the tests skip and say why, unless CI
requires them; a failing browser test leaves a screenshot and prints its path. Each case runs
pytest in a subprocess on SQLite, with its own var/ directory."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.e2e.support import CHROMIUM

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = Path(__file__).parent / "harness" / "failing_example.py"


def run_example(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {
        key: value
        for key, value in os.environ.items()
        if key not in {"DATABASE_URL", "CACHE_URL", "CELERY_BROKER_URL", "HEALTHNET_E2E_REQUIRED"}
        and not key.startswith("PYTEST_")
    }
    environment.update(HEALTHNET_ENV="test", HEALTHNET_VAR_DIR=str(tmp_path), **env)
    return subprocess.run(  # noqa: S603 - this interpreter, fixed arguments
        [sys.executable, "-m", "pytest", "-p", "no:xdist", "-q", str(EXAMPLE)],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def test_without_chromium_the_browser_tests_skip_and_say_why(tmp_path):
    result = run_example(tmp_path, HEALTHNET_CHROMIUM="/nonexistent/chromium")

    assert result.returncode == 0, result.stdout
    assert "1 skipped" in result.stdout
    assert "no chromium at /nonexistent/chromium: apt-get install chromium" in result.stdout


def test_without_chromium_the_browser_tests_fail_when_ci_requires_them(tmp_path):
    result = run_example(
        tmp_path, HEALTHNET_CHROMIUM="/nonexistent/chromium", HEALTHNET_E2E_REQUIRED="1"
    )

    assert result.returncode == 1, result.stdout
    assert "HEALTHNET_E2E_REQUIRED=1: browser tests must run" in result.stdout


@pytest.mark.skipif(not CHROMIUM.exists(), reason=f"needs chromium at {CHROMIUM}")
def test_a_failing_browser_test_leaves_a_screenshot_and_prints_where(tmp_path):
    result = run_example(tmp_path, HEALTHNET_HARNESS_FAIL="1")

    assert result.returncode == 1, result.stdout
    [shot] = (tmp_path / "e2e").glob("*test_example-0.png")
    assert f"page screenshot: {shot}" in result.stdout
    assert shot.read_bytes().startswith(b"\x89PNG")
