"""Referral routing and escalation read the same "current alliance membership" as the directory
(healthnet.selectors.alliance_memberships_current), pinned on the day one membership ends and
another starts."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine

from healthnet.models import UserRole
from referrals import escalation
from tests.conftest import api_client_for
from tests.factories import AllianceFactory, MembershipFactory, ResidentFactory
from tests.referrals.support import create_up

CHANGE = dt.date(2026, 3, 2)
EVE = dt.date(2026, 3, 1)
NOON = {
    EVE: dt.datetime(2026, 3, 1, 4, 0, tzinfo=dt.UTC),
    CHANGE: dt.datetime(2026, 3, 2, 4, 0, tzinfo=dt.UTC),
}


@pytest.fixture
def changing(net):
    """In the tertiary-led group (with primary A): the district hospital leaves on CHANGE, the
    specialist hospital joins on CHANGE. A second alliance of the tertiary hospital changes its
    lead on CHANGE: the district hospital hands over to the specialist hospital."""
    group = net.tertiary.alliance_memberships.get().alliance
    MembershipFactory(
        alliance=group, institution=net.district, start_date=dt.date(2020, 1, 1), end_date=CHANGE
    )
    MembershipFactory(alliance=group, institution=net.specialist, start_date=CHANGE)
    other = AllianceFactory(code="wh-community-1", kind="medical_community")
    MembershipFactory(
        alliance=other,
        institution=net.district,
        role="lead",
        start_date=dt.date(2020, 1, 1),
        end_date=CHANGE,
    )
    MembershipFactory(alliance=other, institution=net.specialist, role="lead", start_date=CHANGE)
    MembershipFactory(alliance=other, institution=net.tertiary, role="member")
    for institution in (net.district, net.specialist):
        net.user(institution, UserRole.INSTITUTION_ADMIN)
    return net


@pytest.mark.parametrize(
    ("day", "partners"),
    [(EVE, {"wh-t-01", "wh-d-01"}), (CHANGE, {"wh-t-01", "wh-s-01"})],
)
def test_suggestions_mark_the_partners_current_that_day(changing, day, partners):
    with time_machine.travel(NOON[day], tick=False):
        body = (
            api_client_for(changing.referrer)
            .get("/api/v1/referrals/suggestions", {"direction": "up"})
            .json()
        )
    flags = {s["institution"]["code"]: s["alliance_partner"] for s in body}
    assert flags == {code: code in partners for code in ("wh-t-01", "wh-s-01", "wh-d-01")}
    assert {s["institution"]["code"] for s in body[:2]} == partners  # partners first


def _referral_from_outside_any_alliance(net):
    """primary B belongs to no alliance: escalation falls back on the receiving side's."""
    return create_up(
        net,
        actor=net.user(net.primary_b, UserRole.DOCTOR),
        resident=ResidentFactory(registered_by=net.primary_b),
        from_department=net.primary_b_dept,
        urgency="emergency",
    )


@pytest.mark.parametrize(("day", "new_lead"), [(EVE, "wh-d-01"), (CHANGE, "wh-s-01")])
def test_escalation_reaches_the_leads_current_that_day(changing, day, new_lead):
    referral = _referral_from_outside_any_alliance(changing)
    recipients = escalation.escalation_recipients(referral, on=day)
    assert {u.username for u in recipients} == {
        "cardiology-head",
        "wh-t-01-institution_admin",  # lead of the group, unchanged
        f"{new_lead}-institution_admin",  # lead of the community that day
    }


def test_the_escalation_job_takes_the_day_in_wuhai(changing):
    # 16:00 UTC on the eve is already midnight of CHANGE in Wuhai (UTC+8)
    with time_machine.travel(dt.datetime(2026, 3, 1, 15, 0, tzinfo=dt.UTC), tick=False) as clock:
        referral = _referral_from_outside_any_alliance(changing)
        clock.move_to(dt.datetime(2026, 3, 1, 16, 1, tzinfo=dt.UTC))
        assert escalation.referrals_escalate_overdue() == 1
    event = referral.events.get(action="escalate")
    assert "wh-s-01-institution_admin" in event.details["notified"]
    assert "wh-d-01-institution_admin" not in event.details["notified"]
