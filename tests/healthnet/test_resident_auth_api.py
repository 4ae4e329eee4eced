"""The API for a resident's app: phone sign-in for a token, /auth/me with their resident id and
card, and revoking a lost card (which signs the login out everywhere but where it was asked)."""

from __future__ import annotations

import re

import pytest
from django.test import Client

from healthcodes.models import HealthCard
from healthnet.models import ApiToken, OutboxMessage, UserRole
from tests.conftest import ApiClient, api_client_for
from tests.factories import ResidentFactory, UserFactory

pytestmark = pytest.mark.django_db

NUMBER = "13912345678"


@pytest.fixture
def resident(institution):
    return ResidentFactory(registered_by=institution, phone=NUMBER)


def test_a_resident_app_signs_in_by_phone_and_learns_who_it_is(resident):
    anonymous = ApiClient()
    sent = anonymous.post("/api/v1/auth/phone/code", {"phone": NUMBER})
    assert sent.status_code == 202
    unknown = anonymous.post("/api/v1/auth/phone/code", {"phone": "13800000000"})
    assert unknown.json() == sent.json()  # the same answer for a number on no record

    code = re.search(r"\d{6}", OutboxMessage.objects.get().body).group(0)
    issued = anonymous.post(
        "/api/v1/auth/phone/token", {"phone": NUMBER, "code": code, "name": "健康乌海 app"}
    )
    assert issued.status_code == 201
    assert issued.json()["role"] == "resident"

    me = ApiClient(token=issued.json()["token"]).get("/api/v1/auth/me").json()
    assert me["resident_id"] == str(resident.public_id)
    assert me["card"] is None  # no card until the first code or an issue


def test_a_wrong_code_is_401_with_the_one_answer(resident):
    ApiClient().post("/api/v1/auth/phone/code", {"phone": NUMBER})
    code = re.search(r"\d{6}", OutboxMessage.objects.get().body).group(0)
    wrong = "000000" if code != "000000" else "111111"

    response = ApiClient().post("/api/v1/auth/phone/token", {"phone": NUMBER, "code": wrong})

    assert response.status_code == 401
    assert response.json()["code"] == "signin_code_wrong"


def test_throttled_requests_answer_429_with_retry_after(resident):
    ApiClient().post("/api/v1/auth/phone/code", {"phone": NUMBER})

    again = ApiClient().post("/api/v1/auth/phone/code", {"phone": NUMBER})

    assert again.status_code == 429
    assert again.json()["code"] == "signin_throttled"
    assert int(again["Retry-After"]) == 60


def test_me_gives_a_resident_their_card_and_staff_none(resident, clerk_api):
    login = UserFactory(role=UserRole.RESIDENT, institution=None, resident=resident)
    api = api_client_for(login)
    card = api.post(f"/api/v1/healthcodes/cards/{resident.public_id}").json()

    me = api.get("/api/v1/auth/me").json()
    assert me["card"]["id"] == card["id"]
    assert me["resident_id"] == str(resident.public_id)

    staff = clerk_api.get("/api/v1/auth/me").json()
    assert (staff["resident_id"], staff["card"]) == (None, None)


def test_revoking_a_lost_card_through_the_app_signs_out_every_other_device(resident):
    login = UserFactory(role=UserRole.RESIDENT, institution=None, resident=resident)
    new_phone = api_client_for(login)
    lost_phone = api_client_for(login)
    browser = Client()
    browser.force_login(login)
    old_card = new_phone.post(f"/api/v1/healthcodes/cards/{resident.public_id}").json()

    card_id = new_phone.get("/api/v1/auth/me").json()["card"]["id"]
    revoked = new_phone.post(
        f"/api/v1/healthcodes/cards/{resident.public_id}/revoke", {"reason": "手机丢失"}
    )

    assert revoked.status_code == 200
    assert card_id == old_card["id"] != revoked.json()["id"]
    assert HealthCard.objects.get(public_id=old_card["id"]).revoked_at is not None
    assert lost_phone.get("/api/v1/auth/me").status_code == 401
    assert browser.get("/me/code/").status_code == 302  # the portal session ended too
    assert new_phone.get("/api/v1/auth/me").json()["card"]["id"] == revoked.json()["id"]
    assert ApiToken.objects.filter(user=login, revoked_at__isnull=True).count() == 1
