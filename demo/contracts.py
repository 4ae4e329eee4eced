"""Demo data of family-doctor signing, a stage of `generate_demo` (demo/generator.py).

- 92 teams over the primary institutions (demo/teams.py).
- Contracts for TARGET_SHARE of the residents (228,800 of 560,000 at city scale), key
  populations signed at a higher rate than others; each resident goes to a team of the
  institution they are registered at (else of their district), the least loaded one with room.
  Terms started within the last year (active or renewal_due); most of them renewed an
  earlier term, and most of those a term before that (the chain, status renewed): coverage
  grows over the two years the reports show rather than starting from nothing.
- Follow-ups for the current terms and the renewed ones: those already due are mostly done
  (mostly on time).
- A resident who died or moved away (demo/register.py) and had signed has the contract
  terminated that day (reason died / moved away); one who left before the term would have
  started did not sign. EXPIRED_SHARE of the others let a contract expire in the last two years.
- Every contract's dated timeline (ContractEvent: signing, renewal notice, renewal, expiry,
  termination) from its dates, on the days the services and the periodic jobs would have moved
  it (signing.history.events_from_dates).

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
from healthnet.models import (
    Institution,
    RegistrationEnd,
    Resident,
    ResidentPopulationTag,
    ResidentRegistration,
    Tier,
)
from healthnet.populations import birth_date_range_for_age_population
from signing import rules
from signing.catalogue import service_packages_load
from signing.history import DEMO, RENEWAL_OF, events_from_dates
from signing.models import (
    ACTIVE_STATUSES,
    FOLLOWUP_ON_TIME_DAYS,
    Contract,
    ContractEvent,
    ContractSource,
    ContractStatus,
    FamilyDoctorTeam,
    FollowUp,
    FollowUpStatus,
    PackageKind,
    ServicePackage,
    Signatory,
    SignatureMethod,
    TerminationReason,
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
RENEWED_SHARE = 0.8  # current contracts that renewed a previous term
SECOND_TERM_SHARE = 0.6  # of those, whose previous term had renewed one too
FOLLOWUP_DONE_RATE = 0.82  # already-due follow-ups that were done
FOLLOWUP_ON_TIME_RATE = 0.88  # of those, done within FOLLOWUP_ON_TIME_DAYS
EXPIRED_SHARE = 0.06  # residents not signed now whose earlier contract expired
BATCH = 5000


def generate_signing(*, seed: int, today: dt.date, log: Callable[[str], None]) -> dict[str, int]:
    """Teams, contracts and follow-ups on the residents and staff there are; returns the rows
    created (zeros when teams exist already)."""
    counts = {
        "family_doctor_teams": 0,
        "team_members": 0,
        "contracts": 0,
        "follow_ups": 0,
        "contract_events": 0,
    }
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
    contracts, follow_ups, events = _contracts(teams, rng, today)
    counts["contracts"] = contracts
    counts["follow_ups"] = follow_ups
    counts["contract_events"] = events
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:  # statistics for the queries that follow
            cursor.execute(
                "ANALYZE signing_familydoctorteam, signing_teammember, signing_contract, "
                "signing_contract_packages, signing_followup, signing_contractevent"
            )
    return counts


# --- contracts and follow-ups -------------------------------------------------------------------


def _key_population_share(today: dt.date) -> float:
    total = Resident.objects.count()
    if total == 0:
        return 0.0
    _, elderly_until = birth_date_range_for_age_population("elderly_65", today)
    child_from, _ = birth_date_range_for_age_population("child_0_6", today)
    tagged = ResidentPopulationTag.objects.filter(valid_to__isnull=True).values("resident_id")
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

    def release(self, team_id: int) -> None:
        """The contract placed there holds no place (it ended)."""
        self.load[team_id] -= 1

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


def _left_register() -> dict[int, tuple[dt.date, str]]:
    """resident id → (the last day on the register, why) for those who died or moved away."""
    return {
        resident_id: (last_day, reason)
        for resident_id, last_day, reason in ResidentRegistration.objects.filter(
            ended_reason__in=[RegistrationEnd.DIED, RegistrationEnd.MOVED_AWAY]
        )
        .values_list("resident_id", "valid_to", "ended_reason")
        .iterator(chunk_size=BATCH)
        if last_day is not None  # an ended period has its last day
    }


def _terminate(contract: Contract, left: tuple[dt.date, str], today: dt.date) -> None:
    """The contract ends when the resident left: on the day of death, or the day they moved."""
    last_day, reason = left
    day = last_day if reason == RegistrationEnd.DIED else last_day + dt.timedelta(days=1)
    day = min(day, today)
    contract.status = ContractStatus.TERMINATED
    contract.terminated_reason = (
        TerminationReason.DIED if reason == RegistrationEnd.DIED else TerminationReason.MOVED_AWAY
    )
    contract.terminated_note = "演示数据 (demo data)"
    ended = dt.datetime.combine(day, dt.time(10), tzinfo=timezone.get_current_timezone())
    contract.terminated_at = max(ended, contract.signed_at) if contract.signed_at else ended


def _contracts(
    teams: list[FamilyDoctorTeam], rng: random.Random, today: dt.date
) -> tuple[int, int, int]:
    catalogue = {
        p.code: p
        for p in ServicePackage.objects.filter(active=True).prefetch_related(packages_with_items())
    }
    facts = {code: package_facts(p) for code, p in catalogue.items()}
    team_by_pk = {t.pk: t for t in teams}
    tags: dict[int, set[str]] = defaultdict(set)
    for resident_id, population in (
        ResidentPopulationTag.objects.filter(valid_to__isnull=True)
        .values_list("resident_id", "population")
        .iterator(chunk_size=BATCH)
    ):
        tags[resident_id].add(population)
    left_register = _left_register()

    key_share = _key_population_share(today)
    key_rate = min(KEY_POPULATION_RATE, TARGET_SHARE / key_share) if key_share else 0.0
    other_rate = (TARGET_SHARE - key_share * key_rate) / (1 - key_share) if key_share < 1 else 0.0
    other_rate = max(0.0, min(1.0, other_rate))
    placement = _Placement(teams)
    # (contract, its packages, renewed an earlier term?, the resident's public id)
    pending: list[tuple[Contract, list[ServicePackage], bool, uuid.UUID]] = []
    totals = [0, 0, 0]

    def flush() -> None:
        contracts, follow_ups, events = _write(pending, rng, today)
        totals[0] += contracts
        totals[1] += follow_ups
        totals[2] += events
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
        left = left_register.get(resident_id)
        if rng.random() >= (key_rate if populations else other_rate):
            if left is None and rng.random() < EXPIRED_SHARE:
                # an earlier term that ended over a month ago and was not renewed: expired
                start = today - dt.timedelta(days=397 + rng.randrange(700))
            else:
                continue
        if left is not None and left[0] < start:
            continue  # gone before the term would have begun
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
        if left is not None:
            _terminate(contract, left, today)
        if contract.status not in ACTIVE_STATUSES:
            placement.release(team_id)
        renewed = contract.status != ContractStatus.EXPIRED and rng.random() < RENEWED_SHARE
        pending.append((contract, packages, renewed, public_id))
        if len(pending) >= BATCH:
            flush()
    if pending:
        flush()
    return totals[0], totals[1], totals[2]


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
        signed_at=dt.datetime.combine(  # office hours, Asia/Shanghai
            start - dt.timedelta(days=rng.randrange(3)),
            dt.time(9 + rng.randrange(8), rng.randrange(60)),
            tzinfo=timezone.get_current_timezone(),
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


def _earlier_term(
    rng: random.Random, contract: Contract, resident_public_id: uuid.UUID, packages, today
) -> Contract:
    """The term `contract` renewed: a renewal starts the day after the old term's end
    (signing.services contract_renew), so the old term started a year earlier."""
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
    contract.previous_contract = old
    return old


def _write(
    pending: list[tuple[Contract, list[ServicePackage], bool, uuid.UUID]],
    rng: random.Random,
    today: dt.date,
) -> tuple[int, int, int]:
    # The chains, oldest first: a renewed contract's earlier term, and for some that term's own.
    earlier: list[Contract] = []
    earliest: list[Contract] = []
    terms: list[tuple[Contract, list[ServicePackage]]] = []
    for contract, packages, renewed, resident_public_id in pending:
        terms.append((contract, packages))
        if not renewed:
            continue
        old = _earlier_term(rng, contract, resident_public_id, packages, today)
        earlier.append(old)
        terms.append((old, packages))
        if rng.random() < SECOND_TERM_SHARE:
            older = _earlier_term(rng, old, resident_public_id, packages, today)
            earliest.append(older)
            terms.append((older, packages))
    objects_insert(Contract, earliest)
    for old in earlier:
        if old.previous_contract is not None:
            old.previous_contract_id = old.previous_contract.pk
    objects_insert(Contract, earlier)
    for contract, *_ in pending:
        if contract.previous_contract is not None:
            contract.previous_contract_id = contract.previous_contract.pk
    objects_insert(Contract, [c for c, *_ in pending])
    through = Contract.packages.through
    objects_insert(
        through,
        [
            through(contract_id=c.pk, servicepackage_id=p.pk)
            for c, packages in terms
            for p in packages
        ],
    )
    follow_ups: list[FollowUp] = []
    for contract, packages in terms:
        # the current terms' follow-ups, and the history of the renewed ones (all due by now)
        if contract.status not in (*ACTIVE_STATUSES, ContractStatus.RENEWED):
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
    events = _events([c for c, _ in terms])
    objects_insert(ContractEvent, events)
    return len(terms), len(follow_ups), len(events)


def _events(contracts: list[Contract]) -> list[ContractEvent]:
    """Each contract's timeline from its dates: a renewed term ends at its successor's signing."""
    successor_signed = {
        c.previous_contract_id: c.signed_at for c in contracts if c.previous_contract_id
    }
    rows = []
    for contract in contracts:
        signed_at = contract.signed_at
        if signed_at is None:  # every demo contract is made signed (_contract)
            raise ValueError(f"demo contract {contract.public_id} has no signing time")
        for event in events_from_dates(
            status=contract.status,
            start=contract.start_date,
            end=contract.end_date,
            created_at=signed_at,
            signed_at=signed_at,
            begins=RENEWAL_OF if contract.previous_contract_id else DEMO,
            begins_active=True,
            ended_at=contract.terminated_at or successor_signed.get(contract.pk),
            terminated_reason=contract.terminated_reason,
        ):
            rows.append(
                ContractEvent(
                    contract_id=contract.pk,
                    at=event.at,
                    actor_label="demo",
                    action=event.action,
                    from_status=event.from_status,
                    to_status=event.to_status,
                    reason=event.reason,
                )
            )
    return rows
