"""The referral worklist and the referral page in a real browser (portal issue 10 pages 2 and 3):
the hospital's referral coordinator opens the incoming worklist, opens the submitted upward
referral, accepts it and schedules it on a day whose free reserved slots the date picker shows.
Each page passes axe-core (no serious or critical violation) and fits a clinic PC."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from referrals.models import DepartmentDaySlots, Referral, ReferralStatus
from tests.e2e.support import TABLET, assert_axe_clean, assert_fits, login_as, login_with_form

pytestmark = pytest.mark.e2e


def test_a_hospital_coordinator_accepts_and_schedules_a_referral(page, base_url, clinic):
    day = timezone.localdate() + dt.timedelta(days=2)
    DepartmentDaySlots.objects.create(department=clinic.cardiology, date=day, capacity=5, booked=2)
    login_with_form(page, base_url, clinic.users["tertiary_coordinator"].username)

    page.get_by_role("navigation", name="主菜单").get_by_role("link", name="转入转诊").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("转入转诊")
    rows = page.locator("tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("刘志强")
    expect(rows.first).to_contain_text("加急")
    assert_fits(page)
    assert_axe_clean(page)

    rows.first.get_by_role("link", name="刘志强的转诊详情").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("刘志强的转诊")
    expect(page.locator("#referral-status")).to_have_text("已提交")
    expect(page.get_by_text("胸痛反复发作两周")).to_be_visible()
    assert_axe_clean(page)

    page.locator("#action-accept summary").click()
    page.locator("#action-accept").get_by_label("说明").fill("同意接收")
    page.get_by_role("button", name="确认接收").click()
    expect(page.locator(".messages")).to_contain_text("已接收：刘志强")
    expect(page.locator("#referral-status")).to_have_text("已接收")

    page.locator("#action-schedule summary").click()
    picker = page.get_by_label("预约日期（剩余预留号源）")
    label = f"{day:%Y-%m-%d}"
    option = picker.locator(f'option[value="{label}"]')
    expect(option).to_contain_text("剩 3 / 5 个")
    picker.select_option(label)
    assert_axe_clean(page)
    page.get_by_role("button", name="确认预约").click()

    expect(page.locator("#referral-status")).to_have_text("已预约")
    expect(page.locator(".messages")).to_contain_text("已预约：刘志强")
    referral = Referral.objects.get(pk=clinic.upward.pk)
    assert (referral.status, referral.appointment_date) == (ReferralStatus.SCHEDULED, day)
    assert DepartmentDaySlots.objects.get(department=clinic.cardiology, date=day).booked == 3
    assert_fits(page)
    assert_axe_clean(page)


def test_without_javascript_the_gp_accepts_a_downward_referral(open_browser, base_url, clinic):
    page = open_browser(java_script_enabled=False)  # axe and the fit check need scripts
    login_with_form(page, base_url, clinic.users["doctor"].username)
    page.goto(f"{base_url}/referrals/incoming/?status=submitted")
    expect(page.locator("tbody tr")).to_have_count(2)
    expect(page.locator("tbody tr").first).to_contain_text("超时 1 天")

    page.get_by_role("link", name="孙丽华的转诊详情").click()
    page.locator("#action-accept summary").click()  # <details> opens without a script
    page.get_by_role("button", name="确认接收").click()

    expect(page.locator("#referral-status")).to_have_text("已接收")
    assert Referral.objects.get(pk=clinic.awaiting_decision[1].pk).status == "accepted"


def test_the_worklist_and_the_referral_page_fit_a_tablet(open_browser, base_url, clinic):
    page = open_browser(viewport=TABLET)
    login_as(page, base_url, clinic.users["referral_coordinator"])

    page.goto(f"{base_url}/referrals/incoming/")
    expect(page.locator("tbody tr")).to_have_count(3)
    assert_fits(page)
    assert_axe_clean(page)
    page.goto(f"{base_url}/referrals/{clinic.scheduled_today.public_id}/")
    expect(page.locator("#referral-status")).to_have_text("已预约")
    assert_fits(page)
    assert_axe_clean(page)
