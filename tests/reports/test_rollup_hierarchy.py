"""A rebuild of a period reads the unit hierarchy (reports/units.py: districts, alliances,
institutions, teams, memberships) once and shares it across every KPI, instead of once per KPI;
the shared tree lives only as long as the rebuild, so the next rebuild sees units added since."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from reports.kpis import KPIS
from reports.models import KpiValue
from reports.periods import month
from reports.services import rebuild_period
from reports.units import hierarchy, shared_hierarchy
from signing.models import FamilyDoctorTeam
from tests.factories import AllianceFactory, InstitutionFactory, MembershipFactory

pytestmark = pytest.mark.django_db

MARCH = month(2026, 3)
# One statement of each hierarchy read: the whole table in code order (reports/units.py), which no
# KPI's grouped fact query is.
HIERARCHY_READS = {
    "districts": 'FROM "healthnet_district" ORDER BY',
    "institutions": 'FROM "healthnet_institution" ORDER BY',
    "alliances": 'FROM "healthnet_alliance" ORDER BY',
    "teams": 'FROM "signing_familydoctorteam" ORDER BY',
    "memberships": 'FROM "healthnet_alliancemembership" INNER JOIN "healthnet_alliance"',
}


def _network() -> None:
    hospital = InstitutionFactory(code="h1", tier="district", district="d1")
    primary = InstitutionFactory(code="p1", tier="primary", district="d1")
    alliance = AllianceFactory(code="a1", district="d1")
    MembershipFactory(alliance=alliance, institution=hospital, role="lead")
    MembershipFactory(alliance=alliance, institution=primary)
    team = FamilyDoctorTeam.objects.create(code="t1", name="团队1", institution=primary)
    # a team counts from the day it was created: make it older than the period
    FamilyDoctorTeam.objects.filter(pk=team.pk).update(
        created_at=dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
    )


def _hierarchy_reads(captured) -> dict[str, int]:
    return {
        name: sum(marker in q["sql"] for q in captured.captured_queries)
        for name, marker in HIERARCHY_READS.items()
    }


def test_each_kpi_alone_reads_the_hierarchy_itself():
    """What the counting below sees: outside a rebuild, two KPIs read it twice."""
    _network()
    with CaptureQueriesContext(connection) as captured:
        KPIS["referrals_up"].compute(MARCH)
        KPIS["fulfilment"].compute(MARCH)
    assert _hierarchy_reads(captured) == dict.fromkeys(HIERARCHY_READS, 2)


def test_a_rebuild_reads_the_hierarchy_once_not_once_per_kpi():
    _network()
    with CaptureQueriesContext(connection) as captured:
        result = rebuild_period(MARCH)
    assert len(KPIS) == 18
    assert _hierarchy_reads(captured) == dict.fromkeys(HIERARCHY_READS, 1)
    # every KPI was computed, every unit named from the shared tree
    assert result.rows == KpiValue.objects.filter(period_start=MARCH.start).count()
    assert set(KpiValue.objects.values_list("kpi", flat=True)) == set(KPIS)
    team = KpiValue.objects.get(kpi="fulfilment", level="team", period_start=MARCH.start)
    assert (team.unit_name, team.parent_code) == ("团队1", "p1")


def test_the_shared_tree_does_not_outlive_the_rebuild():
    _network()
    rebuild_period(MARCH)
    InstitutionFactory(code="p2", tier="primary", district="d1", name="新机构")
    rebuild_period(MARCH)
    added = KpiValue.objects.get(
        kpi="referrals_up", level="institution", unit_code="p2", period_start=MARCH.start
    )
    assert (added.unit_name, added.parent_code) == ("新机构", "d1")


def test_shared_hierarchy_keeps_one_tree_per_period_inside_the_block_only():
    _network()
    april = month(2026, 4)
    with shared_hierarchy():
        first = hierarchy(start=MARCH.start, end=MARCH.end)
        with shared_hierarchy():  # nested: the same trees
            assert hierarchy(start=MARCH.start, end=MARCH.end) is first
        assert hierarchy(start=MARCH.start, end=MARCH.end) is first
        assert hierarchy(start=april.start, end=april.end) is not first
    assert hierarchy(start=MARCH.start, end=MARCH.end) is not first
