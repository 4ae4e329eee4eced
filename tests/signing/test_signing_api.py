"""The signing API: the journeys, the scope matrix, error codes, and flat query counts."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from healthnet.models import AuditEvent, ResidentPopulationTag, UserRole
from signing import services
from signing.models import Contract, ContractStatus, FollowUp
from tests.conftest import api_client_for
from tests.factories import InstitutionFactory, ResidentFactory, UserFactory
from tests.signing.helpers import GUARDIAN_ID, make_team, signed_contract, years_ago


def queries_of(call) -> int:
    call()  # warm up: the token's first use records last_used_at
    with CaptureQueriesContext(connection) as ctx:
        response = call()
    assert response.status_code == 200, response.content
    return len(ctx.captured_queries)


# --- teams and packages -------------------------------------------------------------------------


def test_team_list_shows_load_to_the_bureau_without_personal_data(team, bureau, adult):
    signed_contract(adult, team)
    api = api_client_for(bureau)

    body = api.get("/api/v1/teams").json()

    assert body["count"] == 1
    row = body["items"][0]
    assert (row["code"], row["signed"], row["capacity"]) == ("t-01", 1, 2500)
    assert row["load"] == round(1 / 2500, 4)
    assert adult.name not in str(body)
    detail = api.get("/api/v1/teams/t-01").json()
    assert [m["role"] for m in detail["members"]] == ["gp"]
    assert detail["fulfilment"]["due"] == 0


def test_team_list_is_refused_to_a_resident(team, adult):
    resident_user = UserFactory(
        username="resident", role=UserRole.RESIDENT, institution=None, resident=adult
    )
    response = api_client_for(resident_user).get("/api/v1/teams")
    assert response.status_code == 403
    assert response.json()["code"] == "forbidden"


def test_team_list_query_count_is_flat(primary, catalogue, bureau):
    api = api_client_for(bureau)
    make_team(primary, code="t-a", member_user=False)
    few = queries_of(lambda: api.get("/api/v1/teams"))
    for n in range(4):
        make_team(primary, code=f"t-b{n}", member_user=False)
    assert queries_of(lambda: api.get("/api/v1/teams")) == few


def test_package_catalogue(gp):
    body = api_client_for(gp).get("/api/v1/packages").json()
    codes = [p["code"] for p in body]
    assert "basic" in codes
    assert "hypertension" in codes
    elderly = next(p for p in body if p["code"] == "elderly-65")
    assert elderly["price_fen"] == 6000  # home visit 3000 fen × 2
    assert elderly["eligible_population"] == "elderly_65"


# --- the contract journey -------------------------------------------------------------------------


def test_create_sign_detail_terminate_journey(gp, team, hypertensive):
    api = api_client_for(gp)

    created = api.post(
        "/api/v1/contracts",
        {"resident_id": str(hypertensive.public_id), "team": "t-01", "packages": ["hypertension"]},
    )
    assert created.status_code == 201, created.content
    contract_id = created.json()["id"]
    assert created.json()["status"] == "pending_signature"
    assert created.json()["resident"]["national_id_masked"].count("*") == 10

    signed = api.post(
        f"/api/v1/contracts/{contract_id}/sign", {"signed_by": "resident", "method": "in_person"}
    )
    assert signed.status_code == 200, signed.content
    assert signed.json()["contract"]["status"] == "active"
    assert signed.json()["capacity_warning"] is False
    assert len(signed.json()["contract"]["terms_hash"]) == 64

    detail = api.get(f"/api/v1/contracts/{contract_id}").json()
    assert len(detail["follow_ups"]) == 6
    assert detail["resident"]["key_populations"] == ["hypertension"]
    assert AuditEvent.objects.filter(action="read", object_id=contract_id).exists()

    no_reason = api.post(f"/api/v1/contracts/{contract_id}/terminate", {"reason": ""})
    assert no_reason.status_code == 422
    assert no_reason.json()["code"] == "validation_error"  # required by the schema
    unknown = api.post(f"/api/v1/contracts/{contract_id}/terminate", {"reason": "bored"})
    assert unknown.status_code == 422
    assert unknown.json()["code"] == "termination_reason_unknown"
    done = api.post(f"/api/v1/contracts/{contract_id}/terminate", {"reason": "resident_request"})
    assert done.status_code == 200
    assert done.json()["status"] == "terminated"


def test_sign_minor_without_guardian_answers_422_and_writes_nothing(gp, team, minor):
    api = api_client_for(gp)
    contract = services.contract_create(actor=gp, resident=minor, team=team, package_codes=[])

    response = api.post(
        f"/api/v1/contracts/{contract.public_id}/sign",
        {"signed_by": "resident", "method": "in_person"},
    )

    assert response.status_code == 422
    assert response.json()["code"] == "guardian_required"
    assert FollowUp.objects.count() == 0
    ok = api.post(
        f"/api/v1/contracts/{contract.public_id}/sign",
        {
            "signed_by": "guardian",
            "method": "guardian",
            "guardian_name": "李父",
            "guardian_relationship": "父亲",
            "guardian_national_id": GUARDIAN_ID,
        },
    )
    assert ok.status_code == 200, ok.content
    assert GUARDIAN_ID not in ok.content.decode()


def test_second_active_contract_answers_409(gp, team, adult):
    signed_contract(adult, team, gp)
    response = api_client_for(gp).post(
        "/api/v1/contracts", {"resident_id": str(adult.public_id), "team": "t-01"}
    )
    assert response.status_code == 409
    assert response.json()["code"] == "active_contract_exists"
    assert Contract.objects.count() == 1


def test_renew_and_switch_actions(gp, team, primary, adult):
    _, other_gp = make_team(primary, code="t-02")
    first = signed_contract(adult, team, gp)
    early = api_client_for(other_gp).post(
        f"/api/v1/contracts/{first.public_id}/switch",
        {"team": "t-02", "signed_by": "resident", "method": "in_person"},
    )
    assert early.status_code == 409
    assert early.json()["code"] == "switch_not_at_term_end"

    services.contracts_mark_renewal_due(today=first.end_date)
    renewed = api_client_for(gp).post(
        f"/api/v1/contracts/{first.public_id}/renew",
        {"signed_by": "resident", "method": "in_person"},
    )
    assert renewed.status_code == 201, renewed.content
    assert renewed.json()["contract"]["previous_contract"] == str(first.public_id)


def test_unknown_resident_answers_404(gp, team):
    response = api_client_for(gp).post(
        "/api/v1/contracts",
        {"resident_id": "00000000-0000-0000-0000-000000000000", "team": "t-01"},
    )
    assert response.status_code == 404


# --- scope ----------------------------------------------------------------------------------------


@pytest.fixture
def two_teams_with_contracts(team, gp, primary):
    other, other_gp = make_team(primary, code="t-02")
    mine = [signed_contract(ResidentFactory(), team) for _ in range(2)]
    theirs = [signed_contract(ResidentFactory(), other)]
    return mine, theirs, other_gp


def _ids(response) -> set[str]:
    assert response.status_code == 200, response.content
    return {row["id"] for row in response.json()["items"]}


def test_contract_list_scope_matrix(two_teams_with_contracts, gp, nurse, admin, bureau):
    mine, theirs, other_gp = two_teams_with_contracts
    mine_ids = {str(c.public_id) for c in mine}
    theirs_ids = {str(c.public_id) for c in theirs}
    elsewhere_admin = UserFactory(
        username="admin-other",
        role=UserRole.INSTITUTION_ADMIN,
        institution=InstitutionFactory(code="wh-p-02"),
    )
    clerk = UserFactory(username="clerk-p01", role=UserRole.CLERK, institution=admin.institution)

    assert _ids(api_client_for(gp).get("/api/v1/contracts")) == mine_ids
    assert _ids(api_client_for(nurse).get("/api/v1/contracts")) == mine_ids
    assert _ids(api_client_for(other_gp).get("/api/v1/contracts")) == theirs_ids
    assert _ids(api_client_for(admin).get("/api/v1/contracts")) == mine_ids | theirs_ids
    assert _ids(api_client_for(elsewhere_admin).get("/api/v1/contracts")) == set()
    assert _ids(api_client_for(clerk).get("/api/v1/contracts")) == set()
    assert api_client_for(bureau).get("/api/v1/contracts").status_code == 403
    # detail and actions out of scope: 404, exactly the answer for a contract that does not exist
    foreign = theirs[0].public_id
    missing = api_client_for(gp).get(f"/api/v1/contracts/{uuid.uuid4()}")
    assert missing.status_code == 404
    for response in (
        api_client_for(gp).get(f"/api/v1/contracts/{foreign}"),
        api_client_for(bureau).get(f"/api/v1/contracts/{foreign}"),
        api_client_for(gp).post(f"/api/v1/contracts/{foreign}/terminate", {"reason": "died"}),
        api_client_for(gp).post(
            f"/api/v1/contracts/{foreign}/sign", {"signed_by": "resident", "method": "in_person"}
        ),
    ):
        assert response.status_code == 404
        assert (
            response.json()
            == missing.json()
            == {
                "code": "contract_not_found",
                "message": "签约不存在 (no such contract)",
                "details": {},
            }
        )
    assert Contract.objects.get(public_id=foreign).status == ContractStatus.ACTIVE


def test_contract_list_filters(gp, team, primary):
    elderly = ResidentFactory(birth_date=years_ago(70))
    sick = ResidentFactory(birth_date=years_ago(50))
    ResidentPopulationTag.objects.create(resident=sick, population="diabetes")
    young = ResidentFactory(birth_date=years_ago(30))
    contracts = {r: signed_contract(r, team) for r in (elderly, sick, young)}
    pending = services.contract_create(
        actor=None, resident=ResidentFactory(birth_date=years_ago(25)), team=team, package_codes=[]
    )
    api = api_client_for(gp)

    assert _ids(api.get("/api/v1/contracts", {"key_population": "elderly_65"})) == {
        str(contracts[elderly].public_id)
    }
    assert _ids(api.get("/api/v1/contracts", {"key_population": "diabetes"})) == {
        str(contracts[sick].public_id)
    }
    assert _ids(api.get("/api/v1/contracts", {"status": "pending_signature"})) == {
        str(pending.public_id)
    }
    assert _ids(api.get("/api/v1/contracts", {"expiring_within": 30})) == set()
    Contract.objects.filter(pk=contracts[young].pk).update(
        end_date=dt.date.today() + dt.timedelta(days=20)
    )
    assert _ids(api.get("/api/v1/contracts", {"expiring_within": 30})) == {
        str(contracts[young].public_id)
    }
    assert api.get("/api/v1/contracts", {"status": "nonsense"}).status_code == 422


def test_contract_list_query_count_is_flat(gp, team):
    api = api_client_for(gp)
    for _ in range(2):
        signed_contract(ResidentFactory(), team)
    few = queries_of(lambda: api.get("/api/v1/contracts"))
    for _ in range(6):
        signed_contract(ResidentFactory(), team)
    many = queries_of(lambda: api.get("/api/v1/contracts"))
    assert many == few


# --- follow-ups -----------------------------------------------------------------------------------


def test_followup_list_and_record(gp, admin, team, hypertensive):
    contract = services.contract_create(
        actor=gp, resident=hypertensive, team=team, package_codes=["hypertension"]
    )
    services.contract_sign(actor=gp, contract=contract, signed_by="resident", method="in_person")
    api = api_client_for(gp)

    due = api.get("/api/v1/follow-ups", {"state": "due", "within_days": 366}).json()
    assert due["count"] == 6
    assert api.get("/api/v1/follow-ups", {"state": "overdue"}).json()["count"] == 0
    first = due["items"][0]["id"]

    refused = api_client_for(admin).post(f"/api/v1/follow-ups/{first}/record", {"outcome": "x"})
    assert refused.status_code == 403
    recorded = api.post(f"/api/v1/follow-ups/{first}/record", {"outcome": "血压正常"})
    assert recorded.status_code == 200, recorded.content
    assert recorded.json()["status"] == "done"
    assert recorded.json()["done_by"] == gp.username
    assert api.get("/api/v1/follow-ups", {"state": "done"}).json()["count"] == 1
    again = api.post(f"/api/v1/follow-ups/{first}/record", {"outcome": "again"})
    assert again.status_code == 409


def test_overdue_follow_ups_are_listed(gp, team, adult):
    contract = signed_contract(adult, team, gp)
    FollowUp.objects.filter(contract=contract).update(
        due_date=dt.date.today() - dt.timedelta(days=3)
    )
    body = api_client_for(gp).get("/api/v1/follow-ups", {"state": "overdue"}).json()
    assert body["count"] == 1
    assert body["items"][0]["overdue"] is True


def test_followup_list_query_count_is_flat(gp, team):
    api = api_client_for(gp)
    signed_contract(ResidentFactory(), team)
    few = queries_of(lambda: api.get("/api/v1/follow-ups", {"within_days": 366}))
    for _ in range(5):
        signed_contract(ResidentFactory(birth_date=years_ago(70)), team, packages=["elderly-65"])
    many = queries_of(lambda: api.get("/api/v1/follow-ups", {"within_days": 366}))
    assert many == few


def test_followup_list_refused_to_bureau(bureau):
    assert api_client_for(bureau).get("/api/v1/follow-ups").status_code == 403
