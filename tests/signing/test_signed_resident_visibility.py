"""A contract ties its resident to the team's institution."""

from __future__ import annotations

from tests.conftest import api_client_for
from tests.factories import InstitutionFactory
from tests.signing.helpers import signed_contract


def test_staff_of_the_teams_institution_may_read_a_signed_resident(team, admin, adult):
    url = f"/api/v1/residents/{adult.public_id}"
    adult.registered_by = InstitutionFactory()
    adult.save()
    staff = api_client_for(admin)
    assert staff.get(url).status_code == 404  # out of scope: as if it did not exist

    signed_contract(adult, team)

    assert staff.get(url).status_code == 200
