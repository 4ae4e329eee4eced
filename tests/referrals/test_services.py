"""Referral services: creation and routing, duplicates and idempotency, the decision, booking
reserved slots, feedback and the follow-on downward referral, cancellation, loop closure."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from healthnet.errors import Conflict, Forbidden, InvalidInput, NotFound
from healthnet.models import AuditEvent, OutboxMessage, UserRole
from referrals import services
from referrals.models import (
    DepartmentDaySlots,
    Referral,
    ReferralDirection,
    ReferralEvent,
    ReferralStatus,
    ReferralUrgency,
)
from tests.factories import DepartmentFactory, ResidentFactory
from tests.referrals.support import create_up, referral_in, tomorrow

S = ReferralStatus


def _counts():
    return (
        Referral.objects.count(),
        ReferralEvent.objects.count(),
        AuditEvent.objects.count(),
        OutboxMessage.objects.count(),
    )


# --- create ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("urgency", "minutes"),
    [("emergency", 30), ("urgent", 240), ("routine", 48 * 60)],
)
def test_create_submits_with_decision_deadline_by_urgency(net, urgency, minutes):
    before = timezone.now()
    referral = create_up(net, urgency=urgency)
    assert referral.status == S.SUBMITTED
    assert referral.direction == ReferralDirection.UP
    assert referral.from_institution == net.primary
    assert referral.from_practitioner == net.referrer
    assert referral.decision_due_at == referral.due_at
    delta = referral.decision_due_at - referral.submitted_at
    assert delta == dt.timedelta(minutes=minutes)
    assert referral.submitted_at >= before
    events = list(referral.events.values_list("action", "from_status", "to_status"))
    assert events == [("create", "", "draft"), ("submit", "draft", "submitted")]
    assert AuditEvent.objects.filter(
        action="referral_submit", object_id=str(referral.public_id), actor=net.referrer
    ).exists()
    # the receiving referral office is told, through the outbox
    office = net.office
    assert OutboxMessage.objects.filter(recipient=f"user:{office.username}").exists()


def test_create_as_draft_has_no_deadline(net):
    referral = create_up(net, submit=False)
    assert referral.status == S.DRAFT
    assert referral.due_at is None
    referral = services.referral_submit(referral=referral, actor=net.referrer)
    assert referral.status == S.SUBMITTED
    assert referral.due_at is not None


def test_downward_direction_from_tier(net):
    resident = ResidentFactory(registered_by=net.tertiary)
    referral, _ = services.referral_create(
        actor=net.receiving_doctor,
        resident=resident,
        to_department=net.primary_dept,
        urgency=ReferralUrgency.ROUTINE,
        reason_code="rehab",
    )
    assert referral.direction == ReferralDirection.DOWN
    assert referral.resident_consent is False  # not signed: consent not required


def _refused(net, error, code, **kw):
    before = _counts()
    with pytest.raises(error) as refused:
        create_up(net, **kw)
    assert refused.value.code == code
    assert _counts() == before
    return refused.value


def test_lateral_referral_refused(net):
    # the tertiary and specialist hospitals share the top level
    resident = ResidentFactory(registered_by=net.tertiary)
    _refused(
        net,
        InvalidInput,
        "referral_lateral",
        actor=net.receiving_doctor,
        resident=resident,
        to_department=net.specialist_dept,
        from_department=None,
    )


def test_department_not_accepting_refused(net):
    closed = DepartmentFactory(institution=net.tertiary, code="closed", accepts_referrals=False)
    _refused(net, InvalidInput, "department_not_accepting", to_department=closed)


def test_same_institution_refused(net):
    _refused(
        net,
        InvalidInput,
        "referral_same_institution",
        to_department=net.primary_b_dept,
        actor=net.user(net.primary_b, UserRole.DOCTOR),
        from_department=None,
    )


def test_from_department_must_be_own(net):
    _refused(net, InvalidInput, "from_department_invalid", from_department=net.district_dept)


def test_unknown_urgency_and_empty_reason_refused(net):
    _refused(net, InvalidInput, "urgency_unknown", urgency="soon")
    _refused(net, InvalidInput, "reason_code_invalid", reason_code="  ")


@pytest.mark.parametrize("role", [UserRole.CLERK, UserRole.NURSE, UserRole.PHARMACIST])
def test_roles_that_may_not_refer(net, role):
    _refused(net, Forbidden, "referral_create_forbidden", actor=net.user(net.primary, role))


def test_resident_of_another_institution_refused_as_unknown(net):
    stranger = ResidentFactory(registered_by=net.primary_b)
    _refused(net, NotFound, "resident_not_found", resident=stranger)


def test_duplicate_open_referral_refused_with_existing_id(net):
    first = create_up(net)
    error = _refused(net, Conflict, "referral_duplicate")
    assert error.details["existing_id"] == str(first.public_id)


def test_draft_counts_as_open(net):
    create_up(net, submit=False)
    _refused(net, Conflict, "referral_duplicate")


def test_other_direction_or_department_is_not_a_duplicate(net):
    create_up(net)
    other = create_up(net, to_department=net.district_dept)
    assert other.status == S.SUBMITTED


@pytest.mark.parametrize("state", [S.COMPLETED, S.CLOSED, S.REJECTED, S.CANCELLED])
def test_finished_referral_does_not_block_a_new_one(net, state):
    referral_in(net, state)
    assert create_up(net).status == S.SUBMITTED


def test_database_backs_the_duplicate_rule(net):
    first = create_up(net)
    with pytest.raises(IntegrityError), transaction.atomic():
        Referral.objects.create(
            resident=first.resident,
            direction=first.direction,
            from_institution=first.from_institution,
            to_institution=first.to_institution,
            to_department=first.to_department,
            urgency=first.urgency,
            reason_code="x",
            status=S.ACCEPTED,
            created_at=timezone.now(),
            updated_at=timezone.now(),
        )


def test_idempotency_key_returns_the_first(net):
    first = create_up(net, idempotency_key="abc-1")
    before = _counts()
    again, created = services.referral_create(  # the same request as create_up's, retried
        actor=net.referrer,
        resident=net.resident,
        to_department=net.cardiology,
        from_department=net.primary_dept,
        urgency="routine",
        reason_code="I20.0",
        criteria_codes=["chest_pain_unstable"],
        clinical_summary="胸痛反复发作两周",
        idempotency_key="abc-1",
    )
    assert created is False
    assert again.pk == first.pk
    assert _counts() == before


def test_idempotency_key_reused_for_another_request_refused(net):
    first = create_up(net, idempotency_key="abc-2")
    before = _counts()
    with pytest.raises(InvalidInput) as refused:
        services.referral_create(
            actor=net.referrer,
            resident=net.resident,
            to_department=net.district_dept,  # not what was asked the first time
            urgency="routine",
            reason_code="I20.0",
            idempotency_key="abc-2",
        )
    assert refused.value.code == "idempotency_key_reused"
    assert refused.value.details["existing_id"] == str(first.public_id)
    assert _counts() == before


def test_idempotency_key_is_per_user(net):
    create_up(net, idempotency_key="same")
    coordinator = net.user(net.primary, UserRole.REFERRAL_COORDINATOR)
    # another user's retry with the same key is a new request: here a duplicate
    _refused(net, Conflict, "referral_duplicate", actor=coordinator, idempotency_key="same")


# --- decision ----------------------------------------------------------------------------------


def test_accept_sets_booking_deadline_and_notifies_referrer(net):
    referral = create_up(net)
    referral = services.referral_accept(referral=referral, actor=net.office, comment="同意")
    assert referral.status == S.ACCEPTED
    assert referral.booking_due_at - referral.decided_at == dt.timedelta(days=7)
    assert referral.due_at == referral.booking_due_at
    assert OutboxMessage.objects.filter(
        recipient=f"user:{net.referrer.username}", subject__contains="accepted"
    ).exists()


@pytest.mark.parametrize(
    ("reason_code", "comment", "code"),
    [
        ("bogus", "x", "rejection_reason_unknown"),
        ("no_capacity", " ", "rejection_comment_required"),
    ],
)
def test_reject_needs_coded_reason_and_comment(net, reason_code, comment, code):
    referral = create_up(net)
    before = _counts()
    with pytest.raises(InvalidInput) as refused:
        services.referral_reject(
            referral=referral, actor=net.office, reason_code=reason_code, comment=comment
        )
    assert refused.value.code == code
    assert _counts() == before
    assert Referral.objects.get(pk=referral.pk).status == S.SUBMITTED


def test_reject_records_reason(net):
    referral = services.referral_reject(
        referral=create_up(net),
        actor=net.office,
        reason_code="wrong_department",
        comment="请转骨科",
    )
    assert (referral.status, referral.rejection_reason, referral.rejection_comment) == (
        S.REJECTED,
        "wrong_department",
        "请转骨科",
    )
    event = referral.events.last()
    assert event.reason == "请转骨科"
    assert event.details == {"reason_code": "wrong_department"}
    assert referral.due_at is None


def test_redirect_creates_linked_submitted_referral(net):
    referral = create_up(net, urgency="urgent")
    old, new = services.referral_redirect(
        referral=referral, actor=net.office, to_department=net.specialist_dept, comment="专科更合适"
    )
    assert old.status == S.REDIRECTED
    assert new.status == S.SUBMITTED
    assert new.redirected_from_id == old.pk
    assert (new.to_institution, new.from_institution, new.urgency) == (
        net.specialist,
        net.primary,
        "urgent",
    )
    assert new.from_practitioner == net.referrer
    assert new.decision_due_at - new.submitted_at == dt.timedelta(hours=4)
    assert list(new.events.values_list("action", flat=True)) == ["create"]
    assert old.events.last().action == "redirect"


@pytest.mark.parametrize("target", ["primary_dept", "cardiology"])
def test_redirect_to_referrer_or_same_institution_refused(net, target):
    referral = create_up(net)
    before = _counts()
    with pytest.raises(InvalidInput) as refused:
        services.referral_redirect(
            referral=referral, actor=net.office, to_department=getattr(net, target)
        )
    assert refused.value.code in {"redirect_target_invalid", "referral_lateral"}
    assert _counts() == before


# --- reserved slots ----------------------------------------------------------------------------


def test_schedule_takes_a_slot_and_sets_due(net):
    referral = referral_in(net, S.ACCEPTED)
    day = tomorrow()
    referral = services.referral_schedule(referral=referral, actor=net.office, date=day)
    slots = DepartmentDaySlots.objects.get(department=net.cardiology, date=day)
    assert (slots.capacity, slots.booked) == (5, 1)
    assert referral.appointment == slots
    assert timezone.localtime(referral.due_at).date() == day + dt.timedelta(days=1)


def test_full_day_refused_and_nothing_changes(net):
    day = tomorrow()
    for _ in range(5):
        referral = referral_in(net, S.ACCEPTED, resident=ResidentFactory(registered_by=net.primary))
        services.referral_schedule(referral=referral, actor=net.office, date=day)
    sixth = referral_in(net, S.ACCEPTED)
    before = _counts()
    with pytest.raises(Conflict) as refused:
        services.referral_schedule(referral=sixth, actor=net.office, date=day)
    assert refused.value.code == "slots_full"
    assert _counts() == before
    assert Referral.objects.get(pk=sixth.pk).status == S.ACCEPTED
    assert DepartmentDaySlots.objects.get(department=net.cardiology, date=day).booked == 5


def test_department_without_reserved_slots_refused(net):
    net.cardiology.referral_slots_per_day = 0
    net.cardiology.save()
    referral = referral_in(net, S.ACCEPTED)
    with pytest.raises(Conflict) as refused:
        services.referral_schedule(referral=referral, actor=net.office, date=tomorrow())
    assert refused.value.code == "no_reserved_slots"


@pytest.mark.parametrize(
    ("days", "code"), [(-1, "appointment_in_past"), (8, "appointment_after_booking_deadline")]
)
def test_schedule_date_bounds(net, days, code):
    referral = referral_in(net, S.ACCEPTED)
    with pytest.raises(InvalidInput) as refused:
        services.referral_schedule(
            referral=referral, actor=net.office, date=timezone.localdate() + dt.timedelta(days=days)
        )
    assert refused.value.code == code
    assert not DepartmentDaySlots.objects.exists()


def test_no_show_frees_the_slot_and_tells_referrer(net):
    referral = referral_in(net, S.SCHEDULED)
    referral = services.referral_no_show(referral=referral, actor=net.office)
    assert referral.appointment is None
    assert DepartmentDaySlots.objects.get().booked == 0
    assert referral.due_at - referral.no_show_at == dt.timedelta(days=1)
    assert OutboxMessage.objects.filter(
        recipient=f"user:{net.referrer.username}", subject__contains="no-show"
    ).exists()


def test_reschedule_once(net):
    referral = referral_in(net, S.NO_SHOW)
    later = tomorrow() + dt.timedelta(days=10)  # a rebooking is not bound to the 7 days
    referral = services.referral_reschedule(referral=referral, actor=net.office, date=later)
    assert (referral.status, referral.reschedule_count) == (S.SCHEDULED, 1)
    referral = services.referral_no_show(referral=referral, actor=net.office)
    before = _counts()
    with pytest.raises(Conflict) as refused:
        services.referral_reschedule(referral=referral, actor=net.office, date=later)
    assert refused.value.code == "reschedule_limit"
    assert refused.value.details["allowed_actions"] == ["cancel"]
    assert _counts() == before


@pytest.mark.parametrize("state", [S.SCHEDULED, S.ACCEPTED])
def test_cancel_frees_a_booked_slot(net, state):
    referral = referral_in(net, state)
    referral = services.referral_cancel(
        referral=referral, actor=net.referrer, reason="患者已转他院"
    )
    assert referral.status == S.CANCELLED
    assert referral.cancel_reason == "患者已转他院"
    assert all(s.booked == 0 for s in DepartmentDaySlots.objects.all())
    # the receiving office hears of a referrer's cancellation
    assert OutboxMessage.objects.filter(
        recipient=f"user:{net.office.username}", subject__contains="cancelled"
    ).exists()


def test_cancel_needs_a_reason(net):
    referral = create_up(net)
    with pytest.raises(InvalidInput):
        services.referral_cancel(referral=referral, actor=net.referrer, reason="")
    assert Referral.objects.get(pk=referral.pk).status == S.SUBMITTED


# --- feedback and the closed loop --------------------------------------------------------------


def test_complete_records_feedback_and_ack_deadline(net):
    referral = referral_in(net, S.ARRIVED)
    assert referral.feedback_due_at - referral.arrived_at == dt.timedelta(days=3)
    referral = services.referral_complete(
        referral=referral,
        actor=net.receiving_doctor,
        findings="心电图ST段压低",
        diagnosis="不稳定型心绞痛",
        summary="PCI术后",
        recommendations="阿司匹林长期服用",
    )
    assert referral.status == S.COMPLETED
    assert (referral.diagnosis, referral.recommendations) == ("不稳定型心绞痛", "阿司匹林长期服用")
    assert referral.follow_on is None
    assert referral.due_at - referral.completed_at == dt.timedelta(days=3)


def test_complete_requires_summary(net):
    referral = referral_in(net, S.ARRIVED)
    before = _counts()
    with pytest.raises(InvalidInput) as refused:
        services.referral_complete(referral=referral, actor=net.receiving_doctor, summary=" ")
    assert refused.value.code == "feedback_summary_required"
    assert _counts() == before


def test_return_to_primary_care_opens_downward_referral_to_referrer_when_not_signed(net):
    referral = referral_in(net, S.ARRIVED)
    referral = services.referral_complete(
        referral=referral,
        actor=net.receiving_doctor,
        summary="术后稳定",
        recommendations="社区随访血压",
        return_to_primary_care=True,
    )
    down = referral.follow_on
    assert down is not None
    assert (down.direction, down.status) == (ReferralDirection.DOWN, S.SUBMITTED)
    assert (down.from_institution, down.to_institution, down.to_department) == (
        net.tertiary,
        net.primary,
        net.primary_dept,
    )
    assert down.from_practitioner == net.receiving_doctor
    assert "社区随访血压" in down.clinical_summary
    assert referral.events.last().details["follow_on"] == str(down.public_id)


def test_loop_closed_by_followup_service(net):
    up = referral_in(net, S.ARRIVED)
    up = services.referral_complete(
        referral=up, actor=net.receiving_doctor, summary="好转", return_to_primary_care=True
    )
    down = up.follow_on
    gp = net.user(net.primary, UserRole.DOCTOR)
    closed = services.referral_close_loop_by_followup(
        resident=net.resident, actor=gp, institution_id=net.primary.pk
    )
    assert [r.pk for r in closed] == [down.pk]
    down.refresh_from_db()
    assert down.status == S.CLOSED
    event = down.events.last()
    assert (event.action, event.from_status, event.to_status, event.actor) == (
        "close_loop",
        "submitted",
        "closed",
        gp,
    )
    # the up referral still waits for the referrer's acknowledgement
    up.refresh_from_db()
    assert up.status == S.COMPLETED
    # a second follow-up finds nothing left to close
    assert services.referral_close_loop_by_followup(resident=net.resident, actor=gp) == []


def test_followup_before_the_downward_referral_does_not_close_it(net):
    up = referral_in(net, S.ARRIVED)
    up = services.referral_complete(
        referral=up, actor=net.receiving_doctor, summary="好转", return_to_primary_care=True
    )
    earlier = up.follow_on.submitted_at - dt.timedelta(days=1)
    closed = services.referral_close_loop_by_followup(
        resident=net.resident, actor=None, institution_id=net.primary.pk, done_at=earlier
    )
    assert closed == []


def test_acknowledge_closes(net):
    referral = referral_in(net, S.COMPLETED)
    referral = services.referral_acknowledge(referral=referral, actor=net.referrer, comment="已阅")
    assert referral.status == S.CLOSED
    assert referral.closed_at is not None
    assert referral.due_at is None


def test_emergency_green_channel_needs_no_reserved_slot(net):
    net.cardiology.referral_slots_per_day = 0
    net.cardiology.save()
    referral = services.referral_accept(
        referral=create_up(net, urgency="emergency"), actor=net.office
    )
    referral = services.referral_schedule(
        referral=referral, actor=net.office, date=timezone.localdate()
    )
    assert referral.status == S.SCHEDULED
    assert referral.appointment is None
    assert referral.appointment_date == timezone.localdate()
    assert not DepartmentDaySlots.objects.exists()
