"""Who may do what with teams, contracts and follow-ups (docs/design.md §9). Pure predicates.

Who may move a contract comes from the lifecycle table (signing.lifecycle): the user's parties
to the contract's team (`contract_parties`) and their role, checked against the transition.

Scopes:
- a team member (any staff role) acts on their team's contracts and records its follow-ups;
- an institution admin acts on the contracts of their institution's teams (not follow-ups);
- the bureau (and the system admin) read team aggregates only: no resident data;
- a resident reads their own contracts;
- anyone else: refused.

`member_team_ids` is the set of team pks the user belongs to (signing.selectors.member_team_ids).
"""

from __future__ import annotations

from healthnet.models import INSTITUTION_SCOPED_ROLES, User, UserRole
from signing.lifecycle import CONTRACT_LIFECYCLE, OFFER_ACTORS, Party
from signing.models import Contract, ContractImportJob, FamilyDoctorTeam, FollowUp

AGGREGATE_READER_ROLES = frozenset({UserRole.BUREAU, UserRole.SYSTEM_ADMIN})
IMPORT_ROLES = frozenset({UserRole.INSTITUTION_ADMIN, UserRole.SYSTEM_ADMIN})


def _is_active(user: User) -> bool:
    return user.is_authenticated and user.is_active


def is_staff_of_institution(user: User) -> bool:
    return _is_active(user) and user.role in INSTITUTION_SCOPED_ROLES


def can_list_teams(user: User) -> bool:
    """The team directory with load figures (no resident data)."""
    return _is_active(user) and (
        user.role in AGGREGATE_READER_ROLES or user.role in INSTITUTION_SCOPED_ROLES
    )


def can_list_contracts(user: User) -> bool:
    """Staff (the list is scoped to their teams) and residents (their own contracts)."""
    return is_staff_of_institution(user) or (_is_active(user) and user.role == UserRole.RESIDENT)


def can_list_followups(user: User) -> bool:
    return is_staff_of_institution(user)


def contract_parties(
    user: User, team: FamilyDoctorTeam, *, member_team_ids: frozenset[int]
) -> frozenset[str]:
    """The user's relations to a team, the parties of the lifecycle table: `team` (an active
    member), `institution` (staff of the team's institution). None for anyone else."""
    if not is_staff_of_institution(user):
        return frozenset()
    parties = set()
    if team.pk in member_team_ids:
        parties.add(Party.TEAM)
    if team.institution_id == user.institution_id:
        parties.add(Party.INSTITUTION)
    return frozenset(parties)


def can_offer_contract(
    user: User, team: FamilyDoctorTeam, *, member_team_ids: frozenset[int]
) -> bool:
    parties = contract_parties(user, team, member_team_ids=member_team_ids)
    return any(user.role in OFFER_ACTORS.get(party, frozenset()) for party in parties)


def can_take_contract_action(
    user: User, team: FamilyDoctorTeam, action: str, *, member_team_ids: frozenset[int]
) -> bool:
    """May the user take `action` on the team's contracts in some state (the state is the
    service's check: 409 when the table has no such move from the contract's status)."""
    parties = contract_parties(user, team, member_team_ids=member_team_ids)
    return CONTRACT_LIFECYCLE.may_ever_take(action, parties=parties, role=user.role)


def contract_actions_for(
    user: User, contract: Contract, *, member_team_ids: frozenset[int]
) -> list[str]:
    """The actions the user may take on the contract now (buttons, the 409's hints)."""
    parties = contract_parties(user, contract.team, member_team_ids=member_team_ids)
    return CONTRACT_LIFECYCLE.actions_for(contract.status, parties=parties, role=user.role)


def can_act_on_team(user: User, team: FamilyDoctorTeam, *, member_team_ids: frozenset[int]) -> bool:
    """Offer the team's contracts, move them, read its residents: a party of the table allowed
    some user move."""
    return any(
        can_take_contract_action(user, team, action, member_team_ids=member_team_ids)
        for action in CONTRACT_LIFECYCLE.user_actions
    )


def can_view_contract(user: User, contract: Contract, *, member_team_ids: frozenset[int]) -> bool:
    if not _is_active(user):
        return False
    if user.role == UserRole.RESIDENT:
        return user.resident_id == contract.resident_id
    return can_act_on_team(user, contract.team, member_team_ids=member_team_ids)


def can_record_followup(user: User, followup: FollowUp, *, member_team_ids: frozenset[int]) -> bool:
    """Only the members of the contract's team deliver its services."""
    return is_staff_of_institution(user) and followup.contract.team_id in member_team_ids


def can_import_contracts(user: User | None) -> bool:
    """None = the system (management command)."""
    return user is None or (_is_active(user) and user.role in IMPORT_ROLES)


def can_import_into_team(user: User | None, team: FamilyDoctorTeam) -> bool:
    if user is None or user.role == UserRole.SYSTEM_ADMIN:
        return True
    return user.role == UserRole.INSTITUTION_ADMIN and team.institution_id == user.institution_id


def can_view_import_job(user: User, job: ContractImportJob) -> bool:
    """An import job (its progress, errors and report): the uploader, and the admins of the
    uploader's institution."""
    if not _is_active(user):
        return False
    if job.created_by_id is not None and job.created_by_id == user.pk:
        return True
    return (
        user.role == UserRole.INSTITUTION_ADMIN
        and job.institution_id is not None
        and job.institution_id == user.institution_id
    )
