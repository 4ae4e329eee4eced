"""KPIs read from family-doctor signing: 11 签约服务覆盖率, 12 重点人群签约覆盖率, 13 续约率,
14 履约率 (on the due date, and within the 14-day grace) (docs/reports.md)."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from typing import Any

from django.db.models import Count, F, Q, QuerySet
from django.db.models.functions import TruncDate

from healthnet import selectors as network
from healthnet.models import AGE_DERIVED_POPULATIONS, KeyPopulation
from healthnet.populations import birth_date_range_for_age_population
from reports.kpis.base import Fact, Figure, Key, tally
from reports.periods import REPORT_TZ, Period
from reports.units import Hierarchy, Level, hierarchy
from signing import selectors as signing
from signing.models import Contract, ContractStatus, FollowUp, FollowUpStatus

TEAM_LEVELS: tuple[Level, ...] = ("city", "district", "alliance", "institution", "team")
RESIDENT_LEVELS: tuple[Level, ...] = ("city", "district")
POPULATIONS = tuple(KeyPopulation.values)


def _team_fact(tree: Hierarchy, team_id: int, day: dt.date, **figures) -> Fact:
    institution_id = tree.institution_of_team(team_id)
    return Fact(
        institution_id=institution_id,
        team_id=team_id,
        district=tree.district_of_institution(institution_id),
        day=day,
        **figures,
    )


# --- 11, 12: coverage at the period's end --------------------------------------------------------


def _covered(day: dt.date):
    """The residents whose contract held a place (active, renewal due) at the end of `day`, read
    from the contracts' dated timelines."""
    return signing.contracts_active_on(day).values("resident_id")


def _registered_by_district(registered, covered, *, breakdown: str = "") -> list[Fact]:
    """Registrations (one per resident on the register that day) grouped by their district."""
    rows = (
        registered.values("district_id")
        .annotate(
            n=Count("resident_id", distinct=True),
            covered=Count("resident_id", distinct=True, filter=Q(resident_id__in=covered)),
        )
        .order_by()
    )
    return [_coverage_fact(row, breakdown) for row in rows]


def _coverage_fact(row, breakdown: str) -> Fact:
    return Fact(
        institution_id=None,
        team_id=None,
        district=row["district_id"],
        day=None,
        breakdown=breakdown,
        numerator=row["covered"],
        denominator=row["n"],
    )


def contract_coverage(period: Period) -> dict[Key, Figure]:
    """11 签约服务覆盖率 = residents on the register at the end of the period's last day whose
    contract held a place then ÷ residents on the register that day, in the district they were
    registered in that day."""
    day = period.last_day
    facts = _registered_by_district(network.residents_registered_on(day), _covered(day))
    return tally(facts, period, RESIDENT_LEVELS, kind="ratio")


def key_population_coverage(period: Period) -> dict[Key, Figure]:
    """12 重点人群签约覆盖率, per key population = its residents on the register covered at the end
    of the period's last day ÷ its residents on the register that day (tags valid that day, age
    groups from the birth date that day); "" = the residents in at least one key population,
    each counted once.

    Three reads (the register with birth dates, the tags valid that day, the covered residents),
    grouped here in one pass: the contracts' timeline is read once for every population, where a
    grouped query per population read it once each (at the city's scale 6.3 s → 2 s a month;
    bench/recorded/31-reports-city.md)."""
    day = period.last_day
    covered = set(_covered(day).values_list("resident_id", flat=True))
    registered = network.residents_registered_on(day).values_list(
        "resident_id", "district_id", "resident__birth_date"
    )
    tags: dict[int, set[str]] = defaultdict(set)
    for resident_id, population in network.population_tags_on(day).values_list(
        "resident_id", "population"
    ):
        tags[resident_id].add(population)
    ages = [
        (population, *birth_date_range_for_age_population(population, day))
        for population in sorted(AGE_DERIVED_POPULATIONS)
    ]
    counts: dict[tuple[Any, str], list[int]] = defaultdict(lambda: [0, 0])  # [n, covered]
    seen: set[int] = set()
    for resident_id, district, birth_date in registered:
        if resident_id in seen:  # one registration a day; counted once if ever two
            continue
        seen.add(resident_id)
        populations = set(tags.get(resident_id, ()))
        for population, born_from, born_to in ages:
            if (born_from is None or birth_date >= born_from) and (
                born_to is None or birth_date <= born_to
            ):
                populations.add(population)
        if not populations:
            continue
        is_covered = resident_id in covered
        for breakdown in (*populations, ""):
            cell = counts[(district, breakdown)]
            cell[0] += 1
            cell[1] += is_covered
    facts = [
        Fact(
            institution_id=None,
            team_id=None,
            district=district,
            day=None,
            breakdown=breakdown,
            numerator=n_covered,
            denominator=n,
        )
        for (district, breakdown), (n, n_covered) in counts.items()
    ]
    return tally(
        facts,
        period,
        RESIDENT_LEVELS,
        kind="ratio",
        breakdowns=POPULATIONS,
        total_from_facts=True,
    )


