"""Demo data of family-doctor signing, a stage of `generate_demo` (healthnet/demo).

- 92 teams over the primary institutions, by district in proportion to the residents living
  there, then evenly over the district's primary institutions; each team has a GP lead, a nurse,
  a public-health doctor from its institution's staff (created if missing) and a specialist from
  a higher-tier hospital of the district when there is one.
- Contracts for TARGET_SHARE of the residents (228,800 of 560,000 at city scale), key
  populations signed at a higher rate than others; each resident goes to a team of the
  institution they are registered at (else of their district), the least loaded one with room.
  Terms started within the last year (active or renewal_due); a share of them renewed an
  earlier term (the previous contract, status renewed, is in the chain).
- Follow-ups for the current contracts: those already due are mostly done (mostly on time).

Deterministic for a seed; COPY on PostgreSQL (bulk_create elsewhere); a second call adds
nothing.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import random
import uuid
from collections import defaultdict
from collections.abc import Callable

from django.db import connection
from django.db.models import Count, Q

from healthnet.models import (
    Institution,
    Practitioner,
    PractitionerRole,
    Resident,
    ResidentPopulationTag,
    Tier,
    User,
    UserRole,
)
from healthnet.populations import age_on, age_populations, birth_date_range_for_age_population
from signing.bulk import insert_objects
from signing.catalogue import service_packages_load
from signing.models import (
    ACTIVE_STATUSES,
    ADULT_AGE,
    DEFAULT_TEAM_CAPACITY,
    FOLLOWUP_ON_TIME_DAYS,
    Contract,
    ContractSource,
    ContractStatus,
    FamilyDoctorTeam,
    FollowUp,
    FollowUpStatus,
    PackageKind,
    ServicePackage,
    Signatory,
    SignatureMethod,
    TeamMember,
    TeamMemberRole,
)
from signing.services import team_member_add
from signing.terms import (
    contract_status_on,
    followup_plan,
    packages_with_items,
    term_end,
    terms_document,
    terms_hash,
)

TEAM_COUNT = 92
TARGET_SHARE = 228_800 / 560_000  # ≈ 40.9 %
KEY_POPULATION_RATE = 0.72  # signing rate of residents in a key population (others: lower)
RENEWED_SHARE = 0.35  # current contracts that renewed a previous term
FOLLOWUP_DONE_RATE = 0.82  # already-due follow-ups that were done
FOLLOWUP_ON_TIME_RATE = 0.88  # of those, done within FOLLOWUP_ON_TIME_DAYS
BATCH = 5000


def _uuid(rng: random.Random) -> uuid.UUID:
    return uuid.UUID(int=rng.getrandbits(128), version=4)


def _largest_remainder(weights: dict, total: int) -> dict:
    """Split `total` over keys in proportion to their weights (each key at least one)."""
    keys = list(weights)
    if not keys:
        return {}
    weight_sum = sum(weights.values()) or len(keys)
    raw = {k: total * (weights[k] or weight_sum / len(keys)) / weight_sum for k in keys}
    shares = {k: max(1, int(raw[k])) for k in keys}
    remainder = total - sum(shares.values())
    for k in sorted(keys, key=lambda k: raw[k] - int(raw[k]), reverse=True)[: max(0, remainder)]:
        shares[k] += 1
    return shares


def generate(*, seed: int, today: dt.date, log: Callable[[str], None]) -> dict[str, int]:
    counts = {"family_doctor_teams": 0, "team_members": 0, "contracts": 0, "follow_ups": 0}
    if FamilyDoctorTeam.objects.exists():
        log("signing: teams exist already, nothing added")
        return counts
    primaries = list(Institution.objects.filter(tier=Tier.PRIMARY, active=True).order_by("code"))
    if not primaries:
        log("signing: no primary institutions, skipped")
        return counts
    if not ServicePackage.objects.filter(kind=PackageKind.BASIC).exists():
        service_packages_load()
    # Separate streams: the contracts do not shift when, say, staff had to be created.
    team_rng = random.Random(f"{seed}:signing:teams")  # noqa: S311 - reproducible demo data
    rng = random.Random(f"{seed}:signing:contracts")  # noqa: S311
    teams, members, created_practitioners = _teams(primaries, team_rng)
    counts["family_doctor_teams"] = len(teams)
    counts["team_members"] = members
    if created_practitioners:
        counts["practitioners"] = created_practitioners
    contracts, follow_ups = _contracts(teams, rng, today)
    counts["contracts"] = contracts
    counts["follow_ups"] = follow_ups
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:  # statistics for the queries that follow
            cursor.execute(
                "ANALYZE signing_familydoctorteam, signing_teammember, signing_contract, "
                "signing_contract_packages, signing_followup"
            )
    return counts


# --- teams --------------------------------------------------------------------------------------


def _teams(
    primaries: list[Institution], rng: random.Random
) -> tuple[list[FamilyDoctorTeam], int, int]:
    residents_by_district = dict(
        Resident.objects.values_list("district")
        .annotate(n=Count("pk"))
        .values_list("district", "n")
    )
    by_district: dict[str, list[Institution]] = defaultdict(list)
    for institution in primaries:
        by_district[institution.district_id].append(institution)
    district_teams = _largest_remainder(
        {d: residents_by_district.get(d, 0) for d in by_district}, TEAM_COUNT
    )
    per_institution: dict[int, int] = {}
    for district, institutions in by_district.items():
        share = _largest_remainder({i.pk: 1 for i in institutions}, district_teams[district])
        per_institution.update(share)

    staff = _staff_by_institution()
    specialists = _specialists_by_district()
    communities = _communities_by_district()
    created_practitioners = 0
    teams: list[FamilyDoctorTeam] = []
    member_rows: list[TeamMember] = []
    district_team_index: dict[str, int] = defaultdict(int)
    for institution in primaries:
        roles = staff[institution.pk]
        for role in (UserRole.DOCTOR, UserRole.NURSE, UserRole.PUBLIC_HEALTH):
            if not roles[role]:
                roles[role] = [_practitioner_create(institution, role, rng)]
                created_practitioners += 1
        for k in range(per_institution.get(institution.pk, 0)):
            gp = roles[UserRole.DOCTOR][k % len(roles[UserRole.DOCTOR])]
            area = communities.get(institution.district_id) or []
            index = district_team_index[institution.district_id]
            district_team_index[institution.district_id] += 1
            team = FamilyDoctorTeam(
                public_id=_uuid(rng),
                code=f"{institution.code}-t{k + 1:02d}"[:32],
                name=f"{institution.name}家庭医生团队{k + 1}",
                institution=institution,
                lead_id=gp,
                capacity=DEFAULT_TEAM_CAPACITY,
                service_area=area[index::TEAM_COUNT][:5] if area else [],
            )
            teams.append(team)
            picked = [
                (gp, TeamMemberRole.GP, None),
                (
                    roles[UserRole.NURSE][k % len(roles[UserRole.NURSE])],
                    TeamMemberRole.NURSE,
                    None,
                ),
                (
                    roles[UserRole.PUBLIC_HEALTH][k % len(roles[UserRole.PUBLIC_HEALTH])],
                    TeamMemberRole.PUBLIC_HEALTH,
                    None,
                ),
            ]
            district = institution.district_id
            hospital_doctors = specialists.get(district) or specialists.get("*") or []
            if hospital_doctors:
                doctor_id, home_id = hospital_doctors[rng.randrange(len(hospital_doctors))]
                picked.append((doctor_id, TeamMemberRole.SPECIALIST, home_id))
            seen = set()
            for practitioner_id, role, home_id in picked:
                if practitioner_id in seen:
                    continue
                seen.add(practitioner_id)
                member_rows.append(
                    TeamMember(
                        team=team,
                        practitioner_id=practitioner_id,
                        role=role,
                        home_institution_id=home_id,
                    )
                )
    FamilyDoctorTeam.objects.bulk_create(teams)
    TeamMember.objects.bulk_create(member_rows, batch_size=BATCH)
    return teams, len(member_rows), created_practitioners


def _staff_by_institution() -> dict[int, dict[str, list[int]]]:
    staff: dict[int, dict[str, list[int]]] = defaultdict(lambda: defaultdict(list))
    rows = (
        PractitionerRole.objects.filter(
            active=True,
            institution__tier=Tier.PRIMARY,
            role__in=[UserRole.DOCTOR, UserRole.NURSE, UserRole.PUBLIC_HEALTH],
        )
        .order_by("institution_id", "role", "practitioner_id")
        .values_list("institution_id", "role", "practitioner_id")
    )
    for institution_id, role, practitioner_id in rows:
        if practitioner_id not in staff[institution_id][role]:
            staff[institution_id][role].append(practitioner_id)
    return staff


def _specialists_by_district() -> dict[str, list[tuple[int, int]]]:
    """(practitioner, hospital) doctors of higher-tier hospitals, by district ("*" = any)."""
    found: dict[str, list[tuple[int, int]]] = defaultdict(list)
    rows = (
        PractitionerRole.objects.filter(active=True, role=UserRole.DOCTOR)
        .exclude(institution__tier=Tier.PRIMARY)
        .order_by("practitioner_id")
        .values_list("institution__district", "practitioner_id", "institution_id")
    )
    for district, practitioner_id, institution_id in rows:
        found[district].append((practitioner_id, institution_id))
        found["*"].append((practitioner_id, institution_id))
    return found


def _communities_by_district() -> dict[str, list[str]]:
    rows = (
        Resident.objects.exclude(community="")
        .values_list("district", "community")
        .distinct()
        .order_by("district", "community")
    )
    found: dict[str, list[str]] = defaultdict(list)
    for district, community in rows:
        found[district].append(community)
    return found


def _practitioner_create(institution: Institution, role: str, rng: random.Random) -> int:
    number = rng.randrange(10**9)
    practitioner = Practitioner.objects.create(
        name=f"{institution.name[:6]}{UserRole(role).label}",
        sex="female" if rng.random() < 0.6 else "male",
        title="",
        license_number=f"DEMO-SIGN-{institution.code}-{role}-{number}"[:40],
    )
    PractitionerRole.objects.create(practitioner=practitioner, institution=institution, role=role)
    return practitioner.pk


# --- contracts and follow-ups -------------------------------------------------------------------


def _key_population_share(today: dt.date) -> float:
    total = Resident.objects.count()
    if total == 0:
        return 0.0
    _, elderly_until = birth_date_range_for_age_population("elderly_65", today)
    child_from, _ = birth_date_range_for_age_population("child_0_6", today)
    tagged = ResidentPopulationTag.objects.values("resident_id")
    key = Resident.objects.filter(
        Q(birth_date__lte=elderly_until) | Q(birth_date__gte=child_from) | Q(pk__in=tagged)
    ).count()
    return key / total


class _Placement:
    """Which team a resident signs with: their registering primary institution's teams, else
    their district's; the least loaded team with room."""

    def __init__(self, teams: list[FamilyDoctorTeam]) -> None:
        self.load = {t.pk: 0 for t in teams}
        self.capacity = {t.pk: t.capacity for t in teams}
        self.by_institution: dict[int, list[int]] = defaultdict(list)
        self.by_district: dict[str, list[int]] = defaultdict(list)
        for t in teams:
            self.by_institution[t.institution_id].append(t.pk)
            self.by_district[t.institution.district_id].append(t.pk)
        self.all = [t.pk for t in teams]

    def team_for(self, institution_id: int | None, district: str) -> int | None:
        for candidates in (
            self.by_institution.get(institution_id or -1),
            self.by_district.get(district),
            self.all,
        ):
            if not candidates:
                continue
            team_id = min(candidates, key=lambda pk: self.load[pk])
            if self.load[team_id] < self.capacity[team_id]:
                self.load[team_id] += 1
                return team_id
        return None


