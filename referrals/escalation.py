"""The periodic referral jobs (DESIGN §4): flag and escalate missed deadlines, and close completed
referrals the referrer did not acknowledge in time. Both are idempotent: a second run finds
nothing left to do, and every notification carries an outbox dedupe key."""

from __future__ import annotations

import datetime as dt

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from healthnet.models import AllianceMembership, MembershipRole, User, UserRole
from referrals import services
from referrals.models import Referral, ReferralStatus
from referrals.transitions import Action, transition_for

S = ReferralStatus

# Steps whose deadline, once missed, flags the referral overdue and escalates. A completed
# referral's deadline is handled by auto-close instead.
ESCALATING_STATUSES = (S.SUBMITTED, S.ACCEPTED, S.SCHEDULED, S.NO_SHOW, S.ARRIVED)

BATCH = 500


def escalation_recipients(referral: Referral, *, on: dt.date) -> list[User]:
    """The receiving department's head, and the institution admins of the lead institution of
    the alliance(s) of the receiving institution (those shared with the referrer first)."""
    users: list[User] = []
    head = referral.to_department.head
    if head is not None:
        head_user = User.objects.filter(practitioner=head, is_active=True).first()
        if head_user is not None:
            users.append(head_user)
    current = Q(start_date__lte=on) & (Q(end_date__isnull=True) | Q(end_date__gt=on))
    receiving = set(
        AllianceMembership.objects.filter(
            current, institution_id=referral.to_institution_id
        ).values_list("alliance_id", flat=True)
    )
    referring = set(
        AllianceMembership.objects.filter(
            current, institution_id=referral.from_institution_id
        ).values_list("alliance_id", flat=True)
    )
    alliances = (receiving & referring) or receiving
    lead_institutions = AllianceMembership.objects.filter(
        current, alliance_id__in=alliances, role=MembershipRole.LEAD
    ).values_list("institution_id", flat=True)
    admins = User.objects.filter(
        institution_id__in=list(lead_institutions),
        role=UserRole.INSTITUTION_ADMIN,
        is_active=True,
    ).order_by("pk")
    seen = {u.pk for u in users}
    users.extend(u for u in admins if u.pk not in seen)
    return users


def referrals_escalate_overdue(*, now: dt.datetime | None = None) -> int:
    """Flag every referral past its current deadline as overdue, record an `escalate` event and
    notify the escalation recipients once. Returns how many referrals it escalated."""
    now = now or timezone.now()
    escalated = 0
    while True:
        ids = list(
            Referral.objects.filter(status__in=ESCALATING_STATUSES, overdue=False, due_at__lt=now)
            .order_by("due_at")
            .values_list("pk", flat=True)[:BATCH]
        )
        if not ids:
            return escalated
        for pk in ids:
            escalated += _escalate_one(pk, now=now)


def _escalate_one(pk: int, *, now: dt.datetime) -> int:
    with transaction.atomic():
        referral = (
            Referral.objects.select_for_update()
            .filter(pk=pk, status__in=ESCALATING_STATUSES, overdue=False, due_at__lt=now)
            .first()
        )
        if referral is None:  # moved on, or escalated by a concurrent run
            return 0
        referral.overdue = True
        referral.escalated_at = now
        referral.save(update_fields=["overdue", "escalated_at"])
        recipients = escalation_recipients(referral, on=timezone.localdate(now))
        services.record_event(
            referral,
            action="escalate",
            actor=None,
            at=now,
            from_status=referral.status,
            reason="超时未处理，已上报 (deadline missed, escalated)",
            details={
                "due_at": referral.due_at.isoformat(),
                "notified": [u.username for u in recipients],
            },
        )
        services.notify_users(
            recipients,
            subject=services.subject_for(referral, "转诊超时 overdue"),
            body=(
                f"{referral.to_institution.name} {referral.to_department.name} 的转诊"
                f"（{referral.get_status_display()}）已超过期限 "
                f"{timezone.localtime(referral.due_at):%Y-%m-%d %H:%M}。"
            ),
            dedupe_prefix=(
                f"referral:{referral.public_id}:escalate:{referral.status}:"
                f"{referral.due_at.isoformat()}"
            ),
        )
    return 1


def referrals_auto_close(*, now: dt.datetime | None = None) -> int:
    """Close completed referrals not acknowledged within the deadline. Returns how many."""
    now = now or timezone.now()
    transition = transition_for(S.COMPLETED, Action.AUTO_CLOSE)
    assert transition is not None  # noqa: S101 - the table has it
    closed = 0
    while True:
        ids = list(
            Referral.objects.filter(status=S.COMPLETED, due_at__lt=now)
            .order_by("due_at")
            .values_list("pk", flat=True)[:BATCH]
        )
        if not ids:
            return closed
        for pk in ids:
            with transaction.atomic():
                referral = (
                    Referral.objects.select_for_update()
                    .filter(pk=pk, status=S.COMPLETED, due_at__lt=now)
                    .first()
                )
                if referral is None:
                    continue
                referral.closed_at = now
                services.move_to(
                    referral,
                    transition,
                    actor=None,
                    now=now,
                    reason="转出方3天内未确认，系统自动闭环 (not acknowledged in time)",
                )
                closed += 1
