"""Reads of the network that matter, with their joins decided here once."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable, Iterable

from django.db.models import Prefetch, Q, QuerySet
from django.utils import timezone

from healthnet import permissions
from healthnet.errors import Forbidden, InvalidInput, NotFound
from healthnet.models import (
    Alliance,
    AllianceMembership,
    Department,
    District,
    Encounter,
    EncounterKind,
    Guardianship,
    Institution,
    Resident,
    ResidentPopulationTag,
    ResidentRegistration,
    User,
)
from healthnet.national_id import national_id_hash, parse_national_id
from healthnet.phones import mobile_normalized_or_none, mobile_spellings
from healthnet.rate_limits import national_id_lookup_count


def district_by_code(code: str, *, active_only: bool = False) -> District:
    """The loaded district with this code (any the network file has ever listed; with
    `active_only`, only those in the file loaded last). A district code is a value the caller
    sends, so an unknown one is bad input: InvalidInput `district_unknown` (422)."""
    districts = District.objects.filter(active=True) if active_only else District.objects.all()
    district = districts.filter(code=code).first()
    if district is None:
        raise InvalidInput(
            "district_unknown", f"未知的区: {code} (unknown district)", field="district"
        )
    return district


def districts_active() -> QuerySet[District]:
    """The city's districts as the network file loaded last lists them, by code."""
    return District.objects.filter(active=True).order_by("code")


def institutions_filtered(
    *,
    tier: str | None = None,
    district: str | None = None,
    alliance: str | None = None,
    on: dt.date | None = None,
) -> QuerySet[Institution]:
    """Active institutions, optionally of one tier and district (a loaded district's code, else
    `district_unknown`), each with its alliance memberships current `on` (default today) in
    `current_memberships`; `alliance` keeps the institutions currently in that alliance."""
    if district:
        district_by_code(district)
    current = alliance_memberships_current(on=on or timezone.localdate())
    qs = Institution.objects.filter(active=True)
    if tier:
        qs = qs.filter(tier=tier)
    if district:
        qs = qs.filter(district_id=district)
    if alliance:
        qs = qs.filter(pk__in=current.filter(alliance__code=alliance).values("institution_id"))
    return qs.prefetch_related(
        Prefetch(
            "alliance_memberships",
            queryset=current.select_related("alliance"),
            to_attr="current_memberships",
        )
    ).order_by("code")


def institution_detail(*, code: str) -> Institution:
    institution = (
        institutions_filtered()
        .prefetch_related(Prefetch("departments", queryset=Department.objects.order_by("code")))
        .filter(code=code)
        .first()
    )
    if institution is None:
        raise NotFound("institution_not_found", f"机构不存在: {code} (no such institution)")
    return institution


def alliances_with_members() -> QuerySet[Alliance]:
    return Alliance.objects.prefetch_related(
        Prefetch(
            "memberships",
            queryset=AllianceMembership.objects.select_related("institution").order_by(
                "role", "institution__code"
            ),
        )
    ).order_by("code")


def alliance_detail(*, code: str) -> Alliance:
    alliance = alliances_with_members().filter(code=code).first()
    if alliance is None:
        raise NotFound("alliance_not_found", f"医联体不存在: {code} (no such alliance)")
    return alliance


def resident_not_found() -> NotFound:
    """The one answer for a resident who does not exist *or* is out of the caller's scope: the
    same code and message, so a refusal tells nothing of who exists (docs/design.md §9)."""
    return NotFound("resident_not_found", "居民不存在 (no such resident)")


def resident_by_public_id(public_id: uuid.UUID | str) -> Resident:
    resident = (
        Resident.objects.select_related("registered_by")
        .prefetch_related("population_tags")
        .filter(public_id=public_id)
    ).first()
    if resident is None:
        raise resident_not_found()
    return resident


def resident_visible_to(user: User, public_id: uuid.UUID | str) -> Resident:
    """The resident, if the user may read them (healthnet.permissions.can_view_resident);
    otherwise exactly the 404 of a resident who does not exist."""
    resident = resident_by_public_id(public_id)
    related = resident_related_to_institution(resident, user.institution_id)
    if not permissions.can_view_resident(user, resident, related_to_institution=related):
        raise resident_not_found()
    return resident


def resident_by_national_id(national_id: str, *, by: User) -> Resident:
    """Exact lookup by the ID number through its keyed hash; nothing is decrypted to search.
    Counted against `by`'s rate limit first (healthnet/rate_limits.py: 429 past it): every
    answer, found or not, tells whether the number is a resident's."""
    national_id_lookup_count(by)
    identity = parse_national_id(national_id)
    resident = (
        Resident.objects.select_related("registered_by")
        .prefetch_related("population_tags")
        .filter(national_id_hash=national_id_hash(identity.number))
        .first()
    )
    if resident is None:
        raise NotFound("resident_not_found", "未找到该身份证号码的居民 (no resident with this ID)")
    return resident


