"""The organisation hierarchy the bureau reads (docs/reports.md, "Units"): the city, its districts,
the alliances (medical groups and medical communities), the institutions and the family-doctor
teams. Read through the owning apps' selectors, all of it in a handful of queries: a KPI computes
every unit of every level from one grouped read of its facts (reports/kpis/base.py).

    city ─┬─ district ── institution ── team
          └─ alliance   (its members on the day of each event: alliance_memberships_current)
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Literal

from django.utils.translation import gettext_lazy as _

from healthnet import selectors as network
from reports.periods import local_date
from signing import selectors as signing

Level = Literal["city", "district", "alliance", "institution", "team"]
LEVELS: tuple[Level, ...] = ("city", "district", "alliance", "institution", "team")
LEVEL_NAMES = {
    "city": _("全市"),
    "district": _("区"),
    "alliance": _("医联体"),
    "institution": _("机构"),
    "team": _("家庭医生团队"),
}
CITY_CODE = "city"
PARENT_LEVEL: dict[Level, Level | None] = {
    "city": None,
    "district": "city",
    "alliance": "city",
    "institution": "district",
    "team": "institution",
}


@dataclass(frozen=True)
class Unit:
    level: Level
    code: str  # city: "city"; district, alliance, institution: their code; team: str(pk)
    name: str
    parent_level: Level | None
    parent_code: str | None

    @property
    def key(self) -> tuple[Level, str]:
        return (self.level, self.code)


@dataclass(frozen=True)
class _Membership:
    alliance: str
    start: dt.date
    end: dt.date | None  # the first day outside

    def current(self, day: dt.date) -> bool:
        return self.start <= day and (self.end is None or day < self.end)


@dataclass
class Hierarchy:
    """Every unit ever known (to name and place any fact), and which exist on a day."""

    city_name: str
    districts: dict[str, tuple[str, bool]] = field(default_factory=dict)  # code → (name, active)
    alliances: dict[str, str] = field(default_factory=dict)  # code → name
    # id → (code, name, district code, tier, active)
    institutions: dict[int, tuple[str, str, str, str, bool]] = field(default_factory=dict)
    # id → (name, institution id, active, created day)
    teams: dict[int, tuple[str, int, bool, dt.date]] = field(default_factory=dict)
    memberships: dict[int, list[_Membership]] = field(default_factory=lambda: defaultdict(list))

    # --- where a fact counts ---------------------------------------------------------------

    def institution_code(self, institution_id: int) -> str:
        return self.institutions[institution_id][0]

    def district_of_institution(self, institution_id: int) -> str:
        return self.institutions[institution_id][2]

    def tier_of(self, institution_id: int) -> str:
        return self.institutions[institution_id][3]

    def institution_of_team(self, team_id: int) -> int:
        return self.teams[team_id][1]

    def alliances_of(self, institution_id: int, day: dt.date) -> list[str]:
        """The alliances the institution is a member of on `day` (start ≤ day < end)."""
        return sorted(
            {m.alliance for m in self.memberships.get(institution_id, ()) if m.current(day)}
        )

    # --- the units -------------------------------------------------------------------------

    def unit(self, level: Level, code: str) -> Unit:
        if level == "city":
            return Unit("city", CITY_CODE, self.city_name, None, None)
        if level == "district":
            return Unit("district", code, self.districts[code][0], "city", CITY_CODE)
        if level == "alliance":
            return Unit("alliance", code, self.alliances[code], "city", CITY_CODE)
        if level == "institution":
            for institution_code, name, district, _tier, _active in self.institutions.values():
                if institution_code == code:
                    return Unit("institution", code, name, "district", district)
            raise KeyError(code)
        name, institution_id, _active, _created = self.teams[int(code)]
        return Unit("team", code, name, "institution", self.institution_code(institution_id))

    def units_on(self, day: dt.date) -> list[Unit]:
        """Every unit of every level that exists on `day`: active districts, institutions and
        teams (a team from the day it was created), the alliances with a member that day."""
        result = [self.unit("city", CITY_CODE)]
        result += [
            Unit("district", code, name, "city", CITY_CODE)
            for code, (name, active) in sorted(self.districts.items())
            if active
        ]
        with_members = {
            m.alliance for ms in self.memberships.values() for m in ms if m.current(day)
        }
        result += [
            Unit("alliance", code, name, "city", CITY_CODE)
            for code, name in sorted(self.alliances.items())
            if code in with_members
        ]
        institutions = sorted(self.institutions.values())
        result += [
            Unit("institution", code, name, "district", district)
            for code, name, district, _tier, active in institutions
            if active
        ]
        teams = sorted(self.teams.items(), key=lambda item: item[0])
        result += [
            Unit("team", str(pk), name, "institution", self.institution_code(institution_id))
            for pk, (name, institution_id, active, created) in teams
            if active and created <= day and self.institutions[institution_id][4]
        ]
        return result


CITY_NAME = _("全市")


# The hierarchies read inside a `shared_hierarchy()` block, by (start, end); None outside one.
_SHARED: ContextVar[dict[tuple[dt.date, dt.date], Hierarchy] | None] = ContextVar(
    "reports_shared_hierarchy", default=None
)


@contextmanager
def shared_hierarchy() -> Iterator[None]:
    """Inside the block, `hierarchy(start=, end=)` reads the units once per (start, end) and
    gives every later caller the same tree: a rebuild of a period computes every KPI with one read
    of the hierarchy instead of one per KPI. The trees are dropped when the outermost block ends,
    so nothing outlives the rebuild (a unit added afterwards is seen by the next one); outside a
    block every call reads afresh. Callers must not change the tree they get."""
    if _SHARED.get() is not None:  # nested: the outer block's trees are still current
        yield
        return
    token = _SHARED.set({})
    try:
        yield
    finally:
        _SHARED.reset(token)


def hierarchy(*, start: dt.date, end: dt.date) -> Hierarchy:
    """The hierarchy with the alliance memberships in force on some day of [start, end):
    five queries, whatever the number of units (none inside a `shared_hierarchy()` block that
    already read it)."""
    shared = _SHARED.get()
    if shared is None:
        return _read_hierarchy(start=start, end=end)
    tree = shared.get((start, end))
    if tree is None:
        tree = shared[(start, end)] = _read_hierarchy(start=start, end=end)
    return tree


def _read_hierarchy(*, start: dt.date, end: dt.date) -> Hierarchy:
    tree = Hierarchy(city_name=str(CITY_NAME))
    for district in network.report_districts():
        tree.districts[district.code] = (district.name, district.active)
    for alliance in network.report_alliances():
        tree.alliances[alliance.code] = alliance.name
    for institution in network.report_institutions():
        tree.institutions[institution.pk] = (
            institution.code,
            institution.name,
            institution.district_id,
            institution.tier,
            institution.active,
        )
    for team in signing.report_teams():
        tree.teams[team.pk] = (
            team.name,
            team.institution_id,
            team.active,
            local_date(team.created_at),
        )
    for membership in network.report_memberships_overlapping(start=start, end=end):
        tree.memberships[membership.institution_id].append(
            _Membership(membership.alliance.code, membership.start_date, membership.end_date)
        )
    return tree


def units(on: dt.date) -> list[Unit]:
    """Every unit of every level that exists on that day (see Hierarchy.units_on)."""
    return hierarchy(start=on, end=on + dt.timedelta(days=1)).units_on(on)
