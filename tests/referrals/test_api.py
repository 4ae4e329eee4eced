"""The referrals API: create (idempotency, duplicates), worklists (scope, filters, order, flat
query count), detail with the timeline, actions (409 with allowed actions, 403, 404)."""

from __future__ import annotations

import uuid

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from healthnet.models import AuditEvent, UserRole
from referrals.models import Referral, ReferralEvent, ReferralStatus
from tests.conftest import api_client_for
from tests.factories import ResidentFactory
from tests.referrals.support import create_up, referral_in, tomorrow

S = ReferralStatus
URL = "/api/v1/referrals"


def _payload(net, **overrides):
    body = {
        "resident": str(net.resident.public_id),
        "to_department": str(net.cardiology.public_id),
        "from_department": str(net.primary_dept.public_id),
        "urgency": "urgent",
        "reason_code": "I20.0",
        "criteria_codes": ["chest_pain"],
        "clinical_summary": "胸痛",
    }
    body.update(overrides)
    return body


def test_create_answers_201_with_timeline(net):
    api = api_client_for(net.referrer)
    response = api.post(URL, _payload(net))
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["status"] == "submitted"
    assert body["direction"] == "up"
    assert body["to_institution"] == {"code": net.tertiary.code, "name": net.tertiary.name}
    assert [e["action"] for e in body["timeline"]] == ["create", "submit"]
    assert body["allowed_actions"] == ["cancel"]


def test_idempotency_key_retry_returns_the_first(net):
    api = api_client_for(net.referrer)
    headers = {"Idempotency-Key": "k-42"}
    first = api.post(URL, _payload(net), headers=headers)
    again = api.post(URL, _payload(net), headers=headers)
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.json() == first.json()
    assert Referral.objects.count() == 1


def test_idempotency_key_reused_with_other_body_answers_422(net):
    api = api_client_for(net.referrer)
    headers = {"Idempotency-Key": "k-43"}
    assert api.post(URL, _payload(net), headers=headers).status_code == 201
    response = api.post(URL, _payload(net, urgency="routine"), headers=headers)
    assert response.status_code == 422
    assert response.json()["code"] == "idempotency_key_reused"
    assert Referral.objects.count() == 1


def test_duplicate_answers_409_with_existing_id(net):
    api = api_client_for(net.referrer)
    first = api.post(URL, _payload(net)).json()
    response = api.post(URL, _payload(net))
    assert response.status_code == 409
    assert response.json()["code"] == "referral_duplicate"
    assert response.json()["details"]["existing_id"] == first["id"]
    assert Referral.objects.count() == 1


@pytest.mark.parametrize(
    ("overrides", "status", "code"),
    [
        ({"urgency": "whenever"}, 422, "validation_error"),
        ({"reason_code": ""}, 422, "validation_error"),
        ({"resident": str(uuid.uuid4())}, 404, "resident_not_found"),
        ({"to_department": str(uuid.uuid4())}, 422, "department_not_found"),
    ],
)
def test_create_bad_input_writes_nothing(net, overrides, status, code):
    api = api_client_for(net.referrer)
    before = (Referral.objects.count(), ReferralEvent.objects.count())
    response = api.post(URL, _payload(net, **overrides))
    assert response.status_code == status
    assert response.json()["code"] == code
    assert (Referral.objects.count(), ReferralEvent.objects.count()) == before


def test_clerk_may_not_create(net):
    api = api_client_for(net.user(net.primary, UserRole.CLERK))
    response = api.post(URL, _payload(net))
    assert response.status_code == 403
    assert Referral.objects.count() == 0


# --- actions -----------------------------------------------------------------------------------


def test_action_moves_and_returns_detail(net):
    referral = create_up(net)
    api = api_client_for(net.office)
    response = api.post(f"{URL}/{referral.public_id}/accept", {"comment": "同意接收"})
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["status"] == "accepted"
    assert body["timeline"][-1]["action"] == "accept"
    assert body["timeline"][-1]["reason"] == "同意接收"
    assert "schedule" in body["allowed_actions"]
    response = api.post(f"{URL}/{referral.public_id}/schedule", {"date": tomorrow().isoformat()})
    assert response.status_code == 200
    assert response.json()["appointment_date"] == tomorrow().isoformat()


def test_action_not_allowed_answers_409_with_allowed_actions(net):
    referral = create_up(net)
    api = api_client_for(net.office)
    response = api.post(f"{URL}/{referral.public_id}/complete", {"summary": "x"})
    assert response.status_code == 409
    body = response.json()
    assert body["code"] == "transition_not_allowed"
    assert sorted(body["details"]["allowed_actions"]) == ["accept", "redirect", "reject"]
    assert Referral.objects.get(pk=referral.pk).status == S.SUBMITTED


