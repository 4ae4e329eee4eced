"""Reference figures of 1 基层就诊率 and 15 扫码就医 share, worked out by hand from the visits in
tests/reports/kpi_reference.py (every visit is listed there with its Shanghai time), and the two
outpatient visits the referrals' arrivals open at H (up1 on 03-06, up7 on 03-26: source
"referral")."""

from __future__ import annotations

from decimal import Decimal

import pytest

from reports.kpis import KPIS
from reports.periods import Period
from tests.reports.kpi_reference import pair, reference_data

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def ref(django_db_setup, django_db_blocker):
    yield from reference_data(django_db_blocker)


def test_primary_care_share_march(ref):
    figures = KPIS["primary_care_share"].compute(Period.parse("2026-03"))
    # March visits: P1 4 (03-01 07:00 = 02-28 UTC, 03-05, the 03-12 scan, 03-31 23:30),
    # H 6 (outpatient ×2, emergency, e4's stay, two referral arrivals), P2 2 (03-10, 03-20),
    # D 2 (03-11, w3's stay).
    assert pair(figures, "city", "city") == (6, 14)
    assert figures[("city", "city", "")].value == Decimal("0.4286")
    assert pair(figures, "district", "east") == (4, 10)
    assert pair(figures, "district", "west") == (2, 4)
    assert figures[("district", "west", "")].value == Decimal("0.5000")
    # G: H and P1 all month, P2 only from 03-15 (its 03-20 visit, not its 03-10 one).
    assert pair(figures, "alliance", "g") == (5, 11)
    assert figures[("alliance", "g", "")].value == Decimal("0.4545")
    assert pair(figures, "alliance", "c") == (2, 4)
    # Defined for areas only: no institution or team figures.
    assert {level for level, _code, _b in figures} == {"city", "district", "alliance"}


def test_primary_care_share_other_periods(ref):
    april = KPIS["primary_care_share"].compute(Period.parse("2026-04"))
    # H at 00:10 on 04-01 (16:10 UTC on 03-31) and P1 on 04-02.
    assert pair(april, "city", "city") == (1, 2)
    february = KPIS["primary_care_share"].compute(Period.parse("2026-02"))
    assert pair(february, "city", "city") == (1, 1)  # P1 at 23:30 on 02-28
    q1 = KPIS["primary_care_share"].compute(Period.parse("2026Q1"))
    assert pair(q1, "city", "city") == (7, 15)
    assert pair(KPIS["primary_care_share"].compute(Period.parse("2026-05")), "city", "city") == (
        0,
        0,
    )
    assert (
        KPIS["primary_care_share"].compute(Period.parse("2026-05"))[("city", "city", "")].value
        is None
    )


def test_scan_registration_share_march(ref):
    figures = KPIS["scan_registration_share"].compute(Period.parse("2026-03"))
    # Registrations = outpatient + emergency visits (the arrivals' too); the admission at H is
    # not one.
    assert pair(figures, "institution", "p1") == (1, 4)
    assert pair(figures, "institution", "h") == (0, 5)
    assert pair(figures, "institution", "p2") == (0, 2)
    assert pair(figures, "institution", "dh") == (0, 1)
    assert pair(figures, "city", "city") == (1, 12)
    assert figures[("city", "city", "")].value == Decimal("0.0833")
    assert pair(figures, "district", "east") == (1, 9)
    assert pair(figures, "district", "west") == (0, 3)
    assert pair(figures, "alliance", "g") == (1, 10)
    assert pair(figures, "alliance", "c") == (0, 3)
    april = KPIS["scan_registration_share"].compute(Period.parse("2026-04"))
    assert pair(april, "city", "city") == (0, 2)
