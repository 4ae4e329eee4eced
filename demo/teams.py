"""Demo family-doctor teams, the first part of the signing stage (demo/contracts.py).

TEAM_COUNT teams over the primary institutions: by district in proportion to the residents
living there, then evenly over the district's primary institutions. Each team has a GP lead, a
nurse and a public-health doctor from its institution's staff (created when missing) and a
specialist from a higher-tier hospital of the district when there is one. Deterministic for a
random generator.
"""

from __future__ import annotations

import random
import uuid
from collections import defaultdict

from django.db.models import Count

from healthnet.models import Institution, Practitioner, PractitionerRole, Resident, Tier, UserRole
from signing.models import DEFAULT_TEAM_CAPACITY, FamilyDoctorTeam, TeamMember, TeamMemberRole

TEAM_COUNT = 92
BATCH = 5000


def random_uuid(rng: random.Random) -> uuid.UUID:
    """A version-4 UUID drawn from the seeded generator: reproducible."""
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


def generate_teams(
    primaries: list[Institution], rng: random.Random
) -> tuple[list[FamilyDoctorTeam], int, int]:
    """Create the teams and their members; returns (teams, member rows, practitioners created)."""
    residents_by_district = dict(
        Resident.objects.values_list("district")
        .annotate(n=Count("pk"))
        .values_list("district__code", "n")
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
                public_id=random_uuid(rng),
                code=f"{institution.code}-t{k + 1:02d}"[:32],
                name=f"{institution.name}家庭医生团队{k + 1}",
                institution=institution,
                lead_id=gp,
                capacity=DEFAULT_TEAM_CAPACITY,
                service_area=area[index::TEAM_COUNT][:5] if area else [],
            )
            teams.append(team)
            # (practitioner, team role, home institution: a specialist's hospital, else None)
            picked: list[tuple[int, TeamMemberRole, int | None]] = [
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
            hospital_doctors = (
                specialists.get(institution.district_id) or specialists.get("*") or []
            )
            if hospital_doctors:
                doctor_id, hospital_id = hospital_doctors[rng.randrange(len(hospital_doctors))]
                picked.append((doctor_id, TeamMemberRole.SPECIALIST, hospital_id))
            seen = set()
            for practitioner_id, member_role, home_id in picked:
                if practitioner_id in seen:
                    continue
                seen.add(practitioner_id)
                member_rows.append(
                    TeamMember(
                        team=team,
                        practitioner_id=practitioner_id,
                        role=member_role,
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
        .values_list("institution__district__code", "practitioner_id", "institution_id")
    )
    for district, practitioner_id, institution_id in rows:
        found[district].append((practitioner_id, institution_id))
        found["*"].append((practitioner_id, institution_id))
    return found


def _communities_by_district() -> dict[str, list[str]]:
    rows = (
        Resident.objects.exclude(community="")
        .values_list("district__code", "community")
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
