"""A contract ties its resident to the team's institution; demo primary-care logins join a team."""

from __future__ import annotations

from django.core.management import call_command

from healthnet.models import Tier
from signing.models import TeamMember
from tests.conftest import api_client_for
from tests.factories import InstitutionFactory, ResidentFactory
from tests.signing.helpers import make_team, signed_contract


def test_staff_of_the_teams_institution_may_read_a_signed_resident(team, admin, adult):
    url = f"/api/v1/residents/{adult.public_id}"
    adult.registered_by = InstitutionFactory()
    adult.save()
    staff = api_client_for(admin)
    assert staff.get(url).status_code == 404  # out of scope: as if it did not exist

    signed_contract(adult, team)

    assert staff.get(url).status_code == 200


def test_primary_care_demo_logins_join_their_institutions_first_team(catalogue):
    for tier in Tier.values:
        InstitutionFactory(tier=tier, code=f"a-{tier}")
    ResidentFactory()
    primary = InstitutionFactory(tier=Tier.PRIMARY, code="a-primary")
    make_team(primary, code="t-a", member_user=False)
    make_team(primary, code="t-b", member_user=False)

    call_command("seed_demo_users")
    call_command("seed_demo_users")

    members = TeamMember.objects.filter(practitioner__user__username__startswith="clinic-")
    assert {(m.practitioner.user.username, m.role, m.team.code) for m in members} == {
        ("clinic-doctor", "gp", "t-a"),
        ("clinic-nurse", "nurse", "t-a"),
        ("clinic-public-health", "public_health", "t-a"),
    }
