"""Every KPI reads its facts in grouped queries: the number of queries of compute(period) does not
grow with the number of units (districts, alliances, institutions, teams) or of rows."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from healthnet.models import Encounter, ResidentPopulationTag
from healthnet.register import registration_start
from referrals.models import DepartmentDaySlots, Referral
from reports.kpis import KPIS
from reports.periods import month
from signing.models import (
    Contract,
    ContractEvent,
    FamilyDoctorTeam,
    FollowUp,
    ServiceItem,
    ServicePackage,
)
from tests.factories import (
    AllianceFactory,
    DepartmentFactory,
    InstitutionFactory,
    MembershipFactory,
    ResidentFactory,
)

MARCH = month(2026, 3)
AT = dt.datetime(2026, 3, 10, 2, 0, tzinfo=dt.UTC)


def _network(numbers: range, package: ServicePackage) -> None:
    """Districts numbered `numbers`, each with a hospital and a primary institution in a medical
    community, a team, residents with contracts and follow-ups, visits, referrals both ways and
    reserved slots. Rows are written directly: only their number matters here (the reference tests
    use the services)."""
    item = ServiceItem.objects.get(package=package)
    for i in numbers:
        district = f"d{i}"
        hospital = InstitutionFactory(code=f"h{i}", tier="district", district=district)
        primary = InstitutionFactory(code=f"p{i}", tier="primary", district=district)
        alliance = AllianceFactory(code=f"a{i}", district=district)
        MembershipFactory(alliance=alliance, institution=hospital, role="lead")
        MembershipFactory(alliance=alliance, institution=primary)
        team = FamilyDoctorTeam.objects.create(code=f"t{i}", name=f"团队{i}", institution=primary)
        ward = DepartmentFactory(institution=hospital, referral_slots_per_day=3)
        gp = DepartmentFactory(institution=primary, referral_slots_per_day=2)
        DepartmentDaySlots.objects.create(
            department=ward, date=dt.date(2026, 3, 10), capacity=3, booked=2
        )
        for j in range(3):
            resident = ResidentFactory(district=district, birth_date=dt.date(1950 + j * 30, 1, 1))
            registration_start(resident=resident, district=district, on=dt.date(2020, 1, 1))
            ResidentPopulationTag.objects.create(
                resident=resident, population="hypertension", valid_from=dt.date(2020, 1, 1)
            )
            contract = Contract.objects.create(
                resident=resident,
                team=team,
                start_date=dt.date(2026, 1, 1),
                end_date=dt.date(2026, 3, 20),
                status="active",
                signed_at=AT - dt.timedelta(days=60),
                terms_hash="x" * 64,
            )
            ContractEvent.objects.create(
                contract=contract, at=contract.signed_at, action="demo", to_status="active"
            )
            FollowUp.objects.create(contract=contract, item=item, due_date=dt.date(2026, 3, 5))
            for institution in (hospital, primary):
                Encounter.objects.create(
                    resident=resident, institution=institution, kind="outpatient", started_at=AT
                )
            for direction, src, dst, dept in (
                ("up", primary, hospital, ward),
                ("down", hospital, primary, gp),
            ):
                Referral.objects.create(
                    resident=resident,
                    direction=direction,
                    from_institution=src,
                    to_institution=dst,
                    to_department=dept,
                    urgency="routine",
                    reason_code="x",
                    status="scheduled",
                    created_at=AT,
                    submitted_at=AT,
                    decided_at=AT + dt.timedelta(hours=3),
                    decision_due_at=AT + dt.timedelta(hours=48),
                    completed_at=AT + dt.timedelta(days=1),
                    appointment_date=dt.date(2026, 3, 12),
                    updated_at=AT,
                )


def _queries(kpi) -> int:
    with CaptureQueriesContext(connection) as captured:
        figures = kpi.compute(MARCH)
    assert ("city", "city", "") in figures
    return len(captured)


@pytest.mark.django_db
@pytest.mark.parametrize("code", list(KPIS))
def test_queries_do_not_grow_with_the_units(code):
    package = ServicePackage.objects.create(code="basic", name="基础包", kind="basic")
    ServiceItem.objects.create(package=package, code="visit", name="随访", times_per_year=4)
    _network(range(1), package)
    small = _queries(KPIS[code])
    _network(range(1, 6), package)
    figures = KPIS[code].compute(MARCH)
    levels = set(KPIS[code].levels)
    # every district's units are there: the bigger network really was computed
    assert {code for (level, code, _b) in figures if level == "district"} == (
        {f"d{i}" for i in range(6)} if "district" in levels else set()
    )
    assert _queries(KPIS[code]) == small
    if code in ("contract_coverage", "key_population_coverage"):  # the rows were really read
        assert figures[("city", "city", "")].numerator == 18
