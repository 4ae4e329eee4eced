"""Demo referrals: consistent with the transition table, deterministic, added once."""

from __future__ import annotations

import datetime as dt

from django.db.models import Count

from demo.referrals import generate_referrals
from healthnet.models import Encounter
from referrals.models import DepartmentDaySlots, Referral, ReferralEvent, ReferralStatus
from referrals.transitions import transition_for
from tests.factories import ResidentFactory

TODAY = dt.date(2026, 6, 30)


def _fingerprint():
    return list(
        Referral.objects.order_by("created_at", "resident_id", "to_department_id").values_list(
            "resident_id",
            "direction",
            "to_department_id",
            "status",
            "created_at",
            "overdue",
            "care_setting",
            "encounter__public_id",
        )
    )


def test_demo_year_follows_the_table_and_runs_once(net):
    for _ in range(400):
        ResidentFactory(registered_by=net.primary)
    counts = generate_referrals(seed=3, today=TODAY, log=lambda _: None)
    assert counts["referrals"] == Referral.objects.count() > 10
    assert counts["referral_events"] == ReferralEvent.objects.count()
    assert counts["referral_day_slots"] == DepartmentDaySlots.objects.count()

    for referral in Referral.objects.prefetch_related("events"):
        events = sorted(referral.events.all(), key=lambda e: (e.at, e.pk))
        assert events[0].action == "create"
        status = events[0].to_status
        for event in events[1:]:
            assert event.from_status == status
            if event.action != "escalate":
                transition = transition_for(status, event.action)
                assert transition is not None, (status, event.action)
                assert event.to_status == transition.target
            status = event.to_status
        assert referral.status == status
        assert referral.overdue == any(e.action == "escalate" for e in events)
        assert max(e.at for e in events) <= dt.datetime.combine(
            TODAY, dt.time(23, 59), tzinfo=dt.UTC
        ) + dt.timedelta(hours=16)

    for slots in DepartmentDaySlots.objects.annotate(n=Count("referrals")):
        assert slots.booked == slots.n <= slots.capacity

    directions = dict(Referral.objects.values_list("direction").annotate(n=Count("pk")))
    assert directions["up"] > directions["down"] > 0
    assert Referral.objects.filter(status=ReferralStatus.REJECTED).exists()
    assert Referral.objects.filter(redirected_from__isnull=False).exists()
    assert Referral.objects.filter(follow_on__isnull=False).exists()

    # every arrival opened a visit at the receiving institution: an inpatient referral's an
    # admitted stay (discharged, if at all, after the admission), the others an outpatient visit
    arrived = Referral.objects.filter(arrived_at__isnull=False).select_related("encounter")
    assert arrived.exists()
    for referral in arrived:
        visit = referral.encounter
        assert visit is not None
        assert (visit.resident_id, visit.institution_id) == (
            referral.resident_id,
            referral.to_institution_id,
        )
        assert visit.started_at == referral.arrived_at
        if referral.care_setting == "inpatient":
            assert (visit.kind, visit.admitted_at) == ("inpatient", referral.arrived_at)
            assert visit.discharged_at is None or visit.discharged_at >= visit.admitted_at
        else:
            assert (visit.kind, visit.admitted_at) == ("outpatient", None)
    assert not Referral.objects.filter(arrived_at__isnull=True, encounter__isnull=False).exists()
    settings = dict(Referral.objects.values_list("care_setting").annotate(n=Count("pk")))
    assert settings["inpatient"] > 0 and settings["outpatient"] > settings["inpatient"]
    assert counts["referral_encounters"] == Encounter.objects.count()

    # a second run adds nothing
    assert generate_referrals(seed=3, today=TODAY, log=lambda _: None) == {
        "referrals": 0,
        "referral_events": 0,
        "referral_day_slots": 0,
        "referral_encounters": 0,
        "referral_follow_ups": 0,
    }


def test_demo_is_deterministic(net):
    for _ in range(200):
        ResidentFactory(registered_by=net.primary)
    generate_referrals(seed=5, today=TODAY, log=lambda _: None)
    first = _fingerprint()
    ReferralEvent.objects.all().delete()
    Referral.objects.update(follow_on=None, appointment=None)
    Referral.objects.filter(redirected_from__isnull=False).delete()
    Referral.objects.all().delete()
    DepartmentDaySlots.objects.all().delete()
    Encounter.objects.all().delete()  # the visits the arrivals opened
    generate_referrals(seed=5, today=TODAY, log=lambda _: None)
    assert _fingerprint() == first


def test_demo_deadlines_are_the_services_deadlines(net):
    """Deadlines as settings.REFERRAL_DEADLINES states them (written out here by hand): the
    decision by urgency, three days to acknowledge a completed referral before auto-close."""
    for _ in range(400):
        ResidentFactory(registered_by=net.primary)
    generate_referrals(seed=3, today=TODAY, log=lambda _: None)

    decision = {
        "emergency": dt.timedelta(minutes=30),
        "urgent": dt.timedelta(hours=4),
        "routine": dt.timedelta(hours=48),
    }
    referrals = list(Referral.objects.all())
    for referral in referrals:
        assert referral.submitted_at is not None
        assert referral.decision_due_at == referral.submitted_at + decision[referral.urgency]
        if referral.status == ReferralStatus.SUBMITTED:
            assert referral.due_at == referral.decision_due_at
    closed_after_completion = [
        r for r in referrals if r.status == ReferralStatus.CLOSED and r.completed_at is not None
    ]
    auto_closed = set(
        ReferralEvent.objects.filter(action="auto_close").values_list("referral_id", flat=True)
    )
    assert {r.pk for r in closed_after_completion} - auto_closed  # some acknowledged
    assert {r.pk for r in closed_after_completion} & auto_closed  # some closed by the job
    for referral in closed_after_completion:
        late = referral.closed_at > referral.completed_at + dt.timedelta(days=3)
        assert late == (referral.pk in auto_closed)
