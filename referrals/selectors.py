"""Reads of referrals: worklists, detail with the timeline, target suggestions, and the scope
question other apps ask ("does this resident concern that institution through a referral?")."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from django.db.models import F, Prefetch, Q, QuerySet
from django.utils import timezone

from healthnet.errors import InvalidInput, NotFound
from healthnet.models import Department, Institution, Resident, User, UserRole
from healthnet.permissions import is_institution_staff
from healthnet.selectors import (
    alliance_memberships_current,
    departments_accepting_referrals,
    resident_by_public_id,
    resident_not_found,
    resident_related_to_institution,
)
from referrals.models import (
    OPEN_STATUSES,
    DepartmentDaySlots,
    Referral,
    ReferralDirection,
    ReferralEvent,
    ReferralStatus,
    ReferralUrgency,
)
from referrals.transitions import REFERRAL_TABLE, Action
from signing.selectors import active_contract_for

# Joined in the page query: the resident and the two departments. The institutions and the
# referring user come by prefetch (one small IN query each): joining all six tables made
# PostgreSQL spend ~10 ms planning every page, against ~1 ms executing it (bench_referrals).
WORKLIST_JOINS = ("resident", "from_department", "to_department")
WORKLIST_PREFETCH = ("from_institution", "to_institution", "from_practitioner")


def referrals_visible_to(user: User) -> QuerySet[Referral]:
    """Staff: referrals into and out of their institution. Resident: their own. Others: none."""
    qs = Referral.objects.all()
    if not user.is_authenticated or not user.is_active:
        return qs.none()
    if user.role == UserRole.RESIDENT and user.resident_id is not None:
        return qs.filter(resident_id=user.resident_id)
    if is_institution_staff(user) and user.institution_id is not None:
        return qs.filter(
            Q(from_institution_id=user.institution_id) | Q(to_institution_id=user.institution_id)
        )
    return qs.none()


@dataclass(frozen=True)
class WorklistFilters:
    box: str | None = None  # incoming | outgoing | None (both)
    status: Sequence[str] | None = None
    direction: str | None = None
    urgency: str | None = None
    overdue: bool | None = None
    department: uuid.UUID | None = None
    resident: uuid.UUID | None = None
    appointment_date: dt.date | None = None
    # The open emergency referrals (绿色通道): True only them, False all but them (the portal
    # pins them above its list, which then keeps the index's deadline order), None either.
    green_channel: bool | None = None
    # Only these referrals (a queryset of them, e.g. those behind a report's figure: reports.drill);
    # the worklist's scope still applies.
    among: QuerySet[Referral] | None = None


def referrals_worklist(user: User, filters: WorklistFilters) -> QuerySet[Referral]:
    """A worklist ordered by the nearest deadline (none last), newest first among equals."""
    if filters.box not in (None, "", "incoming", "outgoing"):
        raise InvalidInput("box_unknown", "box 须为 incoming 或 outgoing", field="box")
    institution_id = user.institution_id
    staff = is_institution_staff(user) and user.is_active and institution_id is not None
    # A box is inside the staff member's scope: filter on it alone, so the planner walks the
    # matching worklist index (models.Referral.Meta.indexes) instead of an OR of two.
    if filters.box == "incoming" and staff:
        qs = Referral.objects.filter(to_institution_id=institution_id)
    elif filters.box == "outgoing" and staff:
        qs = Referral.objects.filter(from_institution_id=institution_id)
    else:
        qs = referrals_visible_to(user)
    if filters.status:
        qs = qs.filter(status__in=filters.status)
    if filters.direction:
        qs = qs.filter(direction=filters.direction)
    if filters.urgency:
        qs = qs.filter(urgency=filters.urgency)
    if filters.overdue is not None:
        qs = qs.filter(overdue=filters.overdue)
    if filters.department:
        if filters.box == "incoming":
            qs = qs.filter(to_department__public_id=filters.department)
        elif filters.box == "outgoing":
            qs = qs.filter(from_department__public_id=filters.department)
        else:
            qs = qs.filter(
                Q(to_department__public_id=filters.department)
                | Q(from_department__public_id=filters.department)
            )
    if filters.resident:
        qs = qs.filter(resident__public_id=filters.resident)
    if filters.appointment_date:
        qs = qs.filter(appointment_date=filters.appointment_date)
    if filters.among is not None:
        qs = qs.filter(pk__in=filters.among.values("pk"))
    green = Q(urgency=ReferralUrgency.EMERGENCY, status__in=OPEN_STATUSES)
    if filters.green_channel is True:
        qs = qs.filter(green)
    elif filters.green_channel is False:
        qs = qs.exclude(green)
    return (
        qs.select_related(*WORKLIST_JOINS)
        .prefetch_related(*WORKLIST_PREFETCH)
        .order_by(F("due_at").asc(nulls_last=True), "-created_at", "-pk")
    )


def referral_for_user(user: User, public_id: uuid.UUID) -> Referral:
    """One referral the user may see, with its timeline; 404 for any other (its existence is
    not disclosed outside the institutions it concerns)."""
    referral = (
        referrals_visible_to(user)
        .select_related(*WORKLIST_JOINS, "encounter", "closing_followup")
        .prefetch_related(
            *WORKLIST_PREFETCH,
            "redirected_from",
            "redirected_to",
            "follow_on",
            "follow_on_of",
            Prefetch("events", queryset=ReferralEvent.objects.order_by("at", "pk")),
        )
        .filter(public_id=public_id)
        .first()
    )
    if referral is None:
        raise NotFound("referral_not_found", "转诊单不存在 (no such referral)")
    return referral


# --- reserved slots (预留号源) ------------------------------------------------------------------

SLOTS_MAX_DAYS = 31


@dataclass(frozen=True)
class DaySlots:
    """A department's reserved referral slots on one day: `capacity` is the day's row when it
    has been booked, else the department's daily number (what booking would copy)."""

    date: dt.date
    capacity: int
    booked: int

    @property
    def free(self) -> int:
        return max(self.capacity - self.booked, 0)