# Other apps add what else ties a resident to an institution (a contract with one of its teams,
# a referral in or out) from their AppConfig.ready(); the network app needs to know none of them.
RESIDENT_RELATION_CHECKS: list[Callable[[Resident, int], bool]] = []


def resident_related_to_institution(resident: Resident, institution_id: int | None) -> bool:
    """Does this resident concern the institution: registered there, visited it, or anything an
    app registered in RESIDENT_RELATION_CHECKS. Cheapest checks first."""
    if institution_id is None:
        return False
    if resident.registered_by_id == institution_id:
        return True
    if Encounter.objects.filter(Q(resident=resident) & Q(institution_id=institution_id)).exists():
        return True
    return any(check(resident, institution_id) for check in RESIDENT_RELATION_CHECKS)


def encounters_of_resident_at(
    *, resident: Resident, institution_id: int | None
) -> QuerySet[Encounter]:
    """The resident's visits to one institution (what its staff may see of them: docs/design.md
    §9), newest first, department joined. None without an institution."""
    if institution_id is None:
        return Encounter.objects.none()
    return (
        Encounter.objects.filter(resident=resident, institution_id=institution_id)
        .select_related("department")
        .order_by("-started_at", "-pk")
    )


# --- alliance memberships ------------------------------------------------------------------


def alliance_memberships_current(*, on: dt.date) -> QuerySet[AllianceMembership]:
    """The memberships in force on the day `on`: started on or before it and not yet ended
    (`end_date` is the first day outside the alliance). The one meaning of "current" for the
    directory, referral routing and escalation."""
    return AllianceMembership.objects.filter(
        Q(start_date__lte=on) & (Q(end_date__isnull=True) | Q(end_date__gt=on))
    )


# --- departments and staff, for the apps above the network ---------------------------------


def department_by_public_id(public_id: uuid.UUID | str) -> Department:
    """One department by its public id, with its institution; 404 `department_not_found`."""
    department = (
        Department.objects.select_related("institution").filter(public_id=public_id).first()
    )
    if department is None:
        raise NotFound("department_not_found", "科室不存在 (no such department)")
    return department


def departments_accepting_referrals(*, specialty: str | None = None) -> QuerySet[Department]:
    """Departments that accept referrals, at active institutions (institution joined)."""
    qs = Department.objects.filter(accepts_referrals=True, institution__active=True)
    if specialty:
        qs = qs.filter(specialty=specialty)
    return qs.select_related("institution")


def departments_of_institution(institution_id: int) -> QuerySet[Department]:
    """An institution's departments, those accepting referrals first, then by code."""
    return Department.objects.filter(institution_id=institution_id).order_by(
        "-accepts_referrals", "code"
    )


def users_active_with_role(*, institution_ids: Iterable[int], role: str) -> QuerySet[User]:
    """The active logins of a role at the given institutions, in a stable order."""
    return User.objects.filter(
        institution_id__in=list(institution_ids), role=role, is_active=True
    ).order_by("pk")


def user_of_practitioner(practitioner_id: int | None) -> User | None:
    """The active login of a practitioner, if they have one."""
    if practitioner_id is None:
        return None
    return User.objects.filter(practitioner_id=practitioner_id, is_active=True).first()


# --- residents' own access: phone sign-in, guardianships ------------------------------------


def residents_by_phone(number: str) -> list[Resident]:
    """The residents whose record carries this mobile number (normalised, 11 digits), however
    the desk typed it: phone sign-in links a login only to such a record."""
    candidates = Resident.objects.filter(phone__in=mobile_spellings(number)).order_by("pk")
    return [r for r in candidates if mobile_normalized_or_none(r.phone) == number]


def resident_of_login(user: User) -> Resident:
    """The resident a resident login acts for. Callers have checked the role; a login without a
    resident (a constraint forbids it for the resident role) is refused as not a resident."""
    if user.resident is None:
        raise Forbidden("residents_only", "仅居民本人可使用 (for residents only)")
    return user.resident


def resident_login(resident: Resident) -> User | None:
    """The resident's own login, if they have one."""
    return User.objects.filter(resident=resident).first()


def guardianship_not_found() -> NotFound:
    return NotFound("guardianship_not_found", "照护关系不存在 (no such guardianship)")


def guardianships_of_ward(ward: Resident, *, current_only: bool = True) -> QuerySet[Guardianship]:
    """Who cares for the resident (current ones; with `current_only=False` the revoked too,
    newest first), with the guardian and where it was registered."""
    qs = Guardianship.objects.filter(ward=ward)
    if current_only:
        qs = qs.filter(revoked_at__isnull=True)
    return qs.select_related("guardian", "institution", "registered_by").order_by(
        "-registered_at", "-pk"
    )


def wards_of_guardian(guardian: Resident) -> QuerySet[Guardianship]:
    """The residents this one is currently registered to care for, oldest registration first."""
    return (
        Guardianship.objects.filter(guardian=guardian, revoked_at__isnull=True)
        .select_related("ward")
        .order_by("registered_at", "pk")
    )


