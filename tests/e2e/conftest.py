"""Browser tests: Playwright driving Debian's chromium against pytest-django's live server.

Fixtures:
- `base_url`: the live server's address (a transactional database: data the test creates is
  what the browser sees);
- `page`: a fresh chromium (its own empty profile) at 1366×768, zh-CN, Asia/Shanghai;
  `open_browser(**options)` opens another one with Playwright's context options (a phone
  viewport, `java_script_enabled=False`, locale="en-GB", …);
- `clinic`: the clinic day of tests/portal/scenario.py, its logins in `clinic.users[role]`.

Every browser opened is watched: a script error, a Content-Security-Policy violation or a
failed sub-resource (a 404 stylesheet, a 500 from an htmx poll) fails the test (a test that
provokes one on purpose asserts and clears it in `browser_problems`). A failing test
leaves a screenshot of each of its pages under var/e2e/ and prints where.

No chromium at /usr/bin/chromium: the tests skip, unless HEALTHNET_E2E_REQUIRED=1 (CI), when
they fail.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, Playwright, sync_playwright

from tests.e2e.support import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, CLINIC_PC
from tests.portal.scenario import Clinic, build_clinic

PAGES_KEY = pytest.StashKey[list[Page]]()


@pytest.fixture(scope="session")
def chromium_executable() -> Path:
    if CHROMIUM.exists():
        return CHROMIUM
    reason = f"no chromium at {CHROMIUM}: apt-get install chromium fonts-noto-cjk"
    if os.environ.get("HEALTHNET_E2E_REQUIRED") == "1":
        pytest.fail(f"{reason} (HEALTHNET_E2E_REQUIRED=1: browser tests must run)")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def playwright_driver(chromium_executable: Path) -> Iterator[Playwright]:
    # Playwright's sync API runs an event loop in this thread; the ORM calls the tests make
    # between browser steps are ordinary synchronous calls.
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        with sync_playwright() as driver:
            yield driver


@pytest.fixture
def base_url(live_server) -> str:
    return live_server.url


def _watch(page: Page, problems: list[str]) -> None:
    def on_console(message) -> None:
        # A 403/404 document is a page under test, not a broken resource: responses are
        # checked below by type instead.
        if message.type == "error" and not message.text.startswith("Failed to load resource"):
            problems.append(f"console: {message.text}")

    def on_response(response) -> None:
        if response.status >= 400 and response.request.resource_type != "document":
            problems.append(f"{response.status} {response.request.resource_type} {response.url}")

    page.on("console", on_console)
    page.on("pageerror", lambda error: problems.append(f"script error: {error}"))
    page.on("response", on_response)


def _screenshot(page: Page, nodeid: str, index: int) -> Path | None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", nodeid).strip("_")
    path = ARTIFACTS / f"{name}-{index}.png"
    try:
        page.screenshot(path=path, full_page=True)
    except Exception:  # a closed or crashed page: nothing to show
        return None
    return path


@pytest.fixture
def browser_problems() -> list[str]:
    """What the watched browsers reported so far. A test that provokes a failure on purpose
    asserts it is here, then clears it."""
    return []


@pytest.fixture
def open_browser(
    request: pytest.FixtureRequest,
    playwright_driver: Playwright,
    chromium_executable: Path,
    tmp_path_factory: pytest.TempPathFactory,
    browser_problems: list[str],
) -> Iterator[Callable[..., Page]]:
    contexts = []
    problems = browser_problems
    request.node.stash[PAGES_KEY] = pages = []

    def open_(**options) -> Page:
        settings_ = {
            "locale": "zh-CN",
            "timezone_id": "Asia/Shanghai",
            "viewport": CLINIC_PC,
            "accept_downloads": True,
            **options,
        }
        context = playwright_driver.chromium.launch_persistent_context(
            tmp_path_factory.mktemp("chromium-profile"),
            executable_path=str(chromium_executable),
            args=CHROMIUM_ARGS,
            headless=True,
            **settings_,
        )
        context.set_default_timeout(15_000)
        contexts.append(context)
        page = context.pages[0] if context.pages else context.new_page()
        _watch(page, problems)
        pages.append(page)
        return page

    yield open_

    shots = []
    if problems:
        shots = [_screenshot(page, request.node.nodeid, i) for i, page in enumerate(pages)]
    for context in contexts:
        context.close()
    if problems:
        where = ", ".join(str(path) for path in shots if path)
        pytest.fail("the browser reported:\n" + "\n".join(problems) + f"\nscreenshots: {where}")


@pytest.fixture
def page(open_browser: Callable[..., Page]) -> Page:
    return open_browser()


@pytest.fixture
def clinic(transactional_db) -> Clinic:
    return build_clinic()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    outcome = yield
    report = outcome.get_result()
    if report.when != "call" or not report.failed:
        return
    shots = [
        path
        for index, page in enumerate(item.stash.get(PAGES_KEY, []))
        if (path := _screenshot(page, item.nodeid, index))
    ]
    if shots:
        report.sections.append(
            ("screenshots", "\n".join(f"page screenshot: {path}" for path in shots))
        )