# --- 13: renewals -------------------------------------------------------------------------------


# Renewed with the team (KPI 13's numerator).
RENEWED = Q(status=ContractStatus.RENEWED)


def contracts_ending(period: Period) -> QuerySet[Contract]:
    """Contracts whose term ends in the period, signed and not terminated on or before their
    end date: KPI 13's denominator, at the contract's team."""
    return (
        signing.report_contracts_ending(start=period.start, end=period.end)
        .filter(signed_at__isnull=False)
        .annotate(terminated_day=TruncDate("terminated_at", tzinfo=REPORT_TZ))
        .exclude(status=ContractStatus.TERMINATED, terminated_day__lte=F("end_date"))
    )


def renewal_rate(period: Period) -> dict[Key, Figure]:
    """13 续约率 = contracts renewed with their team ÷ contracts whose term ends in the period
    (signed, and not terminated on or before their end date), at the contract's team."""
    tree = hierarchy(start=period.start, end=period.end)
    rows = (
        contracts_ending(period)
        .values("team_id", "end_date")
        .annotate(n=Count("pk"), renewed=Count("pk", filter=RENEWED))
        .order_by()
    )
    facts = [
        _team_fact(tree, r["team_id"], r["end_date"], numerator=r["renewed"], denominator=r["n"])
        for r in rows
    ]
    return tally(facts, period, TEAM_LEVELS, kind="ratio", tree=tree)


# --- 14: 履约率 ----------------------------------------------------------------------------------


# Done by the due date (the local day of done_at), and within the 14-day grace (KPI 14).
DONE_BY_DUE_DATE = Q(status=FollowUpStatus.DONE, done_day__lte=F("due_date"))
DONE_IN_GRACE = Q(status=FollowUpStatus.DONE, done_on_time=True)


def followups_due(period: Period) -> QuerySet[FollowUp]:
    """Follow-ups due in the period, cancelled ones left out (KPI 14's denominator, at the
    contract's team), each with `done_day`: the local day it was done."""
    return signing.report_followups_due(start=period.start, end=period.end).annotate(
        done_day=TruncDate("done_at", tzinfo=REPORT_TZ)
    )


def _followups(period: Period):
    return (
        followups_due(period)
        .values("due_date", team_id=F("contract__team_id"))
        .annotate(
            n=Count("pk"),
            on_due=Count("pk", filter=DONE_BY_DUE_DATE),
            in_grace=Count("pk", filter=DONE_IN_GRACE),
        )
        .order_by()
    )


def fulfilment(period: Period) -> dict[Key, Figure]:
    """14 履约率 = follow-ups due in the period done by their due date (the local day of done_at
    ≤ due_date) ÷ follow-ups due in the period (cancelled ones left out), at the contract's team."""
    tree = hierarchy(start=period.start, end=period.end)
    facts = [
        _team_fact(tree, r["team_id"], r["due_date"], numerator=r["on_due"], denominator=r["n"])
        for r in _followups(period)
    ]
    return tally(facts, period, TEAM_LEVELS, kind="ratio", tree=tree)


def fulfilment_grace(period: Period) -> dict[Key, Figure]:
    """14 履约率 within the grace = follow-ups due in the period done within 14 days after their due
    date (the stored done_on_time) ÷ follow-ups due in the period, at the contract's team."""
    tree = hierarchy(start=period.start, end=period.end)
    facts = [
        _team_fact(tree, r["team_id"], r["due_date"], numerator=r["in_grace"], denominator=r["n"])
        for r in _followups(period)
    ]
    return tally(facts, period, TEAM_LEVELS, kind="ratio", tree=tree)
