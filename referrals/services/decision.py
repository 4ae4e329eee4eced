"""The receiving side's decision: accept, reject (coded reason), redirect (linked referral)."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from healthnet.errors import InvalidInput
from healthnet.models import Department, User
from referrals.models import (
    Referral,
    ReferralDirection,
    ReferralStatus,
    RejectionReason,
)
from referrals.services.create import refuse_duplicate
from referrals.services.steps import (
    check_downward,
    check_target,
    check_transition,
    direction_between,
    lock_referral,
    move_to,
    notify_users,
    receiving_office_of,
    record_event,
    referrer_of,
    subject_for,
)
from referrals.transitions import Action, set_due

S = ReferralStatus

# --- the receiving side's decision -------------------------------------------------------------


def referral_accept(*, referral: Referral, actor: User, comment: str = "") -> Referral:
    with transaction.atomic():
        referral = lock_referral(referral)
        transition = check_transition(referral, Action.ACCEPT, actor)
        now = timezone.now()
        referral.decided_at = now
        move_to(referral, transition, actor=actor, now=now, reason=comment.strip())
        notify_users(
            referrer_of(referral),
            subject=subject_for(referral, "转诊已接收 accepted"),
            body=f"{referral.to_institution.name} {referral.to_department.name} 已接收转诊。",
        )
    return referral


def referral_reject(*, referral: Referral, actor: User, reason_code: str, comment: str) -> Referral:
    if reason_code not in RejectionReason.values:
        raise InvalidInput(
            "rejection_reason_unknown",
            f"未知的拒绝原因代码: {reason_code} (unknown rejection reason)",
            field="reason_code",
            allowed=list(RejectionReason.values),
        )
    comment = comment.strip()
    if not comment:
        raise InvalidInput(
            "rejection_comment_required", "拒绝须填写说明 (a comment is required)", field="comment"
        )
    with transaction.atomic():
        referral = lock_referral(referral)
        transition = check_transition(referral, Action.REJECT, actor)
        now = timezone.now()
        referral.decided_at = now
        referral.rejection_reason = reason_code
        referral.rejection_comment = comment
        move_to(
            referral,
            transition,
            actor=actor,
            now=now,
            reason=comment,
            details={"reason_code": reason_code},
        )
        notify_users(
            referrer_of(referral),
            subject=subject_for(referral, "转诊被拒绝 rejected"),
            body=f"拒绝原因: {referral.get_rejection_reason_display()}。{comment}",
        )
    return referral


def referral_redirect(
    *, referral: Referral, actor: User, to_department: Department, comment: str = ""
) -> tuple[Referral, Referral]:
    """Send a submitted referral on to another institution: this one ends `redirected`, a new
    linked referral (redirected_from) is submitted to the new target. Returns (old, new)."""
    to_institution = to_department.institution
    check_target(to_department)
    with transaction.atomic():
        referral = lock_referral(referral)
        transition = check_transition(referral, Action.REDIRECT, actor)
        if to_institution.pk in (referral.to_institution_id, referral.from_institution_id):
            raise InvalidInput(
                "redirect_target_invalid",
                "改转须转至另一家机构 (redirect to a third institution)",
                field="to_department",
            )
        direction = direction_between(referral.from_institution, to_institution)
        if direction == ReferralDirection.DOWN:
            check_downward(
                referral.resident, to_institution, resident_consent=referral.resident_consent
            )
        now = timezone.now()
        referral.decided_at = now
        move_to(
            referral,
            transition,
            actor=actor,
            now=now,
            reason=comment.strip(),
            details={"to_institution": to_institution.code},
        )
        refuse_duplicate(referral.resident, to_department, direction)
        successor = Referral.objects.create(
            resident_id=referral.resident_id,
            direction=direction,
            from_institution_id=referral.from_institution_id,
            from_department_id=referral.from_department_id,
            from_practitioner_id=referral.from_practitioner_id,
            to_institution=to_institution,
            to_department=to_department,
            urgency=referral.urgency,
            reason_code=referral.reason_code,
            criteria_codes=referral.criteria_codes,
            clinical_summary=referral.clinical_summary,
            status=S.SUBMITTED,
            created_at=now,
            submitted_at=now,
            updated_at=now,
            resident_consent=referral.resident_consent,
            consent_recorded_at=referral.consent_recorded_at,
            created_by=actor,
            redirected_from=referral,
        )
        set_due(successor, now)
        successor.save(update_fields=["decision_due_at", "due_at", "overdue"])
        record_event(
            successor,
            action="create",
            actor=actor,
            at=now,
            from_status="",
            reason=comment.strip(),
            details={"redirected_from": str(referral.public_id)},
        )
        notify_users(
            [*referrer_of(referral), *receiving_office_of(successor)],
            subject=subject_for(successor, "转诊已改转 redirected"),
            body=f"转诊已由 {referral.to_institution.name} 改转至 {to_institution.name}。",
        )
    return referral, successor
