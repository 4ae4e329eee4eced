"""Reference figures of the referral KPIs (2, 3, 5, 6, 7, 8, 9), worked out by hand from the
referrals of tests/reports/kpi_reference.py:

up1 P1→H  submitted 03-02 10:00, accepted 03-03 09:00 (23 h), booked 03-06, completed 03-06 15:00,
          acknowledged 03-09 15:00 (exactly 72 h); its completion opened down1 H→P1
up2 P1→H  urgent, submitted 03-04 10:00, rejected no_capacity 16:00 (6 h > 4 h)
up3 P2→H  submitted 03-10 10:00, redirected by H 03-11 10:00 (24 h) → up3_next P2→D, accepted by D
          03-14 10:00 (72 h > 48 h), booked 03-20
down2 D→P2 inpatient (w3 discharged from D 03-12 09:00), submitted 03-12 10:00
down4 H→P1 submitted 03-20 10:00 (k8, outpatient)
down3 H→P1 inpatient (e4 discharged 03-31 23:30), submitted 04-01 09:00
up8 P1→H  submitted 03-16 10:00, cancelled 11:00; a draft P1→H never submitted
up6 P1→H  submitted 03-20 10:00, accepted 12:00 (2 h), booked 03-23, no-show, rebooked 03-27
up7 P1→H  submitted 03-21 10:00, accepted 14:00 (4 h), booked 03-26, completed 03-26 10:00,
          closed by the system 03-29 11:00
up4 P1→H  submitted 03-31 23:00, accepted 04-01 08:00 (9 h), booked 04-03
up5 P2→D  submitted 04-01 00:30 (03-31 16:30 UTC), rejected incomplete_information 04-02 00:30
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


def test_referrals_up(ref):
    march = KPIS["referrals_up"].compute(MARCH)
    # P1: up1 up2 up8 up6 up7 up4 (23:00 on 03-31); P2: up3 (its redirect is not a new request);
    # the draft is not counted.
    assert pair(march, "institution", "p1") == (6, None)
    assert pair(march, "institution", "p2") == (1, None)
    assert pair(march, "institution", "h") == (0, None)
    assert pair(march, "city", "city") == (7, None)
    assert march[("city", "city", "")].value == Decimal(7)
    assert pair(march, "district", "east") == (6, None)
    assert pair(march, "district", "west") == (1, None)
    assert pair(march, "alliance", "g") == (6, None)  # P2 joined G on 03-15, after up3
    assert pair(march, "alliance", "c") == (1, None)
    assert pair(KPIS["referrals_up"].compute(APRIL), "city", "city") == (1, None)  # up5
    assert pair(KPIS["referrals_up"].compute(Period.parse("2026Q1")), "city", "city") == (7, None)
    assert pair(KPIS["referrals_up"].compute(Period.parse("2026")), "city", "city") == (8, None)


def test_referrals_down_and_the_ratio(ref):
    march = KPIS["referrals_down"].compute(MARCH)
    assert pair(march, "institution", "h") == (2, None)  # down1, down4
    assert pair(march, "institution", "dh") == (1, None)  # down2
    assert pair(march, "institution", "h", "outpatient") == (2, None)
    assert pair(march, "institution", "h", "inpatient") == (0, None)
    assert pair(march, "institution", "dh", "inpatient") == (1, None)
    assert pair(march, "city", "city", "outpatient") == (2, None)
    assert pair(march, "city", "city", "inpatient") == (1, None)
    assert pair(march, "city", "city") == (3, None)
    assert pair(march, "alliance", "g") == (2, None)
    april = KPIS["referrals_down"].compute(APRIL)
    assert pair(april, "city", "city", "inpatient") == (1, None)  # down3
    ratio = KPIS["down_up_ratio"].compute(MARCH)
    assert pair(ratio, "city", "city") == (3, 7)
    assert ratio[("city", "city", "")].value == Decimal("0.4286")
    assert pair(ratio, "district", "east") == (2, 6)
    assert pair(ratio, "district", "west") == (1, 1)
    assert pair(ratio, "alliance", "g") == (2, 6)
    assert pair(ratio, "alliance", "c") == (1, 1)
    assert pair(KPIS["down_up_ratio"].compute(APRIL), "city", "city") == (1, 1)


def test_decisions_on_time_and_median_hours(ref):
    march = KPIS["decision_on_time"].compute(MARCH)
    # H decided up1 (23 h), up2 (6 h, urgent: late), up3 (24 h, the redirect), up6 (2 h), up7
    # (4 h); D decided up3_next (72 h: late). up4 is decided in April.
    assert pair(march, "institution", "h") == (4, 5)
    assert pair(march, "institution", "dh") == (0, 1)
    assert pair(march, "city", "city") == (4, 6)
    assert pair(march, "district", "east") == (4, 5)
    assert pair(march, "alliance", "c") == (0, 1)
    assert pair(march, "institution", "p1") == (0, 0)
    assert march[("institution", "p1", "")].value is None
    assert pair(KPIS["decision_on_time"].compute(APRIL), "city", "city") == (2, 2)

    hours = KPIS["decision_hours_median"].compute(MARCH)
    assert pair(hours, "institution", "h") == (6, 5)  # 2 4 6 23 24
    assert pair(hours, "institution", "dh") == (72, 1)
    assert hours[("city", "city", "")].value == Decimal("14.50")  # 2 4 6 23 24 72
    assert pair(hours, "city", "city") == (Decimal("14.5"), 6)
    assert hours[("institution", "p1", "")].value is None
    april = KPIS["decision_hours_median"].compute(APRIL)
    assert april[("city", "city", "")].value == Decimal("16.50")  # 9 and 24


def test_rejection_rate_by_reason(ref):
    march = KPIS["rejection_rate"].compute(MARCH)
    assert pair(march, "institution", "h") == (1, 5)
    assert pair(march, "institution", "h", "no_capacity") == (1, 5)
    assert pair(march, "institution", "h", "not_indicated") == (0, 5)
    assert pair(march, "city", "city") == (1, 6)
    assert pair(march, "city", "city", "no_capacity") == (1, 6)
    assert pair(march, "institution", "dh") == (0, 1)
    april = KPIS["rejection_rate"].compute(APRIL)
    assert pair(april, "institution", "dh", "incomplete_information") == (1, 1)
    assert pair(april, "city", "city") == (1, 2)
    assert pair(april, "city", "city", "incomplete_information") == (1, 2)
    assert pair(april, "city", "city", "no_capacity") == (0, 2)
    reasons = {b for (_l, _c, b) in april}
    assert reasons == {"", *(value for value, _label in KPIS["rejection_rate"].breakdown_values)}


def test_loop_closed_within_3_days(ref):
    march = KPIS["loop_closed_3d"].compute(MARCH)
    # up1 acknowledged exactly 72 h after completion: closed in time; up7 closed by the system.
    assert pair(march, "institution", "p1") == (1, 2)
    assert pair(march, "city", "city") == (1, 2)
    assert pair(march, "alliance", "g") == (1, 2)
    assert pair(march, "institution", "h") == (0, 0)


def test_reserved_slot_use(ref):
    march = KPIS["reserved_slot_use"].compute(MARCH)
    # H: 2 a day × 31; booked on 03-06, 03-26, 03-27 (03-23 released by the no-show).
    assert pair(march, "institution", "h") == (3, 62)
    # D: 03-20 opened with 1 slot and booked; 30 other days at the raised 2 a day.
    assert pair(march, "institution", "dh") == (1, 61)
    assert pair(march, "institution", "p1") == (0, 0)  # no reserved slots
    assert pair(march, "city", "city") == (4, 123)
    assert march[("city", "city", "")].value == Decimal("0.0325")
    assert pair(march, "alliance", "g") == (3, 62)
    assert pair(march, "alliance", "c") == (1, 61)
    april = KPIS["reserved_slot_use"].compute(APRIL)
    assert pair(april, "institution", "h") == (1, 60)  # up4 on 04-03
    assert pair(april, "institution", "dh") == (0, 60)


def test_wait_days_median(ref):
    march = KPIS["wait_days_median"].compute(MARCH)
    # up1 3 days, up6 3 (to its first appointment, not the rebooked one), up7 5; up3_next 6 at D.
    assert pair(march, "institution", "h") == (3, 3)
    assert pair(march, "institution", "dh") == (6, 1)
    assert march[("city", "city", "")].value == Decimal("4.00")
    assert pair(march, "city", "city") == (4, 4)
    assert pair(march, "alliance", "g") == (3, 3)
    april = KPIS["wait_days_median"].compute(APRIL)
    assert pair(april, "city", "city") == (2, 1)  # up4
    # The year's median is over all its cases (3 3 5 6 and 2), not a mean of monthly medians.
    assert pair(KPIS["wait_days_median"].compute(Period.parse("2026")), "city", "city") == (3, 5)
