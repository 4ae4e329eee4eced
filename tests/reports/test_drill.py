"""The records behind a figure (reports.drill): for every KPI with a list behind it, every part,
every institution (and team, for the KPIs read at team level) and several periods of the demo
city, the records are exactly as many as the figure counts, and the institution's records are
the union of its teams'."""

from __future__ import annotations

from collections import Counter

import pytest

from referrals.models import Referral
from reports.drill import DRILLS, PARTS, records
from reports.kpis import KPIS
from reports.periods import Period
from reports.units import hierarchy
from tests.reports.demo_city import build_demo_city

pytestmark = pytest.mark.django_db

PERIODS = ("2026-03", "2026-05", "2026-06", "2026Q2", "2026")


@pytest.fixture
def city():
    build_demo_city()


def test_the_records_behind_each_figure_are_as_many_as_it_counts(city):
    nonzero: Counter[tuple[str, str]] = Counter()
    for label in PERIODS:
        period = Period.parse(label)
        tree = hierarchy(start=period.start, end=period.end)
        institutions = {tree.institution_code(pk): pk for pk in tree.institutions}
        for code, drill in DRILLS.items():
            figures = KPIS[code].compute(period)
            for part in drill.parts:
                for unit, institution_id in institutions.items():
                    figure = figures.get(("institution", unit, ""))
                    want = int(getattr(figure, part)) if figure else 0
                    got = records(code, part, period, institution_id=institution_id)
                    assert got is not None
                    assert got.count() == want, (label, code, part, unit)
                    nonzero[(code, part)] += bool(want)
                if "team" not in KPIS[code].levels:
                    continue
                for team_id in tree.teams:
                    figure = figures.get(("team", str(team_id), ""))
                    want = int(getattr(figure, part)) if figure else 0
                    got = records(code, part, period, team_id=team_id)
                    assert got is not None
                    assert got.count() == want, (label, code, part, team_id)
                city_figure = figures[("city", "city", "")]
                assert records(code, part, period).count() == int(getattr(city_figure, part))
    # Not a vacuous check: every part of every drill counted records somewhere.
    every = {(code, part) for code, drill in DRILLS.items() for part in drill.parts}
    assert {key for key, n in nonzero.items() if n} == every


def test_a_kpi_without_a_list_or_a_part_it_lacks_has_no_records(city):
    march = Period.parse("2026-03")
    assert records("primary_care_share", "numerator", march) is None
    assert records("referrals_up", "denominator", march) is None  # a count has none
    assert records("inpatient_down_share", "denominator", march) is None  # discharges: visits
    assert set(PARTS) == {"numerator", "denominator"}


def test_a_redirected_request_is_behind_the_figure_once(city):
    """KPI 2 counts a request and not its redirect's successor: so does its list."""
    march = Period.parse("2026-03")
    behind = records("referrals_up", "numerator", march)
    assert behind is not None
    successors = Referral.objects.filter(redirected_from__isnull=False)
    assert not behind.filter(pk__in=successors.values("pk")).exists()
