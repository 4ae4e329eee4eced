"""The bureau's dashboard and KPI pages (portal/pages/bureau.py) over rollup rows written here by
hand (reports.KpiValue is the pages' only input, read through reports.selectors): who may open
them, the empty state, the cards' figures and changes, the period picker, the comparison and its
drill-down links, small cells, bad parameters, the export links under the portal's session, and
query counts flat in the number of units."""

from __future__ import annotations

import csv
import io
import json
import re
from decimal import Decimal
from html import unescape

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from reports.models import KpiRebuild, KpiValue
from reports.periods import Period
from tests.portal.scenario import build_people

pytestmark = pytest.mark.django_db

JUNE = Period.parse("2026-06")
MAY = Period.parse("2026-05")


@pytest.fixture
def people():
    return build_people()


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def built(period: Period) -> None:
    KpiRebuild.objects.update_or_create(
        period_kind=period.kind,
        period_start=period.start,
        defaults={"rows": 0, "duration_ms": 1, "computed_at": timezone.now()},
    )


def put(kpi, period, level, code, name, parent, numerator, denominator=None, value=None, **kw):
    built(period)
    KpiValue.objects.create(
        kpi=kpi,
        period_kind=period.kind,
        period_start=period.start,
        level=level,
        unit_code=code,
        unit_name=name,
        parent_code=parent,
        breakdown=kw.get("breakdown", ""),
        numerator=Decimal(numerator),
        denominator=None if denominator is None else Decimal(denominator),
        value=Decimal(value)
        if value is not None
        else (
            Decimal(numerator) if denominator is None else None  # a count is its own value
        ),
        computed_at=timezone.now(),
    )


def count(kpi, period, level, code, name, parent, n):
    put(kpi, period, level, code, name, parent, n)


def districts(n: int, period: Period = JUNE) -> None:
    """n districts with referrals up (10 + i) and down (i), and the city's totals."""
    for i in range(n):
        count("referrals_up", period, "district", f"d{i:02d}", f"第{i}区", "city", 10 + i)
        count("referrals_down", period, "district", f"d{i:02d}", f"第{i}区", "city", i)
    count("referrals_up", period, "city", "city", "全市", "", sum(10 + i for i in range(n)))
    count("referrals_down", period, "city", "city", "全市", "", sum(range(n)))


def chart(html: str, chart_id: str) -> dict:
    match = re.search(rf'id="{chart_id}" data-chart="([^"]*)"', html)
    assert match, f"no chart {chart_id}"
    return json.loads(unescape(match.group(1)))


def text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def card(html: str, code: str) -> str:
    match = re.search(rf'<li class="kpi-card" data-kpi="{code}">(.*?)</li>', html, re.S)
    assert match, f"no card {code}"
    return text(match.group(1)).strip()


# --- who ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("role", "status"),
    [
        ("bureau", 200),
        ("system_admin", 200),
        ("doctor", 403),
        ("institution_admin", 403),
        ("referral_coordinator", 403),
        ("resident", 403),
    ],
)
def test_the_bureau_and_the_system_admin_see_the_pages_and_nobody_else(people, role, status):
    client = client_for(people.users[role])

    assert client.get("/bureau/").status_code == status
    assert client.get("/bureau/kpi/referrals_up/?period=2026-06").status_code == status


def test_the_pages_need_a_login():
    response = Client().get("/bureau/kpi/fulfilment/")

    assert response.status_code == 302
    assert response.url.startswith("/accounts/login/?next=/bureau/kpi/fulfilment/")


# --- empty, cards, picker --------------------------------------------------------------------


def test_before_any_rollup_the_pages_say_how_to_build_them(people):
    client = client_for(people.users["bureau"])

    for url in ("/bureau/?period=2026-06", "/bureau/kpi/renewal_rate/?period=2026-06"):
        page = client.get(url).content.decode()
        assert "报表尚未生成" in page
        assert "python manage.py rebuild_reports --from" in page
        assert "data-chart" not in page
        assert "export.csv" not in page  # nothing to export yet


