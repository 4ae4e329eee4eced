"""One entry point per action name, for the API."""

from __future__ import annotations

import uuid
from typing import Any

from healthnet.errors import InvalidInput, NotFound
from healthnet.models import Department, User
from referrals.models import (
    Referral,
)
from referrals.services.booking import (
    referral_arrive,
    referral_no_show,
    referral_reschedule,
    referral_schedule,
)
from referrals.services.create import referral_submit
from referrals.services.decision import referral_accept, referral_redirect, referral_reject
from referrals.services.feedback import referral_acknowledge, referral_cancel, referral_complete
from referrals.transitions import Action

# --- one entry point per action for the API ----------------------------------------------------


def referral_act(
    *, referral: Referral, actor: User, action: str, params: dict[str, Any]
) -> Referral:
    """Run a user action by name with the request's parameters (the API's one door)."""
    p = params

    def need(name: str) -> Any:
        if p.get(name) in (None, ""):
            raise InvalidInput(f"{name}_required", f"缺少参数: {name} (required)", field=name)
        return p[name]

    if action == Action.SUBMIT:
        return referral_submit(referral=referral, actor=actor)
    if action == Action.ACCEPT:
        return referral_accept(referral=referral, actor=actor, comment=p.get("comment") or "")
    if action == Action.REJECT:
        return referral_reject(
            referral=referral,
            actor=actor,
            reason_code=need("reason_code"),
            comment=p.get("comment") or "",
        )
    if action == Action.REDIRECT:
        department = _department(need("to_department"))
        return referral_redirect(
            referral=referral, actor=actor, to_department=department, comment=p.get("comment") or ""
        )[0]
    if action == Action.SCHEDULE:
        return referral_schedule(referral=referral, actor=actor, date=need("date"))
    if action == Action.RESCHEDULE:
        return referral_reschedule(referral=referral, actor=actor, date=need("date"))
    if action == Action.ARRIVE:
        return referral_arrive(referral=referral, actor=actor)
    if action == Action.NO_SHOW:
        return referral_no_show(referral=referral, actor=actor)
    if action == Action.COMPLETE:
        return referral_complete(
            referral=referral,
            actor=actor,
            findings=p.get("findings") or "",
            diagnosis=p.get("diagnosis") or "",
            summary=p.get("summary") or "",
            recommendations=p.get("recommendations") or "",
            return_to_primary_care=bool(p.get("return_to_primary_care")),
            resident_consent=bool(p.get("resident_consent")),
        )
    if action == Action.ACKNOWLEDGE:
        return referral_acknowledge(referral=referral, actor=actor, comment=p.get("comment") or "")
    if action == Action.CANCEL:
        return referral_cancel(referral=referral, actor=actor, reason=p.get("reason") or "")
    raise NotFound("action_unknown", f"未知的转诊操作: {action} (unknown action)")


def _department(public_id: uuid.UUID | str) -> Department:
    department = (
        Department.objects.select_related("institution").filter(public_id=public_id).first()
    )
    if department is None:
        raise InvalidInput(
            "department_not_found", "科室不存在 (no such department)", field="to_department"
        )
    return department
