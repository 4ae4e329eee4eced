"""The staff 工作台: its counters (values, who sees which, links), the htmx partial, the week and
30-day boundaries, and a query count that stays flat as rows grow. Expected figures are the
clinic day's, counted by hand (tests/portal/scenario.py's docstring)."""

from __future__ import annotations

import datetime as dt
import re
from urllib.parse import urlsplit

import pytest
import time_machine
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from portal.workbench import days_left_in_week
from referrals import services as referral_services
from referrals.models import ReferralUrgency
from tests.factories import ResidentFactory
from tests.portal.scenario import (
    _signed_contract,
    _start_for_followup_due,
    build_clinic,
    build_people,
)

pytestmark = pytest.mark.django_db

SHANGHAI = timezone.get_fixed_timezone(8 * 60)


def at(year: int, month: int, day: int, hour: int = 9) -> dt.datetime:
    return dt.datetime(year, month, day, hour, tzinfo=SHANGHAI)


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


COUNTER = re.compile(
    r'data-counter="(?P<key>\w+)">\s*'
    r'<a id="counter-\w+" class="counter__link" href="(?P<href>[^"]+)">'
    r'\s*<span class="counter__value">(?P<total>\d+)</span>.*?</a>',
    re.S,
)
OVERDUE = re.compile(r"其中 (\d+) 件已超时")


def counters(html: str) -> dict[str, tuple[int, int]]:
    """key → (the figure, the overdue figure on its badge; 0 when no badge is shown)."""
    found = {}
    for match in COUNTER.finditer(html):
        overdue = OVERDUE.search(match.group(0))
        found[match["key"]] = (int(match["total"]), int(overdue.group(1)) if overdue else 0)
    return found


def links(html: str) -> dict[str, str]:
    return {m["key"]: m["href"].replace("&amp;", "&") for m in COUNTER.finditer(html)}


@pytest.fixture
def clinic():
    return build_clinic()


def test_the_gp_workbench_counts_the_clinic_day(clinic):
    page = client_for(clinic.users["doctor"]).get("/workbench/").content.decode()

    assert counters(page) == {
        "awaiting_decision": (2, 1),
        "arrivals_today": (1, 0),
        "downward_to_pick_up": (3, 1),
        "followups_this_week": (2, 1),
        "contracts_expiring": (1, 0),
    }
    today = clinic.today.isoformat()
    within = 6 - clinic.today.weekday()
    assert links(page) == {
        "awaiting_decision": "/referrals/incoming/?status=submitted",
        "arrivals_today": f"/referrals/incoming/?status=scheduled&appointment_date={today}",
        "downward_to_pick_up": "/referrals/incoming/?direction=down&status=submitted"
        "&status=accepted&status=scheduled&status=no_show&status=arrived",
        "followups_this_week": f"/team/follow-ups/?state=due&within_days={within}",
        "contracts_expiring": "/team/contracts/?expiring_within=30",
    }
    assert "目前没有待办事项" not in page


# role → the counters it sees, with the figures of the clinic day at P (T for tertiary_*).
SEEN = {
    "doctor": {
        "awaiting_decision": (2, 1),
        "arrivals_today": (1, 0),
        "downward_to_pick_up": (3, 1),
        "followups_this_week": (2, 1),
        "contracts_expiring": (1, 0),
    },
    "public_health": {
        "downward_to_pick_up": (3, 1),
        "followups_this_week": (2, 1),
        "contracts_expiring": (1, 0),
    },
    "nurse": {"arrivals_today": (1, 0), "downward_to_pick_up": (3, 1)},
    "referral_coordinator": {
        "awaiting_decision": (2, 1),
        "arrivals_today": (1, 0),
        "downward_to_pick_up": (3, 1),
    },
    "clerk": {"arrivals_today": (1, 0), "downward_to_pick_up": (3, 1)},
    "pharmacist": {},
    "institution_admin": {
        "downward_to_pick_up": (3, 1),
        "followups_this_week": (2, 1),
        "contracts_expiring": (1, 0),
    },
    "tertiary_coordinator": {
        "awaiting_decision": (1, 0),  # the urgent upward referral, within its 4 h
        "arrivals_today": (0, 0),
        "downward_to_pick_up": (0, 0),
    },
}


@pytest.mark.parametrize("role", sorted(SEEN))
def test_each_role_sees_its_counters_and_each_links_to_a_page_it_may_open(clinic, role):
    client = client_for(clinic.users[role])

    page = client.get("/workbench/").content.decode()

    assert counters(page) == SEEN[role]
    for href in links(page).values():
        assert client.get(href).status_code == 200, href


def test_a_role_without_counters_gets_an_explanation(clinic):
    page = client_for(clinic.users["pharmacist"]).get("/workbench/").content.decode()

    assert "您的岗位在工作台上没有待办计数" in page
    assert 'id="workbench-counters"' in page  # still refreshed, still a landmark for later


def test_an_empty_day_shows_zeros_and_says_there_is_nothing_to_do():
    people = build_people()

    page = client_for(people.users["doctor"]).get("/workbench/").content.decode()

    assert counters(page) == {
        "awaiting_decision": (0, 0),
        "arrivals_today": (0, 0),
        "downward_to_pick_up": (0, 0),
        "followups_this_week": (0, 0),
        "contracts_expiring": (0, 0),
    }
    assert "目前没有待办事项" in page


