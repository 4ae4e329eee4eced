"""The resident's phone in a real browser (Debian chromium, 390×844): sign in with the one-time
code the SMS channel was given (the outbox row), show the live code, read it off the screen
with zxing-cpp, verify it offline with the published key set, have it accepted once by the
scan API; 35 s later the page shows a new code and the old one is refused; report the phone
lost and the code on screen is refused. Also: the offline "expired" state, the family code,
the elder-friendly display, and axe-core on every resident page and the desk page."""

from __future__ import annotations

import datetime as dt
import io
import json
import re
import urllib.request

import pytest
import zxingcpp
from PIL import Image
from playwright.sync_api import Page, expect

from healthcodes import codec
from healthcodes.verifier import verify
from healthnet import services as healthnet_services
from healthnet.models import OutboxMessage
from tests.conftest import api_client_for
from tests.e2e.support import CLINIC_PC, PHONE, assert_axe_clean, assert_fits, login_as
from tests.factories import ResidentFactory

pytestmark = pytest.mark.e2e

PHONE_390 = {"width": 390, "height": 844}
NUMBER = "13912345678"
SCAN = "/api/v1/healthcodes/scan"


def code_on_screen(page: Page) -> str:
    """The QR on the screen, as a camera at the desk would read it."""
    shot = page.locator("#live-code [data-code-symbol] svg").screenshot()
    barcodes = zxingcpp.read_barcodes(Image.open(io.BytesIO(shot)))
    assert len(barcodes) == 1, "exactly one readable QR code on the screen"
    return barcodes[0].text


def published_keys(base_url: str) -> codec.KeySet:
    """The key set an offline verifier downloads (no login, no database)."""
    with urllib.request.urlopen(f"{base_url}/.well-known/healthcode-keys.json") as response:  # noqa: S310 - the live test server
        return codec.load_key_set(json.load(response))


def sign_in_by_phone(page: Page, base_url: str, number: str) -> None:
    page.goto(f"{base_url}/me/code/")  # not signed in: the login page, then the phone sign-in
    page.get_by_role("link", name="居民：使用手机验证码登录").click()
    page.get_by_label("手机号码").fill(number)
    page.get_by_role("button", name="获取验证码").click()
    expect(page.get_by_role("status")).to_contain_text("验证码已发送")
    body = OutboxMessage.objects.filter(recipient=number).latest("created_at").body
    page.get_by_label("验证码").fill(re.search(r"\d{6}", body).group(0))
    page.get_by_role("button", name="登录", exact=True).click()


def test_a_resident_signs_in_by_phone_shows_a_live_code_and_reports_the_phone_lost(
    open_browser, base_url, clinic
):
    clinic.resident.phone = NUMBER
    clinic.resident.save()
    clerk = api_client_for(clinic.users["clerk"])
    page = open_browser(viewport=PHONE_390, has_touch=True, is_mobile=True)

    sign_in_by_phone(page, base_url, NUMBER)

    expect(page).to_have_url(f"{base_url}/me/code/")
    expect(page.locator(".live-code__holder")).to_have_text("张*兰")
    expect(page.locator(".live-code__check")).to_contain_text("1503**********")
    assert_fits(page)
    assert_axe_clean(page)

    first = code_on_screen(page)
    offline = verify(first, keys=published_keys(base_url), now=dt.datetime.now(dt.UTC))
    assert offline.ok, offline.reason
    assert offline.claims.code_type is codec.CodeType.DYNAMIC
    accepted = clerk.post(SCAN, {"code": first, "purpose": "registration"})
    assert accepted.status_code == 200, accepted.json()
    assert accepted.json()["resident"]["resident_id"] == str(clinic.resident.public_id)
    assert clerk.post(SCAN, {"code": first, "purpose": "registration"}).status_code == 409
    updated_at = page.locator("[data-updated-at]").text_content()

    page.wait_for_timeout(35_000)  # a real wait: browser and server share the wall clock

    second = code_on_screen(page)
    assert second != first
    expect(page.locator("[data-updated-at]")).not_to_have_text(updated_at)
    assert page.url == f"{base_url}/me/code/"  # refreshed in place, no reload
    stale = clerk.post(SCAN, {"code": first, "purpose": "registration"})
    assert stale.status_code in (409, 422)
    assert stale.json()["code"] in ("replayed", "expired")
    assert clerk.post(SCAN, {"code": second, "purpose": "consultation"}).status_code == 200

    page.get_by_role("link", name="挂失健康卡").click()
    assert_axe_clean(page)
    page.get_by_role("button", name="确认挂失").click()

    expect(page.locator(".messages")).to_contain_text("已挂失")
    revoked = clerk.post(SCAN, {"code": second, "purpose": "health_management"})
    assert revoked.status_code == 422
    assert revoked.json()["code"] == "revoked"
    third = code_on_screen(page)  # the new card's code, on the same phone
    assert clerk.post(SCAN, {"code": third, "purpose": "health_management"}).status_code == 200