def department_day_slots(department: Department, *, start: dt.date, days: int) -> list[DaySlots]:
    """The department's reserved slots on each of `days` days from `start` (one query): what
    the slots API answers and the schedule form's date picker shows."""
    if not 1 <= days <= SLOTS_MAX_DAYS:
        raise InvalidInput(
            "days_out_of_range", f"days 须在 1 到 {SLOTS_MAX_DAYS} 之间", field="days"
        )
    end = start + dt.timedelta(days=days)
    rows = {
        row.date: row
        for row in DepartmentDaySlots.objects.filter(
            department=department, date__gte=start, date__lt=end
        )
    }
    result = []
    for offset in range(days):
        day = start + dt.timedelta(days=offset)
        row = rows.get(day)
        if row is None:
            result.append(DaySlots(day, department.referral_slots_per_day, 0))
        else:
            result.append(DaySlots(day, row.capacity, row.booked))
    return result


def redirect_targets_suggested(user: User, referral: Referral) -> list[TargetSuggestion]:
    """Where the receiving side may redirect a referral (docs/design.md §4): departments that
    accept referrals at a third institution, up or down from the referring institution (the
    direction the redirected referral takes), alliance partners of the user's institution first,
    then the current department's specialty; for a signed resident going down, only their
    team's institution."""
    own = user.institution
    if own is None:
        return []
    current = alliance_memberships_current(on=timezone.localdate())
    own_alliances = current.filter(institution=own).values("alliance_id")
    partner_alliances: dict[int, list[str]] = {}
    for institution_id, code in current.filter(alliance_id__in=own_alliances).values_list(
        "institution_id", "alliance__code"
    ):
        partner_alliances.setdefault(institution_id, []).append(code)
    team = team_institution_of(referral.resident)
    origin = referral.from_institution
    specialty = referral.to_department.specialty
    suggestions = []
    for department in departments_accepting_referrals().exclude(
        institution_id__in=[referral.from_institution_id, referral.to_institution_id]
    ):
        institution = department.institution
        direction = ReferralDirection.between_tiers(origin.tier, institution.tier)
        if direction is None:
            continue
        if direction == ReferralDirection.DOWN and team is not None and institution.pk != team.pk:
            continue
        alliances = sorted(partner_alliances.get(institution.pk, []))
        suggestions.append(
            TargetSuggestion(
                department=department,
                direction=direction,
                alliance_partner=bool(alliances),
                alliances=alliances,
                team_institution=team is not None and institution.pk == team.pk,
            )
        )
    suggestions.sort(
        key=lambda s: (
            not s.team_institution,
            not s.alliance_partner,
            s.department.specialty != specialty,
            s.department.institution.code,
            s.department.code,
        )
    )
    return suggestions


def resident_referable_from(resident: Resident, institution_id: int | None) -> bool:
    """May the institution refer this resident: they concern it (healthnet's relation checks)
    or a referral brought them to it."""
    if institution_id is None:
        return False
    return (
        resident_related_to_institution(resident, institution_id)
        or Referral.objects.filter(resident=resident, to_institution_id=institution_id).exists()
    )


def resident_for_referral(user: User, public_id: uuid.UUID) -> Resident:
    """A resident the user's institution may refer; any other, like an unknown one, is the 404
    `resident_not_found` (one out-of-scope answer: docs/security.md)."""
    resident = resident_by_public_id(public_id)
    if not resident_referable_from(resident, user.institution_id):
        raise resident_not_found()
    return resident


def referrals_open_for_resident(resident: Resident) -> QuerySet[Referral]:
    """The resident's referrals in progress (submitted up to arrived; drafts are not referrals
    yet), oldest first, with what a summary shows joined in."""
    return (
        Referral.objects.filter(resident=resident, status__in=OPEN_STATUSES)
        .exclude(status=ReferralStatus.DRAFT)
        .select_related("from_institution", "to_institution", "to_department")
        .order_by("created_at")
    )


