"""The family-doctor team, resident record and institution admin pages in a real browser (portal
issue 10 journeys (b), (c) and the close of (a)): a GP signs a resident at the desk and records a
follow-up (zh-hans); an admin imports a file with bad rows, watches the job and downloads the
error report (in English); a downward referral closes when the GP records the follow-up. Each
page passes axe-core and fits a clinic PC and a tablet; the follow-up and the import work without
JavaScript too."""

from __future__ import annotations

import csv
import datetime as dt

import pytest
from openpyxl import load_workbook
from playwright.sync_api import Page, expect

from healthnet.national_id import decrypt_national_id
from referrals import services as referral_services
from referrals.models import ReferralStatus, ReferralUrgency
from signing import services as signing_services
from signing.models import Contract, ContractImportJob, ContractStatus, FollowUp
from tests.e2e.support import (
    CLINIC_PC,
    TABLET,
    assert_axe_clean,
    assert_fits,
    login_as,
    login_with_form,
)
from tests.factories import ResidentFactory

pytestmark = pytest.mark.e2e


def checked(page: Page) -> None:
    assert_fits(page)
    assert_axe_clean(page)


def test_b_a_gp_signs_a_resident_at_the_desk_and_records_a_follow_up(page, base_url, clinic):
    walk_in = ResidentFactory(registered_by=clinic.tertiary, name="马玉兰")  # no tie but the card
    number = decrypt_national_id(walk_in.national_id_encrypted)
    login_with_form(page, base_url, clinic.users["doctor"].username)

    page.get_by_role("navigation", name="主菜单").get_by_role("link", name="签约居民").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("签约居民")
    expect(page.locator("tbody tr")).to_have_count(3)
    checked(page)

    page.get_by_role("link", name="签约新居民").click()
    page.get_by_label("居民身份证号码").fill(number)
    page.get_by_role("button", name="查找").click()
    expect(page.get_by_role("heading", name="2. 核对居民信息")).to_be_visible()
    expect(page.locator(".id-number")).to_have_text(f"{number[:4]}**********{number[-4:]}")
    assert number not in page.url
    checked(page)
    page.get_by_label("老年人健康管理包").check()
    page.get_by_label("居民本人").check()
    page.get_by_label("现场签署").check()
    page.get_by_role("button", name="确认签约").click()

    expect(page.get_by_role("heading", level=1)).to_have_text("马玉兰的签约")
    expect(page.locator(".messages")).to_contain_text("已签署：马玉兰")
    contract = Contract.objects.get(resident=walk_in)
    assert contract.status == ContractStatus.ACTIVE
    assert sorted(contract.packages.values_list("code", flat=True)) == ["basic", "elderly-65"]
    checked(page)

    page.get_by_role("navigation", name="主菜单").get_by_role("link", name="随访任务").click()
    rows = page.locator("tbody tr")
    expect(rows.first).to_contain_text("刘志强")  # overdue first
    expect(rows.first).to_contain_text("逾期 1 天")
    checked(page)
    row = page.locator("tr", has_text="张桂兰")
    row.get_by_text("记录结果").click()
    row.get_by_label("随访结果").fill("血压 128/80，继续当前用药")
    page.evaluate("window.sameDocument = true")
    row.get_by_role("button", name="保存").click()

    done = page.locator("tr", has_text="张桂兰")
    expect(done).to_contain_text("已记录 张桂兰 的随访")
    expect(done.locator(".badge")).to_have_text("已完成")
    assert page.evaluate("window.sameDocument") is True  # swapped in place by htmx
    followup = FollowUp.objects.get(contract=clinic.contracts[0])
    assert followup.outcome == "血压 128/80，继续当前用药"
    checked(page)


def test_a_closing_a_downward_referral_closes_when_the_gp_records_the_follow_up(
    page, base_url, clinic
):
    """The close of journey (a): the downward referral to the GP's institution was made through
    the referral services (the hospital's part of the journey comes before)."""
    resident = clinic.contracts[1].resident  # 刘志强, signed with the GP's team
    referral, _ = referral_services.referral_create(
        actor=clinic.users["tertiary_doctor"],
        resident=resident,
        to_department=clinic.primary_dept,
        urgency=ReferralUrgency.ROUTINE,
        reason_code="return_to_primary_care",
        clinical_summary="冠脉支架术后稳定，转回社区随访",
        from_department=clinic.cardiology,
        resident_consent=True,
    )
    login_as(page, base_url, clinic.users["doctor"])

    page.goto(f"{base_url}/team/follow-ups/")
    row = page.locator("tr", has_text="刘志强")
    row.get_by_text("记录结果").click()
    row.get_by_label("随访结果").fill("下转后首次随访：伤口愈合良好")
    row.get_by_role("button", name="保存").click()
    expect(page.locator("tr", has_text="刘志强")).to_contain_text("已完成")

    page.locator("tr", has_text="刘志强").get_by_role("link", name="刘志强").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("居民档案：刘志强")
    status = page.locator(f'[data-referral="{referral.public_id}"] [data-status]')
    expect(status).to_have_text("已闭环")
    referral.refresh_from_db()
    assert referral.status == ReferralStatus.CLOSED
    checked(page)


