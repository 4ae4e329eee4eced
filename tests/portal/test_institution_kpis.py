"""本机构指标 (portal/pages/institution_kpis.py) and the lists opened from its figures
(portal/pages/figures.py) on the demo city with its rollups rebuilt: who may open the page, that
every linked figure opens a list of exactly as many records as the figure counts, that the links
follow what the user may list, and that a bad or foreign figure filter is dropped and named."""

from __future__ import annotations

import re
from collections import Counter
from html import unescape

import pytest
from django.db.models import Count
from django.test import Client

from healthnet.models import AuditEvent, Institution, UserRole
from referrals.models import Referral
from reports.periods import Period
from reports.services import rebuild_period
from signing.models import FamilyDoctorTeam
from tests.factories import UserFactory
from tests.reports.demo_city import build_demo_city

pytestmark = pytest.mark.django_db

QUARTER = Period.parse("2026Q2")  # a quarter: the small demo city has referrals both ways
PAGE = "/institution/kpis/?period=2026Q2"
LINK = re.compile(r'<a href="([^"]+)" data-part="(numerator|denominator)">([\d,]+)</a>')


@pytest.fixture
def city():
    build_demo_city()
    rebuild_period(QUARTER)


def _busiest(**filters) -> Institution:
    """The institution with teams and the most referrals in and out (the demo's choice)."""
    with_teams = FamilyDoctorTeam.objects.filter(**filters).values("institution_id")
    counts = (
        Referral.objects.filter(from_institution_id__in=with_teams)
        .values("from_institution_id")
        .annotate(n=Count("pk"))
        .order_by("-n")
    )
    return Institution.objects.get(pk=counts[0]["from_institution_id"])


def client_for(role: str, institution: Institution | None = None) -> tuple[Client, object]:
    user = UserFactory(role=role, institution=institution)
    client = Client()
    client.force_login(user)
    return client, user


def links_of(html: str) -> list[tuple[str, str, int]]:
    return [(unescape(url), part, int(n.replace(",", ""))) for url, part, n in LINK.findall(html)]


@pytest.mark.parametrize(
    ("role", "status"),
    [
        (UserRole.INSTITUTION_ADMIN, 200),
        (UserRole.REFERRAL_COORDINATOR, 200),
        (UserRole.DOCTOR, 403),
        (UserRole.CLERK, 403),
        (UserRole.BUREAU, 403),
        (UserRole.SYSTEM_ADMIN, 403),
    ],
)
def test_the_institution_admin_and_the_referral_office_see_the_page(city, role, status):
    institution = None if role in (UserRole.BUREAU, UserRole.SYSTEM_ADMIN) else _busiest()
    client, _user = client_for(role, institution)
    assert client.get(PAGE).status_code == status


def test_the_page_needs_a_login(city):
    response = Client().get(PAGE)
    assert response.status_code == 302
    assert "/accounts/login/" in response["Location"]


def test_every_linked_figure_opens_a_list_of_exactly_the_records_it_counts(city):
    institution = _busiest()
    client, user = client_for(UserRole.INSTITUTION_ADMIN, institution)
    html = client.get(PAGE).content.decode()
    assert institution.name in html
    links = links_of(html)
    pages = {url.split("?")[0] for url, _part, _n in links}
    # The worklists both ways, and the teams' contracts and follow-ups.
    assert pages == {
        "/referrals/outgoing/",
        "/referrals/incoming/",
        "/team/contracts/",
        "/team/follow-ups/",
    }
    assert all(n > 0 for _url, _part, n in links)  # a part with no records is not a link
    for url, part, shown in links:
        response = client.get(url)
        assert response.status_code == 200, url
        assert response.context["figure"] is not None, url
        assert response.context["figure"].part == part
        assert response.context["page"].paginator.count == shown, url
        assert response.context["dropped"] == []
    audit = AuditEvent.objects.filter(actor=user, action="list").order_by("-pk").first()
    assert audit.details["kpi"] in {url.split("kpi=")[1].split("&")[0] for url, _p, _n in links}
    assert audit.details["period"] == "2026Q2"


