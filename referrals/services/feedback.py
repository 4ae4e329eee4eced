"""Feedback and the closed loop: complete (and the follow-on downward referral), acknowledge,
cancel, and the loop closed by the family-doctor team's follow-up."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import transaction
from django.utils import timezone

from healthnet.errors import InvalidInput
from healthnet.models import Institution, Resident, User
from healthnet.selectors import departments_of_institution
from referrals import permissions
from referrals.models import (
    OPEN_STATUSES,
    CareSetting,
    Referral,
    ReferralDirection,
    ReferralStatus,
    ReferralUrgency,
)
from referrals.selectors import team_institution_of
from referrals.services.booking import release_slot
from referrals.services.steps import (
    check_transition,
    lock_referral,
    move_to,
    notify_users,
    receiving_office_of,
    record_event,
    referrer_of,
    subject_for,
)
from referrals.transitions import (
    LOOP_CLOSABLE_STATUSES,
    REFERRAL_TABLE,
    Action,
    Side,
    set_due,
)

S = ReferralStatus

# --- feedback and the closed loop --------------------------------------------------------------


def referral_complete(
    *,
    referral: Referral,
    actor: User,
    findings: str = "",
    diagnosis: str = "",
    summary: str,
    recommendations: str = "",
    return_to_primary_care: bool = False,
    resident_consent: bool = False,
) -> Referral:
    """Record the feedback. An upward referral completed with "return to primary care" opens a
    downward referral to the resident's family-doctor team's institution (or, when not signed,
    the institution that referred them up)."""
    summary = summary.strip()
    if not summary:
        raise InvalidInput(
            "feedback_summary_required", "须填写诊疗小结 (a summary is required)", field="summary"
        )
    if len(diagnosis) > 200:
        raise InvalidInput("diagnosis_too_long", "诊断最多200字 (≤ 200)", field="diagnosis")
    with transaction.atomic():
        referral = lock_referral(referral)
        transition = check_transition(referral, Action.COMPLETE, actor)
        now = timezone.now()
        referral.findings = findings.strip()
        referral.diagnosis = diagnosis.strip()
        referral.feedback_summary = summary
        referral.recommendations = recommendations.strip()
        referral.return_to_primary_care = return_to_primary_care
        referral.completed_at = now
        details: dict[str, Any] = {"return_to_primary_care": return_to_primary_care}
        follow_on = None
        if return_to_primary_care and referral.direction == ReferralDirection.UP:
            follow_on = _open_follow_on(
                referral, actor=actor, now=now, resident_consent=resident_consent
            )
            details["follow_on"] = str(follow_on.public_id) if follow_on else None
        referral.follow_on = follow_on
        move_to(referral, transition, actor=actor, now=now, reason=summary[:200], details=details)
        notify_users(
            referrer_of(referral),
            subject=subject_for(referral, "转诊已完成，请确认 feedback ready"),
            body=f"诊断: {referral.diagnosis}。建议: {referral.recommendations}",
        )
    return referral


def _open_follow_on(
    up: Referral, *, actor: User, now: dt.datetime, resident_consent: bool
) -> Referral | None:
    team_institution = team_institution_of(up.resident)
    if team_institution is not None and not resident_consent:
        raise InvalidInput(
            "consent_required",
            "回基层须取得已签约居民同意 (the resident's consent is required to go down)",
            field="resident_consent",
        )
    # the team's institution, else the one that referred them up: the first one below this
    target: Institution | None = None
    for candidate in (team_institution, up.from_institution):
        if candidate is None:
            continue
        if (
            ReferralDirection.between_tiers(up.to_institution.tier, candidate.tier)
            == ReferralDirection.DOWN
        ):
            target = candidate
            break
    if target is None:
        return None
    department = departments_of_institution(target.pk).first()
    if department is None:
        return None
    existing = Referral.objects.filter(
        resident_id=up.resident_id,
        to_department=department,
        direction=ReferralDirection.DOWN,
        status__in=OPEN_STATUSES,
    ).first()
    if existing is not None:
        return None  # already on its way back: the open one carries the loop
    follow_on = Referral.objects.create(
        resident_id=up.resident_id,
        direction=ReferralDirection.DOWN,
        from_institution_id=up.to_institution_id,
        from_department_id=up.to_department_id,
        from_practitioner=actor,
        to_institution=target,
        to_department=department,
        urgency=ReferralUrgency.ROUTINE,
        care_setting=_care_setting_of_stay(up),
        reason_code="return_to_primary_care",
        criteria_codes=[],
        clinical_summary=(up.feedback_summary + "\n" + up.recommendations).strip(),
        status=S.SUBMITTED,
        created_at=now,
        submitted_at=now,
        updated_at=now,
        resident_consent=resident_consent,
        consent_recorded_at=now if resident_consent else None,
        created_by=actor,
    )
    set_due(follow_on, now)
    follow_on.save(update_fields=["decision_due_at", "due_at", "overdue"])
    record_event(
        follow_on,
        action="create",
        actor=actor,
        at=now,
        from_status="",
        details={"follow_on_of": str(up.public_id), "signed": team_institution is not None},
    )
    notify_users(
        receiving_office_of(follow_on),
        subject=subject_for(follow_on, "患者回基层 return to primary care"),
        body=f"{up.to_institution.name} 诊疗结束，患者转回贵机构随访。",
    )
    return follow_on


def _care_setting_of_stay(up: Referral) -> str:
    """The care the resident had at the hospital they go down from: inpatient when the arrival's
    encounter became an inpatient stay (admitted on arrival or later), else the care asked."""
    encounter = up.encounter
    if encounter is not None and encounter.admitted_at is not None:
        return CareSetting.INPATIENT
    return up.care_setting


def referral_acknowledge(*, referral: Referral, actor: User, comment: str = "") -> Referral:
    with transaction.atomic():
        referral = lock_referral(referral)
        transition = check_transition(referral, Action.ACKNOWLEDGE, actor)
        now = timezone.now()
        referral.closed_at = now
        move_to(referral, transition, actor=actor, now=now, reason=comment.strip())
    return referral


def referral_cancel(*, referral: Referral, actor: User, reason: str) -> Referral:
    reason = reason.strip()
    if not reason:
        raise InvalidInput(
            "cancel_reason_required", "取消须填写原因 (a reason is required)", field="reason"
        )
    with transaction.atomic():
        referral = lock_referral(referral)
        transition = check_transition(referral, Action.CANCEL, actor)
        now = timezone.now()
        released = release_slot(referral)
        referral.cancel_reason = reason
        move_to(referral, transition, actor=actor, now=now, reason=reason, details=released)
        sides = permissions.referral_sides(actor, referral)
        other = referrer_of(referral) if Side.RECEIVING in sides else receiving_office_of(referral)
        notify_users(
            other,
            subject=subject_for(referral, "转诊已取消 cancelled"),
            body=f"取消原因: {reason}",
        )
    return referral


def referral_close_loop_by_followup(
    *,
    resident: Resident,
    actor: User | None,
    institution_id: int | None = None,
    done_at: dt.datetime | None = None,
    followup: Any = None,
) -> list[Referral]:
    """The family-doctor team's first follow-up after a downward referral closes it
    (docs/design.md §4; the down loop of referrals.transitions.LOOP_CLOSURE).

    Closes the resident's still-open downward referrals submitted before the follow-up was done
    (`done_at`, default now), to `institution_id` when given (the team's institution), and links
    each to the follow-up that answered it (`followup`, a signing.models.FollowUp:
    Referral.closing_followup). Call it inside the follow-up's transaction; returns what it
    closed."""
    now = timezone.now()
    qs = Referral.objects.select_for_update().filter(
        resident=resident,
        direction=ReferralDirection.DOWN,
        status__in=LOOP_CLOSABLE_STATUSES,
        submitted_at__lte=done_at or now,
    )
    if institution_id is not None:
        qs = qs.filter(to_institution_id=institution_id)
    closed = []
    with transaction.atomic():
        for referral in qs.order_by("pk"):
            from_status = referral.status
            transition = REFERRAL_TABLE.transition(from_status, Action.CLOSE_LOOP)
            assert transition is not None  # noqa: S101 - filtered on the table's sources
            referral.closed_at = now
            referral.status = transition.target
            referral.updated_at = now
            referral.closing_followup = followup
            set_due(referral, now)
            referral.save()
            record_event(
                referral,
                action=Action.CLOSE_LOOP,
                actor=actor,
                at=now,
                from_status=from_status,
                reason="家庭医生团队已随访 (the family-doctor team followed up)",
                details={"followup": str(followup.public_id)} if followup is not None else None,
            )
            closed.append(referral)
        if closed:
            notify_users(
                [u for r in closed for u in referrer_of(r)],
                subject="[转诊 referral] 下转已闭环 loop closed",
                body="家庭医生团队已完成下转患者的首次随访。",
            )
    return closed


def followup_recorded(followup: Any) -> None:
    """Hook for signing.hooks.FOLLOWUP_RECORDED: a recorded follow-up closes the loop of the
    resident's downward referrals to the team's institution."""
    contract = followup.contract
    actor = getattr(followup, "done_by", None) or getattr(followup, "recorded_by", None)
    referral_close_loop_by_followup(
        resident=contract.resident,
        actor=actor if isinstance(actor, User) else None,
        institution_id=contract.team.institution_id,
        done_at=getattr(followup, "done_at", None),
        followup=followup,
    )