def _contracts_file(clinic, tmp_path) -> tuple:
    good = [ResidentFactory(registered_by=clinic.primary, name=f"导入{n}") for n in range(3)]
    today = dt.date.today().isoformat()
    rows = [
        ["national_id", "team_code", "start_date", "packages"],
        [decrypt_national_id(good[0].national_id_encrypted), "t-01", today, ""],
        ["150302198001010000", "t-01", today, ""],  # row 3: bad check digit
        [decrypt_national_id(good[1].national_id_encrypted), "t-01", today, "basic"],
        [decrypt_national_id(good[2].national_id_encrypted), "t-99", today, ""],  # row 5
        [decrypt_national_id(good[2].national_id_encrypted), "t-01", "2026-02-30", ""],  # row 6
    ]
    path = tmp_path / "contracts.csv"
    with path.open("w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows(rows)
    return path, good


def test_c_an_admin_imports_a_file_with_bad_rows_watches_it_and_downloads_the_report(
    open_browser, base_url, clinic, tmp_path, broker_down, browser_problems
):
    """In English. The broker is down during the upload, so the job waits, queued, as it would
    for a busy worker; the test then runs the job as the worker would, and the page's poll
    shows it finished."""
    path, good = _contracts_file(clinic, tmp_path)
    page = open_browser(locale="en-GB")
    login_as(page, base_url, clinic.users["institution_admin"])

    page.goto(f"{base_url}/contracts/import/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Contract import")
    expect(page.get_by_text("No import yet.")).to_be_visible()
    checked(page)
    page.get_by_label("Contracts file (CSV or XLSX)").set_input_files(str(path))
    page.get_by_role("button", name="Upload and import").click()

    expect(page.get_by_role("heading", level=1)).to_have_text("Import: contracts.csv")
    region = page.locator("#import-job-status")
    expect(region).to_have_attribute("data-status", "queued")
    expect(region).to_have_attribute("hx-trigger", "every 2s")
    checked(page)
    job = ContractImportJob.objects.get()

    from config.celery import app

    app.conf.task_always_eager = True
    assert signing_services.import_job_run(job_id=job.pk) == "done"  # the worker

    expect(region).to_have_attribute("data-status", "done", timeout=10_000)  # polled in place
    expect(page.locator("#import-progress")).to_have_attribute("value", "100")
    expect(region.locator('[data-figure="created"]')).to_have_text("2")
    expect(region.locator('[data-figure="errors"]')).to_have_text("3")
    checked(page)
    with page.expect_download() as download_info:
        page.get_by_role("link", name="Download the error report (XLSX)").click()
    download = download_info.value
    saved = tmp_path / download.suggested_filename
    download.save_as(saved)

    sheet = load_workbook(saved).active
    rows = [[cell.value for cell in row] for row in sheet.iter_rows()]
    assert [row[:3] for row in rows[1:]] == [
        [3, "national_id", "national_id_checksum"],
        [5, "team_code", "team_unknown"],
        [6, "start_date", "date_invalid"],
    ]
    assert rows[1][4] == "1503**********0000"
    assert Contract.objects.filter(resident__in=good).count() == 2
    # The broker was down during the upload: the publish failed quietly, nothing else.
    assert not [p for p in browser_problems if not p.startswith("console")]


@pytest.mark.parametrize("viewport", [CLINIC_PC, TABLET], ids=["1366x768", "1024x768"])
def test_the_pages_fit_and_pass_axe(open_browser, base_url, clinic, viewport):
    doctor = open_browser(viewport=viewport)
    login_as(doctor, base_url, clinic.users["doctor"])
    for path in (
        "/team/contracts/",
        f"/team/contracts/{clinic.contracts[2].public_id}/",
        f"/team/contracts/{clinic.contracts[2].public_id}/terminate/",
        "/team/follow-ups/?state=pending",
        "/team/contracts/sign/",
        f"/residents/{clinic.contracts[1].resident.public_id}/",
    ):
        doctor.goto(f"{base_url}{path}")
        checked(doctor)
    admin = open_browser(viewport=viewport)
    login_as(admin, base_url, clinic.users["institution_admin"])
    for path in ("/contracts/import/", "/institution/teams/"):
        admin.goto(f"{base_url}{path}")
        checked(admin)


def test_a_follow_up_without_javascript(open_browser, base_url, clinic):
    page = open_browser(java_script_enabled=False, viewport=TABLET)
    login_as(page, base_url, clinic.users["doctor"])

    page.goto(f"{base_url}/team/follow-ups/")
    row = page.locator("tr", has_text="张桂兰")
    row.get_by_text("记录结果").click()  # <details> opens without script
    row.get_by_label("随访结果").fill("电话随访，无不适")
    row.get_by_role("button", name="保存").click()

    expect(page).to_have_url(f"{base_url}/team/follow-ups/")
    expect(page.locator(".messages")).to_contain_text("已记录 张桂兰 的随访")
    expect(page.locator("tr", has_text="张桂兰")).to_have_count(0)  # done: no longer due


def test_an_import_without_javascript_is_followed_by_the_refresh_link(
    open_browser, base_url, clinic, tmp_path, broker_down
):
    path, _ = _contracts_file(clinic, tmp_path)
    page = open_browser(java_script_enabled=False)
    login_as(page, base_url, clinic.users["institution_admin"])
    page.goto(f"{base_url}/contracts/import/")
    page.get_by_label("签约文件（CSV 或 XLSX）").set_input_files(str(path))
    page.get_by_role("button", name="上传并导入").click()
    expect(page.locator("#import-job-status")).to_have_attribute("data-status", "queued")
    job_page = page.url

    signing_services.import_job_run(job_id=ContractImportJob.objects.get().pk)  # the worker
    page.get_by_role("link", name="刷新进度").click()

    assert page.url == job_page
    expect(page.locator("#import-job-status")).to_have_attribute("data-status", "done")
    expect(page.get_by_role("link", name="下载错误报告（XLSX）")).to_be_visible()
