"""Every deadline of the workflow pinned at its edge with a controlled clock: a step done exactly
at its deadline is on time and never escalated; one minute later it has been. Expected times are
written by hand from docs/referrals.md (minutes, and the end of the appointment day in
Asia/Shanghai), not computed with the code under test."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine

from healthnet.errors import InvalidInput
from referrals import escalation, services
from referrals.models import Referral, ReferralStatus
from tests.factories import ResidentFactory
from tests.referrals.support import create_up, referral_in

S = ReferralStatus
T0 = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)  # Monday 2 March, 17:00 in Wuhai
MINUTE = dt.timedelta(minutes=1)


@pytest.fixture
def clock():
    with time_machine.travel(T0, tick=False) as traveller:
        yield traveller


DECISION_MINUTES = [("emergency", 30), ("urgent", 4 * 60), ("routine", 48 * 60)]


@pytest.mark.parametrize(("urgency", "minutes"), DECISION_MINUTES)
def test_a_decision_exactly_at_the_deadline_is_on_time(net, clock, urgency, minutes):
    referral = create_up(net, urgency=urgency)
    due = T0 + dt.timedelta(minutes=minutes)
    assert (referral.decision_due_at, referral.due_at) == (due, due)

    clock.move_to(due)
    assert escalation.referrals_escalate_overdue() == 0
    referral = services.referral_accept(referral=referral, actor=net.office)
    assert referral.decided_at == due
    assert referral.decision_due_at == due  # kept after the step, for the on-time rate
    assert referral.overdue is False
    assert referral.escalated_at is None
    assert not referral.events.filter(action="escalate").exists()


@pytest.mark.parametrize(("urgency", "minutes"), DECISION_MINUTES)
def test_a_decision_one_minute_late_has_been_escalated(net, clock, urgency, minutes):
    referral = create_up(net, urgency=urgency)
    due = T0 + dt.timedelta(minutes=minutes)

    clock.move_to(due + MINUTE)
    assert escalation.referrals_escalate_overdue() == 1
    referral = services.referral_accept(
        referral=Referral.objects.get(pk=referral.pk), actor=net.office
    )
    assert referral.decided_at == due + MINUTE
    assert referral.escalated_at == due + MINUTE
    assert list(referral.events.values_list("action", flat=True)) == [
        "create",
        "submit",
        "escalate",
        "accept",
    ]


@pytest.mark.parametrize(
    ("state", "due"),
    [
        (S.ACCEPTED, T0 + dt.timedelta(days=7)),  # booking
        # the appointment on 3 March: due at midnight after it in Wuhai = 16:00 UTC
        (S.SCHEDULED, dt.datetime(2026, 3, 3, 16, 0, tzinfo=dt.UTC)),
        (S.NO_SHOW, T0 + dt.timedelta(days=1)),  # rebook or cancel, referrer told
        (S.ARRIVED, T0 + dt.timedelta(days=3)),  # feedback
    ],
)
def test_each_step_escalates_one_minute_after_its_deadline_not_at_it(net, clock, state, due):
    referral = referral_in(net, state)
    assert referral.due_at == due

    clock.move_to(due)
    assert escalation.referrals_escalate_overdue() == 0
    assert Referral.objects.get(pk=referral.pk).overdue is False

    clock.move_to(due + MINUTE)
    assert escalation.referrals_escalate_overdue() == 1
    referral.refresh_from_db()
    assert (referral.overdue, referral.escalated_at) == (True, due + MINUTE)


def test_the_step_deadlines_are_kept_in_their_own_fields(net, clock):
    referral = referral_in(net, S.ARRIVED)
    assert referral.booking_due_at == T0 + dt.timedelta(days=7)
    assert referral.feedback_due_at == T0 + dt.timedelta(days=3)
    assert referral.decision_due_at == T0 + dt.timedelta(hours=48)


def test_a_completed_referral_closes_itself_one_minute_after_three_days_not_at_them(net, clock):
    referral = referral_in(net, S.COMPLETED)
    due = T0 + dt.timedelta(days=3)
    assert referral.due_at == due

    clock.move_to(due)
    assert escalation.referrals_auto_close() == 0
    assert escalation.referrals_escalate_overdue() == 0  # completed: closes, never escalates
    clock.move_to(due + MINUTE)
    assert escalation.referrals_auto_close() == 1
    referral.refresh_from_db()
    assert (referral.status, referral.closed_at, referral.due_at) == (S.CLOSED, due + MINUTE, None)


def test_the_appointment_may_fall_on_the_last_day_of_the_booking_deadline_not_after(net, clock):
    referral = referral_in(net, S.ACCEPTED)  # booking due 9 March 09:00 UTC = 17:00 in Wuhai
    with pytest.raises(InvalidInput) as refused:
        services.referral_schedule(referral=referral, actor=net.office, date=dt.date(2026, 3, 10))
    assert refused.value.code == "appointment_after_booking_deadline"
    assert refused.value.details["latest"] == "2026-03-09"
    referral = services.referral_schedule(
        referral=referral, actor=net.office, date=dt.date(2026, 3, 9)
    )
    assert referral.status == S.SCHEDULED


def test_drafts_and_terminal_states_carry_no_deadline(net, clock):
    for state in (S.DRAFT, S.CLOSED, S.REJECTED, S.REDIRECTED, S.CANCELLED):
        resident = ResidentFactory(registered_by=net.primary)
        referral = referral_in(net, state, resident=resident)
        assert (referral.due_at, referral.overdue) == (None, False), state
