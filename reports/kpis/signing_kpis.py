"""KPIs read from family-doctor signing: 11 签约服务覆盖率, 12 重点人群签约覆盖率, 13 续约率,
14 履约率 (on the due date, and within the 14-day grace) (docs/reports.md)."""

from __future__ import annotations

import datetime as dt

from django.db.models import Count, F, Q
from django.db.models.functions import TruncDate

from healthnet import selectors as network
from healthnet.models import AGE_DERIVED_POPULATIONS, KeyPopulation
from healthnet.populations import birth_date_range_for_age_population
from reports.kpis.base import Fact, Figure, Key, tally
from reports.periods import REPORT_TZ, Period, local_midnight
from reports.units import Hierarchy, hierarchy
from signing import selectors as signing
from signing.models import RENEWAL_GRACE_DAYS, ContractStatus, FollowUpStatus

TEAM_LEVELS = ("city", "district", "alliance", "institution", "team")
RESIDENT_LEVELS = ("city", "district")
POPULATIONS = tuple(KeyPopulation.values)
SUCCEEDED = (ContractStatus.RENEWED, ContractStatus.SWITCHED)


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


def contracts_in_force(day: dt.date):
    """Contracts that cover their resident on `day`: signed by the end of the day, not
    terminated by then, and the day within the term (start ≤ day ≤ end, both inclusive) or in the
    renewal grace after it (end < day ≤ end + 30) of a contract neither renewed nor switched."""
    after = local_midnight(day + dt.timedelta(days=1))
    in_term = Q(start_date__lte=day, end_date__gte=day)
    in_grace = Q(end_date__lt=day, end_date__gte=day - dt.timedelta(days=RENEWAL_GRACE_DAYS)) & ~Q(
        status__in=SUCCEEDED
    )
    return (
        signing.report_contracts()
        .filter(signed_at__lt=after)
        .filter(Q(terminated_at__isnull=True) | Q(terminated_at__gte=after))
        .filter(in_term | in_grace)
    )


def _coverage_facts(rows, *, breakdown: str = "") -> list[Fact]:
    return [
        Fact(
            institution_id=None,
            team_id=None,
            district=row["district_id"],
            day=None,
            breakdown=breakdown,
            numerator=row["covered"],
            denominator=row["n"],
        )
        for row in rows
    ]


def _residents_by_district(qs, covered):
    return (
        qs.values("district_id")
        .annotate(n=Count("pk"), covered=Count("pk", filter=Q(pk__in=covered)))
        .order_by()
    )


def contract_coverage(period: Period) -> dict[Key, Figure]:
    """11 签约服务覆盖率 = residents covered by a contract at the period's end ÷ residents, in
    the resident's district."""
    day = period.last_day
    covered = contracts_in_force(day).values("resident_id")
    rows = _residents_by_district(network.report_residents(), covered)
    return tally(_coverage_facts(rows), period, RESIDENT_LEVELS, kind="ratio")


def _age_filter(population: str, day: dt.date) -> Q:
    born_from, born_to = birth_date_range_for_age_population(population, day)
    condition = Q()
    if born_from is not None:
        condition &= Q(birth_date__gte=born_from)
    if born_to is not None:
        condition &= Q(birth_date__lte=born_to)
    return condition


def key_population_coverage(period: Period) -> dict[Key, Figure]:
    """12 重点人群签约覆盖率, per key population = its residents covered at the period's end ÷ its
    residents; "" = the residents in at least one key population (each counted once)."""
    day = period.last_day
    covered = contracts_in_force(day).values("resident_id")
    residents = network.report_residents()
    tagged = network.report_population_tags()
    facts = []
    tag_rows = (
        tagged.values("population", district_id=F("resident__district_id"))
        .annotate(
            n=Count("resident_id", distinct=True),
            covered=Count("resident_id", distinct=True, filter=Q(resident_id__in=covered)),
        )
        .order_by()
    )
    for row in tag_rows:
        facts += _coverage_facts([row], breakdown=row["population"])
    any_age = Q(pk__in=[])
    for population in sorted(AGE_DERIVED_POPULATIONS):
        condition = _age_filter(population, day)
        any_age |= condition
        rows = _residents_by_district(residents.filter(condition), covered)
        facts += _coverage_facts(rows, breakdown=population)
    in_any = residents.filter(Q(pk__in=tagged.values("resident_id")) | any_age)
    facts += _coverage_facts(_residents_by_district(in_any, covered))
    return tally(
        facts,
        period,
        RESIDENT_LEVELS,
        kind="ratio",
        breakdowns=POPULATIONS,
        total_from_facts=True,
    )


# --- 13: renewals -------------------------------------------------------------------------------


def renewal_rate(period: Period) -> dict[Key, Figure]:
    """13 续约率 = contracts renewed with their team ÷ contracts whose term ends in the period
    (signed, and not terminated on or before their end date), at the contract's team."""
    tree = hierarchy(start=period.start, end=period.end)
    rows = (
        signing.report_contracts_ending(start=period.start, end=period.end)
        .filter(signed_at__isnull=False)
        .annotate(terminated_day=TruncDate("terminated_at", tzinfo=REPORT_TZ))
        .exclude(status=ContractStatus.TERMINATED, terminated_day__lte=F("end_date"))
        .values("team_id", "end_date")
        .annotate(n=Count("pk"), renewed=Count("pk", filter=Q(status=ContractStatus.RENEWED)))
        .order_by()
    )
    facts = [
        _team_fact(tree, r["team_id"], r["end_date"], numerator=r["renewed"], denominator=r["n"])
        for r in rows
    ]
    return tally(facts, period, TEAM_LEVELS, kind="ratio", tree=tree)


# --- 14: 履约率 ----------------------------------------------------------------------------------


def _followups(period: Period):
    return (
        signing.report_followups_due(start=period.start, end=period.end)
        .annotate(done_day=TruncDate("done_at", tzinfo=REPORT_TZ))
        .values("due_date", team_id=F("contract__team_id"))
        .annotate(
            n=Count("pk"),
            on_due=Count("pk", filter=Q(status=FollowUpStatus.DONE, done_day__lte=F("due_date"))),
            in_grace=Count("pk", filter=Q(status=FollowUpStatus.DONE, done_on_time=True)),
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
