"""The catalogue of KPIs: issue 12's fifteen, in its order, each with its levels and breakdown; an
empty network still gives the city its (zero) figure of every KPI."""

from __future__ import annotations

from decimal import Decimal

import pytest

from reports.kpis import KPIS
from reports.periods import month

ISSUE_ORDER = [
    ("primary_care_share", 1),
    ("referrals_up", 2),
    ("referrals_down", 3),
    ("down_up_ratio", 3),
    ("inpatient_down_share", 4),
    ("decision_on_time", 5),
    ("decision_hours_median", 5),
    ("rejection_rate", 6),
    ("loop_closed_3d", 7),
    ("reserved_slot_use", 8),
    ("wait_days_median", 9),
    ("down_followup_on_time", 10),
    ("contract_coverage", 11),
    ("key_population_coverage", 12),
    ("renewal_rate", 13),
    ("fulfilment", 14),
    ("fulfilment_grace", 14),
    ("scan_registration_share", 15),
]


def test_the_catalogue_is_the_issue_s_list_in_its_order():
    assert [(kpi.code, kpi.number) for kpi in KPIS.values()] == ISSUE_ORDER
    assert {kpi.code: kpi.breakdown for kpi in KPIS.values() if kpi.breakdown} == {
        "referrals_down": "care_setting",
        "rejection_rate": "reason",
        "key_population_coverage": "population",
    }
    assert [v for v, _ in KPIS["key_population_coverage"].breakdown_values] == [
        "elderly_65",
        "hypertension",
        "diabetes",
        "tuberculosis",
        "severe_mental_illness",
        "pregnant",
        "child_0_6",
        "disabled",
        "low_income",
    ]
    for kpi in KPIS.values():
        assert kpi.levels[0] == "city"
        assert str(kpi.name)
        assert str(kpi.definition)


@pytest.mark.django_db
@pytest.mark.parametrize("code", list(KPIS))
def test_an_empty_network_gives_the_city_a_zero_figure(code):
    kpi = KPIS[code]
    figures = kpi.compute(month(2026, 3))
    breakdowns = ["", *(value for value, _label in kpi.breakdown_values)]
    assert sorted(figures) == sorted(("city", "city", b) for b in breakdowns)
    figure = figures[("city", "city", "")]
    assert figure.numerator == Decimal(0)
    if kpi.unit == "count":
        assert (figure.denominator, figure.value) == (None, Decimal(0))
    else:  # a ratio or a median of nothing has no value
        assert (figure.denominator, figure.value) == (Decimal(0), None)
