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
from referrals.models import Referral, ReferralDirection, ReferralStatus
from tests.e2e.support import assert_axe_clean, assert_fits, login_as, login_with_form
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
    expect(page).to_have_url(f"{base_url}/referrals/{referral.public_id}/")
    expect(page.get_by_role("heading", level=1)).to_have_text("张桂兰的转诊")
    expect(page.locator("#referral-status")).to_have_text("已提交")
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
    # The "核验中…" indicator is gone as soon as the answer is in, not fading out at half opacity
    # (unreadable, and axe's contrast check failed on it when it ran in those 200 ms).
    expect(page.locator("#main .htmx-indicator")).to_be_hidden()
    checked(page)


def open_from_incoming(page: Page, name: str) -> None:
    menu(page, "转入转诊")
    row = page.locator("tbody tr", has_text=name)
    expect(row).to_have_count(1)
    checked(page)
    row.get_by_role("link", name=f"{name}的转诊详情").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(f"{name}的转诊")


def coordinator_accepts_and_schedules_today(page: Page, base_url: str, clinic) -> None:
    login_with_form(page, base_url, clinic.users["tertiary_coordinator"].username)
    open_from_incoming(page, "张桂兰")
    expect(page.get_by_text("胸痛反复发作两周，心电图ST段压低")).to_be_visible()
    checked(page)
    page.locator("#action-accept summary").click()
    page.locator("#action-accept").get_by_label("说明").fill("同意接收")
    page.get_by_role("button", name="确认接收").click()
    expect(page.locator("#referral-status")).to_have_text("已接收")
    page.locator("#action-schedule summary").click()
    page.get_by_label("预约日期（剩余预留号源）").select_option(f"{clinic.today:%Y-%m-%d}")
    checked(page)
    page.get_by_role("button", name="确认预约").click()
    expect(page.locator("#referral-status")).to_have_text("已预约")
    checked(page)


def hospital_doctor_completes_with_return(page: Page, base_url: str, clinic) -> None:
    login_with_form(page, base_url, clinic.users["tertiary_doctor"].username)
    open_from_incoming(page, "张桂兰")
    expect(page.locator("#referral-status")).to_have_text("已到诊")
    page.locator("#action-complete summary").click()
    form = page.locator("#action-complete")
    form.get_by_label("诊疗小结").fill("冠脉造影未见严重狭窄，药物治疗后症状缓解")
    form.get_by_label("转回基层（自动生成下转单）").check()
    form.get_by_label("居民已同意下转").check()
    checked(page)
    page.get_by_role("button", name="确认诊疗反馈").click()
    expect(page.locator("#referral-status")).to_have_text("已完成")
    checked(page)


def gp_closes_the_loop(page: Page, base_url: str, clinic, down: Referral) -> None:
    login_with_form(page, base_url, clinic.users["doctor"].username)
    open_from_incoming(page, "张桂兰")
    expect(page).to_have_url(f"{base_url}/referrals/{down.public_id}/")
    checked(page)
    menu(page, "随访任务")
    row = page.locator("tr", has_text="张桂兰")
    row.get_by_text("记录结果").click()
    row.get_by_label("随访结果").fill("转回社区后首次随访：胸痛未再发作，继续药物治疗")
    row.get_by_role("button", name="保存").click()
    expect(page.locator("tr", has_text="张桂兰")).to_contain_text("已完成")
    checked(page)
    page.goto(f"{base_url}/referrals/{down.public_id}/")
    expect(page.locator("#referral-status")).to_have_text("已闭环")
    checked(page)


def test_a_referral_goes_up_arrives_by_scan_comes_back_down_and_closes(
    open_browser, base_url, clinic
):
    up = gp_refers_up(open_browser(), base_url, clinic)
    coordinator_accepts_and_schedules_today(open_browser(), base_url, clinic)
    clerk_scans_at_the_hospital(open_browser(), base_url, clinic, up)
    hospital_doctor_completes_with_return(open_browser(), base_url, clinic)

    up.refresh_from_db()
    assert up.status == ReferralStatus.COMPLETED
    down = Referral.objects.get(resident=clinic.resident, direction=ReferralDirection.DOWN)
    assert (down.from_institution, down.to_institution, down.status) == (
        clinic.tertiary,
        clinic.primary,
        ReferralStatus.SUBMITTED,
    )
    assert up.follow_on == down

    gp_closes_the_loop(open_browser(), base_url, clinic, down)
    down.refresh_from_db()
    assert down.status == ReferralStatus.CLOSED


def test_the_scan_station_works_without_javascript(open_browser, base_url, clinic):
    page = open_browser(java_script_enabled=False)
    login_as(page, base_url, clinic.users["clerk"])
    page.goto(f"{base_url}/scan/")
    expect(page.get_by_role("heading", level=1)).to_have_text("扫码台")
    page.get_by_label("健康码", exact=True).fill(live_code(clinic))
    page.get_by_role("button", name="核验", exact=True).click()
    expect(page.locator("#scan-result")).to_contain_text("张桂兰 · 挂号")
    expect(page.get_by_label("健康码", exact=True)).to_have_value("")
    # (no axe here: it runs in the page's JavaScript; the journey checks this page with it)
