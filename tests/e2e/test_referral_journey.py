"""Journey (a) of the portal issue in a real browser, zh-hans: a GP refers a signed resident up
to the city hospital → the hospital's coordinator accepts and schedules it → the hospital's
clerk scans the resident's code at the scan station (typed in as a handheld scanner does, ending
in Enter) and the referral shows arrived → the hospital's doctor completes it with a return to
primary care → the GP sees the downward referral and records the follow-up, closing the loop.
axe-core runs on every page visited (no serious or critical violation)."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from healthcodes import keys
from healthcodes import services as healthcodes
from healthnet.models import UserRole
from healthnet.national_id import decrypt_national_id
from referrals import services as referral_services
from referrals.models import Referral, ReferralDirection, ReferralStatus
from tests.e2e.support import (
    PHONE,
    assert_axe_clean,
    assert_fits,
    login_as,
    login_with_form,
)
from tests.factories import UserFactory

pytestmark = pytest.mark.e2e


@pytest.fixture(autouse=True)
def _fresh_key_caches():
    keys.invalidate_key_caches()
    yield
    keys.invalidate_key_caches()


def checked(page: Page) -> None:
    assert_fits(page)
    assert_axe_clean(page)


def menu(page: Page, name: str) -> None:
    page.get_by_role("navigation", name="主菜单").get_by_role("link", name=name).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(name)


def live_code(clinic) -> str:
    """What the resident's phone shows now (their own login asks for it)."""
    resident_login = clinic.users["resident"]
    card = healthcodes.healthcard_issue(actor=resident_login, resident=clinic.resident)
    return healthcodes.healthcode_issue_dynamic(actor=resident_login, card=card).text


def gp_refers_up(page: Page, base_url: str, clinic) -> Referral:
    """The GP finds 张桂兰 by her ID number and refers her up to the hospital's cardiology."""
    number = decrypt_national_id(clinic.resident.national_id_encrypted)
    login_with_form(page, base_url, clinic.users["doctor"].username)
    menu(page, "新建转诊")
    checked(page)
    page.get_by_label("居民身份证号码").fill(number)
    page.get_by_role("button", name="查找", exact=True).click()
    expect(page.get_by_role("heading", name="张桂兰")).to_be_visible()
    expect(page.locator(".id-number")).to_have_text(f"{number[:4]}**********{number[-4:]}")
    assert number not in page.url
    checked(page)
    expect(page.get_by_label("上转")).to_be_checked()
    page.get_by_label("乌海市人民医院 · 心内科").check()
    page.get_by_label("转出科室").select_option(label="全科")
    page.get_by_label("加急").check()
    page.get_by_label("转诊原因代码").fill("I20.0")
    page.get_by_label("病情摘要").fill("胸痛反复发作两周，心电图ST段压低")
    page.get_by_role("button", name="提交转诊").click()
    expect(page.locator(".messages")).to_contain_text(
        "已提交转诊：张桂兰 → 乌海市人民医院 心内科。"
    )
    referral = Referral.objects.get(resident=clinic.resident)
    assert (referral.direction, referral.status, referral.urgency) == (
        ReferralDirection.UP,
        ReferralStatus.SUBMITTED,
        "urgent",
    )
    checked(page)
    return referral


def clerk_scans_at_the_hospital(page: Page, base_url: str, clinic, referral: Referral) -> None:
    clerk = UserFactory(username="t-clerk", role=UserRole.CLERK, institution=clinic.tertiary)
    login_with_form(page, base_url, clerk.username)
    menu(page, "扫码台")
    field = page.get_by_label("健康码", exact=True)
    expect(field).to_be_focused()
    checked(page)
    page.keyboard.type(live_code(clinic))  # the scanner types, then presses Enter
    page.keyboard.press("Enter")
    result = page.locator("#scan-result")
    expect(result).to_contain_text("张桂兰 · 挂号")
    expect(result).to_contain_text("转诊已到达：新华社区卫生服务中心 → 心内科")
    expect(result).to_contain_text("新华社区第一家庭医生团队")
    expect(page.locator("#scan-log tbody tr")).to_have_count(1)
    expect(field).to_have_value("")
    expect(field).to_be_focused()  # ready for the next resident at once
    referral.refresh_from_db()
    assert referral.status == ReferralStatus.ARRIVED
    checked(page)


def test_a_referral_goes_up_arrives_by_scan_comes_back_down_and_closes(
    open_browser, base_url, clinic
):
    referral = gp_refers_up(open_browser(), base_url, clinic)

    coordinator = clinic.users["tertiary_coordinator"]
    referral = referral_services.referral_accept(referral=referral, actor=coordinator)
    referral = referral_services.referral_schedule(
        referral=referral, actor=coordinator, date=clinic.today
    )

    clerk_scans_at_the_hospital(open_browser(), base_url, clinic, referral)

    referral_services.referral_complete(
        referral=referral,
        actor=clinic.users["tertiary_doctor"],
        summary="冠脉造影未见严重狭窄，药物治疗",
        return_to_primary_care=True,
        resident_consent=True,
    )
    down = Referral.objects.get(resident=clinic.resident, direction=ReferralDirection.DOWN)

    gp = open_browser()
    login_as(gp, base_url, clinic.users["doctor"])
    gp.goto(f"{base_url}/team/follow-ups/")
    row = gp.locator("tr", has_text="张桂兰")
    row.get_by_text("记录结果").click()
    row.get_by_label("随访结果").fill("转诊回社区后首次随访：胸痛未再发作")
    row.get_by_role("button", name="保存").click()
    expect(gp.locator("tr", has_text="张桂兰")).to_contain_text("已完成")
    checked(gp)
    down.refresh_from_db()
    assert down.status == ReferralStatus.CLOSED


def test_the_scan_station_without_javascript_and_on_a_phone(open_browser, base_url, clinic):
    page = open_browser(java_script_enabled=False)
    login_as(page, base_url, clinic.users["clerk"])
    page.goto(f"{base_url}/scan/")
    expect(page.get_by_role("button", name="摄像头扫码")).to_be_hidden()
    page.get_by_label("健康码", exact=True).fill(live_code(clinic))
    page.get_by_label("健康码", exact=True).press("Enter")
    expect(page.locator("#scan-result")).to_contain_text("张桂兰 · 挂号")
    expect(page.get_by_label("健康码", exact=True)).to_have_value("")
    page.get_by_label("健康码", exact=True).fill("HN1:not-a-code")
    page.get_by_label("就诊").check()
    page.get_by_role("button", name="核验", exact=True).click()
    expect(page.locator("#scan-result")).to_contain_text("健康码核验未通过")
    expect(page.locator("#scan-log tbody tr")).to_have_count(2)
    checked(page)

    phone = open_browser(viewport=PHONE)
    login_as(phone, base_url, clinic.users["doctor"])
    phone.goto(f"{base_url}/scan/")
    checked(phone)
    phone.goto(f"{base_url}/referrals/new/")
    checked(phone)
