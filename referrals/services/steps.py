"""The steps every referral service shares: locking, the transition check against the table
(referrals/transitions.py, which also sets each step's deadline), the timeline and audit rows,
notifications, and the routing rules."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from healthnet.errors import Conflict, Forbidden, InvalidInput, NotFound
from healthnet.models import Department, Institution, Resident, User, UserRole
from healthnet.outbox import outbox_enqueue
from healthnet.selectors import users_active_with_role
from healthnet.services import audit_record
from healthnet.workflow import Transition
from referrals import permissions
from referrals.models import Referral, ReferralDirection, ReferralEvent
from referrals.selectors import team_institution_of
from referrals.transitions import REFERRAL_TABLE, set_due

# --- the shared steps of every transition ------------------------------------------------------


def lock_referral(referral: Referral) -> Referral:
    locked = Referral.objects.select_for_update().filter(pk=referral.pk).first()
    if locked is None:
        raise NotFound("referral_not_found", "转诊单不存在 (no such referral)")
    return locked


def check_transition(referral: Referral, action: str, actor: User) -> Transition:
    """Refuse unless the table allows `action` from the current state for this actor."""
    sides = permissions.referral_sides(actor, referral)
    if not sides:
        raise Forbidden(
            "referral_out_of_scope",
            "该转诊不涉及您的机构 (this referral does not concern your institution)",
        )
    transition = REFERRAL_TABLE.transition(referral.status, action)
    if transition is None or transition.system:
        raise Conflict(
            "transition_not_allowed",
            f"转诊单当前状态({referral.status})不允许此操作: {action} "
            f"(the referral's state does not allow this action)",
            allowed_actions=permissions.referral_allowed_actions(actor, referral),
            status=referral.status,
        )
    if not transition.allows(parties=sides, role=actor.role):
        raise Forbidden(
            "referral_action_forbidden",
            f"您的角色不能执行此操作: {action} (your role on this side may not do this)",
            action=action,
        )
    return transition


def record_event(
    referral: Referral,
    *,
    action: str,
    actor: User | None,
    at: dt.datetime,
    from_status: str,
    reason: str = "",
    details: dict[str, Any] | None = None,
) -> ReferralEvent:
    event = ReferralEvent.objects.create(
        referral=referral,
        at=at,
        actor=actor,
        actor_label=actor.username if actor is not None else "system",
        action=action,
        from_status=from_status,
        to_status=referral.status,
        reason=reason,
        details=details or {},
    )
    audit_record(
        actor=actor,
        action=f"referral_{action}",
        object_type="referral",
        object_id=str(referral.public_id),
        details={"from": from_status, "to": referral.status, **(details or {})},
    )
    return event


def move_to(
    referral: Referral,
    transition: Transition,
    *,
    actor: User | None,
    now: dt.datetime,
    reason: str = "",
    details: dict[str, Any] | None = None,
) -> Referral:
    from_status = referral.status
    referral.status = transition.target
    referral.updated_at = now
    set_due(referral, now)
    referral.save()
    record_event(
        referral,
        action=transition.action,
        actor=actor,
        at=now,
        from_status=from_status,
        reason=reason,
        details=details,
    )
    return referral


def recipient_of(user: User) -> tuple[str, str]:
    """(channel, recipient) for a staff user: e-mail when known, else the log channel."""
    if user.email:
        return "email", user.email
    return "log", f"user:{user.username}"


def notify_users(
    users: Iterable[User], *, subject: str, body: str, dedupe_prefix: str | None = None
) -> int:
    sent = 0
    for user in users:
        channel, recipient = recipient_of(user)
        key = f"{dedupe_prefix}:{user.pk}" if dedupe_prefix else None
        if outbox_enqueue(
            channel=channel, recipient=recipient, subject=subject, body=body, dedupe_key=key
        ):
            sent += 1
    return sent


def referrer_of(referral: Referral) -> list[User]:
    user = referral.from_practitioner
    return [user] if user is not None and user.is_active else []


def receiving_office_of(referral: Referral) -> list[User]:
    return list(
        users_active_with_role(
            institution_ids=[referral.to_institution_id], role=UserRole.REFERRAL_COORDINATOR
        )
    )


def subject_for(referral: Referral, text: str) -> str:
    return f"[转诊 referral {str(referral.public_id)[:8]}] {text}"


# --- routing -----------------------------------------------------------------------------------


def direction_between(from_institution: Institution, to_institution: Institution) -> str:
    """Up to a higher tier, down to a lower one; a lateral referral is refused."""
    direction = ReferralDirection.between_tiers(from_institution.tier, to_institution.tier)
    if direction is None:
        raise InvalidInput(
            "referral_lateral",
            "同级机构之间不能转诊：上转须到更高层级，下转须到更低层级 "
            "(a referral goes up to a higher tier or down to a lower one)",
            field="to_department",
        )
    return direction


def check_target(department: Department) -> None:
    if not department.accepts_referrals or not department.institution.active:
        raise InvalidInput(
            "department_not_accepting",
            f"{department} 不接收转诊 (this department does not accept referrals)",
            field="to_department",
        )


def check_downward(
    resident: Resident, to_institution: Institution, *, resident_consent: bool
) -> None:
    team_institution = team_institution_of(resident)
    if team_institution is None:
        return
    if team_institution.pk != to_institution.pk:
        raise InvalidInput(
            "downward_must_go_to_team",
            "已签约居民下转须转至其家庭医生团队所在机构 "
            "(a signed resident goes down to their family-doctor team's institution)",
            field="to_department",
            team_institution=team_institution.code,
        )
    if not resident_consent:
        raise InvalidInput(
            "consent_required",
            "下转已签约居民须取得居民同意 (the resident's consent is required)",
            field="resident_consent",
        )
