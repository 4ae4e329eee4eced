"""Reads of family-doctor signing, with their scope and joins decided here once. The contract
timeline (signing.history) and the 履约率 (signing.fulfilment) live in their own modules for size,
and are read through this one."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable

from django.db.models import Count, Exists, OuterRef, Prefetch, Q, QuerySet
from django.utils import timezone

from healthnet.errors import NotFound
from healthnet.models import (
    AGE_DERIVED_POPULATIONS,
    Resident,
    ResidentPopulationTag,
    User,
    UserRole,
)
from healthnet.national_id import national_id_hash, parse_national_id
from healthnet.populations import birth_date_range_for_age_population
from healthnet.selectors import resident_related_to_institution
from signing import permissions

# The contract timeline's and the 履约率's reads live in their own modules (this module's size);
# they are part of this door.
from signing.fulfilment import (  # noqa: F401
    FulfilmentRate,
    contract_fulfilment,
    fulfilment_by_team,
    team_fulfilment,
)
from signing.history import (  # noqa: F401
    contract_events_between,
    contract_status_on,
    contract_statuses_on,
    contracts_active_on,
)
from signing.models import (
    ACTIVE_STATUSES,
    Contract,
    ContractImportJob,
    FamilyDoctorTeam,
    FollowUp,
    FollowUpStatus,
    OfferBasis,
    ServiceItem,
    ServicePackage,
    TeamMember,
)

# One answer for what is out of the caller's scope and what does not exist (docs/design.md §9).
CONTRACT_NOT_FOUND_MESSAGE = "签约不存在 (no such contract)"
FOLLOW_UP_NOT_FOUND_MESSAGE = "随访任务不存在 (no such follow-up)"
IMPORT_JOB_NOT_FOUND_MESSAGE = "导入任务不存在 (no such import job)"
# As healthnet.selectors.resident_by_public_id answers for an unknown resident.
RESIDENT_NOT_FOUND_MESSAGE = "居民不存在 (no such resident)"

# --- scope --------------------------------------------------------------------------------------


def member_team_ids(user: User | None) -> frozenset[int]:
    """The teams the user's practitioner belongs to (cached on the user for the request)."""
    if user is None or not user.is_authenticated or user.practitioner_id is None:
        return frozenset()
    cached = getattr(user, "_signing_member_team_ids", None)
    if cached is None:
        cached = frozenset(
            TeamMember.objects.filter(
                practitioner_id=user.practitioner_id, active=True, team__active=True
            ).values_list("team_id", flat=True)
        )
        setattr(user, "_signing_member_team_ids", cached)  # noqa: B010 (not a User field)
    return cached


def _team_scope(user: User) -> Q:
    """Teams whose residents the user may see: their own, plus their institution's for an admin."""
    scope = Q(pk__in=list(member_team_ids(user)))
    if user.role == UserRole.INSTITUTION_ADMIN:
        scope |= Q(institution_id=user.institution_id)
    return scope


# --- teams --------------------------------------------------------------------------------------


def team_codes_worked_by(user: User) -> dict[int, str]:
    """The teams whose residents the user works with (as teams_worked_by): id → code."""
    return dict(FamilyDoctorTeam.objects.filter(_team_scope(user)).values_list("pk", "code"))


def team_active_count(team_id: int) -> int:
    """Signed residents holding a place in the team (active or renewal_due)."""
    return Contract.objects.filter(team_id=team_id, status__in=ACTIVE_STATUSES).count()


def _with_load(qs: QuerySet[FamilyDoctorTeam]) -> QuerySet[FamilyDoctorTeam]:
    return qs.annotate(
        signed=Count("contracts", filter=Q(contracts__status__in=ACTIVE_STATUSES))
    ).select_related("institution", "lead")


def teams_visible_to(
    user: User, *, institution: str | None = None, district: str | None = None
) -> QuerySet[FamilyDoctorTeam]:
    """The bureau sees every team (aggregates only); staff see their institution's teams and
    the teams they are members of."""
    qs = FamilyDoctorTeam.objects.all()
    if user.role not in (UserRole.BUREAU, UserRole.SYSTEM_ADMIN):
        qs = qs.filter(Q(institution_id=user.institution_id) | _team_scope(user))
    if institution:
        qs = qs.filter(institution__code=institution)
    if district:
        qs = qs.filter(institution__district__code=district)
    return _with_load(qs).order_by("code")