def test_the_partial_is_the_counters_alone_polled_at_the_configured_interval(clinic, settings):
    settings.PORTAL_COUNTERS_REFRESH_SECONDS = 5

    response = client_for(clinic.users["doctor"]).get(
        "/workbench/counters/", headers={"HX-Request": "true"}
    )

    fragment = response.content.decode().strip()
    assert fragment.startswith('<section id="workbench-counters"')
    assert "<html" not in fragment
    assert "<nav" not in fragment
    assert 'hx-get="/workbench/counters/" hx-trigger="every 5s" hx-swap="outerHTML"' in fragment
    assert counters(fragment)["awaiting_decision"] == (2, 1)


def _capture(user) -> tuple[int, str]:
    client = client_for(user)
    client.get("/workbench/")  # warm: session and caches as on every later request
    with CaptureQueriesContext(connection) as queries:
        page = client.get("/workbench/").content.decode()
    return len(queries), page


def test_the_workbench_query_count_stays_flat_as_rows_grow(clinic):
    doctor = clinic.users["doctor"]
    few, _ = _capture(doctor)

    # Three more downward referrals (one scheduled tomorrow: not today's arrival) and two more
    # signed residents whose follow-ups fall outside this week.
    new = []
    for name in ("吴晓东", "郑雅琴", "冯国庆"):
        referral, _ = referral_services.referral_create(
            actor=clinic.users["tertiary_doctor"],
            resident=ResidentFactory(registered_by=clinic.tertiary, name=name),
            to_department=clinic.primary_dept,
            urgency=ReferralUrgency.ROUTINE,
            reason_code="return_to_primary_care",
            from_department=clinic.cardiology,
        )
        new.append(referral)
    coordinator = clinic.users["referral_coordinator"]
    accepted = referral_services.referral_accept(referral=new[0], actor=coordinator)
    referral_services.referral_schedule(
        referral=accepted, actor=coordinator, date=clinic.today + dt.timedelta(days=1)
    )
    for _ in range(2):
        _signed_contract(clinic, ResidentFactory(registered_by=clinic.primary), clinic.today)
    many, page = _capture(doctor)

    assert counters(page) == {
        "awaiting_decision": (4, 1),
        "arrivals_today": (1, 0),
        "downward_to_pick_up": (6, 1),
        "followups_this_week": (2, 1),
        "contracts_expiring": (1, 0),
    }
    assert many == few
    # Pinned, to notice a new one: session, user, the user's teams, 2 + 1 + 2 referral counts,
    # 2 follow-up counts, 1 contract count, the user's institution (header).
    assert few == 12


@pytest.mark.parametrize(
    ("today", "expected"),
    [
        (dt.date(2026, 2, 23), 6),  # Monday: the whole week ahead
        (dt.date(2026, 2, 25), 4),
        (dt.date(2026, 3, 1), 0),  # Sunday: the last day of the week
    ],
)
def test_days_left_in_the_week_end_on_sunday(today, expected):
    assert days_left_in_week(today) == expected


@pytest.mark.parametrize(
    ("viewed", "expected"),
    [
        (at(2026, 2, 22), (0, 0)),  # the Sunday before: another week
        (at(2026, 2, 23), (1, 0)),  # Monday of the week it falls in (Sunday 1 March)
        (at(2026, 3, 1), (1, 0)),  # the day itself
        (at(2026, 3, 2), (1, 1)),  # the Monday after: overdue, still to do
    ],
)
def test_a_followup_counts_in_the_week_it_falls_due(viewed, expected):
    people = build_people(now=at(2026, 2, 20))
    sunday = dt.date(2026, 3, 1)
    contract = _signed_contract(
        people, ResidentFactory(registered_by=people.primary), _start_for_followup_due(sunday, 0)
    )
    assert contract.follow_ups.get().due_date == sunday  # the setup, checked by hand

    with time_machine.travel(viewed, tick=False):
        page = client_for(people.users["doctor"]).get("/workbench/").content.decode()

    assert counters(page)["followups_this_week"] == expected


@pytest.mark.parametrize(
    ("viewed", "expected"),
    [(at(2026, 1, 28), 0), (at(2026, 1, 29), 1)],  # 31 and 30 days before it ends on 28 Feb
)
def test_a_contract_counts_as_expiring_from_thirty_days_before_its_end(viewed, expected):
    people = build_people(now=at(2025, 2, 20))
    contract = _signed_contract(
        people, ResidentFactory(registered_by=people.primary), dt.date(2025, 3, 1)
    )
    assert contract.end_date == dt.date(2026, 2, 28)

    with time_machine.travel(viewed, tick=False):
        page = client_for(people.users["doctor"]).get("/workbench/").content.decode()

    assert counters(page)["contracts_expiring"] == (expected, 0)


def test_counter_links_keep_the_filters_they_count(clinic):
    page = client_for(clinic.users["doctor"]).get("/workbench/").content.decode()
    href = links(page)["arrivals_today"]

    placeholder = client_for(clinic.users["doctor"]).get(href).content.decode()

    assert urlsplit(href).path == "/referrals/incoming/"
    assert f"appointment_date={clinic.today.isoformat()}" in placeholder


def test_only_a_poll_of_htmx_counts_as_a_background_request():
    from django.test import RequestFactory

    from portal.htmx import POLL_HEADER, is_background_poll

    factory = RequestFactory()
    poll = factory.get("/workbench/counters/", headers={"HX-Request": "true", POLL_HEADER: "1"})
    click = factory.get("/workbench/counters/", headers={"HX-Request": "true", POLL_HEADER: "0"})
    plain = factory.get("/workbench/counters/", headers={POLL_HEADER: "1"})  # not from htmx

    assert is_background_poll(poll)
    assert not is_background_poll(click)
    assert not is_background_poll(plain)
    assert not is_background_poll(factory.get("/workbench/"))
