"""The scope rules as a matrix of role × relation to the team (pure predicates), the resident's
own view, and the Celery tasks and their beat schedule."""

from __future__ import annotations

import datetime as dt

import pytest
from django.conf import settings

from healthnet.models import UserRole
from signing import permissions, tasks
from signing.models import Contract, ContractStatus, FollowUp
from signing.selectors import member_team_ids
from tests.conftest import api_client_for
from tests.factories import InstitutionFactory, ResidentFactory, UserFactory
from tests.signing.helpers import signed_contract


@pytest.fixture
def users(team, gp, nurse, admin, bureau, primary):
    elsewhere = InstitutionFactory(code="wh-p-88")
    return {
        "gp (member)": gp,
        "nurse (member)": nurse,
        "doctor, same institution, not a member": UserFactory(
            username="doc2", role=UserRole.DOCTOR, institution=primary
        ),
        "institution admin": admin,
        "admin of another institution": UserFactory(
            username="admin2", role=UserRole.INSTITUTION_ADMIN, institution=elsewhere
        ),
        "bureau": bureau,
        "system admin": UserFactory(
            username="sysadmin", role=UserRole.SYSTEM_ADMIN, institution=None
        ),
    }


#                                        act on team, record follow-up, list teams, import
EXPECTED = {
    "gp (member)": (True, True, True, False),
    "nurse (member)": (True, True, True, False),
    "doctor, same institution, not a member": (False, False, True, False),
    "institution admin": (True, False, True, True),
    "admin of another institution": (False, False, True, True),  # into its own teams only
    "bureau": (False, False, True, False),
    "system admin": (False, False, True, True),
}


def test_permission_matrix(users, team, adult):
    contract = signed_contract(adult, team)
    followup = FollowUp.objects.select_related("contract").get(contract=contract)
    for label, user in users.items():
        member_of = member_team_ids(user)
        got = (
            permissions.can_act_on_team(user, team, member_team_ids=member_of),
            permissions.can_record_followup(user, followup, member_team_ids=member_of),
            permissions.can_list_teams(user),
            permissions.can_import_contracts(user),
        )
        assert got == EXPECTED[label], label


def test_inactive_user_may_do_nothing(gp, team):
    gp.is_active = False
    assert not permissions.can_act_on_team(gp, team, member_team_ids=frozenset({team.pk}))
    assert not permissions.can_list_teams(gp)


def test_resident_sees_only_own_contracts(team, adult):
    mine = signed_contract(adult, team)
    signed_contract(ResidentFactory(), team)
    resident_user = UserFactory(
        username="me", role=UserRole.RESIDENT, institution=None, resident=adult
    )
    api = api_client_for(resident_user)

    listed = api.get("/api/v1/contracts").json()
    assert [row["id"] for row in listed["items"]] == [str(mine.public_id)]
    assert api.get(f"/api/v1/contracts/{mine.public_id}").status_code == 200
    terminate = api.post(f"/api/v1/contracts/{mine.public_id}/terminate", {"reason": "died"})
    assert terminate.status_code == 403
    assert api.get("/api/v1/follow-ups").status_code == 403


def test_tasks_move_due_contracts_and_are_in_the_beat_schedule(team, adult, primary):
    contract = signed_contract(adult, team)
    Contract.objects.filter(pk=contract.pk).update(end_date=dt.date.today() + dt.timedelta(days=5))

    assert tasks.contracts_mark_renewal_due.delay().get() == 1
    assert tasks.contracts_mark_renewal_due.delay().get() == 0
    Contract.objects.filter(pk=contract.pk).update(
        start_date=dt.date.today() - dt.timedelta(days=396),
        end_date=dt.date.today() - dt.timedelta(days=31),
    )
    assert tasks.contracts_expire.delay().get() == 1
    contract.refresh_from_db()
    assert contract.status == ContractStatus.EXPIRED
    assert tasks.followup_reminders_send.delay().get() >= 0
    scheduled = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert {
        "signing.tasks.contracts_mark_renewal_due",
        "signing.tasks.contracts_expire",
        "signing.tasks.followup_reminders_send",
    } <= scheduled


def test_specialist_must_come_from_a_higher_tier(team, primary):
    from healthnet.errors import InvalidInput
    from healthnet.models import Tier
    from signing import services
    from tests.signing.helpers import make_practitioner

    with pytest.raises(InvalidInput):
        services.team_member_add(
            actor=None,
            team=team,
            practitioner=make_practitioner(),
            role="specialist",
            home_institution=primary,
        )
    hospital = InstitutionFactory(code="wh-t-9", tier=Tier.TERTIARY)
    member = services.team_member_add(
        actor=None,
        team=team,
        practitioner=make_practitioner(),
        role="specialist",
        home_institution=hospital,
    )
    assert member.home_institution == hospital
