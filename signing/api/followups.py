"""Follow-ups (随访) of the caller's teams: the worklist and recording one done."""

import uuid

from django.db import transaction
from ninja import Query, Router
from ninja.pagination import paginate

from config.pagination import PageNumberPagination
from healthnet.services import audit_record
from signing import permissions, selectors, services
from signing.api.schemas import FollowUpFilter, FollowUpOut, RecordIn
from signing.api.scope import followup_in_scope, forbid

router = Router(tags=["signing"])


@router.get("/follow-ups", response=list[FollowUpOut])
@paginate(PageNumberPagination)
def followup_list(request, filters: Query[FollowUpFilter]):
    """Follow-ups of my team(s): due (within `within_days`, overdue included), overdue, done."""
    if not permissions.can_list_followups(request.user):
        forbid()
    with transaction.atomic():
        audit_record(
            actor=request.user, action="list", object_type="follow_up", details=filters.dict()
        )
    return selectors.followups_visible_to(
        request.user, state=filters.state, team=filters.team, within_days=filters.within_days
    )


@router.post("/follow-ups/{uuid:followup_id}/record", response=FollowUpOut)
def followup_record(request, followup_id: uuid.UUID, payload: RecordIn):
    """Mark a follow-up done with its outcome (members of the contract's team only)."""
    followup = followup_in_scope(request, followup_id)
    services.followup_record(
        actor=request.user, followup=followup, outcome=payload.outcome, done_at=payload.done_at
    )
    return selectors.followups_visible_to(request.user, state=None).get(pk=followup.pk)