def test_the_cards_show_each_figure_the_previous_month_and_the_changes(people):
    put("primary_care_share", JUNE, "city", "city", "全市", "", 620, 1000, "0.62")
    put("primary_care_share", MAY, "city", "city", "全市", "", 540, 900, "0.6")
    count("referrals_up", JUNE, "city", "city", "全市", "", 45)
    count("referrals_up", MAY, "city", "city", "全市", "", 50)
    count("referrals_up", Period.parse("2025-06"), "city", "city", "全市", "", 1045)
    put("decision_hours_median", JUNE, "city", "city", "全市", "", "12.25", 7, "12.25")

    page = client_for(people.users["bureau"]).get("/bureau/?period=2026-06").content.decode()

    assert card(page, "primary_care_share") == (
        "1. 基层就诊率 62.0% 环比 +2.0 个百分点 上期 60.0% · 同比 —"
    )
    assert card(page, "referrals_up") == "2. 上转人次 45 环比 −5 上期 50 · 同比 −1,000"
    assert card(page, "decision_hours_median").startswith(
        "5. 转诊响应时长中位数（小时） 12.3 小时 环比 —"
    )
    assert card(page, "wait_days_median") == "9. 上转候诊天数 — 环比 — 上期 — · 同比 —"
    assert 'kpi-card__change--up">' in page
    assert 'kpi-card__change--down">' in page
    assert 'href="/bureau/kpi/referrals_up/?period=2026-06"' in page


def test_the_period_picker_is_a_get_form_offering_months_quarters_and_years(people):
    districts(2, Period.parse("2026Q2"))
    client = client_for(people.users["bureau"])

    page = client.get("/bureau/?period=2026Q2").content.decode()

    assert re.search(r'<form class="toolbar bureau-picker" method="get"', page)
    assert '<option value="2026Q2" selected>2026Q2</option>' in page
    assert '<optgroup label="月">' in page
    assert '<optgroup label="年">' in page
    assert "统计期 2026Q2" in page
    trend = chart(page, "chart-trend")
    assert len(trend["categories"]) == 8  # eight quarters up to 2026Q2
    assert trend["categories"][-1] == "2026Q2"
    assert trend["series"][0]["data"][-1] == 21  # 10 + 11


@pytest.mark.parametrize("bad", ["2026-13", "June", "2999-01", "2026Q5"])
def test_a_bad_or_future_period_falls_back_to_the_default_and_says_so(people, bad):
    page = client_for(people.users["bureau"]).get(f"/bureau/?period={bad}")

    assert page.status_code == 200
    body = page.content.decode()
    assert "统计期无效或尚未开始" in body
    today = timezone.localdate()
    assert f"统计期 {today.year:04d}-{today.month:02d}" in body  # nothing built: this month


# --- comparison and drill-down ----------------------------------------------------------------


def test_the_dashboard_compares_the_districts_and_each_bar_leads_to_their_institutions(people):
    districts(2)

    page = client_for(people.users["bureau"]).get("/bureau/?period=2026-06").content.decode()

    bars = chart(page, "chart-compare")
    assert bars["type"] == "bar"
    assert bars["categories"] == ["第0区", "第1区"]
    up = "/bureau/kpi/referrals_up/?period=2026-06&level=institution&unit="
    down = "/bureau/kpi/referrals_down/?period=2026-06&level=institution&unit="
    assert bars["series"] == [  # each bar leads to its own KPI's institutions in the district
        {"name": "上转人次", "data": [10.0, 11.0], "links": [up + "d00", up + "d01"]},
        {"name": "下转人次", "data": [0.0, 1.0], "links": [down + "d00", down + "d01"]},
    ]
    # the same links in the table, with no JS: the district's name (上转) and each figure
    first = up.replace("&", "&amp;") + "d00"
    assert f'<a href="{first}">第0区</a>' in page
    assert f'<td class="num"><a href="{down.replace("&", "&amp;")}d01">1</a></td>' in page
    trend = chart(page, "chart-trend")
    assert len(trend["categories"]) == 24
    assert trend["categories"][-1] == "2026-06"
    assert trend["series"][0]["data"][-1] == 21


def test_compared_by_alliance_the_bars_do_not_drill(people):
    count("referrals_up", JUNE, "alliance", "a1", "第一医联体", "city", 7)
    count("referrals_down", JUNE, "alliance", "a1", "第一医联体", "city", 2)

    page = client_for(people.users["bureau"]).get("/bureau/?period=2026-06&compare=alliance")

    bars = chart(page.content.decode(), "chart-compare")
    assert bars["categories"] == ["第一医联体"]
    assert [series["links"] for series in bars["series"]] == [[None], [None]]
    assert "双向转诊：各医联体对比" in page.content.decode()


