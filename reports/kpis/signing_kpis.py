"""KPIs read from family-doctor signing: 11 签约服务覆盖率, 12 重点人群签约覆盖率, 13 续约率,
14 履约率 (on the due date, and within the 14-day grace) (docs/reports.md)."""

from __future__ import annotations

import datetime as dt

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


def _age_filter(population: str, day: dt.date) -> Q:
    born_from, born_to = birth_date_range_for_age_population(population, day)
    condition = Q()
    if born_from is not None:
        condition &= Q(resident__birth_date__gte=born_from)
    if born_to is not None:
        condition &= Q(resident__birth_date__lte=born_to)
    return condition


def key_population_coverage(period: Period) -> dict[Key, Figure]:
    """12 重点人群签约覆盖率, per key population = its residents on the register covered at the end
    of the period's last day ÷ its residents on the register that day (tags valid that day, age
    groups from the birth date that day); "" = the residents in at least one key population,
    each counted once."""
    day = period.last_day
    covered = _covered(day)
    registered = network.residents_registered_on(day)
    tags = network.population_tags_on(day)
    facts = []
    tag_rows = (
        registered.filter(resident__population_tags__in=tags)
        .values("district_id", population=F("resident__population_tags__population"))
        .annotate(
            n=Count("resident_id", distinct=True),
            covered=Count("resident_id", distinct=True, filter=Q(resident_id__in=covered)),
        )
        .order_by()
    )
    facts += [_coverage_fact(row, row["population"]) for row in tag_rows]
    any_age = Q(pk__in=[])
    for population in sorted(AGE_DERIVED_POPULATIONS):
        condition = _age_filter(population, day)
        any_age |= condition
        facts += _registered_by_district(
            registered.filter(condition), covered, breakdown=population
        )
    in_any = registered.filter(Q(resident_id__in=tags.values("resident_id")) | any_age)
    facts += _registered_by_district(in_any, covered)
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