def _contracts(
    teams: list[FamilyDoctorTeam], rng: random.Random, today: dt.date
) -> tuple[int, int]:
    catalogue = {
        p.code: p
        for p in ServicePackage.objects.filter(active=True).prefetch_related(packages_with_items())
    }
    basic = next(p for p in catalogue.values() if p.kind == PackageKind.BASIC)
    by_population = {
        p.eligible_population: p for p in catalogue.values() if p.kind == PackageKind.PERSONALISED
    }
    team_by_pk = {t.pk: t for t in teams}
    tags: dict[int, set[str]] = defaultdict(set)
    for resident_id, population in ResidentPopulationTag.objects.values_list(
        "resident_id", "population"
    ).iterator(chunk_size=BATCH):
        tags[resident_id].add(population)

    key_share = _key_population_share(today)
    key_rate = min(KEY_POPULATION_RATE, TARGET_SHARE / key_share) if key_share else 0.0
    other_rate = (TARGET_SHARE - key_share * key_rate) / (1 - key_share) if key_share < 1 else 0.0
    other_rate = max(0.0, min(1.0, other_rate))
    placement = _Placement(teams)
    # (contract, its packages, renewed an earlier term?, the resident's public id)
    pending: list[tuple[Contract, list[ServicePackage], bool, uuid.UUID]] = []
    totals = [0, 0]

    def flush() -> None:
        contracts, follow_ups = _write(pending, rng, today)
        totals[0] += contracts
        totals[1] += follow_ups
        pending.clear()

    residents = (
        Resident.objects.order_by("pk")
        .values_list("pk", "public_id", "birth_date", "district", "registered_by_id")
        .iterator(chunk_size=BATCH)
    )
    for resident_id, public_id, birth_date, district, registered_by_id in residents:
        start = today - dt.timedelta(days=rng.randrange(365))
        populations = tags.get(resident_id, set()) | set(age_populations(birth_date, start))
        if rng.random() >= (key_rate if populations else other_rate):
            continue
        team_id = placement.team_for(registered_by_id, district)
        if team_id is None:
            continue
        team = team_by_pk[team_id]
        packages = [basic] + [by_population[p] for p in sorted(populations) if p in by_population]
        minor = age_on(birth_date, start) < ADULT_AGE
        contract = _contract(
            rng,
            resident_id=resident_id,
            resident_public_id=public_id,
            team=team,
            start=start,
            packages=packages,
            minor=minor,
            today=today,
        )
        pending.append((contract, packages, rng.random() < RENEWED_SHARE, public_id))
        if len(pending) >= BATCH:
            flush()
    if pending:
        flush()
    return totals[0], totals[1]


