"""Deadlines with a controlled clock: overdue flagging and escalation (once), auto-close."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.utils import timezone

from healthnet.models import AuditEvent, OutboxMessage, UserRole
from referrals import escalation, services, tasks
from referrals.models import Referral, ReferralEvent, ReferralStatus
from tests.factories import MembershipFactory
from tests.referrals.support import create_up, referral_in

S = ReferralStatus
T0 = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)


@pytest.fixture
def clock():
    with time_machine.travel(T0, tick=False) as traveller:
        yield traveller


def test_emergency_escalates_after_30_minutes_once(net, clock):
    referral = create_up(net, urgency="emergency")
    clock.move_to(T0 + dt.timedelta(minutes=29))
    assert tasks.referrals_escalate_overdue.delay().get() == 0
    referral.refresh_from_db()
    assert referral.overdue is False

    clock.move_to(T0 + dt.timedelta(minutes=31))
    assert escalation.referrals_escalate_overdue() == 1
    referral.refresh_from_db()
    assert referral.overdue is True
    assert referral.escalated_at == timezone.now()
    event = referral.events.last()
    assert (event.action, event.from_status, event.to_status, event.actor) == (
        "escalate",
        "submitted",
        "submitted",
        None,
    )
    assert sorted(event.details["notified"]) == sorted(
        ["cardiology-head", f"{net.tertiary.code}-{UserRole.INSTITUTION_ADMIN}"]
    )
    recipients = set(
        OutboxMessage.objects.filter(subject__contains="overdue").values_list(
            "recipient", flat=True
        )
    )
    assert recipients == {
        "user:cardiology-head",
        f"user:{net.tertiary.code}-{UserRole.INSTITUTION_ADMIN}",
    }
    assert AuditEvent.objects.filter(action="referral_escalate").count() == 1

    # the job runs again (and again later): nothing more
    counts = (ReferralEvent.objects.count(), OutboxMessage.objects.count())
    assert escalation.referrals_escalate_overdue() == 0
    clock.move_to(T0 + dt.timedelta(hours=5))
    assert tasks.referrals_escalate_overdue.delay().get() == 0
    assert (ReferralEvent.objects.count(), OutboxMessage.objects.count()) == counts


def test_dedupe_key_keeps_one_notice_even_if_the_flag_is_reset(net, clock):
    referral = create_up(net, urgency="urgent")
    clock.move_to(T0 + dt.timedelta(hours=4, minutes=1))
    escalation.referrals_escalate_overdue()
    Referral.objects.filter(pk=referral.pk).update(overdue=False)  # e.g. a restored backup
    escalation.referrals_escalate_overdue()
    assert OutboxMessage.objects.filter(subject__contains="overdue").count() == 2  # 2 people


def test_alliance_admin_of_the_lead_institution_only(net, clock):
    # the referring institution's alliance does not include the district hospital; an alliance
    # of the receiving institution alone still reaches its lead's admins
    other = MembershipFactory(institution=net.district, role="lead").alliance
    MembershipFactory(alliance=other, institution=net.tertiary, role="member")
    referral = create_up(net)
    recipients = escalation.escalation_recipients(referral, on=timezone.localdate())
    assert {u.username for u in recipients} == {
        "cardiology-head",
        f"{net.tertiary.code}-{UserRole.INSTITUTION_ADMIN}",
    }  # the shared alliance (tertiary-led group) wins over the district-led one


def test_moving_on_clears_overdue_and_sets_the_next_deadline(net, clock):
    referral = create_up(net, urgency="emergency")
    clock.move_to(T0 + dt.timedelta(hours=1))
    escalation.referrals_escalate_overdue()
    referral = services.referral_accept(
        referral=Referral.objects.get(pk=referral.pk), actor=net.office
    )
    assert referral.overdue is False
    assert referral.due_at == timezone.now() + dt.timedelta(days=7)
    clock.move_to(T0 + dt.timedelta(days=8))
    assert escalation.referrals_escalate_overdue() == 1  # the booking deadline, escalated anew
    assert Referral.objects.get(pk=referral.pk).overdue is True


@pytest.mark.parametrize(
    ("state", "after"),
    [
        (S.ARRIVED, dt.timedelta(days=3, minutes=1)),  # feedback deadline
        (S.NO_SHOW, dt.timedelta(days=1, minutes=1)),  # rebook or cancel within a day
    ],
)
def test_other_steps_escalate(net, clock, state, after):
    referral = referral_in(net, state)
    clock.move_to(T0 + after)
    assert escalation.referrals_escalate_overdue() == 1
    assert Referral.objects.get(pk=referral.pk).overdue is True


def test_terminal_and_completed_referrals_never_escalate(net, clock):
    for state in (S.REJECTED, S.CANCELLED, S.COMPLETED):
        referral_in(net, state)
    clock.move_to(T0 + dt.timedelta(days=60))
    assert escalation.referrals_escalate_overdue() == 0


def test_auto_close_after_three_days(net, clock):
    referral = referral_in(net, S.COMPLETED)
    clock.move_to(T0 + dt.timedelta(days=3) - dt.timedelta(minutes=1))
    assert tasks.referrals_auto_close.delay().get() == 0
    clock.move_to(T0 + dt.timedelta(days=3, minutes=1))
    assert escalation.referrals_auto_close() == 1
    referral.refresh_from_db()
    assert referral.status == S.CLOSED
    event = referral.events.last()
    assert (event.action, event.from_status, event.actor) == ("auto_close", "completed", None)
    assert escalation.referrals_auto_close() == 0


def test_acknowledged_referral_is_not_auto_closed_again(net, clock):
    referral = referral_in(net, S.CLOSED)
    clock.move_to(T0 + dt.timedelta(days=10))
    assert escalation.referrals_auto_close() == 0
    assert referral.events.filter(action="auto_close").count() == 0