def fulfilment_tree(institutions: int = 2, teams: int = 2) -> None:
    put("fulfilment", JUNE, "city", "city", "全市", "", 30, 40, "0.75")
    put("fulfilment", JUNE, "district", "d1", "海勃湾区", "city", 30, 40, "0.75")
    put("fulfilment", JUNE, "district", "d2", "乌达区", "city", 0, 0, None)
    for i in range(institutions):
        put("fulfilment", JUNE, "institution", f"i{i}", f"机构{i}", "d1", 15, 20, "0.75")
        for t in range(teams):
            # the first team of each institution counts 4 follow-ups: a small cell
            due = 4 if t == 0 else 16
            value = "0.75" if due == 4 else "0.1875"
            put("fulfilment", JUNE, "team", f"{i}{t}", f"团队{i}-{t}", f"i{i}", 3, due, value)


def test_a_kpi_page_drills_from_the_city_to_a_district_to_an_institution_to_its_teams(people):
    fulfilment_tree()
    client = client_for(people.users["bureau"])

    city = client.get("/bureau/kpi/fulfilment/?period=2026-06").content.decode()
    assert "<h1>14. 履约率</h1>" in city
    bars = chart(city, "chart-compare")
    assert bars["categories"] == ["海勃湾区", "乌达区"]
    assert bars["series"][0]["data"] == [75.0, None]  # no follow-up due in 乌达区: no figure
    links = bars["series"][0]["links"]
    assert links[0].endswith("level=institution&unit=d1")

    district = client.get(links[0]).content.decode()
    assert '<span aria-current="page">海勃湾区</span>' in district
    assert chart(district, "chart-compare")["categories"] == ["机构0", "机构1"]
    team_link = "/bureau/kpi/fulfilment/?period=2026-06&amp;level=team&amp;unit=i0"
    assert f'<a href="{team_link}">机构0</a>' in district

    teams = client.get(unescape(team_link)).content.decode()
    crumbs = re.search(r'<nav class="bureau-crumbs".*?</nav>', teams, re.S).group(0)
    assert text(crumbs).split() == ["数据看板", "全市", "海勃湾区", "机构0"]
    bars = chart(teams, "chart-compare")
    assert bars["categories"] == ["团队0-0", "团队0-1"]
    # The small cell (4 due, under REPORTS_SMALL_CELL=5) is neither drawn nor written.
    assert bars["series"][0]["data"] == [None, 18.75]
    assert bars["series"][0]["links"] == [None, None]  # no level below the team
    assert "（小样本，不显示）" in teams
    assert '<td class="num">18.8%</td><td class="num">3</td><td class="num">16</td>' in teams


def test_bad_parameters_of_a_kpi_page(people):
    fulfilment_tree()
    client = client_for(people.users["bureau"])

    assert client.get("/bureau/kpi/no_such_kpi/").status_code == 404
    assert client.get("/bureau/kpi/fulfilment/?period=2026-06&level=team&unit=zz").status_code == (
        404
    )
    page = client.get("/bureau/kpi/contract_coverage/?period=2026-06&level=team&unit=i0")
    assert page.status_code == 200  # contract coverage has no team level: the default view
    assert "部分参数无效，已忽略：level" in page.content.decode()
    page = client.get("/bureau/kpi/fulfilment/?period=2026-06&level=district&unit=d1")
    assert "部分参数无效，已忽略：unit" in page.content.decode()


def test_a_breakdown_kpi_lists_its_groups_for_the_unit(people):
    put("rejection_rate", JUNE, "city", "city", "全市", "", 3, 12, "0.25")
    put("rejection_rate", JUNE, "city", "city", "全市", "", 2, 12, "0.1667", breakdown="no_bed")
    put("rejection_rate", JUNE, "district", "d1", "海勃湾区", "city", 3, 12, "0.25")

    page = client_for(people.users["bureau"]).get("/bureau/kpi/rejection_rate/?period=2026-06")

    body = page.content.decode()
    assert "全市：分组明细" in body
    assert '<td class="num">16.7%</td><td class="num">2</td><td class="num">12</td>' in body


# --- exports, CSP, queries --------------------------------------------------------------------


