"""Recording follow-ups (随访); the FOLLOWUP_RECORDED hooks run in its transaction."""

from __future__ import annotations

import datetime as dt

from django.db import transaction
from django.utils import timezone

from healthnet.errors import Forbidden, InvalidInput, NotFound
from healthnet.models import User
from healthnet.services import audit_record
from signing import hooks, permissions, rules
from signing.models import FollowUp, FollowUpStatus
from signing.selectors import member_team_ids
from signing.services.common import audit_refusals

# --- follow-ups ---------------------------------------------------------------------------------


@audit_refusals("followup_record")
def followup_record(
    *,
    actor: User,
    followup: FollowUp,
    outcome: str,
    done_at: dt.datetime | None = None,
) -> FollowUp:
    """Mark a follow-up done (by a member of the contract's team); run FOLLOWUP_RECORDED hooks."""
    now = timezone.now()
    done_at = done_at or now
    outcome = outcome.strip()
    if not outcome:
        raise InvalidInput(
            "outcome_required", "须填写随访结果 (the outcome is required)", field="outcome"
        )
    if len(outcome) > 2000:
        raise InvalidInput("outcome_too_long", "随访结果最多2000字", field="outcome")
    if timezone.is_naive(done_at) or done_at > now + dt.timedelta(minutes=5):
        raise InvalidInput(
            "done_at_invalid",
            "完成时间不能在未来 (done_at cannot be in the future)",
            field="done_at",
        )
    with transaction.atomic():
        locked = (
            FollowUp.objects.select_for_update(of=("self",))
            .select_related("contract", "contract__team", "item")
            .filter(pk=followup.pk)
            .first()
        )
        if locked is None:
            raise NotFound("follow_up_not_found", "随访任务不存在 (no such follow-up)")
        if not permissions.can_record_followup(
            actor, locked, member_team_ids=member_team_ids(actor)
        ):
            raise Forbidden(
                "team_out_of_scope",
                "只有签约团队成员可以记录随访 (only the team's members may record)",
            )
        done_on = timezone.localdate(done_at)
        rules.followup_record_check(
            followup_status=locked.status,
            contract_status=locked.contract.status,
            contract_start=locked.contract.start_date,
            done_on=done_on,
        )
        locked.status = FollowUpStatus.DONE
        locked.done_at = done_at
        locked.done_by = actor
        locked.outcome = outcome
        locked.done_on_time = rules.followup_on_time(due_date=locked.due_date, done_on=done_on)
        locked.save(update_fields=["status", "done_at", "done_by", "outcome", "done_on_time"])
        audit_record(
            actor=actor,
            action="followup_record",
            object_type="follow_up",
            object_id=locked.public_id,
            details={"contract": str(locked.contract.public_id), "on_time": locked.done_on_time},
        )
        for hook in list(hooks.FOLLOWUP_RECORDED):
            hook(locked)
    return locked