def _contract(
    rng: random.Random,
    *,
    resident_id: int,
    resident_public_id: uuid.UUID,
    team: FamilyDoctorTeam,
    start: dt.date,
    packages: list[ServicePackage],
    minor: bool,
    today: dt.date,
    status: str | None = None,
) -> Contract:
    end = term_end(start)
    if minor:
        method = SignatureMethod.GUARDIAN
    else:
        method = SignatureMethod.E_SIGNATURE if rng.random() < 0.3 else SignatureMethod.IN_PERSON
    contract = Contract(
        public_id=_uuid(rng),
        resident_id=resident_id,
        team=team,
        start_date=start,
        end_date=end,
        status=status or contract_status_on(start, end, today),
        signed_by=Signatory.GUARDIAN if minor else Signatory.RESIDENT,
        signature_method=method,
        guardian_name="监护人" if minor else "",
        guardian_relationship="父母" if minor else "",
        guardian_national_id_hash=(
            hashlib.sha256(f"demo-guardian:{resident_id}".encode()).hexdigest() if minor else ""
        ),
        signed_at=dt.datetime.combine(
            start - dt.timedelta(days=rng.randrange(3)),
            dt.time(9 + rng.randrange(8), rng.randrange(60)),
            tzinfo=dt.UTC,
        ),
        source=ContractSource.DEMO,
    )
    contract.terms_hash = terms_hash(
        terms_document(
            contract_id=str(contract.public_id),
            resident_id=str(resident_public_id),
            team_code=team.code,
            start_date=start,
            end_date=end,
            packages=packages,
        )
    )
    return contract