def resident_concerns_institution(resident: Resident, institution_id: int | None) -> bool:
    """Does a referral of this resident go into or out of the institution?"""
    if institution_id is None:
        return False
    return Referral.objects.filter(
        Q(resident=resident)
        & (Q(from_institution_id=institution_id) | Q(to_institution_id=institution_id))
    ).exists()


def referrals_awaiting_arrival(
    *, resident: Resident, institution_id: int | None
) -> QuerySet[Referral]:
    """The resident's referrals into the institution that wait for the resident to check in
    (the states the table lets `arrive` leave from), oldest first: what a scan at that
    institution's desk marks arrived. None without an institution."""
    if institution_id is None:
        return Referral.objects.none()
    return Referral.objects.filter(
        resident=resident,
        to_institution_id=institution_id,
        status__in=REFERRAL_TABLE.sources_of(Action.ARRIVE),
    ).order_by("created_at", "pk")


def team_institution_of(resident: Resident) -> Institution | None:
    """The institution of the resident's family-doctor team (their current contract's), or None
    when not signed: where a downward referral of a signed resident goes (docs/design.md §4)."""
    contract = active_contract_for(resident)
    return contract.team.institution if contract is not None else None


@dataclass(frozen=True)
class TargetSuggestion:
    department: Department
    direction: str
    alliance_partner: bool
    alliances: list[str]
    team_institution: bool


def referral_targets_suggested(
    user: User,
    *,
    direction: str | None = None,
    specialty: str | None = None,
    resident: Resident | None = None,
    on: dt.date | None = None,
) -> list[TargetSuggestion]:
    """Departments that accept referrals from the user's institution: up or down by tier,
    alliance partners (current memberships shared with the user's institution) first. For a
    signed resident going down, only their family-doctor team's institution."""
    own = user.institution
    if own is None:
        return []
    current = alliance_memberships_current(on=on or timezone.localdate())
    own_alliances = current.filter(institution=own).values("alliance_id")
    partner_alliances: dict[int, list[str]] = {}
    for institution_id, code in current.filter(alliance_id__in=own_alliances).values_list(
        "institution_id", "alliance__code"
    ):
        partner_alliances.setdefault(institution_id, []).append(code)

    team = team_institution_of(resident) if resident is not None else None
    departments = departments_accepting_referrals(specialty=specialty or None).exclude(
        institution=own
    )
    suggestions = []
    for department in departments:
        institution = department.institution
        dept_direction = ReferralDirection.between_tiers(own.tier, institution.tier)
        if dept_direction is None:  # lateral
            continue
        if direction and dept_direction != direction:
            continue
        if (
            dept_direction == ReferralDirection.DOWN
            and team is not None
            and institution.pk != team.pk
        ):
            continue
        alliances = sorted(partner_alliances.get(institution.pk, []))
        suggestions.append(
            TargetSuggestion(
                department=department,
                direction=dept_direction,
                alliance_partner=bool(alliances),
                alliances=alliances,
                team_institution=team is not None and institution.pk == team.pk,
            )
        )
    suggestions.sort(
        key=lambda s: (
            not s.team_institution,
            not s.alliance_partner,
            -s.department.institution.tier_level if s.direction == "up" else 0,
            s.department.institution.code,
            s.department.code,
        )
    )
    return suggestions


def reserved_slots_free(
    department_ids: Sequence[int], *, start: dt.date, days: int
) -> dict[int, int]:
    """Free reserved referral slots (预留号源) of each department over `days` days from `start`:
    a day not booked yet is free at the department's daily number (what booking would copy),
    a booked day has its capacity less its bookings (one query)."""
    end = start + dt.timedelta(days=days)
    per_day = dict(
        Department.objects.filter(pk__in=department_ids).values_list("pk", "referral_slots_per_day")
    )
    free = {pk: slots * days for pk, slots in per_day.items()}
    for department_id, capacity, booked in DepartmentDaySlots.objects.filter(
        department_id__in=department_ids, date__gte=start, date__lt=end
    ).values_list("department_id", "capacity", "booked"):
        free[department_id] += capacity - booked - per_day[department_id]
    return free


# --- for the bureau reports (reports/kpis: grouped reads, never one query per unit) ----------


def report_referrals() -> QuerySet[Referral]:
    """Every referral, drafts included: each KPI states which step, in which period, counts."""
    return Referral.objects.all()


def report_referral_events(*, actions: Iterable[str]) -> QuerySet[ReferralEvent]:
    """Timeline events of the given actions (a KPI asks which move closed a loop, and when)."""
    return ReferralEvent.objects.filter(action__in=list(actions))


def report_day_slots(*, start: dt.date, end: dt.date) -> QuerySet[DepartmentDaySlots]:
    """Reserved-slot days in [start, end) (department joined)."""
    return DepartmentDaySlots.objects.filter(date__gte=start, date__lt=end).select_related(
        "department"
    )
