"""Reference figures of the signing KPIs (11–14), worked out by hand from the contracts of
tests/reports/kpi_reference.py:

k4 T2 2025-03-05..2026-03-04, terminated 03-02 (moved away)
k1 T1 2025-03-15..2026-03-14, renewed 03-10 → k1_next T1 2026-03-15..2027-03-14
k2 T1 2025-03-15..2026-03-14, switched 03-12 → k2_next T3 2026-03-15..2027-03-14
k3 T1 2025-03-20..2026-03-19, renewal due, never renewed (its grace runs to 04-18)
k7 T1 2025-04-10..2026-04-09, renewed 03-26 → k7_next from 2026-04-10
k5 T2, k6 T1, k8 T1: 2026-01-01..2026-12-31
The expiry job runs on 04-19: k3 expires.

The register: all on it since 2020; k6 moves east → west on 03-20; w4 (born 1950) dies on 03-31;
w2's tuberculosis tag ends on 03-15.

Follow-ups due in March 2026 (one a month, signing.terms.followup_plan):
k3 03-04 never done; k6 03-18 done 03-18 23:30; k8 03-18 done 03-08; k5 03-18 done 03-19 00:30
(16:30 UTC on the 18th); k7 03-25 done 03-25; k2_next 03-30 done 03-29; k1_next 03-30 done
04-16 (17 days late).
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from reports.kpis import KPIS
from reports.periods import Period
from tests.reports.kpi_reference import pair, reference_data

pytestmark = pytest.mark.django_db

MARCH = Period.parse("2026-03")
APRIL = Period.parse("2026-04")


@pytest.fixture(scope="module")
def ref(django_db_setup, django_db_blocker):
    yield from reference_data(django_db_blocker)


def test_renewal_rate(ref):
    march = KPIS["renewal_rate"].compute(MARCH)
    t1 = ref.team_code("t1")
    # Ending in March: k1 (renewed), k2 (switched: not a renewal with its team), k3 (not renewed);
    # k4 was terminated before its end: not expiring.
    assert pair(march, "team", t1) == (1, 3)
    assert march[("team", t1, "")].value == Decimal("0.3333")
    assert pair(march, "team", ref.team_code("t2")) == (0, 0)
    assert pair(march, "team", ref.team_code("t3")) == (0, 0)
    assert pair(march, "institution", "p1") == (1, 3)
    assert pair(march, "city", "city") == (1, 3)
    assert pair(march, "district", "east") == (1, 3)
    assert pair(march, "alliance", "g") == (1, 3)
    assert pair(march, "district", "west") == (0, 0)
    april = KPIS["renewal_rate"].compute(APRIL)
    assert pair(april, "team", t1) == (1, 1)  # k7, renewed in March, ends in April


def test_fulfilment_on_the_due_date_and_within_the_grace(ref):
    on_due = KPIS["fulfilment"].compute(MARCH)
    grace = KPIS["fulfilment_grace"].compute(MARCH)
    t1, t2, t3 = (ref.team_code(t) for t in ("t1", "t2", "t3"))
    # T1: k6 (the due day, late evening), k8 (early), k7 on time; k1_next late; k3 never.
    assert pair(on_due, "team", t1) == (3, 5)
    assert pair(grace, "team", t1) == (3, 5)
    # T2: k5 done at 00:30 the day after (the same UTC day): late on the due date, in the grace.
    assert pair(on_due, "team", t2) == (0, 1)
    assert pair(grace, "team", t2) == (1, 1)
    assert pair(on_due, "team", t3) == (1, 1)
    assert pair(on_due, "institution", "p1") == (4, 6)
    assert pair(on_due, "city", "city") == (4, 7)
    assert on_due[("city", "city", "")].value == Decimal("0.5714")
    assert pair(grace, "city", "city") == (5, 7)
    assert pair(on_due, "district", "west") == (0, 1)
    # G: P1's teams, and T2 for k5 due 03-18 (P2 is in G from 03-15).
    assert pair(on_due, "alliance", "g") == (4, 7)
    assert pair(grace, "alliance", "c") == (1, 1)


def test_contract_coverage_at_the_period_end(ref):
    march = KPIS["contract_coverage"].compute(MARCH)
    # 31 March, from the timelines: k1 k2 (their successors), k3 (renewal due: its grace), k7
    # (its successor, active since 03-26), k8 in the east; k5 and k6 (moved west on 03-20) in
    # the west; k4 terminated. The register: east 12 (k6 left), west 7 (w4 died that day: still
    # on it).
    assert pair(march, "district", "east") == (5, 12)
    assert pair(march, "district", "west") == (2, 7)
    assert pair(march, "city", "city") == (7, 19)
    assert march[("city", "city", "")].value == Decimal("0.3684")
    february = KPIS["contract_coverage"].compute(Period.parse("2026-02"))
    # 28 February: k1 k2 k3 k6 k7 k8 east; k4 (terminated later) and k5 west.
    assert pair(february, "district", "east") == (6, 13)
    assert pair(february, "district", "west") == (2, 6)
    assert pair(february, "city", "city") == (8, 19)
    # A quarter's stock is read at its last day: Q1 is 31 March, not a sum of months.
    q1 = KPIS["contract_coverage"].compute(Period.parse("2026Q1"))
    assert pair(q1, "city", "city") == (7, 19)
    april = KPIS["contract_coverage"].compute(APRIL)
    # 30 April: k3 expired on 04-19; w4 is off the register.
    assert pair(april, "district", "east") == (4, 12)
    assert pair(april, "district", "west") == (2, 6)
    assert pair(april, "city", "city") == (6, 18)


def test_key_population_coverage(ref):
    march = KPIS["key_population_coverage"].compute(MARCH)
    assert pair(march, "city", "city", "hypertension") == (2, 2)  # k5, k6
    assert pair(march, "district", "west", "hypertension") == (2, 2)  # k6 moved west
    assert pair(march, "district", "east", "hypertension") == (0, 0)
    assert pair(march, "city", "city", "diabetes") == (1, 1)  # k6
    assert pair(march, "city", "city", "tuberculosis") == (0, 0)  # w2's tag ended 03-14
    assert march[("city", "city", "tuberculosis")].value is None
    # 65 and over on 31 March: k3 (born 1955) and w4 (1950, died that day); t65 turns 65 on
    # 1 April.
    assert pair(march, "city", "city", "elderly_65") == (1, 2)
    assert pair(march, "city", "city", "child_0_6") == (0, 1)
    assert pair(march, "city", "city", "pregnant") == (0, 0)
    # All together, each resident once: k3 k5 k6 w4 child, of whom k3 k5 k6 covered.
    assert pair(march, "city", "city") == (3, 5)
    assert pair(march, "district", "east") == (1, 2)
    assert pair(march, "district", "west") == (2, 3)
    february = KPIS["key_population_coverage"].compute(Period.parse("2026-02"))
    assert pair(february, "city", "city", "tuberculosis") == (0, 1)
    assert pair(february, "district", "east", "hypertension") == (1, 1)  # k6 still east
    april = KPIS["key_population_coverage"].compute(APRIL)
    # k3 expired, t65 now 65, w4 off the register.
    assert pair(april, "city", "city", "elderly_65") == (0, 2)
