"""The periodic referral jobs (docs/design.md §4): flag and escalate missed deadlines, and close
completed
referrals the referrer did not acknowledge in time. Both are idempotent: a second run finds
nothing left to do, and every notification carries an outbox dedupe key.

Which states escalate and which close by themselves are facts of the table
(referrals/transitions.py: `escalates`, and the system transition `auto_close`)."""

from __future__ import annotations

import datetime as dt

from django.db import transaction
from django.utils import timezone

from healthnet.models import MembershipRole, User, UserRole
from healthnet.selectors import (
    alliance_memberships_current,
    user_of_practitioner,
    users_active_with_role,
)
from referrals import services
from referrals.models import Referral
from referrals.transitions import (
    AUTO_CLOSING_STATUSES,
    ESCALATING_STATUSES,
    REFERRAL_TABLE,
    Action,
)

BATCH = 500


def escalation_recipients(referral: Referral, *, on: dt.date) -> list[User]:
    """The receiving department's head, and the institution admins of the lead institution of
    the alliance(s) of the receiving institution (those shared with the referrer first)."""
    users: list[User] = []
    head_user = user_of_practitioner(referral.to_department.head_id)
    if head_user is not None:
        users.append(head_user)
    current = alliance_memberships_current(on=on)
    receiving = set(
        current.filter(institution_id=referral.to_institution_id).values_list(
            "alliance_id", flat=True
        )
    )
    referring = set(
        current.filter(institution_id=referral.from_institution_id).values_list(
            "alliance_id", flat=True
        )
    )
    alliances = (receiving & referring) or receiving
    lead_institutions = current.filter(
        alliance_id__in=alliances, role=MembershipRole.LEAD
    ).values_list("institution_id", flat=True)
    admins = users_active_with_role(
        institution_ids=list(lead_institutions), role=UserRole.INSTITUTION_ADMIN
    )
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
        if referral is None or referral.due_at is None:  # moved on, or escalated concurrently
            return 0
        due_at = referral.due_at
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
                "due_at": due_at.isoformat(),
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
                f"referral:{referral.public_id}:escalate:{referral.status}:{due_at.isoformat()}"
            ),
        )
    return 1


def referrals_auto_close(*, now: dt.datetime | None = None) -> int:
    """Close the referrals whose state closes by itself when its deadline is missed (completed
    and not acknowledged in time). Returns how many."""
    now = now or timezone.now()
    closed = 0
    while True:
        ids = list(
            Referral.objects.filter(status__in=AUTO_CLOSING_STATUSES, due_at__lt=now)
            .order_by("due_at")
            .values_list("pk", flat=True)[:BATCH]
        )
        if not ids:
            return closed
        for pk in ids:
            with transaction.atomic():
                referral = (
                    Referral.objects.select_for_update()
                    .filter(pk=pk, status__in=AUTO_CLOSING_STATUSES, due_at__lt=now)
                    .first()
                )
                if referral is None:
                    continue
                transition = REFERRAL_TABLE.transition(referral.status, Action.AUTO_CLOSE)
                assert transition is not None  # noqa: S101 - filtered on the table's sources
                referral.closed_at = now
                services.move_to(
                    referral,
                    transition,
                    actor=None,
                    now=now,
                    reason="转出方3天内未确认，系统自动闭环 (not acknowledged in time)",
                )
                closed += 1
