"""Demo data of family-doctor signing, a stage of `generate_demo` (demo/generator.py).

- 92 teams over the primary institutions (demo/teams.py).
- Contracts for TARGET_SHARE of the residents (228,800 of 560,000 at city scale), key
  populations signed at a higher rate than others; each resident goes to a team of the
  institution they are registered at (else of their district), the least loaded one with room.
  Terms started within the last year (active or renewal_due); a share of them renewed an
  earlier term (the previous contract, status renewed, is in the chain).
- Follow-ups for the current contracts: those already due are mostly done (mostly on time).

Dates, statuses, terms, the follow-up plan and the on-time flag come from signing/terms.py, as
for the services and the import. Deterministic for a seed; written through healthnet/bulk.py
(COPY on PostgreSQL, bulk_create elsewhere); a second call adds nothing.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import random
import uuid
from collections import defaultdict
from collections.abc import Callable

from django.db import connection
from django.db.models import Q
from django.utils import timezone

from demo.people import years_before
from demo.teams import generate_teams, random_uuid
from healthnet.bulk import objects_insert
from healthnet.errors import Conflict
from healthnet.models import Institution, Resident, ResidentPopulationTag, Tier
from healthnet.populations import birth_date_range_for_age_population
from signing import rules
from signing.catalogue import service_packages_load
from signing.models import (
    ACTIVE_STATUSES,
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
)
from signing.terms import (
    contract_status_on,
    followup_plan,
    package_facts,
    packages_with_items,
    term_end,
    terms_document,
    terms_hash,
)

TARGET_SHARE = 228_800 / 560_000  # ≈ 40.9 %
KEY_POPULATION_RATE = 0.72  # signing rate of residents in a key population (others: lower)
RENEWED_SHARE = 0.35  # current contracts that renewed a previous term
FOLLOWUP_DONE_RATE = 0.82  # already-due follow-ups that were done
FOLLOWUP_ON_TIME_RATE = 0.88  # of those, done within FOLLOWUP_ON_TIME_DAYS
BATCH = 5000


def generate_signing(*, seed: int, today: dt.date, log: Callable[[str], None]) -> dict[str, int]:
    """Teams, contracts and follow-ups on the residents and staff there are; returns the rows
    created (zeros when teams exist already)."""
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
    teams, members, created_practitioners = generate_teams(primaries, team_rng)
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
            try:
                rules.team_room_check(
                    team_code=str(team_id), load=self.load[team_id], capacity=self.capacity[team_id]
                )
            except Conflict:  # the least loaded team is full: every candidate is
                continue
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
    facts = {code: package_facts(p) for code, p in catalogue.items()}
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
        .values_list("pk", "public_id", "birth_date", "district__code", "registered_by_id")
        .iterator(chunk_size=BATCH)
    )
    for resident_id, public_id, birth_date, district, registered_by_id in residents:
        start = today - dt.timedelta(days=rng.randrange(365))
        populations = rules.key_populations(
            tags.get(resident_id, ()), birth_date, rules.eligibility_day(start=start, today=today)
        )
        if rng.random() >= (key_rate if populations else other_rate):
            continue
        team_id = placement.team_for(registered_by_id, district)
        if team_id is None:
            continue
        team = team_by_pk[team_id]
        packages = [catalogue[code] for code in rules.packages_offered(facts, populations)]
        minor = rules.needs_guardian(birth_date=birth_date, on=start)
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
        public_id=random_uuid(rng),
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
        # The term this contract renewed: a renewal starts the day after the old term's end
        # (signing.services contract_renew), so the old term started a year earlier.
        old = _contract(
            rng,
            resident_id=contract.resident_id,
            resident_public_id=resident_public_id,
            team=contract.team,
            start=years_before(contract.start_date, 1),
            packages=packages,
            minor=contract.signed_by == Signatory.GUARDIAN,
            today=today,
            status=ContractStatus.RENEWED,
        )
        previous.append(old)
        contract.previous_contract = old
    objects_insert(Contract, previous)
    for contract, *_ in pending:
        if contract.previous_contract is not None:
            contract.previous_contract_id = contract.previous_contract.pk
    objects_insert(Contract, [c for c, *_ in pending])
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
    objects_insert(through, links)
    follow_ups: list[FollowUp] = []
    for contract, packages, *_ in pending:
        if contract.status not in ACTIVE_STATUSES:
            continue
        for item, due in followup_plan(contract.start_date, contract.end_date, packages):
            row = FollowUp(
                public_id=random_uuid(rng), contract_id=contract.pk, item=item, due_date=due
            )
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
                row.done_on_time = rules.followup_on_time(
                    due_date=due, done_on=timezone.localdate(row.done_at)
                )
                row.outcome = "随访完成，情况稳定" if on_time else "随访完成(延迟)"
            follow_ups.append(row)
    objects_insert(FollowUp, follow_ups)
    return len(pending) + len(previous), len(follow_ups)
