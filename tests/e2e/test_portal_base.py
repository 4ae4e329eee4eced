"""The portal's base in a real browser: a clinic doctor signs in (zh-hans) and lands on the
工作台; the counters refresh in place; the language switch; keyboard-only use; the pages pass
axe-core and fit a clinic PC, a tablet and (the login) a phone; and all of it without JS."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from portal.htmx import POLL_HEADER
from referrals import services as referral_services
from referrals.models import ReferralUrgency
from tests.e2e.support import (
    CLINIC_PC,
    PHONE,
    TABLET,
    assert_axe_clean,
    assert_fits,
    login_as,
    login_with_form,
)
from tests.factories import ResidentFactory

pytestmark = pytest.mark.e2e

GP_COUNTERS = {
    "awaiting_decision": "2",
    "arrivals_today": "1",
    "downward_to_pick_up": "3",
    "followups_this_week": "2",
    "contracts_expiring": "1",
}


def counter_value(page: Page, key: str):
    return page.locator(f'[data-counter="{key}"] .counter__value')


def test_a_clinic_doctor_signs_in_in_chinese_and_lands_on_the_workbench(page, base_url, clinic):
    login_with_form(page, base_url, clinic.users["doctor"].username)

    expect(page).to_have_url(f"{base_url}/workbench/")
    expect(page.locator("html")).to_have_attribute("lang", "zh-hans")
    expect(page.get_by_role("heading", level=1)).to_have_text("工作台")
    expect(page.locator("[data-counter]")).to_have_count(5)
    for key, value in GP_COUNTERS.items():
        expect(counter_value(page, key)).to_have_text(value)
    decision = page.get_by_role("link", name=re.compile("待我决定的转诊"))
    expect(decision).to_contain_text("其中 1 件已超时")
    expect(decision).to_have_attribute("href", "/referrals/incoming/?status=submitted")
    menu = page.get_by_role("navigation", name="主菜单")
    expect(menu.get_by_role("link", name="工作台")).to_have_attribute("aria-current", "page")
    expect(page.locator(".site-user")).to_contain_text("王建华")


def test_the_counters_refresh_in_place_without_a_reload(page, base_url, clinic, settings):
    settings.PORTAL_COUNTERS_REFRESH_SECONDS = 1
    login_as(page, base_url, clinic.users["doctor"])
    page.goto(f"{base_url}/workbench/")
    expect(counter_value(page, "awaiting_decision")).to_have_text("2")
    first_update = page.locator("[data-updated-at]").get_attribute("datetime")
    page.evaluate("window.sameDocument = true")

    referral_services.referral_create(  # a new downward referral reaches the clinic
        actor=clinic.users["tertiary_doctor"],
        resident=ResidentFactory(registered_by=clinic.tertiary, name="钱立新"),
        to_department=clinic.primary_dept,
        urgency=ReferralUrgency.ROUTINE,
        reason_code="return_to_primary_care",
        from_department=clinic.cardiology,
    )

    expect(counter_value(page, "awaiting_decision")).to_have_text("3")
    expect(counter_value(page, "downward_to_pick_up")).to_have_text("4")
    assert page.evaluate("window.sameDocument") is True
    assert page.evaluate("performance.getEntriesByType('navigation').length") == 1
    assert page.locator("[data-updated-at]").get_attribute("datetime") != first_update


def test_a_poll_says_so_a_click_does_not_and_a_failed_poll_is_shown(
    page, base_url, clinic, settings, browser_problems
):
    login_as(page, base_url, clinic.users["doctor"])
    page.goto(f"{base_url}/workbench/")  # polling every 60 s: no poll during the click
    with page.expect_request("**/workbench/counters/") as clicked:
        page.get_by_role("link", name="刷新").click()
    assert clicked.value.headers[POLL_HEADER.lower()] == "0"

    settings.PORTAL_COUNTERS_REFRESH_SECONDS = 1
    page.goto(f"{base_url}/workbench/")
    with page.expect_request("**/workbench/counters/") as polled:
        pass
    assert polled.value.headers[POLL_HEADER.lower()] == "1"

    stale = page.get_by_text("（暂时无法更新，稍后自动重试）")
    expect(stale).to_be_hidden()
    page.route("**/workbench/counters/", lambda route: route.fulfill(status=503, body="down"))
    expect(stale).to_be_visible()
    assert any(problem.startswith("503 xhr") for problem in browser_problems)
    page.unroute("**/workbench/counters/")
    expect(stale).to_be_hidden()  # the next poll succeeds and swaps in fresh counters
    browser_problems.clear()


def test_switching_to_english_and_back(page, base_url, clinic):
    login_as(page, base_url, clinic.users["doctor"])
    page.goto(f"{base_url}/workbench/")

    page.get_by_role("button", name="English").click()

    expect(page).to_have_url(f"{base_url}/workbench/")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.get_by_role("heading", level=1)).to_have_text("Workbench")
    menu = page.get_by_role("navigation", name="Main menu")
    expect(menu.get_by_role("link", name="Incoming referrals")).to_be_visible()
    expect(
        page.get_by_role("link", name=re.compile("Referrals awaiting my decision"))
    ).to_contain_text("1 overdue")
    expect(page.get_by_role("button", name="Log out")).to_be_visible()

    page.get_by_role("button", name="简体中文").click()

    expect(page.locator("html")).to_have_attribute("lang", "zh-hans")
    expect(page.get_by_role("heading", level=1)).to_have_text("工作台")


FOCUSED = """() => {
    const element = document.activeElement;
    const style = getComputedStyle(element);
    return {
        text: (element.textContent || "").trim(),
        tag: element.tagName,
        id: element.id,
        outline: style.outlineStyle,
        outlineWidth: parseFloat(style.outlineWidth),
    };
}"""


def test_the_keyboard_alone_reaches_the_menu_and_logs_out(page, base_url, clinic):
    login_as(page, base_url, clinic.users["doctor"])
    page.goto(f"{base_url}/workbench/")

    page.keyboard.press("Tab")
    assert page.evaluate(FOCUSED)["text"] == "跳到主要内容"
    expect(page.get_by_role("link", name="跳到主要内容")).to_be_in_viewport()
    page.keyboard.press("Enter")
    assert page.evaluate(FOCUSED)["id"] == "main"

    page.goto(f"{base_url}/workbench/")
    reached = []
    for _ in range(25):
        page.keyboard.press("Tab")
        reached.append(page.evaluate(FOCUSED))
    texts = [element["text"] for element in reached]
    menu = ["工作台", "转入转诊", "转出转诊", "新建转诊", "扫码台", "签约居民", "随访任务"]
    for label in [*menu, "English", "退出登录"]:
        assert label in texts, f"{label} not reached by Tab: {texts}"
    assert any("待我决定的转诊" in text for text in texts)  # and on to the counters
    controls = [e for e in reached if e["tag"] != "BODY"]  # past the last control: the page
    unmarked = [e["text"] for e in controls if e["outline"] == "none" or e["outlineWidth"] < 2]
    assert unmarked == [], "focus not visible on these"

    page.goto(f"{base_url}/workbench/")
    for _ in range(10):
        page.keyboard.press("Tab")
        if page.evaluate(FOCUSED)["text"] == "退出登录":
            break
    page.keyboard.press("Enter")

    expect(page).to_have_url(re.compile(r"/accounts/login/$"))
    assert page.goto(f"{base_url}/workbench/").url.startswith(f"{base_url}/accounts/login/")


@pytest.mark.parametrize("viewport", [CLINIC_PC, TABLET], ids=["1366x768", "1024x768"])
def test_workbench_and_403_fit_the_screen_and_pass_axe(open_browser, base_url, clinic, viewport):
    page = open_browser(viewport=viewport)
    login_as(page, base_url, clinic.users["doctor"])

    page.goto(f"{base_url}/workbench/")
    expect(page.locator("[data-counter]")).to_have_count(5)
    assert_fits(page)
    assert_axe_clean(page)

    response = page.goto(f"{base_url}/contracts/import/")  # the admin's page, not a doctor's
    assert response.status == 403
    expect(page.get_by_role("heading", level=1)).to_have_text("无权访问此页面")
    assert_fits(page)
    assert_axe_clean(page)


@pytest.mark.parametrize("viewport", [PHONE, TABLET, CLINIC_PC], ids=["360x640", "1024", "1366"])
def test_the_login_page_fits_and_passes_axe_also_with_an_error(open_browser, base_url, viewport):
    page = open_browser(viewport=viewport, is_mobile=viewport == PHONE)
    page.goto(f"{base_url}/accounts/login/")
    assert_fits(page)
    assert_axe_clean(page)

    page.get_by_label("用户名").fill("nobody")
    page.get_by_label("密码").fill("wrong-password")
    page.get_by_role("button", name="登录").click()

    expect(page.get_by_role("alert")).to_have_text("用户名或密码错误。")
    assert_fits(page)
    assert_axe_clean(page)


def test_the_workbench_fits_a_phone_too(open_browser, base_url, clinic):
    page = open_browser(viewport=PHONE, is_mobile=True)
    login_as(page, base_url, clinic.users["doctor"])
    page.goto(f"{base_url}/workbench/")

    expect(page.locator("[data-counter]")).to_have_count(5)
    assert_fits(page)


def test_everything_works_without_javascript(open_browser, base_url, clinic):
    page = open_browser(java_script_enabled=False)

    login_with_form(page, base_url, clinic.users["doctor"].username)
    expect(counter_value(page, "awaiting_decision")).to_have_text("2")
    page.get_by_role("link", name="刷新").click()
    expect(page).to_have_url(f"{base_url}/workbench/")
    page.get_by_role("button", name="English").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Workbench")
    page.get_by_role("button", name="Log out").click()
    expect(page).to_have_url(re.compile(r"/accounts/login/$"))


def test_pages_under_test_carry_productions_content_security_policy(page, base_url, clinic):
    """The browser tests prove pages CSP-safe only if the policy they run under is production's."""
    from django.conf import settings

    response = page.goto(f"{base_url}/accounts/login/")

    assert response is not None
    assert response.headers["content-security-policy"] == settings.CONTENT_SECURITY_POLICY
    assert "script-src 'self';" in settings.CONTENT_SECURITY_POLICY
