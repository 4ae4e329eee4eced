"""demo.contracts.generate_signing: 92 teams by district population, contracts for ~40.9 % of
residents with key populations at a higher rate, follow-up history; deterministic; a second call
adds nothing."""

from __future__ import annotations

import datetime as dt

import pytest

from demo.contracts import generate_signing
from healthnet.models import Practitioner, PractitionerRole, ResidentPopulationTag, Tier, UserRole
from signing.models import (
    Contract,
    ContractStatus,
    FamilyDoctorTeam,
    FollowUp,
    FollowUpStatus,
    TeamMember,
)
from tests.factories import InstitutionFactory, ResidentFactory

TODAY = dt.date(2026, 11, 29)


def _staff(institution, n: int) -> None:
    for k, role in enumerate([UserRole.DOCTOR, UserRole.NURSE, UserRole.PUBLIC_HEALTH] * n):
        p = Practitioner.objects.create(
            name=f"{institution.code}-{k}", sex="male", license_number=f"L-{institution.code}-{k}"
        )
        PractitionerRole.objects.create(practitioner=p, institution=institution, role=role)


@pytest.fixture
def small_city(db):
    haibowan = [
        InstitutionFactory(code=f"wh-p-h{i}", tier=Tier.PRIMARY, district="haibowan")
        for i in range(2)
    ]
    wuda = InstitutionFactory(code="wh-p-w1", tier=Tier.PRIMARY, district="wuda")
    hospital = InstitutionFactory(code="wh-d-h", tier=Tier.DISTRICT, district="haibowan")
    for institution in [*haibowan, hospital]:
        _staff(institution, 2)
    # wuda's centre has no staff at all: the generator creates its team's members
    residents = []
    for n in range(600):
        district = "haibowan" if n % 3 else "wuda"
        registered = haibowan[n % 2] if district == "haibowan" else wuda
        birth = dt.date(1940 + n % 80, 1 + n % 12, 1 + n % 27)
        residents.append(
            ResidentFactory(birth_date=birth, district=district, registered_by=registered)
        )
    for resident in residents[::7]:
        ResidentPopulationTag.objects.create(resident=resident, population="hypertension")
    return {"haibowan": haibowan, "wuda": wuda, "hospital": hospital, "residents": residents}


def _snapshot():
    return sorted(
        Contract.objects.values_list(
            "public_id", "resident_id", "team__code", "start_date", "status"
        )
    )


def _wipe():
    FollowUp.objects.all().delete()
    Contract.objects.filter(previous_contract__isnull=False).delete()
    Contract.objects.all().delete()
    TeamMember.objects.all().delete()
    FamilyDoctorTeam.objects.all().delete()


def test_generate_teams_contracts_and_history(small_city):
    counts = generate_signing(seed=7, today=TODAY, log=lambda m: None)

    assert counts["family_doctor_teams"] == 92 == FamilyDoctorTeam.objects.count()
    # two thirds of the residents live in haibowan: about two thirds of the teams
    haibowan_teams = FamilyDoctorTeam.objects.filter(institution__district="haibowan").count()
    assert 58 <= haibowan_teams <= 64
    assert counts["practitioners"] == 3  # wuda's centre: a GP, a nurse, a public-health doctor
    assert TeamMember.objects.filter(role="specialist").exists()
    assert not FamilyDoctorTeam.objects.filter(lead__isnull=True).exists()

    current = Contract.objects.filter(status__in=["active", "renewal_due"])
    share = current.count() / len(small_city["residents"])
    assert 0.33 <= share <= 0.48
    assert Contract.objects.filter(status=ContractStatus.RENEWED).exists()
    assert (
        not current.filter(previous_contract__isnull=False)
        .exclude(previous_contract__status=ContractStatus.RENEWED)
        .exists()
    )
    elderly_cut = dt.date(TODAY.year - 65, TODAY.month, TODAY.day)
    elderly = [r for r in small_city["residents"] if r.birth_date <= elderly_cut]
    young_untagged = [
        r
        for r in small_city["residents"]
        if dt.date(TODAY.year - 60, 1, 1) < r.birth_date < dt.date(TODAY.year - 20, 1, 1)
        and not r.population_tags.exists()
    ]
    signed = set(current.values_list("resident_id", flat=True))

    def rate(group):
        return sum(r.pk in signed for r in group) / len(group)

    assert rate(elderly) > rate(young_untagged)
    assert FollowUp.objects.filter(status=FollowUpStatus.DONE).exists()
    assert FollowUp.objects.filter(status=FollowUpStatus.PENDING).exists()
    assert counts["contracts"] == Contract.objects.count()
    assert counts["follow_ups"] == FollowUp.objects.count()


def test_second_call_adds_nothing_and_same_seed_same_data(small_city):
    generate_signing(seed=11, today=TODAY, log=lambda m: None)
    first = _snapshot()
    again = generate_signing(seed=11, today=TODAY, log=lambda m: None)
    assert again == {
        "family_doctor_teams": 0,
        "team_members": 0,
        "contracts": 0,
        "follow_ups": 0,
        "contract_events": 0,
    }

    _wipe()
    generate_signing(seed=11, today=TODAY, log=lambda m: None)
    assert _snapshot() == first
