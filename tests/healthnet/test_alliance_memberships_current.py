"""One meaning of a "current" alliance membership (start_date ≤ day < end_date, or no end), pinned
on the day one membership ends and another starts: the selector and the institutions directory.
(Referral routing and escalation on the same days: tests/referrals/test_alliance_routing.py.)"""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine

from healthnet.models import Tier
from healthnet.selectors import alliance_memberships_current
from tests.factories import AllianceFactory, InstitutionFactory, MembershipFactory

pytestmark = pytest.mark.django_db

CHANGE = dt.date(2026, 3, 2)  # the leaving clinic's end_date and the joining clinic's start_date
EVE = CHANGE - dt.timedelta(days=1)
# noon in Wuhai (UTC+8) on each day
NOON = {
    EVE: dt.datetime(2026, 3, 1, 4, 0, tzinfo=dt.UTC),
    CHANGE: dt.datetime(2026, 3, 2, 4, 0, tzinfo=dt.UTC),
}


@pytest.fixture
def changing(db):
    group = AllianceFactory(code="group-1", kind="medical_group")
    hospital = InstitutionFactory(code="wh-t-1", tier=Tier.TERTIARY)
    leaving = InstitutionFactory(code="wh-p-leaving", tier=Tier.PRIMARY)
    joining = InstitutionFactory(code="wh-p-joining", tier=Tier.PRIMARY)
    MembershipFactory(alliance=group, institution=hospital, role="lead")
    MembershipFactory(
        alliance=group, institution=leaving, start_date=dt.date(2020, 1, 1), end_date=CHANGE
    )
    MembershipFactory(alliance=group, institution=joining, start_date=CHANGE)
    return group


@pytest.mark.parametrize(
    ("day", "members"),
    [
        (EVE, {"wh-t-1", "wh-p-leaving"}),
        (CHANGE, {"wh-t-1", "wh-p-joining"}),
        (CHANGE + dt.timedelta(days=1), {"wh-t-1", "wh-p-joining"}),
        (dt.date(2019, 12, 31), set()),  # before anyone joined
    ],
)
def test_current_on_the_edge_days(changing, day, members):
    current = alliance_memberships_current(on=day).filter(alliance=changing)
    assert set(current.values_list("institution__code", flat=True)) == members


@pytest.mark.parametrize(
    ("day", "members"),
    [(EVE, ["wh-p-leaving", "wh-t-1"]), (CHANGE, ["wh-p-joining", "wh-t-1"])],
)
def test_directory_filters_and_lists_alliances_current_today(clerk_api, changing, day, members):
    with time_machine.travel(NOON[day], tick=False):
        listed = clerk_api.get("/api/v1/institutions", {"alliance": "group-1"}).json()
        assert [i["code"] for i in listed["items"]] == members
        everyone = {
            i["code"]: [a["code"] for a in i["alliances"]]
            for i in clerk_api.get("/api/v1/institutions").json()["items"]
        }
        detail = {
            code: [
                a["code"] for a in clerk_api.get(f"/api/v1/institutions/{code}").json()["alliances"]
            ]
            for code in ("wh-p-leaving", "wh-p-joining")
        }
    for code in ("wh-p-leaving", "wh-p-joining"):
        expected = ["group-1"] if code in members else []
        assert everyone[code] == expected, code
        assert detail[code] == expected, code
