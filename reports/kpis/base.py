"""The shape of a KPI and the one way its figures are made (docs/reports.md).

A KPI reads its facts in one or a few grouped queries (through the owning apps' selectors): rows
that say where a fact counts (institution, team, district, day), under which breakdown value, and
how much it adds to the numerator and the denominator — or, for a median, the values themselves.
`tally` / `medians` then give every unit of every level of the KPI its figure, in Python, from those
rows: the number of queries does not grow with the number of units.
"""

from __future__ import annotations

import datetime as dt
import statistics
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Literal

from django.utils.functional import Promise

from reports.periods import Period
from reports.units import CITY_CODE, Hierarchy, Level, hierarchy

RATIO_PLACES = Decimal("0.0001")
MEDIAN_PLACES = Decimal("0.01")
ZERO = Decimal(0)

Key = tuple[Level, str, str]  # (level, unit code, breakdown value or "")


@dataclass(frozen=True)
class Figure:
    """numerator: a count, or the median itself for median KPIs;
    denominator: the count it is a share of (None for plain counts); for a median, the number of
        cases it is the median of;
    value: numerator ÷ denominator rounded half-up to 4 places (None when the denominator is 0),
        the count itself, or the median (None when there is no case)."""

    numerator: Decimal
    denominator: Decimal | None
    value: Decimal | None


def ratio_figure(numerator: int, denominator: int) -> Figure:
    value = (
        None
        if denominator == 0
        else (Decimal(numerator) / Decimal(denominator)).quantize(RATIO_PLACES, ROUND_HALF_UP)
    )
    return Figure(Decimal(numerator), Decimal(denominator), value)


def count_figure(count: int) -> Figure:
    return Figure(Decimal(count), None, Decimal(count))


def median_figure(values: Sequence[Decimal]) -> Figure:
    if not values:
        return Figure(ZERO, ZERO, None)
    median = Decimal(str(statistics.median(values))).quantize(MEDIAN_PLACES, ROUND_HALF_UP)
    return Figure(median, Decimal(len(values)), median)


Unit = Literal["ratio", "count", "hours", "days"]


@dataclass(frozen=True)
class Kpi:
    code: str  # stable, snake_case
    number: int  # 1..15 as in issue 12
    name: str | Promise  # zh msgid (gettext_lazy)
    unit: Unit
    levels: tuple[Level, ...]  # the levels it is defined at
    breakdown: str | None  # "reason", "population", "care_setting", or None
    compute: Callable[[Period], dict[Key, Figure]]
    # The breakdown values (each with its zh label), "" (all together) not included.
    breakdown_values: tuple[tuple[str, str | Promise], ...] = ()
    definition: str | Promise = ""  # one line; the full definition is in docs/reports.md

    def __call__(self, period: Period) -> dict[Key, Figure]:
        return self.compute(period)


# --- facts and where they count ----------------------------------------------------------------


@dataclass(frozen=True)
class Fact:
    """One grouped row: where it counts and what it adds.

    institution_id: the institution it counts for (and through it, its alliances on `day`);
    team_id: the team it counts for (its institution is then `institution_id`);
    district: the district it counts for — the institution's, or for residents' stocks the
        resident's own district;
    day: the day that puts it in the period (alliance membership is read on that day);
    """

    institution_id: int | None
    team_id: int | None
    district: str | None
    day: dt.date | None
    breakdown: str = ""
    numerator: int = 0
    denominator: int = 0
    values: tuple[Decimal, ...] = ()


def _keys_of(fact: Fact, tree: Hierarchy, levels: Iterable[Level]) -> list[tuple[Level, str]]:
    keys: list[tuple[Level, str]] = []
    for level in levels:
        if level == "city":
            keys.append(("city", CITY_CODE))
        elif level == "district" and fact.district:
            keys.append(("district", fact.district))
        elif level == "alliance" and fact.institution_id is not None and fact.day is not None:
            keys += [
                ("alliance", code) for code in tree.alliances_of(fact.institution_id, fact.day)
            ]
        elif level == "institution" and fact.institution_id is not None:
            keys.append(("institution", tree.institution_code(fact.institution_id)))
        elif level == "team" and fact.team_id is not None:
            keys.append(("team", str(fact.team_id)))
    return keys


def _all_keys(
    tree: Hierarchy, period: Period, levels: Sequence[Level], breakdowns: Sequence[str], seen
) -> list[Key]:
    """Every unit of the levels that exists on the period's last day, and any other unit a fact
    counted for (a team dissolved during the period still has its figure), × every breakdown."""
    units = {unit.key for unit in tree.units_on(period.last_day) if unit.level in levels}
    units |= set(seen)
    return [(level, code, b) for level, code in sorted(units) for b in ("", *breakdowns)]


def tally(
    facts: Iterable[Fact],
    period: Period,
    levels: Sequence[Level],
    *,
    kind: Literal["ratio", "count"],
    breakdowns: Sequence[str] = (),
    tree: Hierarchy | None = None,
    total_from_facts: bool = False,
) -> dict[Key, Figure]:
    """Sum the facts into every unit of `levels`. A fact with a breakdown value also adds to the
    unit's "" (all together), unless `total_from_facts`: then the query gives the "" rows itself
    (a resident in two key populations is one resident of the total)."""
    tree = tree or hierarchy(start=period.start, end=period.end)
    sums: dict[Key, list[int]] = defaultdict(lambda: [0, 0])
    seen = set()
    for fact in facts:
        for level, code in _keys_of(fact, tree, levels):
            seen.add((level, code))
            targets = {fact.breakdown}
            if fact.breakdown and not total_from_facts:
                targets.add("")
            for breakdown in targets:
                figure = sums[(level, code, breakdown)]
                figure[0] += fact.numerator
                figure[1] += fact.denominator
    result = {}
    for key in _all_keys(tree, period, levels, breakdowns, seen):
        numerator, denominator = sums.get(key, (0, 0))
        result[key] = (
            ratio_figure(numerator, denominator) if kind == "ratio" else count_figure(numerator)
        )
    return result


def medians(
    facts: Iterable[Fact],
    period: Period,
    levels: Sequence[Level],
    *,
    tree: Hierarchy | None = None,
) -> dict[Key, Figure]:
    tree = tree or hierarchy(start=period.start, end=period.end)
    values: dict[Key, list[Decimal]] = defaultdict(list)
    seen = set()
    for fact in facts:
        for level, code in _keys_of(fact, tree, levels):
            seen.add((level, code))
            values[(level, code, fact.breakdown)] += fact.values
    return {
        key: median_figure(values.get(key, [])) for key in _all_keys(tree, period, levels, (), seen)
    }