def ward_of_guardian(guardian: Resident, ward_public_id: uuid.UUID | str) -> Resident:
    """A resident the guardian currently cares for; for anyone else exactly the 404 of a
    resident who does not exist (a guardian learns nothing of other residents)."""
    guardianship = wards_of_guardian(guardian).filter(ward__public_id=ward_public_id).first()
    if guardianship is None:
        raise resident_not_found()
    return guardianship.ward


def guardianship_by_public_id(public_id: uuid.UUID | str) -> Guardianship:
    guardianship = (
        Guardianship.objects.select_related("guardian", "ward", "institution")
        .filter(public_id=public_id)
        .first()
    )
    if guardianship is None:
        raise guardianship_not_found()
    return guardianship


# --- for the bureau reports (reports/kpis: grouped reads, never one query per unit) ----------


def report_districts() -> QuerySet[District]:
    """Every district ever loaded (inactive ones keep their history), by code."""
    return District.objects.order_by("code")


def report_institutions() -> QuerySet[Institution]:
    """Every institution, active or not (a closed one keeps its history), by code."""
    return Institution.objects.order_by("code")


def report_alliances() -> QuerySet[Alliance]:
    return Alliance.objects.order_by("code")


def report_memberships_overlapping(*, start: dt.date, end: dt.date) -> QuerySet[AllianceMembership]:
    """Memberships in force on at least one day of [start, end) (alliance joined): a report
    attributes each event to the alliances current on its day (alliance_memberships_current)."""
    return (
        AllianceMembership.objects.filter(start_date__lt=end)
        .filter(Q(end_date__isnull=True) | Q(end_date__gt=start))
        .select_related("alliance")
    )


def report_encounters(*, start: dt.datetime, end: dt.datetime) -> QuerySet[Encounter]:
    """Visits started in [start, end)."""
    return Encounter.objects.filter(started_at__gte=start, started_at__lt=end)


def report_departments_with_slots() -> QuerySet[Department]:
    """Departments that accept referrals and reserve slots for them (预留号源)."""
    return Department.objects.filter(accepts_referrals=True, referral_slots_per_day__gt=0)


# --- the register over time (docs/design.md §3, §7) ---------------------------------------------


def residents_registered_on(day: dt.date) -> QuerySet[ResidentRegistration]:
    """The register as it was on `day`: one registration period per resident on the register
    that day (`resident_id`, `district_id` = the district they were registered in on that day).
    A resident who moved district counts in the district of that day; one who moved away or died
    before `day` (their period ended) or registered after it does not count; the day of death
    still counts. Group it: `.values("district_id").annotate(n=Count("resident_id"))`."""
    return ResidentRegistration.objects.filter(valid_from__lte=day).filter(
        Q(valid_to__isnull=True) | Q(valid_to__gte=day)
    )


def resident_district_on(resident: Resident, day: dt.date) -> str | None:
    """The district code the resident was registered in on `day`, or None (not on the register)."""
    return (
        residents_registered_on(day)
        .filter(resident=resident)
        .values_list("district__code", flat=True)  # the same column (district_id is the code)
        .first()
    )


def population_tags_on(day: dt.date) -> QuerySet[ResidentPopulationTag]:
    """The registry key-population tags valid on `day` (`resident_id`, `population`): at most one
    row per resident × population (a tag without a start counts for every day up to its end).
    The age groups (65+, 0–6) are not tags: derive them from the
    birth date on the day (healthnet.populations). Not filtered by the register: combine with
    `residents_registered_on(day)` (e.g. `resident_id__in=...values("resident_id")`)."""
    return ResidentPopulationTag.objects.filter(
        Q(valid_from__isnull=True) | Q(valid_from__lte=day),
        Q(valid_to__isnull=True) | Q(valid_to__gte=day),
    )


def inpatient_discharges(start: dt.datetime, end: dt.datetime) -> QuerySet[Encounter]:
    """Inpatient stays discharged in [start, end) (出院人次, the denominator of the inpatient
    downward share), with `institution_id`. Pass aware datetimes (Asia/Shanghai midnights)."""
    return Encounter.objects.filter(
        kind=EncounterKind.INPATIENT, discharged_at__gte=start, discharged_at__lt=end
    )


def registrations_of_resident(resident: Resident) -> QuerySet[ResidentRegistration]:
    """The resident's registration periods, oldest first."""
    return ResidentRegistration.objects.filter(resident=resident).order_by("valid_from", "pk")


def encounter_at_institution(
    public_id: uuid.UUID | str, *, institution_id: int | None
) -> Encounter | None:
    """A visit at the institution (with its resident and institution), or None for any other."""
    if institution_id is None:
        return None
    return (
        Encounter.objects.select_related("resident", "institution")
        .filter(public_id=public_id, institution_id=institution_id)
        .first()
    )