def teams_worked_by(user: User) -> QuerySet[FamilyDoctorTeam]:
    """The teams whose residents the user works with — their own teams, and for an institution
    admin their institution's — with their load (`signed`), by code."""
    return _with_load(FamilyDoctorTeam.objects.filter(_team_scope(user))).order_by("code")


def teams_of_institution(institution_id: int | None) -> QuerySet[FamilyDoctorTeam]:
    """An institution's teams with their load (`signed`) and their active members
    (`members_active`: practitioner and home institution joined), by code."""
    members = (
        TeamMember.objects.filter(active=True)
        .select_related("practitioner", "home_institution")
        .order_by("role", "practitioner__name", "pk")
    )
    if institution_id is None:  # a user of no institution has no institution's teams
        return FamilyDoctorTeam.objects.none()
    return (
        _with_load(FamilyDoctorTeam.objects.filter(institution_id=institution_id))
        .prefetch_related(Prefetch("members", queryset=members, to_attr="members_active"))
        .order_by("code")
    )


def team_detail(user: User, *, code: str) -> FamilyDoctorTeam:
    team = (
        teams_visible_to(user)
        .prefetch_related(
            Prefetch(
                "members",
                queryset=TeamMember.objects.filter(active=True).select_related(
                    "practitioner", "home_institution"
                ),
            )
        )
        .filter(code=code)
        .first()
    )
    if team is None:
        raise NotFound("team_not_found", f"团队不存在: {code} (no such team)")
    return team


def team_by_code(code: str) -> FamilyDoctorTeam:
    team = FamilyDoctorTeam.objects.select_related("institution").filter(code=code).first()
    if team is None:
        raise NotFound("team_not_found", f"团队不存在: {code} (no such team)")
    return team


# --- packages -----------------------------------------------------------------------------------


def packages_catalogue() -> QuerySet[ServicePackage]:
    return (
        ServicePackage.objects.filter(active=True)
        .prefetch_related(Prefetch("items", queryset=ServiceItem.objects.order_by("code")))
        .order_by("kind", "code")
    )


# --- import jobs --------------------------------------------------------------------------------


def import_jobs_visible_to(user: User) -> QuerySet[ContractImportJob]:
    """The import jobs the user started and, for an institution admin, every job of their
    institution (signing.permissions.can_view_import_job), newest first."""
    scope = Q(created_by_id=user.pk)
    if user.role == UserRole.INSTITUTION_ADMIN and user.institution_id is not None:
        scope |= Q(institution_id=user.institution_id)
    return (
        ContractImportJob.objects.filter(scope)
        .select_related("created_by")
        .order_by("-created_at", "-pk")
    )


def import_job_visible_to(user: User, public_id: uuid.UUID | str) -> ContractImportJob:
    """One job the user may follow; 404 `import_job_not_found` for any other, as for none."""
    job = import_jobs_visible_to(user).filter(public_id=public_id).first()
    if job is None:
        raise NotFound("import_job_not_found", IMPORT_JOB_NOT_FOUND_MESSAGE)
    return job


# --- contracts ----------------------------------------------------------------------------------


def _contract_joins(qs: QuerySet[Contract]) -> QuerySet[Contract]:
    return qs.select_related(
        "resident", "team", "team__institution", "previous_contract"
    ).prefetch_related(
        Prefetch("packages", queryset=ServicePackage.objects.order_by("code")),
        "resident__population_tags",
    )


def contracts_visible_to(
    user: User,
    *,
    team: str | None = None,
    status: str | None = None,
    key_population: str | None = None,
    expiring_within_days: int | None = None,
    overdue_followups: bool = False,
    today: dt.date | None = None,
    among: QuerySet[Contract] | None = None,
) -> QuerySet[Contract]:
    """The contracts of the user's teams (a resident: their own), soonest end first. Filters:
    team code, status, key population (on `today`), ending within so many days (holding a
    place), with follow-ups overdue (pending past their due date, the contract holding a
    place), only those of `among` (e.g. the contracts behind a report's figure)."""
    today = today or timezone.localdate()
    if user.role == UserRole.RESIDENT:
        qs = (
            Contract.objects.filter(resident_id=user.resident_id)
            if user.resident_id is not None
            else Contract.objects.none()
        )
    else:
        visible_teams = FamilyDoctorTeam.objects.filter(_team_scope(user)).values("pk")
        qs = Contract.objects.filter(team_id__in=visible_teams)
    if team:
        qs = qs.filter(team__code=team)
    if status:
        qs = qs.filter(status=status)
    if key_population:
        qs = qs.filter(_population_filter(key_population, today))
    if expiring_within_days is not None:
        qs = qs.filter(
            status__in=ACTIVE_STATUSES,
            end_date__lte=today + dt.timedelta(days=expiring_within_days),
        )
    if overdue_followups:
        qs = qs.filter(
            Exists(_overdue_followups(today).filter(contract_id=OuterRef("pk"))),
            status__in=ACTIVE_STATUSES,
        )
    if among is not None:
        qs = qs.filter(pk__in=among.values("pk"))
    return _contract_joins(qs).order_by("end_date", "pk")


