"""The bureau's dashboard in a browser: rollups built for the clinic day of tests/portal/scenario.py
held on 15 June 2026 (in June: one upward referral P → T and three downward T → P submitted; both
institutions in one district; team t-01 at P), the charts drawn by ECharts under the strict CSP, a
click on a bar leading one level down, the export buttons downloading files that parse, the tables
without JavaScript, and axe-core on each page. The README's picture (docs/img/bureau-dashboard.png)
is written from here when HEALTHNET_README_SCREENSHOT=1."""

from __future__ import annotations

import csv
import datetime as dt
import io
import os
import re
import shutil
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from django.conf import settings
from playwright.sync_api import expect

from reports.periods import month_of
from reports.services import rebuild_period
from tests.e2e.support import ARTIFACTS, assert_axe_clean, assert_fits, login_as
from tests.portal.scenario import build_clinic

pytestmark = pytest.mark.e2e

README_IMAGE = Path(settings.BASE_DIR) / "docs" / "img" / "bureau-dashboard.png"


CLINIC_DAY = dt.datetime(2026, 6, 15, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
JUNE = "2026-06"


@pytest.fixture
def reported(transactional_db):
    """The clinic day with the rollups of its month and the month before built."""
    clinic = build_clinic(CLINIC_DAY)
    june = month_of(clinic.today)
    rebuild_period(june.previous())
    rebuild_period(june)
    return clinic


def drawn(page, selector: str) -> dict:
    """What ECharts drew in the container: its canvas and the data of its series."""
    return page.evaluate(
        """(selector) => {
            const element = document.querySelector(selector);
            const chart = window.echarts.getInstanceByDom(element);
            const canvas = element.querySelector("canvas");
            return {
                canvas: canvas ? [canvas.width, canvas.height] : null,
                categories: chart.getOption().xAxis[0].data,
                series: chart.getOption().series.map((s) => [s.name, s.data]),
            };
        }""",
        selector,
    )


def click_bar(page, selector: str, series: int, index: int) -> None:
    """Click the middle of one bar, where ECharts laid it out."""
    expect(page.locator(f"{selector} canvas")).to_be_visible()  # drawn (again, after a back)
    page.locator(selector).scroll_into_view_if_needed()
    layout = page.evaluate(
        """([selector, series, index]) => {
            const chart = window.echarts.getInstanceByDom(document.querySelector(selector));
            return chart.getModel().getSeriesByIndex(series).getData().getItemLayout(index);
        }""",
        [selector, series, index],
    )
    box = page.locator(selector).bounding_box()
    page.mouse.click(
        box["x"] + layout["x"] + layout["width"] / 2,
        box["y"] + layout["y"] + layout["height"] / 2,
    )


def test_the_dashboard_draws_its_charts_drills_down_and_exports(page, base_url, reported):
    login_as(page, base_url, reported.users["bureau"])
    page.goto(f"{base_url}/bureau/?period={JUNE}")

    expect(page.get_by_role("heading", level=1)).to_have_text("数据看板")
    label = JUNE
    expect(page.get_by_label("统计期", exact=True)).to_have_value(label)
    up = page.locator('[data-kpi="referrals_up"]')
    expect(up.locator(".kpi-card__value")).to_have_text("1")
    expect(page.locator('[data-kpi="referrals_down"] .kpi-card__value')).to_have_text("3")

    # The charts: drawn on a canvas, with this month's figures as the last point / the bars.
    expect(page.locator("#chart-trend canvas")).to_be_visible()
    expect(page.locator("#chart-compare canvas")).to_be_visible()
    trend = drawn(page, "#chart-trend")
    assert trend["canvas"][0] > 0
    assert trend["canvas"][1] > 0
    assert trend["categories"][-1] == label
    assert len(trend["categories"]) == 24
    assert [(name, data[-1]) for name, data in trend["series"]] == [
        ("上转人次", 1),
        ("下转人次", 3),
    ]
    bars = drawn(page, "#chart-compare")
    district = bars["categories"]
    assert len(district) == 1
    assert bars["series"] == [["上转人次", [1]], ["下转人次", [3]]]
    # the tables fold under drawn charts; the figures are still in them
    expect(page.locator(".kpi-grid")).to_be_visible()
    assert_axe_clean(page)
    assert_fits(page)

    page.evaluate("document.fonts.ready")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shot = ARTIFACTS / "bureau-dashboard.png"
    page.screenshot(path=shot, full_page=True)
    if os.environ.get("HEALTHNET_README_SCREENSHOT") == "1":
        README_IMAGE.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(shot, README_IMAGE)

    # A click on the district's 上转 bar: that KPI's page, the district's institutions.
    click_bar(page, "#chart-compare", series=0, index=0)
    expect(page).to_have_url(re.compile(r"/bureau/kpi/referrals_up/\?.*level=institution"))
    expect(page.get_by_role("heading", level=1)).to_have_text("2. 上转人次")
    # and its 下转 bar: 下转人次 there
    page.go_back()
    click_bar(page, "#chart-compare", series=1, index=0)
    expect(page).to_have_url(re.compile(r"/bureau/kpi/referrals_down/\?.*level=institution"))
    expect(page.get_by_role("heading", level=1)).to_have_text("3. 下转人次")
    page.go_back()
    click_bar(page, "#chart-compare", series=0, index=0)
    expect(page.get_by_role("heading", level=1)).to_have_text("2. 上转人次")
    crumbs = page.get_by_role("navigation", name="指标层级")
    expect(crumbs.locator('[aria-current="page"]')).to_have_text(district[0])
    table = page.locator("[data-comparison-table]")
    expect(table.locator("tbody tr")).to_have_count(2)
    expect(table.get_by_role("row", name=re.compile("新华社区卫生服务中心"))).to_contain_text("1")
    expect(table.get_by_role("row", name=re.compile("乌海市人民医院"))).to_contain_text("0")
    expect(page.locator("#chart-compare canvas")).to_be_visible()
    assert drawn(page, "#chart-compare")["series"] == [["上转人次", [1, 0]]]
    assert_axe_clean(page)

    # Exports: the API's files through the portal's session.
    with page.expect_download() as info:
        page.get_by_role("link", name="导出 CSV").click()
    download = info.value
    assert download.suggested_filename == f"healthnet-reports-{label}-referrals_up.csv"
    body = Path(download.path()).read_bytes()
    assert body.startswith(b"\xef\xbb\xbf")
    rows = list(csv.DictReader(io.StringIO(body.decode("utf-8-sig"))))
    assert {row["指标代码"] for row in rows} == {"referrals_up"}
    city = [row for row in rows if row["单位代码"] == "city" and row["统计期"] == label]
    assert len(city) == 1
    assert Decimal(city[0]["指标值"]) == 1

    with page.expect_download() as info:
        page.get_by_role("link", name="导出 Excel").click()
    assert info.value.suggested_filename.endswith(".xlsx")
    assert Path(info.value.path()).read_bytes().startswith(b"PK")

    with page.expect_download() as info:
        page.get_by_role("link", name="导出 FHIR MeasureReport").click()
    assert b'"resourceType"' in Path(info.value.path()).read_bytes()


def test_a_team_figure_drills_from_the_table_without_javascript(open_browser, base_url, reported):
    page = open_browser(java_script_enabled=False)
    login_as(page, base_url, reported.users["bureau"])
    page.goto(f"{base_url}/bureau/kpi/fulfilment/?period={JUNE}")

    expect(page.locator("#chart-compare")).to_be_hidden()  # drawn only by the script
    table = page.locator("[data-comparison-table]")
    table.get_by_role("link").first.click()  # the district → its institutions
    expect(page).to_have_url(re.compile(r"level=institution"))
    page.locator("[data-comparison-table]").get_by_role(
        "link", name="新华社区卫生服务中心"
    ).click()  # the institution → its teams
    expect(page).to_have_url(re.compile(r"level=team"))
    teams = page.locator("[data-comparison-table] tbody tr")
    expect(teams).to_have_count(1)
    expect(teams).to_contain_text(reported.team.name)
    crumbs = page.get_by_role("navigation", name="指标层级").get_by_role("listitem")
    expect(crumbs).to_have_count(4)  # 数据看板 › 全市 › the district › the institution


def test_the_dashboard_before_any_rollup_says_how_to_build_them(page, base_url, clinic):
    login_as(page, base_url, clinic.users["bureau"])
    page.goto(f"{base_url}/bureau/")

    expect(page.get_by_role("heading", name="报表尚未生成")).to_be_visible()
    expect(page.locator(".bureau-empty code")).to_contain_text("rebuild_reports --from")
    expect(page.locator("[data-chart]")).to_have_count(0)
    assert_axe_clean(page)


def test_the_institution_opens_the_referrals_behind_its_figure(page, base_url, reported):
    """本机构指标 at the hospital (T): its three downward referrals of June are a linked figure;
    the link opens its outgoing worklist with exactly those three, the figure named."""
    login_as(page, base_url, reported.users["tertiary_coordinator"])
    page.goto(f"{base_url}/institution/kpis/?period={JUNE}")
    expect(page.locator('nav a[href="/institution/kpis/"]')).to_have_count(1)  # in the menu
    expect(page.get_by_role("heading", level=1)).to_have_text("本机构指标")
    row = page.locator('tr[data-kpi="referrals_down"]')
    assert_axe_clean(page)

    row.get_by_role("link", name="3").click()
    expect(page).to_have_url(re.compile(r"/referrals/outgoing/\?.*kpi=referrals_down"))
    expect(page.get_by_role("status").filter(has_text="下转人次")).to_contain_text("共 3 条")
    expect(page.locator("table.list-table tbody tr")).to_have_count(3)
    assert_axe_clean(page)
    page.get_by_role("link", name="返回本机构指标").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("本机构指标")
