"""The signing API's scope answers: 403 for a caller whose role may not use an endpoint; for a
record out of the caller's scope, 404 exactly as if it did not exist (docs/design.md §9)."""

import uuid
from typing import NoReturn

from healthnet.errors import Forbidden, NotFound
from healthnet.http import SignedInRequest
from signing import permissions, selectors
from signing.models import Contract, FamilyDoctorTeam, FollowUp

NOT_ALLOWED = "无权访问家庭医生签约数据 (not allowed)"


def forbid(message: str = NOT_ALLOWED) -> NoReturn:
    raise Forbidden("forbidden", message)


def contract_in_scope(
    request: SignedInRequest,
    contract_id: uuid.UUID,
    *,
    new_team: FamilyDoctorTeam | None = None,
    national_id: str = "",
) -> Contract:
    """The contract if the caller may see it — for a switch, also if they act for the new team
    and the resident is tied to its institution (`national_id`: read at its desk). Otherwise
    404 `contract_not_found`, the same answer as for a contract that does not exist. The scope
    answers before any check of the contract's state."""
    contract = selectors.contract_by_public_id(contract_id)
    user = request.user
    member_of = selectors.member_team_ids(user)
    if permissions.can_view_contract(user, contract, member_team_ids=member_of):
        return contract
    if (
        new_team is not None
        and permissions.can_act_on_team(user, new_team, member_team_ids=member_of)
        and selectors.resident_tie_to_institution(
            contract.resident, new_team.institution_id, national_id=national_id
        )
    ):
        return contract
    raise NotFound("contract_not_found", selectors.CONTRACT_NOT_FOUND_MESSAGE)


def followup_in_scope(request: SignedInRequest, followup_id: uuid.UUID) -> FollowUp:
    """The follow-up if the caller may see its contract, else 404 like a missing one."""
    followup = selectors.followup_by_public_id(followup_id)
    member_of = selectors.member_team_ids(request.user)
    if not permissions.can_view_contract(
        request.user, followup.contract, member_team_ids=member_of
    ):
        raise NotFound("follow_up_not_found", selectors.FOLLOW_UP_NOT_FOUND_MESSAGE)
    return followup
