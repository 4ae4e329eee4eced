"""Create and submit a referral: routing, duplicates, idempotency."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from healthnet.errors import Conflict, Forbidden, InvalidInput
from healthnet.models import Department, Resident, User
from healthnet.selectors import resident_not_found
from referrals import permissions
from referrals.models import (
    OPEN_STATUSES,
    CareSetting,
    Referral,
    ReferralDirection,
    ReferralStatus,
    ReferralUrgency,
)
from referrals.selectors import resident_referable_from
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
    subject_for,
)
from referrals.transitions import Action

S = ReferralStatus

# --- create and submit -------------------------------------------------------------------------


def referral_create(
    *,
    actor: User,
    resident: Resident,
    to_department: Department,
    urgency: str,
    reason_code: str,
    criteria_codes: list[str] | None = None,
    clinical_summary: str = "",
    from_department: Department | None = None,
    resident_consent: bool = False,
    submit: bool = True,
    idempotency_key: str = "",
    care_setting: str = CareSetting.OUTPATIENT,
) -> tuple[Referral, bool]:
    """Create a referral from the actor's institution (and submit it unless `submit=False`).

    Returns (referral, created). A retry with the same `idempotency_key` by the same user returns
    the first referral with created=False; a second open referral of the resident to the same
    department in the same direction is refused with 409 `referral_duplicate`.

    `care_setting` (CareSetting, default outpatient): upward, the care asked of the receiving
    hospital (inpatient: admitted on arrival); downward, the care the resident had at the
    referring one (inpatient: discharged down to primary care)."""
    from_institution = actor.institution
    if not permissions.can_create_referral(actor) or from_institution is None:
        raise Forbidden(
            "referral_create_forbidden", "您的角色不能开具转诊 (your role may not refer)"
        )
    idempotency_key = idempotency_key.strip()
    if len(idempotency_key) > 100:
        raise InvalidInput(
            "idempotency_key_invalid",
            "Idempotency-Key 最长100字符 (at most 100 characters)",
            field="Idempotency-Key",
        )
    fingerprint = _fingerprint(
        resident=resident.pk,
        to_department=to_department.pk,
        from_department=from_department.pk if from_department else None,
        urgency=urgency,
        reason_code=reason_code.strip(),
        criteria_codes=sorted({c.strip() for c in (criteria_codes or []) if c.strip()}),
        clinical_summary=clinical_summary.strip(),
        resident_consent=resident_consent,
        submit=submit,
        care_setting=care_setting,
    )
    if idempotency_key and (first := _replay(actor, idempotency_key, fingerprint)):
        return first, False
    if from_department is not None and from_department.institution_id != from_institution.pk:
        raise InvalidInput(
            "from_department_invalid",
            "转出科室须属于您的机构 (the referring department must be in your institution)",
            field="from_department",
        )
    to_institution = to_department.institution
    if to_institution.pk == from_institution.pk:
        raise InvalidInput(
            "referral_same_institution",
            "不能转诊至本机构 (a referral goes to another institution)",
            field="to_department",
        )
    check_target(to_department)
    direction = direction_between(from_institution, to_institution)
    if care_setting not in CareSetting.values:
        raise InvalidInput(
            "care_setting_unknown", f"未知的诊疗类型: {care_setting}", field="care_setting"
        )
    if urgency not in ReferralUrgency.values:
        raise InvalidInput("urgency_unknown", f"未知的紧急程度: {urgency}", field="urgency")
    reason_code = reason_code.strip()
    if not reason_code or len(reason_code) > 40:
        raise InvalidInput(
            "reason_code_invalid",
            "转诊原因代码必填，最多40字符 (reason code required)",
            field="reason_code",
        )
    criteria = sorted({c.strip() for c in (criteria_codes or []) if c.strip()})
    if any(len(c) > 40 for c in criteria):
        raise InvalidInput(
            "criteria_code_invalid", "转诊指征代码最多40字符", field="criteria_codes"
        )
    if not resident_referable_from(resident, from_institution.pk):
        raise resident_not_found()  # as for an unknown resident: no existence oracle
    if direction == ReferralDirection.DOWN:
        check_downward(resident, to_institution, resident_consent=resident_consent)
    refuse_duplicate(resident, to_department, direction)

    now = timezone.now()
    try:
        with transaction.atomic():
            referral = Referral.objects.create(
                resident=resident,
                direction=direction,
                from_institution=from_institution,
                from_department=from_department,
                from_practitioner=actor,
                to_institution=to_institution,
                to_department=to_department,
                urgency=urgency,
                care_setting=care_setting,
                reason_code=reason_code,
                criteria_codes=criteria,
                clinical_summary=clinical_summary.strip(),
                status=S.DRAFT,
                created_at=now,
                updated_at=now,
                resident_consent=resident_consent,
                consent_recorded_at=now if resident_consent else None,
                created_by=actor,
                idempotency_key=idempotency_key,
                idempotency_fingerprint=fingerprint if idempotency_key else "",
            )
            record_event(
                referral,
                action="create",
                actor=actor,
                at=now,
                from_status="",
                details={"direction": direction, "urgency": urgency, "care_setting": care_setting},
            )
            if submit:
                submit_draft(referral, actor=actor, now=now)
    except IntegrityError:
        if idempotency_key and (first := _replay(actor, idempotency_key, fingerprint)):
            return first, False
        refuse_duplicate(resident, to_department, direction)
        raise
    return referral, True


def _fingerprint(**request: Any) -> str:
    """A hash of what was asked, to tell a retry from a different request with the same key."""
    return hashlib.sha256(json.dumps(request, sort_keys=True).encode()).hexdigest()


def _replay(actor: User, idempotency_key: str, fingerprint: str) -> Referral | None:
    """The referral this user created with this key, if any; a different request under the same
    key is refused (422 `idempotency_key_reused`) rather than answered with another's result."""
    first = Referral.objects.filter(created_by=actor, idempotency_key=idempotency_key).first()
    if first is not None and first.idempotency_fingerprint != fingerprint:
        raise InvalidInput(
            "idempotency_key_reused",
            "该 Idempotency-Key 已用于另一请求 (this key was used for a different request)",
            field="Idempotency-Key",
            existing_id=str(first.public_id),
        )
    return first


def refuse_duplicate(resident: Resident, to_department: Department, direction: str) -> None:
    existing = (
        Referral.objects.filter(
            resident=resident,
            to_department=to_department,
            direction=direction,
            status__in=OPEN_STATUSES,
        )
        .values_list("public_id", flat=True)
        .first()
    )
    if existing is not None:
        raise Conflict(
            "referral_duplicate",
            "该居民已有一张转往此科室的未完结转诊单 (an open referral to this department exists)",
            existing_id=str(existing),
        )


def submit_draft(referral: Referral, *, actor: User, now: dt.datetime) -> Referral:
    transition = check_transition(referral, Action.SUBMIT, actor)
    referral.submitted_at = now
    move_to(referral, transition, actor=actor, now=now)
    notify_users(
        receiving_office_of(referral),
        subject=subject_for(referral, "新转诊待处理 new referral to decide"),
        body=(
            f"{referral.from_institution.name} 转来一张{referral.get_urgency_display()}"
            f"{referral.get_direction_display()}转诊单，请在 "
            f"{timezone.localtime(referral.due_at):%m-%d %H:%M} 前处理。"
        ),
    )
    return referral


def referral_submit(*, referral: Referral, actor: User) -> Referral:
    with transaction.atomic():
        referral = lock_referral(referral)
        return submit_draft(referral, actor=actor, now=timezone.now())