def _write(
    pending: list[tuple[Contract, list[ServicePackage], bool, uuid.UUID]],
    rng: random.Random,
    today: dt.date,
) -> tuple[int, int]:
    previous: list[Contract] = []
    for contract, packages, renewed, resident_public_id in pending:
        if not renewed:
            continue
        start = _year_before(contract.start_date)
        old = _contract(
            rng,
            resident_id=contract.resident_id,
            resident_public_id=resident_public_id,
            team=contract.team,
            start=start,
            packages=packages,
            minor=contract.signed_by == Signatory.GUARDIAN,
            today=today,
            status=ContractStatus.RENEWED,
        )
        old.end_date = contract.start_date - dt.timedelta(days=1)
        previous.append(old)
        contract.previous_contract = old
    insert_objects(Contract, previous)
    for contract, *_ in pending:
        if contract.previous_contract is not None:
            contract.previous_contract_id = contract.previous_contract.pk
    insert_objects(Contract, [c for c, *_ in pending])
    through = Contract.packages.through
    links = [
        through(contract_id=c.pk, servicepackage_id=p.pk)
        for c, packages, *_ in pending
        for p in packages
    ]
    links += [
        through(contract_id=c.previous_contract_id, servicepackage_id=p.pk)
        for c, packages, *_ in pending
        if c.previous_contract_id
        for p in packages
    ]
    insert_objects(through, links)
    follow_ups: list[FollowUp] = []
    for contract, packages, *_ in pending:
        if contract.status not in ACTIVE_STATUSES:
            continue
        for item, due in followup_plan(contract.start_date, contract.end_date, packages):
            row = FollowUp(public_id=_uuid(rng), contract_id=contract.pk, item=item, due_date=due)
            if due < today and rng.random() < FOLLOWUP_DONE_RATE:
                on_time = rng.random() < FOLLOWUP_ON_TIME_RATE
                late = (
                    rng.randrange(-7, FOLLOWUP_ON_TIME_DAYS + 1)
                    if on_time
                    else rng.randrange(FOLLOWUP_ON_TIME_DAYS + 1, 60)
                )
                done_on = min(today, due + dt.timedelta(days=late))
                row.status = FollowUpStatus.DONE
                row.done_at = dt.datetime.combine(
                    done_on, dt.time(2 + rng.randrange(8)), tzinfo=dt.UTC
                )
                row.done_on_time = done_on <= due + dt.timedelta(days=FOLLOWUP_ON_TIME_DAYS)
                row.outcome = "随访完成，情况稳定" if on_time else "随访完成(延迟)"
            follow_ups.append(row)
    insert_objects(FollowUp, follow_ups)
    return len(pending) + len(previous), len(follow_ups)


def _year_before(day: dt.date) -> dt.date:
    try:
        return day.replace(year=day.year - 1)
    except ValueError:
        return day.replace(year=day.year - 1, day=28)


# The demo logins of a primary institution (healthnet.demo_accounts) join its first team, so a
# demo GP sees their own team's residents, contracts and follow-ups.
DEMO_LOGIN_TEAM_ROLES = {
    "clinic-doctor": TeamMemberRole.GP,
    "clinic-nurse": TeamMemberRole.NURSE,
    "clinic-public-health": TeamMemberRole.PUBLIC_HEALTH,
}


def demo_logins_join_teams() -> list[str]:
    """Idempotent. Returns a line per login that is now a team member."""
    joined = []
    for username, role in DEMO_LOGIN_TEAM_ROLES.items():
        user = User.objects.filter(username=username).select_related("practitioner").first()
        if user is None or user.practitioner is None or user.institution_id is None:
            continue
        team = FamilyDoctorTeam.objects.filter(institution_id=user.institution_id).order_by("code")
        team = team.first()
        if team is None:
            continue
        team_member_add(actor=None, team=team, practitioner=user.practitioner, role=role)
        joined.append(f"{username} → {team.name}")
    return joined