def test_the_export_buttons_download_the_reports_with_the_portal_session(people):
    districts(1)
    client = client_for(people.users["bureau"])
    page = client.get("/bureau/?period=2026-06").content.decode()
    links = [unescape(u) for u in re.findall(r'href="([^"]+)" download data-export', page)]
    assert links == [
        "/api/v1/reports/export.csv?period=2026-06",
        "/api/v1/reports/export.xlsx?period=2026-06",
    ]

    response = client.get(links[0])

    assert response.status_code == 200
    body = response.content
    assert body.startswith(b"\xef\xbb\xbf")
    rows = list(csv.DictReader(io.StringIO(body.decode("utf-8-sig"))))
    up = [r for r in rows if r["指标代码"] == "referrals_up" and r["单位代码"] == "d00"]
    assert len(up) == 1
    assert Decimal(up[0]["指标值"]) == 10
    assert client.get(links[1]).content.startswith(b"PK")

    kpi_page = client.get("/bureau/kpi/referrals_up/?period=2026-06").content.decode()
    fhir = unescape(re.findall(r'href="([^"]+)" download data-export', kpi_page)[2])
    assert fhir == (
        "/api/v1/reports/fhir/MeasureReport?kpi=referrals_up&period=2026-06&level=city&unit=city"
    )
    assert client.get(fhir).json()["resourceType"] == "MeasureReport"


def test_no_inline_script_style_or_handler(people):
    districts(2)
    fulfilment_tree()
    client = client_for(people.users["bureau"])
    for url in (
        "/bureau/?period=2026-06",
        "/bureau/kpi/fulfilment/?period=2026-06&level=team&unit=i0",
    ):
        page = client.get(url).content.decode()
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", page)
        assert "<style" not in page
        assert not re.search(r"\sstyle=", page)
        assert not re.search(r"\son[a-z]+=", page)


def queries(client: Client, url: str) -> int:
    with CaptureQueriesContext(connection) as captured:
        assert client.get(url).status_code == 200
    return len(captured)


def test_query_counts_are_flat_in_the_number_of_units(people):
    client = client_for(people.users["bureau"])
    districts(2)
    fulfilment_tree(institutions=2, teams=2)
    few = (
        queries(client, "/bureau/?period=2026-06"),
        queries(client, "/bureau/kpi/fulfilment/?period=2026-06&level=institution&unit=d1"),
        queries(client, "/bureau/kpi/fulfilment/?period=2026-06&level=team&unit=i0"),
    )
    KpiValue.objects.all().delete()
    districts(12)
    fulfilment_tree(institutions=9, teams=7)
    many = (
        queries(client, "/bureau/?period=2026-06"),
        queries(client, "/bureau/kpi/fulfilment/?period=2026-06&level=institution&unit=d1"),
        queries(client, "/bureau/kpi/fulfilment/?period=2026-06&level=team&unit=i0"),
    )
    assert few == many
    assert max(many) <= 12


def test_aggregates_only_no_page_links_to_a_list_of_people(people):
    """The bureau may open no referral, contract or resident list (portal/menu.py), so even at the
    team level the pages link only to other figures and to the aggregate exports."""
    districts(2)
    fulfilment_tree()
    client = client_for(people.users["bureau"])
    for url in (
        "/bureau/?period=2026-06",
        "/bureau/kpi/fulfilment/?period=2026-06&level=institution&unit=d1",
        "/bureau/kpi/fulfilment/?period=2026-06&level=team&unit=i0",
    ):
        main = re.search(r"<main.*</main>", client.get(url).content.decode(), re.S).group(0)
        links = {unescape(href).split("?")[0] for href in re.findall(r'href="([^"]+)"', main)}
        assert links
        assert {link for link in links if not link.startswith("/bureau/")} <= {
            "/api/v1/reports/export.csv",
            "/api/v1/reports/export.xlsx",
            "/api/v1/reports/fhir/MeasureReport",
        }


def test_the_dashboard_in_english(people):
    districts(1)
    put("primary_care_share", JUNE, "city", "city", "全市", "", 620, 1000, "0.62")
    put("primary_care_share", MAY, "city", "city", "全市", "", 540, 900, "0.6")
    client = client_for(people.users["bureau"])
    client.cookies["django_language"] = "en"

    page = client.get("/bureau/?period=2026-06").content.decode()

    assert "Two-way referrals by district" in page
    assert "Export CSV" in page
    assert "Month on month +2.0 percentage points" in card(page, "primary_care_share")
    empty = client.get("/bureau/?period=2026-01").content.decode()
    assert "Reports not built yet" in empty