def test_the_referral_office_gets_the_worklists_but_not_the_teams_it_does_not_work_with(city):
    client, _user = client_for(UserRole.REFERRAL_COORDINATOR, _busiest())
    html = client.get(PAGE).content.decode()
    pages = {url.split("?")[0] for url, _part, _n in links_of(html)}
    assert pages == {"/referrals/outgoing/", "/referrals/incoming/"}


def test_the_list_behind_a_figure_keeps_the_list_scope_and_its_other_filters():
    build_demo_city(residents=1500)  # enough decisions at one hospital for several statuses
    start, end = Period.parse("2026").bounds()  # a year: the small demo city decides a few a month
    deciding = (
        Referral.objects.filter(decided_at__gte=start, decided_at__lt=end)
        .values("to_institution_id")
        .annotate(n=Count("pk"))
        .order_by("-n")
    )
    institution = Institution.objects.get(pk=deciding[0]["to_institution_id"])
    client, _user = client_for(UserRole.INSTITUTION_ADMIN, institution)
    query = "kpi=decision_on_time&period=2026&part=denominator"
    every = client.get(f"/referrals/incoming/?{query}")
    statuses = Counter(row["referral"].status for row in every.context["rows"])
    assert len(statuses) > 1
    status = statuses.most_common(1)[0][0]
    some = client.get(f"/referrals/incoming/?{query}&status={status}")
    assert 0 < some.context["page"].paginator.count < every.context["page"].paginator.count
    assert all(row["referral"].status == status for row in some.context["rows"])
    assert all(row["referral"].to_institution_id == institution.pk for row in some.context["rows"])
    # The figure's filter stays in the filter form, and the banner names the figure.
    html = some.content.decode()
    assert '<input type="hidden" name="kpi" value="decision_on_time">' in html
    assert "转诊响应及时率" in html


@pytest.mark.parametrize(
    "query",
    [
        "kpi=referrals_up&period=2026-05",  # counted in the outgoing box, not the incoming
        "kpi=primary_care_share&period=2026-05",  # visits: no list behind it
        "kpi=nonsense&period=2026-05",
        "kpi=rejection_rate&period=2026-13",
        "kpi=rejection_rate&period=2099-01",  # not begun
        "kpi=rejection_rate&period=2026-05&part=both",
        "kpi=referrals_up&period=2026-05&part=denominator",  # a count has no denominator
    ],
)
def test_a_bad_or_foreign_figure_filter_is_dropped_and_named(city, query):
    client, _user = client_for(UserRole.INSTITUTION_ADMIN, _busiest())
    plain = client.get("/referrals/incoming/")
    response = client.get(f"/referrals/incoming/?{query}")
    assert response.status_code == 200
    assert response.context["dropped"] == ["kpi"]
    assert response.context["figure"] is None
    assert response.context["page"].paginator.count == plain.context["page"].paginator.count


def test_before_the_period_is_built_the_page_says_how_to_build_it(city):
    client, _user = client_for(UserRole.INSTITUTION_ADMIN, _busiest())
    html = client.get("/institution/kpis/?period=2026-02").content.decode()
    assert "rebuild_reports" in html
    assert not links_of(html)


def test_the_page_in_english(city):
    client, _user = client_for(UserRole.INSTITUTION_ADMIN, _busiest())
    client.cookies["django_language"] = "en"
    html = client.get(PAGE, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "Indicators of this institution" in html
    assert "Family-doctor teams of this institution" in html


def test_the_page_reads_a_constant_number_of_queries_whatever_the_teams(city):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    by_teams = (
        FamilyDoctorTeam.objects.values("institution_id").annotate(n=Count("pk")).order_by("n")
    )
    fewest, most = by_teams.first(), by_teams.last()
    assert fewest["n"] < most["n"]
    counts = []
    for row in (fewest, most):
        institution = Institution.objects.get(pk=row["institution_id"])
        client, _user = client_for(UserRole.INSTITUTION_ADMIN, institution)
        with CaptureQueriesContext(connection) as captured:
            assert client.get(PAGE).status_code == 200
        counts.append(len(captured))
    assert counts[0] == counts[1]
    assert counts[1] <= 16
