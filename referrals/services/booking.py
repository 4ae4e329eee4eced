"""Booking reserved slots (预留号源): schedule, reschedule once after a no-show, arrive, no-show."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from healthnet.errors import Conflict, InvalidInput
from healthnet.models import Encounter, EncounterKind, User
from healthnet.services import encounter_create, inpatient_admit
from referrals import permissions
from referrals.models import (
    CareSetting,
    DepartmentDaySlots,
    Referral,
    ReferralUrgency,
)
from referrals.services.steps import (
    check_transition,
    lock_referral,
    move_to,
    notify_users,
    referrer_of,
    subject_for,
)
from referrals.transitions import Action

# --- booking (reserved slots 预留号源) ----------------------------------------------------------


def _take_slot(referral: Referral, day: dt.date) -> DepartmentDaySlots | None:
    """Book one reserved slot of the department on `day` under a row lock (never over-booked:
    the lock serialises concurrent bookings and a check constraint backs it). The emergency
    green channel is seen at once and takes no reserved slot."""
    if referral.urgency == ReferralUrgency.EMERGENCY:
        return None
    department = referral.to_department
    if department.referral_slots_per_day == 0:
        raise Conflict(
            "no_reserved_slots",
            "该科室没有预留转诊号源 (this department reserves no referral slots)",
        )
    slots, _ = DepartmentDaySlots.objects.get_or_create(
        department=department,
        date=day,
        defaults={"capacity": department.referral_slots_per_day},
    )
    slots = DepartmentDaySlots.objects.select_for_update().get(pk=slots.pk)
    if slots.booked >= slots.capacity:
        raise Conflict(
            "slots_full",
            f"{day} 预留号源已满 (no reserved slot left on this day)",
            date=day.isoformat(),
            capacity=slots.capacity,
        )
    DepartmentDaySlots.objects.filter(pk=slots.pk).update(booked=F("booked") + 1)
    slots.booked += 1
    return slots


def release_slot(referral: Referral) -> dict[str, Any]:
    if referral.appointment_id is None:
        return {}
    slots = DepartmentDaySlots.objects.select_for_update().get(pk=referral.appointment_id)
    DepartmentDaySlots.objects.filter(pk=slots.pk, booked__gt=0).update(booked=F("booked") - 1)
    referral.appointment = None
    return {"released_date": slots.date.isoformat()}  # appointment_date stays: what was missed


def _check_day(day: dt.date, *, latest: dt.date | None) -> None:
    today = timezone.localdate()
    if day < today:
        raise InvalidInput(
            "appointment_in_past", "预约日期不能早于今天 (the date is in the past)", field="date"
        )
    if latest is not None and day > latest:
        raise InvalidInput(
            "appointment_after_booking_deadline",
            f"门诊预约须在接收后7天内，最晚 {latest} (book within the booking deadline)",
            field="date",
            latest=latest.isoformat(),
        )


def referral_schedule(*, referral: Referral, actor: User, date: dt.date) -> Referral:
    with transaction.atomic():
        referral = lock_referral(referral)
        transition = check_transition(referral, Action.SCHEDULE, actor)
        latest = (
            timezone.localtime(referral.booking_due_at).date() if referral.booking_due_at else None
        )
        _check_day(date, latest=latest)
        now = timezone.now()
        referral.appointment = _take_slot(referral, date)
        referral.appointment_date = date
        referral.scheduled_at = now
        move_to(referral, transition, actor=actor, now=now, details={"date": date.isoformat()})
        notify_users(
            referrer_of(referral),
            subject=subject_for(referral, "转诊已预约 scheduled"),
            body=f"已预约 {referral.to_department} {date}。",
        )
    return referral


def referral_reschedule(*, referral: Referral, actor: User, date: dt.date) -> Referral:
    """One rebooking after a no-show."""
    with transaction.atomic():
        referral = lock_referral(referral)
        transition = check_transition(referral, Action.RESCHEDULE, actor)
        if referral.reschedule_count >= 1:
            raise Conflict(
                "reschedule_limit",
                "爽约后只能改约一次 (a no-show may be rebooked once)",
                allowed_actions=[
                    a
                    for a in permissions.referral_allowed_actions(actor, referral)
                    if a != Action.RESCHEDULE
                ],
            )
        _check_day(date, latest=None)
        now = timezone.now()
        referral.appointment = _take_slot(referral, date)
        referral.appointment_date = date
        referral.scheduled_at = now
        referral.reschedule_count += 1
        move_to(referral, transition, actor=actor, now=now, details={"date": date.isoformat()})
        notify_users(
            referrer_of(referral),
            subject=subject_for(referral, "爽约后已改约 rebooked"),
            body=f"已改约 {referral.to_department} {date}。",
        )
    return referral


def referral_arrive(
    *, referral: Referral, actor: User, encounter: Encounter | None = None
) -> Referral:
    """The resident checked in at the receiving institution: the referral is linked to the visit
    its arrival opened (Referral.encounter). The scan passes the visit it has just recorded
    (`encounter`, of this resident at this institution, not yet linked to another referral);
    otherwise a visit is recorded here (healthnet.services.encounter_create, source "referral").
    An inpatient referral is admitted on arrival (the visit becomes an inpatient stay)."""
    with transaction.atomic():
        referral = lock_referral(referral)
        transition = check_transition(referral, Action.ARRIVE, actor)
        now = timezone.now()
        referral.arrived_at = now
        referral.encounter = _arrival_encounter(referral, actor, now, encounter)
        move_to(
            referral,
            transition,
            actor=actor,
            now=now,
            details={"encounter": str(referral.encounter.public_id)},
        )
    return referral


def _arrival_encounter(
    referral: Referral, actor: User, now: dt.datetime, offered: Encounter | None
) -> Encounter:
    inpatient = referral.care_setting == CareSetting.INPATIENT
    usable = (
        offered is not None
        and offered.resident_id == referral.resident_id
        and offered.institution_id == referral.to_institution_id
        and not Referral.objects.filter(encounter=offered).exists()
    )
    if not usable:
        return encounter_create(
            actor=actor,
            resident=referral.resident,
            institution_id=referral.to_institution_id,
            department=referral.to_department,
            kind=EncounterKind.OUTPATIENT,
            started_at=now,
            source="referral",
            admitted=inpatient,
        )
    assert offered is not None  # noqa: S101 - checked just above
    if inpatient and offered.admitted_at is None:
        return inpatient_admit(actor=None, encounter=offered, at=max(now, offered.started_at))
    return offered


def referral_no_show(*, referral: Referral, actor: User) -> Referral:
    with transaction.atomic():
        referral = lock_referral(referral)
        transition = check_transition(referral, Action.NO_SHOW, actor)
        now = timezone.now()
        released = release_slot(referral)
        referral.no_show_at = now
        move_to(referral, transition, actor=actor, now=now, details=released)
        notify_users(
            referrer_of(referral),
            subject=subject_for(referral, "患者爽约 no-show"),
            body=f"转诊患者未按预约到诊 ({released.get('released_date', '')})。",
            dedupe_prefix=f"referral:{referral.public_id}:no_show:{referral.reschedule_count}",
        )
    return referral