def test_offline_the_code_expires_visibly_and_comes_back_online(
    open_browser, base_url, clinic, settings, browser_problems
):
    settings.HEALTHCODE_DYNAMIC_REFRESH_SECONDS = 2
    settings.HEALTHCODE_DYNAMIC_LIFETIME_SECONDS = 4
    page = open_browser(viewport=PHONE_390)
    login_as(page, base_url, clinic.users["resident"])
    page.goto(f"{base_url}/me/code/")
    region = page.locator("#live-code")
    expect(region).not_to_have_attribute("data-expired", "")

    page.context.set_offline(True)
    expect(region).to_have_attribute("data-stale", "", timeout=10_000)
    expect(page.get_by_role("alert")).to_have_text("健康码已过期，请刷新", timeout=10_000)
    expect(page.locator("#live-code svg")).to_be_hidden()

    page.context.set_offline(False)
    expect(region).not_to_have_attribute("data-expired", "", timeout=15_000)
    expect(page.locator("#live-code svg")).to_be_visible()
    # The failed polls while offline were provoked on purpose (htmx logs them); nothing else.
    assert any("htmx:sendError" in problem for problem in browser_problems)
    assert all(
        re.match(r"console: htmx:(sendError|afterRequest)\b", problem)
        for problem in browser_problems
    ), browser_problems
    browser_problems.clear()


def test_a_guardian_shows_a_family_code_that_the_scan_records(open_browser, base_url, clinic):
    elder = ResidentFactory(registered_by=clinic.primary, name="陈淑兰")
    healthnet_services.guardianship_register(
        actor=clinic.users["clerk"], guardian=clinic.resident, ward=elder, relationship="child"
    )
    page = open_browser(viewport=PHONE)
    login_as(page, base_url, clinic.users["resident"])
    page.goto(f"{base_url}/me/family/")
    assert_axe_clean(page)
    page.get_by_role("link", name=re.compile("陈\\*兰")).click()

    expect(page.locator(".live-code__holder")).to_have_text("陈*兰")
    assert_fits(page)
    assert_axe_clean(page)
    scanned = api_client_for(clinic.users["clerk"]).post(
        SCAN, {"code": code_on_screen(page), "purpose": "registration"}
    )
    assert scanned.status_code == 200
    assert scanned.json()["resident"]["resident_id"] == str(elder.public_id)
    from healthcodes.models import ScanEvent

    assert ScanEvent.objects.get().presented_by == clinic.resident


def test_the_resident_pages_pass_axe_and_fit_a_phone_in_both_displays(
    open_browser, base_url, clinic
):
    page = open_browser(viewport=PHONE)
    login_as(page, base_url, clinic.users["resident"])
    for elder in (False, True):
        for path in ("/me/code/", "/me/contract/", "/me/referrals/", "/me/family/"):
            page.goto(f"{base_url}{path}")
            assert_fits(page)
            assert_axe_clean(page)
        if not elder:
            page.get_by_role("button", name="大字模式（适老化）").click()
            expect(page.locator("body")).to_have_class(re.compile("layout-elder"))
    size = page.evaluate("parseFloat(getComputedStyle(document.documentElement).fontSize)")
    assert size >= 20  # 131.25 % of 16 px


def test_the_phone_sign_in_page_in_english_passes_axe(open_browser, base_url, clinic):
    page = open_browser(viewport=PHONE, locale="en-GB")
    page.goto(f"{base_url}/accounts/phone/")

    expect(page.get_by_role("heading", level=1)).to_have_text("Resident sign-in by phone")
    assert_fits(page)
    assert_axe_clean(page)


def test_the_desk_card_page_passes_axe(open_browser, base_url, clinic):
    page = open_browser(viewport=CLINIC_PC)
    login_as(page, base_url, clinic.users["clerk"])
    page.goto(f"{base_url}/desk/cards/")
    assert_axe_clean(page)
    page.goto(f"{base_url}/desk/cards/{clinic.resident.public_id}/")

    expect(page.get_by_role("heading", level=1)).to_have_text("张桂兰")
    assert_axe_clean(page)
    with page.expect_download() as download:
        page.get_by_role("button", name="下载图片（PNG，300 dpi）").click()
    png = download.value.path().read_bytes()
    [barcode] = zxingcpp.read_barcodes(Image.open(io.BytesIO(png)))
    result = verify(barcode.text, keys=published_keys(base_url), now=dt.datetime.now(dt.UTC))
    assert result.ok
    assert result.claims.code_type is codec.CodeType.STATIC
