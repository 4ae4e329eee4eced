"""Reference figures of 4 住院患者下转占比 and 10 下转随访及时率, worked out by hand from
tests/reports/kpi_reference.py:

stays: e4 at H admitted 03-09, discharged 03-31 23:30; w3 at D 03-11 12:00 → 03-12 09:00
down1 H→P1 outpatient, submitted 03-06 15:00 (up1's return); k8's team follows up 03-08 10:00
down2 D→P2 inpatient, submitted 03-12 10:00, never followed up (P2 is in G from 03-15)
down4 H→P1 outpatient, submitted 03-20 10:00; k8's team follows up 03-24 10:00 (4 days on)
down3 H→P1 inpatient, submitted 04-01 09:00, not followed up
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


def test_inpatient_downward_share(ref):
    march = KPIS["inpatient_down_share"].compute(MARCH)
    # H discharged e4 at 23:30 on 03-31 and referred them down on 04-01: each in its own month.
    assert pair(march, "institution", "h") == (0, 1)
    assert pair(march, "institution", "dh") == (1, 1)
    assert pair(march, "institution", "p1") == (0, 0)
    assert pair(march, "city", "city") == (1, 2)
    assert march[("city", "city", "")].value == Decimal("0.5000")
    assert pair(march, "district", "east") == (0, 1)
    assert pair(march, "alliance", "c") == (1, 1)
    april = KPIS["inpatient_down_share"].compute(APRIL)
    assert pair(april, "institution", "h") == (1, 0)
    assert april[("institution", "h", "")].value is None


def test_downward_followups_on_time(ref):
    march = KPIS["down_followup_on_time"].compute(MARCH)
    # Due: down1 03-09 15:00 (answered 03-08), down2 03-15 10:00 (never), down4 03-23 10:00
    # (answered 03-24: late).
    assert pair(march, "institution", "p1") == (1, 2)
    assert pair(march, "institution", "p2") == (0, 1)
    assert pair(march, "city", "city") == (1, 3)
    assert march[("city", "city", "")].value == Decimal("0.3333")
    assert pair(march, "district", "east") == (1, 2)
    assert pair(march, "district", "west") == (0, 1)
    # G on each due day: P1 always, P2 from 03-15 — down2 fell due that very day.
    assert pair(march, "alliance", "g") == (1, 3)
    assert pair(march, "alliance", "c") == (0, 1)
    april = KPIS["down_followup_on_time"].compute(APRIL)
    assert pair(april, "institution", "p1") == (0, 1)  # down3, due 04-04
