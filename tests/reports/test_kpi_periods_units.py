"""Periods (the Asia/Shanghai calendar) and the unit hierarchy, with hand-written expectations."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from reports.periods import Period, month, months_between, quarter, year
from reports.units import units
from tests.factories import AllianceFactory, InstitutionFactory, MembershipFactory

SHANGHAI = ZoneInfo("Asia/Shanghai")


def test_labels_parse_back_and_kinds_have_their_lengths():
    assert month(2026, 3) == Period("month", dt.date(2026, 3, 1), dt.date(2026, 4, 1))
    assert month(2026, 12).end == dt.date(2027, 1, 1)
    assert quarter(2026, 4) == Period("quarter", dt.date(2026, 10, 1), dt.date(2027, 1, 1))
    assert year(2026) == Period("year", dt.date(2026, 1, 1), dt.date(2027, 1, 1))
    for label in ("2026-03", "2026Q1", "2026", "2025-12"):
        assert Period.parse(label).label == label
    assert Period.parse("2026Q2") == quarter(2026, 2)


@pytest.mark.parametrize("label", ["2026-13", "2026Q5", "26-01", "2026-3", "", "2026-03-01"])
def test_a_bad_label_is_refused(label):
    with pytest.raises(ValueError, match=r"period|month|quarter"):
        Period.parse(label)


def test_a_period_that_is_not_one_month_quarter_or_year_is_refused():
    with pytest.raises(ValueError, match="is not one month"):
        Period("month", dt.date(2026, 3, 2), dt.date(2026, 4, 2))
    with pytest.raises(ValueError, match="quarter"):
        Period("quarter", dt.date(2026, 2, 1), dt.date(2026, 5, 1))
    with pytest.raises(ValueError, match="unknown period kind"):
        Period("week", dt.date(2026, 3, 1), dt.date(2026, 3, 8))


def test_previous_and_year_ago_cross_the_year():
    assert month(2026, 1).previous() == month(2025, 12)
    assert quarter(2026, 1).previous() == quarter(2025, 4)
    assert year(2026).previous() == year(2025)
    assert month(2026, 3).year_ago() == month(2025, 3)
    assert quarter(2026, 2).year_ago() == quarter(2025, 2)


def test_months_between_and_the_months_of_a_quarter():
    assert [p.label for p in months_between(month(2025, 11), month(2026, 2))] == [
        "2025-11",
        "2025-12",
        "2026-01",
        "2026-02",
    ]
    assert [p.label for p in quarter(2026, 1).months()] == ["2026-01", "2026-02", "2026-03"]
    assert months_between(month(2026, 3), month(2026, 1)) == []


def test_bounds_are_shanghai_midnights_not_utc_ones():
    start, end = month(2026, 3).bounds()
    assert start == dt.datetime(2026, 3, 1, tzinfo=SHANGHAI)
    # 16:00 UTC on the last day of February is already 1 March in Shanghai.
    assert start == dt.datetime(2026, 2, 28, 16, 0, tzinfo=dt.UTC)
    assert end == dt.datetime(2026, 3, 31, 16, 0, tzinfo=dt.UTC)
    assert month(2026, 3).last_day == dt.date(2026, 3, 31)


@pytest.mark.django_db
def test_units_on_a_day_follow_activity_and_membership_periods():
    a = InstitutionFactory(code="p-a", name="甲", district="east", tier="primary")
    InstitutionFactory(code="p-closed", name="已撤销", district="east", active=False)
    group = AllianceFactory(code="g1", name="集团")
    old = AllianceFactory(code="g-old", name="旧集团")
    MembershipFactory(alliance=group, institution=a, start_date=dt.date(2026, 1, 1))
    MembershipFactory(
        alliance=old, institution=a, start_date=dt.date(2025, 1, 1), end_date=dt.date(2026, 1, 1)
    )
    listed = {(u.level, u.code, u.parent_level, u.parent_code) for u in units(dt.date(2026, 1, 1))}
    assert listed == {
        ("city", "city", None, None),
        ("district", "east", "city", "city"),
        ("alliance", "g1", "city", "city"),
        ("institution", "p-a", "district", "east"),
    }
    before = {(u.level, u.code) for u in units(dt.date(2025, 12, 31))}
    assert ("alliance", "g-old") in before
    assert ("alliance", "g1") not in before


@pytest.mark.django_db
def test_a_unit_closed_since_still_gets_the_figure_of_what_it_counted_for():
    from healthnet.services import encounter_create
    from reports.kpis import KPIS
    from tests.factories import ResidentFactory

    open_one = InstitutionFactory(code="p-open", district="east", tier="primary")
    closed = InstitutionFactory(code="p-gone", district="east", tier="primary")
    resident = ResidentFactory(district="east")
    started = dt.datetime(2026, 3, 10, 9, 0, tzinfo=SHANGHAI)
    encounter_create(
        actor=None,
        resident=resident,
        institution_id=closed.pk,
        kind="outpatient",
        started_at=started,
    )
    closed.active = False
    closed.save(update_fields=["active"])

    figures = KPIS["scan_registration_share"].compute(month(2026, 3))

    assert (figures[("institution", "p-gone", "")].denominator) == 1
    assert figures[("institution", "p-open", "")].denominator == 0
    assert figures[("city", "city", "")].denominator == 1
    # April: nothing happened at the closed institution, which no longer exists: no figure.
    assert ("institution", "p-gone", "") not in KPIS["scan_registration_share"].compute(
        month(2026, 4)
    )
    assert open_one.active
