"""Helpers of the signing tests (imported by conftest.py and the test modules)."""

from __future__ import annotations

import datetime as dt
import itertools

from django.utils import timezone

from healthnet.models import Practitioner, UserRole
from signing import services
from tests.factories import UserFactory, national_id_for

_practitioners = itertools.count(1)


def make_practitioner(name: str = "医生") -> Practitioner:
    n = next(_practitioners)
    return Practitioner.objects.create(
        name=f"{name}{n}", sex="female", license_number=f"LIC-{n:06d}"
    )


def make_team(institution, *, code: str, capacity: int = 2500, member_user: bool = True):
    """A team through the real service, its GP lead having a doctor login."""
    lead = make_practitioner("全科医生")
    team = services.team_create(
        actor=None,
        code=code,
        name=f"{code} 团队",
        institution=institution,
        lead=lead,
        capacity=capacity,
        service_area=["滨河社区"],
    )
    user = None
    if member_user:
        user = UserFactory(
            username=f"gp-{code}", role=UserRole.DOCTOR, institution=institution, practitioner=lead
        )
    return team, user


def years_ago(years: int, days: int = 0) -> dt.date:
    today = timezone.localdate()
    return today.replace(year=today.year - years) - dt.timedelta(days=days)


GUARDIAN_ID = national_id_for(7, birth_date=dt.date(1985, 3, 2))


def sign(contract, actor=None, **overrides):
    kwargs = {"signed_by": "resident", "method": "in_person"}
    kwargs.update(overrides)
    return services.contract_sign(actor=actor, contract=contract, **kwargs)


def signed_contract(resident, team, actor=None, packages=()):
    contract = services.contract_create(
        actor=actor, resident=resident, team=team, package_codes=list(packages)
    )
    return sign(contract, actor).contract
