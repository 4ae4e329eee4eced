"""What browser tests share: logging in, running axe-core, checking the page fits the screen. Pages
are served with production's Content-Security-Policy (healthnet/middleware.py), so a violation
the browser reports fails the test.

Import the helpers from here; the fixtures (page, live_server, clinic, …) are in conftest.py.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from django.conf import settings
from django.test import Client
from playwright.sync_api import Page, expect

CHROMIUM = Path(os.environ.get("HEALTHNET_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = Path(settings.VAR_DIR) / "e2e"
AXE_STATIC_PATH = "vendor/axe-core/axe.min.js"
PASSWORD = "healthnet-demo"

CLINIC_PC = {"width": 1366, "height": 768}
TABLET = {"width": 1024, "height": 768}
PHONE = {"width": 360, "height": 640}

# --- logging in ------------------------------------------------------------------------------


def login_with_form(page: Page, base_url: str, username: str, password: str = PASSWORD) -> None:
    """Sign in the way a person does: the login page, labelled fields, the button."""
    page.goto(f"{base_url}/accounts/login/")
    page.get_by_label(re.compile("^(用户名|Username)$")).fill(username)
    page.get_by_label(re.compile("^(密码|Password)$")).fill(password)
    page.get_by_role("button", name=re.compile("^(登录|Log in)$")).click()
    expect(page).not_to_have_url(re.compile(r"/accounts/login/"))


def login_as(page: Page, base_url: str, user: Any) -> None:
    """Sign in without the form (a session made server-side, its cookie handed to the browser):
    for tests whose subject is not the login."""
    client = Client()
    client.force_login(user)
    cookie = client.cookies[settings.SESSION_COOKIE_NAME]
    page.context.add_cookies(
        [{"name": settings.SESSION_COOKIE_NAME, "value": cookie.value, "url": base_url}]
    )


# --- checks ----------------------------------------------------------------------------------

BLOCKING_IMPACTS = ("serious", "critical")


def axe_violations(page: Page, *, include: str | None = None) -> list[dict[str, Any]]:
    """Run the vendored axe-core on the page; the serious and critical violations.

    axe is loaded from our own static files (a <script src> from 'self': the page's CSP allows
    it, where an inline copy of the file would be refused)."""
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        base = re.match(r"https?://[^/]+", page.url).group(0)  # type: ignore[union-attr]
        page.add_script_tag(url=f"{base}{settings.STATIC_URL.rstrip('/')}/{AXE_STATIC_PATH}")
    results = page.evaluate(
        """async (include) => {
            const context = include ? { include: [include] } : document;
            return await axe.run(context, { resultTypes: ["violations"] });
        }""",
        include,
    )
    return [v for v in results["violations"] if v["impact"] in BLOCKING_IMPACTS]


def assert_axe_clean(page: Page, *, include: str | None = None) -> None:
    violations = axe_violations(page, include=include)
    summary = [
        f"{v['id']} ({v['impact']}): {v['help']} — "
        + "; ".join(node["target"][0] for node in v["nodes"][:5])
        for v in violations
    ]
    assert not summary, f"axe-core on {page.url}:\n" + "\n".join(summary)


def horizontal_overflow(page: Page) -> int:
    """How many CSS pixels the page is wider than the window (0: it fits)."""
    return page.evaluate(
        "Math.max(document.documentElement.scrollWidth, document.body.scrollWidth)"
        " - document.documentElement.clientWidth"
    )


def assert_fits(page: Page) -> None:
    size = page.viewport_size
    overflow = horizontal_overflow(page)
    assert overflow <= 0, f"{page.url} is {overflow}px wider than {size}"