def test_action_by_wrong_role_answers_403(net):
    referral = create_up(net)
    api = api_client_for(net.user(net.tertiary, UserRole.CLERK))
    response = api.post(f"{URL}/{referral.public_id}/accept")
    assert response.status_code == 403
    assert response.json()["code"] == "referral_action_forbidden"
    assert Referral.objects.get(pk=referral.pk).status == S.SUBMITTED


def test_other_institution_gets_404_for_detail_and_action(net):
    referral = create_up(net)
    api = api_client_for(net.user(net.primary_b, UserRole.REFERRAL_COORDINATOR))
    assert api.get(f"{URL}/{referral.public_id}").status_code == 404
    assert api.post(f"{URL}/{referral.public_id}/cancel", {"reason": "x"}).status_code == 404
    assert Referral.objects.get(pk=referral.pk).status == S.SUBMITTED


@pytest.mark.parametrize("action", ["teleport", "auto_close", "close_loop"])
def test_unknown_or_system_action_answers_404_in_the_error_format(net, action):
    referral = create_up(net)
    api = api_client_for(net.office)
    response = api.post(f"{URL}/{referral.public_id}/{action}", {"comment": "x"})
    assert response.status_code == 404
    assert response.json()["code"] == "action_unknown"
    assert Referral.objects.get(pk=referral.pk).status == S.SUBMITTED


@pytest.mark.parametrize(
    ("action", "body", "missing"),
    [
        ("reject", {"comment": "x"}, "reason_code"),
        ("reject", {"reason_code": "no_capacity"}, "comment"),
        ("redirect", {"comment": "x"}, "to_department"),
        ("cancel", {}, "reason"),
    ],
)
def test_a_missing_required_input_answers_422_naming_the_field(net, action, body, missing):
    # Each action has its own schema now: a required field is required by the schema (the
    # codes `reason_code_required` … of the one union schema became `validation_error`).
    referral = create_up(net)
    api = api_client_for(net.office if action != "cancel" else net.referrer)
    before = ReferralEvent.objects.count()
    response = api.post(f"{URL}/{referral.public_id}/{action}", body)
    assert response.status_code == 422
    assert response.json()["code"] == "validation_error"
    assert [e["field"] for e in response.json()["details"]["errors"]] == [missing]
    assert ReferralEvent.objects.count() == before
    assert Referral.objects.get(pk=referral.pk).status == S.SUBMITTED


def test_an_unknown_rejection_reason_or_department_is_refused(net):
    referral = create_up(net)
    api = api_client_for(net.office)
    response = api.post(
        f"{URL}/{referral.public_id}/reject", {"reason_code": "tired", "comment": "x"}
    )
    assert (response.status_code, response.json()["code"]) == (422, "validation_error")
    response = api.post(
        f"{URL}/{referral.public_id}/redirect", {"to_department": str(uuid.uuid4())}
    )
    assert (response.status_code, response.json()["code"]) == (422, "department_not_found")
    assert response.json()["details"]["field"] == "to_department"
    assert Referral.objects.get(pk=referral.pk).status == S.SUBMITTED


