"""Fixtures of the signing tests: the package catalogue, a primary institution with one team
(a GP lead with a doctor login, a nurse), an institution admin, the bureau, residents."""

from __future__ import annotations

import pytest

from healthnet.models import ResidentPopulationTag, Tier, UserRole
from signing import services
from signing.catalogue import service_packages_load
from signing.models import TeamMemberRole
from tests.factories import InstitutionFactory, ResidentFactory, UserFactory
from tests.signing.helpers import make_practitioner, make_team, years_ago


@pytest.fixture
def catalogue(db):
    service_packages_load()


@pytest.fixture
def primary(db):
    return InstitutionFactory(code="wh-p-01", name="滨河社区卫生服务中心", tier=Tier.PRIMARY)


@pytest.fixture
def team_and_gp(primary, catalogue):
    return make_team(primary, code="t-01")


@pytest.fixture
def team(team_and_gp):
    return team_and_gp[0]


@pytest.fixture
def gp(team_and_gp):
    return team_and_gp[1]


@pytest.fixture
def nurse(team):
    practitioner = make_practitioner("护士")
    services.team_member_add(
        actor=None, team=team, practitioner=practitioner, role=TeamMemberRole.NURSE
    )
    return UserFactory(
        username="nurse-t01",
        role=UserRole.NURSE,
        institution=team.institution,
        practitioner=practitioner,
    )


@pytest.fixture
def admin(primary):
    return UserFactory(username="admin-p01", role=UserRole.INSTITUTION_ADMIN, institution=primary)


@pytest.fixture
def bureau(db):
    return UserFactory(username="bureau", role=UserRole.BUREAU, institution=None)


# The residents are registered at the team's institution: an offer by a user needs a tie to it
# (issue 9; tests/signing/test_offer_scope.py covers residents without one).


@pytest.fixture
def adult(primary):
    return ResidentFactory(birth_date=years_ago(40), phone="13900000001", registered_by=primary)


@pytest.fixture
def hypertensive(primary):
    resident = ResidentFactory(birth_date=years_ago(58), registered_by=primary)
    ResidentPopulationTag.objects.create(resident=resident, population="hypertension")
    return resident


@pytest.fixture
def minor(primary):
    return ResidentFactory(birth_date=years_ago(5), registered_by=primary)