def _overdue_followups(today: dt.date) -> QuerySet[FollowUp]:
    return FollowUp.objects.filter(status=FollowUpStatus.PENDING, due_date__lt=today)


def overdue_followup_counts(contract_ids: Iterable[int], *, today: dt.date) -> dict[int, int]:
    """Overdue follow-ups per contract (one query for a page of contracts; absent: none)."""
    rows = (
        _overdue_followups(today)
        .filter(contract_id__in=list(contract_ids))
        .values("contract_id")
        .annotate(n=Count("pk"))
    )
    return {row["contract_id"]: row["n"] for row in rows}


def contract_visible_to(user: User, public_id: uuid.UUID | str) -> Contract:
    """One contract the user may see (signing.permissions.can_view_contract), joined as the lists
    are; otherwise 404 `contract_not_found`, exactly as for one that does not exist."""
    contract = _contract_joins(Contract.objects.filter(public_id=public_id)).first()
    if contract is None or not permissions.can_view_contract(
        user, contract, member_team_ids=member_team_ids(user)
    ):
        raise NotFound("contract_not_found", CONTRACT_NOT_FOUND_MESSAGE)
    return contract


def _population_filter(population: str, today: dt.date) -> Q:
    if population in AGE_DERIVED_POPULATIONS:
        born_from, born_until = birth_date_range_for_age_population(population, today)
        condition = Q()
        if born_from is not None:
            condition &= Q(resident__birth_date__gte=born_from)
        if born_until is not None:
            condition &= Q(resident__birth_date__lte=born_until)
        return condition
    return Q(
        Exists(
            ResidentPopulationTag.objects.filter(
                Q(valid_from__isnull=True) | Q(valid_from__lte=today),
                Q(valid_to__isnull=True) | Q(valid_to__gte=today),
                resident_id=OuterRef("resident_id"),
                population=population,
            )
        )
    )


def contract_by_public_id(public_id) -> Contract:
    contract = _contract_joins(Contract.objects.filter(public_id=public_id)).first()
    if contract is None:
        raise NotFound("contract_not_found", CONTRACT_NOT_FOUND_MESSAGE)
    return contract


def contract_detail(public_id) -> Contract:
    contract = (
        _contract_joins(Contract.objects.filter(public_id=public_id))
        .prefetch_related(
            Prefetch(
                "follow_ups",
                queryset=FollowUp.objects.select_related(
                    "item", "item__package", "done_by"
                ).order_by("due_date", "pk"),
            )
        )
        .first()
    )
    if contract is None:
        raise NotFound("contract_not_found", CONTRACT_NOT_FOUND_MESSAGE)
    return contract


def active_contract_for(resident: Resident) -> Contract | None:
    """The resident's current contract (active or renewal_due) with its team and institution:
    where a downward referral of a signed resident goes (docs/design.md §4)."""
    return (
        Contract.objects.filter(resident=resident, status__in=ACTIVE_STATUSES)
        .select_related("team", "team__institution", "team__lead")
        .first()
    )


def resident_concerns_institution(resident: Resident, institution_id: int | None) -> bool:
    """Does the resident have a contract holding a place with a team of this institution. A
    pending offer is no tie (issue 9): offering a contract must not widen what a clinic sees."""
    if institution_id is None:
        return False
    return Contract.objects.filter(
        resident=resident, team__institution_id=institution_id, status__in=ACTIVE_STATUSES
    ).exists()