def test_redirect_answers_this_referral_with_its_successor(net):
    referral = create_up(net)
    api = api_client_for(net.office)
    response = api.post(
        f"{URL}/{referral.public_id}/redirect",
        {"to_department": str(net.specialist_dept.public_id), "comment": "转中医"},
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["status"] == "redirected"
    successor = Referral.objects.get(redirected_from=referral)
    assert body["redirected_to"] == str(successor.public_id)
    # the new one is the referrer's and the new target's, not the redirecting hospital's
    new = api_client_for(net.referrer).get(f"{URL}/{successor.public_id}").json()
    assert new["redirected_from"] == str(referral.public_id)
    assert new["to_institution"]["code"] == net.specialist.code
    assert api.get(f"{URL}/{successor.public_id}").status_code == 404


def test_detail_is_audited_and_shows_overdue(net):
    referral = referral_in(net, S.ARRIVED)
    Referral.objects.filter(pk=referral.pk).update(overdue=True)
    api = api_client_for(net.referrer)
    body = api.get(f"{URL}/{referral.public_id}").json()
    assert body["overdue"] is True
    assert [e["action"] for e in body["timeline"]] == [
        "create",
        "submit",
        "accept",
        "schedule",
        "arrive",
    ]
    assert AuditEvent.objects.filter(
        action="read", object_type="referral", object_id=str(referral.public_id)
    ).exists()


def test_resident_sees_own_referral_without_actions(net):
    from tests.factories import UserFactory

    referral = create_up(net)
    me = UserFactory(role=UserRole.RESIDENT, institution=None, resident=net.resident)
    body = api_client_for(me).get(f"{URL}/{referral.public_id}").json()
    assert body["id"] == str(referral.public_id)
    assert body["allowed_actions"] == []
    other = UserFactory(role=UserRole.RESIDENT, institution=None, resident=ResidentFactory())
    assert api_client_for(other).get(f"{URL}/{referral.public_id}").status_code == 404


# --- worklists ---------------------------------------------------------------------------------


def test_worklists_by_box_and_scope(net):
    up = create_up(net)  # primary → tertiary
    resident = ResidentFactory(registered_by=net.tertiary)
    down = create_up(
        net,
        actor=net.receiving_doctor,
        resident=resident,
        to_department=net.primary_dept,
        from_department=None,
    )
    elsewhere = create_up(net, to_department=net.district_dept)
    primary = api_client_for(net.referrer)
    outgoing = primary.get(URL, {"box": "outgoing"}).json()
    incoming = primary.get(URL, {"box": "incoming"}).json()
    assert {i["id"] for i in outgoing["items"]} == {str(up.public_id), str(elsewhere.public_id)}
    assert [i["id"] for i in incoming["items"]] == [str(down.public_id)]
    tertiary = api_client_for(net.office).get(URL).json()
    assert {i["id"] for i in tertiary["items"]} == {str(up.public_id), str(down.public_id)}
    assert api_client_for(net.user(net.primary_b, UserRole.DOCTOR)).get(URL).json()["count"] == 0


def test_worklist_filters(net):
    urgent = create_up(net, urgency="urgent")
    routine = create_up(net, to_department=net.district_dept)
    api = api_client_for(net.referrer)

    def ids(**query):
        return {i["id"] for i in api.get(URL, query).json()["items"]}

    assert ids(urgency="urgent") == {str(urgent.public_id)}
    assert ids(department=str(net.district_dept.public_id)) == {str(routine.public_id)}
    assert ids(direction="down") == set()
    assert ids(status="submitted") == {str(urgent.public_id), str(routine.public_id)}
    assert ids(status="accepted") == set()
    Referral.objects.filter(pk=routine.pk).update(overdue=True)
    assert ids(overdue="true") == {str(routine.public_id)}
    assert ids(resident=str(net.resident.public_id)) == {
        str(urgent.public_id),
        str(routine.public_id),
    }
    assert api.get(URL, {"box": "sideways"}).status_code == 422


def test_worklist_ordered_by_nearest_deadline(net):
    routine = create_up(net, urgency="routine")
    emergency = create_up(net, urgency="emergency", to_department=net.district_dept)
    draft = create_up(
        net,
        resident=ResidentFactory(registered_by=net.primary),
        submit=False,
    )
    items = api_client_for(net.referrer).get(URL, {"box": "outgoing"}).json()["items"]
    assert [i["id"] for i in items] == [
        str(emergency.public_id),
        str(routine.public_id),
        str(draft.public_id),  # no deadline: last
    ]


def _make_referrals(net, n):
    for _ in range(n):
        create_up(net, resident=ResidentFactory(registered_by=net.primary))


@pytest.mark.parametrize("box", ["incoming", "outgoing"])
def test_worklist_query_count_is_flat(net, box):
    api = api_client_for(net.office if box == "incoming" else net.referrer)
    _make_referrals(net, 10)
    api.get(URL)  # the token's first use records last_used_at (once per interval)
    with CaptureQueriesContext(connection) as small:
        response = api.get(URL, {"box": box, "page_size": 200})
    assert response.json()["count"] == 10
    _make_referrals(net, 190)
    with CaptureQueriesContext(connection) as large:
        response = api.get(URL, {"box": box, "page_size": 200})
    assert response.json()["count"] == 200
    assert len(response.json()["items"]) == 200
    assert len(large.captured_queries) == len(small.captured_queries)
    assert len(small.captured_queries) <= 8


def test_suggestions_alliance_partners_first(net):
    body = api_client_for(net.referrer).get(f"{URL}/suggestions", {"direction": "up"}).json()
    codes = [(s["institution"]["code"], s["alliance_partner"]) for s in body]
    assert codes[0] == (net.tertiary.code, True)
    assert {c for c, _ in codes} == {net.tertiary.code, net.specialist.code, net.district.code}
    assert all(s["direction"] == "up" for s in body)
    down = api_client_for(net.office).get(f"{URL}/suggestions", {"direction": "down"}).json()
    assert {s["institution"]["code"] for s in down} == {
        net.district.code,
        net.primary.code,
        net.primary_b.code,
    }
    assert down[0]["institution"]["code"] == net.primary.code  # the alliance member
