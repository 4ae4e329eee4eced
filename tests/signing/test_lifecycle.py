"""The contract lifecycle table (signing.lifecycle) against a matrix written here from the design
(docs/design.md §5), independently of the table, so a wrong table fails; and the services, the
periodic jobs, the permissions and the API reading it."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import Client

from healthnet.errors import Conflict
from healthnet.models import UserRole
from healthnet.workflow import SYSTEM
from signing import permissions, services
from signing.actions import CONTRACT_ACTIONS, ConsentIn, RenewIn, SwitchIn, TerminateIn
from signing.lifecycle import ACTIVE_STATUSES, CONTRACT_LIFECYCLE, TERMINAL_STATUSES
from signing.models import Contract, ContractStatus
from signing.selectors import member_team_ids
from tests.factories import UserFactory
from tests.signing.helpers import signed_contract

STATES = [
    "pending_signature",
    "active",
    "renewal_due",
    "renewed",
    "switched",
    "expired",
    "terminated",
]
ACTIONS = ["sign", "renew", "switch", "terminate", "mark_renewal_due", "expire"]
# docs/design.md §5: pending_signature → active → renewal_due (30 days before the end) →
# renewed | switched (only at term end) | expired (after the grace); terminate from any
# non-terminal state. The two periodic moves are the system's.
MOVES = {
    ("pending_signature", "sign"): "active",
    ("pending_signature", "terminate"): "terminated",
    ("active", "mark_renewal_due"): "renewal_due",
    ("active", "terminate"): "terminated",
    ("renewal_due", "renew"): "renewed",
    ("renewal_due", "switch"): "switched",
    ("renewal_due", "expire"): "expired",
    ("renewal_due", "terminate"): "terminated",
}
SYSTEM_MOVES = {"mark_renewal_due", "expire"}


def test_the_table_has_exactly_the_designed_moves():
    assert set(CONTRACT_LIFECYCLE.states) == set(STATES) == set(ContractStatus.values)
    for state in STATES:
        for action in ACTIONS:
            transition = CONTRACT_LIFECYCLE.transition(state, action)
            target = transition.target if transition else None
            assert target == MOVES.get((state, action)), (state, action)
    assert CONTRACT_LIFECYCLE.system_actions == SYSTEM_MOVES
    assert CONTRACT_LIFECYCLE.user_actions == {"sign", "renew", "switch", "terminate"}


def test_the_state_facts():
    assert set(ACTIVE_STATUSES) == {"active", "renewal_due"}
    assert set(TERMINAL_STATUSES) == {"renewed", "switched", "expired", "terminated"}
    # a terminal state has no way out
    for state in TERMINAL_STATUSES:
        assert not [t for t in CONTRACT_LIFECYCLE.transitions if t.source == state]


STAFF = ["doctor", "nurse", "public_health", "referral_coordinator", "pharmacist", "clerk"]


@pytest.mark.parametrize("action", ["sign", "renew", "switch", "terminate"])
def test_who_may_take_a_user_move(action):
    def may(parties, role):
        return CONTRACT_LIFECYCLE.may_ever_take(action, parties=parties, role=role)

    for role in [*STAFF, "institution_admin"]:
        assert may({"team"}, role), role  # any staff member of the team
    assert may({"institution"}, "institution_admin")
    for role in STAFF:
        assert not may({"institution"}, role), role  # staff of the institution, not the team
    for role in ("resident", "bureau", "system_admin"):
        assert not may({"team", "institution"}, role), role
    assert not may(set(), "institution_admin")


@pytest.mark.parametrize("action", sorted(SYSTEM_MOVES))
def test_no_user_may_take_a_system_move(action):
    for role in [*STAFF, "institution_admin", "system_admin"]:
        assert not CONTRACT_LIFECYCLE.may_ever_take(
            action, parties={"team", "institution", SYSTEM}, role=role
        )


def test_each_user_action_is_bound_to_its_service_and_input():
    assert set(CONTRACT_ACTIONS) == CONTRACT_LIFECYCLE.user_actions
    assert CONTRACT_ACTIONS["sign"].service is services.contract_sign
    assert CONTRACT_ACTIONS["terminate"].service is services.contract_terminate
    assert {name: spec.input for name, spec in CONTRACT_ACTIONS.items()} == {
        "sign": ConsentIn,
        "renew": RenewIn,
        "switch": SwitchIn,
        "terminate": TerminateIn,
    }


def test_each_action_route_documents_its_own_input(db):
    schema = Client().get("/api/v1/openapi.json").json()

    def body_of(action: str) -> dict:
        operation = schema["paths"][f"/api/v1/contracts/{{contract_id}}/{action}"]["post"]
        ref = operation["requestBody"]["content"]["application/json"]["schema"]["$ref"]
        return schema["components"]["schemas"][ref.rsplit("/", 1)[1]]

    assert "team" not in body_of("sign")["properties"]
    assert "packages" in body_of("renew")["properties"]
    assert {"team", "national_id", "packages"} <= set(body_of("switch")["properties"])
    assert set(body_of("terminate")["properties"]) == {"reason", "note"}


def test_the_permission_predicates_follow_the_table(team, gp, nurse, admin, adult, primary):
    contract = signed_contract(adult, team, gp)
    outsider = UserFactory(username="doc-p01", role=UserRole.DOCTOR, institution=primary)

    def actions(user):
        return permissions.contract_actions_for(
            user, contract, member_team_ids=member_team_ids(user)
        )

    assert actions(gp) == actions(nurse) == actions(admin) == ["terminate"]
    assert actions(outsider) == []
    services.contracts_mark_renewal_due(today=contract.end_date)
    contract.refresh_from_db()
    assert sorted(actions(gp)) == ["renew", "switch", "terminate"]


def test_a_move_the_table_does_not_have_is_refused_with_the_moves_it_has(adult, team, gp):
    contract = signed_contract(adult, team, gp)

    with pytest.raises(Conflict) as sign_again:
        services.contract_sign(
            actor=gp, contract=contract, signed_by="resident", method="in_person"
        )
    with pytest.raises(Conflict) as renew_early:
        services.contract_renew(
            actor=gp, contract=contract, signed_by="resident", method="in_person"
        )

    assert sign_again.value.code == "transition_not_allowed"
    assert sign_again.value.details == {"status": "active", "allowed_actions": ["terminate"]}
    assert renew_early.value.code == "renewal_not_due"
    services.contract_terminate(actor=gp, contract=contract, reason="died")
    with pytest.raises(Conflict) as terminate_again:
        services.contract_terminate(actor=gp, contract=contract, reason="died")
    assert terminate_again.value.details["allowed_actions"] == []


def test_the_periodic_jobs_move_only_from_the_tables_sources(adult, team):
    """An offer whose dates have long passed is neither due for renewal nor expired: only an
    active contract becomes renewal_due, only a renewal_due one expires."""
    pending = services.contract_create(actor=None, resident=adult, team=team, package_codes=[])
    long_after = pending.end_date + dt.timedelta(days=400)

    assert services.contracts_mark_renewal_due(today=long_after) == 0
    assert services.contracts_expire(today=long_after) == 0
    pending.refresh_from_db()
    assert pending.status == ContractStatus.PENDING_SIGNATURE

    services.contract_sign(actor=None, contract=pending, signed_by="resident", method="in_person")
    assert services.contracts_expire(today=long_after) == 0  # active: not yet renewal_due
    assert services.contracts_mark_renewal_due(today=long_after) == 1
    assert services.contracts_expire(today=long_after) == 1
    assert Contract.objects.get(pk=pending.pk).status == ContractStatus.EXPIRED