def resident_tie_to_institution(
    resident: Resident, institution_id: int, *, national_id: str = ""
) -> str | None:
    """What ties the resident to the institution, as an OfferBasis, or None: the ID number read
    from their card at the desk (`national_id`, validated; it must be theirs), else an existing
    relation (healthnet.selectors.resident_related_to_institution: registered, visited, and what
    the apps add: referred, signed)."""
    if national_id:
        identity = parse_national_id(national_id)
        if national_id_hash(identity.number) == resident.national_id_hash:
            return OfferBasis.DESK_IDENTIFICATION
        return None
    if resident_related_to_institution(resident, institution_id):
        return OfferBasis.RELATED
    return None


# --- follow-ups ---------------------------------------------------------------------------------

FOLLOWUP_FILTERS = ("due", "overdue", "pending", "done")


def followups_visible_to(
    user: User,
    *,
    state: str | None = "due",
    team: str | None = None,
    within_days: int = 30,
    today: dt.date | None = None,
    among: QuerySet[FollowUp] | None = None,
) -> QuerySet[FollowUp]:
    """due: pending and due within `within_days` (overdue included); overdue: pending, past due;
    pending / done: by status (None: every state, e.g. with `among`, the follow-ups behind a
    report's figure). Only the user's teams."""
    today = today or timezone.localdate()
    visible_teams = FamilyDoctorTeam.objects.filter(_team_scope(user)).values("pk")
    qs = FollowUp.objects.filter(contract__team_id__in=visible_teams)
    if state in ("due", "overdue", "pending"):
        qs = qs.filter(status=FollowUpStatus.PENDING, contract__status__in=ACTIVE_STATUSES)
    if state == "due":
        qs = qs.filter(due_date__lte=today + dt.timedelta(days=within_days))
    elif state == "overdue":
        qs = qs.filter(due_date__lt=today)
    elif state == "done":
        qs = qs.filter(status=FollowUpStatus.DONE)
    if team:
        qs = qs.filter(contract__team__code=team)
    if among is not None:
        qs = qs.filter(pk__in=among.values("pk"))
    return qs.select_related(
        "item", "item__package", "contract", "contract__resident", "contract__team", "done_by"
    ).order_by("due_date", "pk")


def followup_by_public_id(public_id) -> FollowUp:
    followup = (
        FollowUp.objects.select_related("item", "contract", "contract__team", "contract__resident")
        .filter(public_id=public_id)
        .first()
    )
    if followup is None:
        raise NotFound("follow_up_not_found", FOLLOW_UP_NOT_FOUND_MESSAGE)
    return followup


def followup_visible_to(user: User, public_id: uuid.UUID | str) -> FollowUp:
    """One follow-up whose contract the user may see; otherwise 404 `follow_up_not_found`, as
    for one that does not exist."""
    followup = (
        FollowUp.objects.select_related(
            "item", "item__package", "contract", "contract__team", "contract__resident", "done_by"
        )
        .filter(public_id=public_id)
        .first()
    )
    if followup is None or not permissions.can_view_contract(
        user, followup.contract, member_team_ids=member_team_ids(user)
    ):
        raise NotFound("follow_up_not_found", FOLLOW_UP_NOT_FOUND_MESSAGE)
    return followup


def overdue_counts_by_team(*, today: dt.date) -> list[tuple[FamilyDoctorTeam, int]]:
    rows = (
        FollowUp.objects.filter(
            status=FollowUpStatus.PENDING,
            due_date__lt=today,
            contract__status__in=ACTIVE_STATUSES,
        )
        .values("contract__team_id")
        .annotate(n=Count("pk"))
    )
    counts = {row["contract__team_id"]: row["n"] for row in rows}
    teams = FamilyDoctorTeam.objects.filter(pk__in=counts).order_by("code")
    return [(team, counts[team.pk]) for team in teams]


# --- for the bureau reports (reports/kpis: grouped reads, never one query per unit) ----------


def report_teams() -> QuerySet[FamilyDoctorTeam]:
    """Every team, active or not (a dissolved team keeps its history), by code."""
    return FamilyDoctorTeam.objects.order_by("code")


def report_contracts_ending(*, start: dt.date, end: dt.date) -> QuerySet[Contract]:
    """Contracts whose term ends (end_date) in [start, end) (team joined)."""
    return Contract.objects.filter(end_date__gte=start, end_date__lt=end).select_related("team")


def report_followups_due(*, start: dt.date, end: dt.date) -> QuerySet[FollowUp]:
    """Follow-ups due in [start, end), cancelled ones left out (contract joined)."""
    return (
        FollowUp.objects.filter(due_date__gte=start, due_date__lt=end)
        .exclude(status=FollowUpStatus.CANCELLED)
        .select_related("contract")
    )
