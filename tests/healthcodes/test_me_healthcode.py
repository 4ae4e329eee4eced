"""GET /api/v1/me/healthcode (the resident's live code) and the card endpoints (issue, revoke,
print a static code)."""

from __future__ import annotations

import base64
import datetime as dt
import io
import uuid

import pytest
import time_machine
import zxingcpp
from django.core.cache import cache
from PIL import Image

from healthcodes import codec, keys, services
from healthcodes.models import HealthCard, ScanEvent
from healthcodes.rendering import qr_version
from healthcodes.verifier import verify
from healthnet.errors import Conflict, Forbidden, InvalidInput
from healthnet.models import AuditEvent, UserRole
from tests.conftest import api_client_for
from tests.factories import InstitutionFactory, ResidentFactory, UserFactory

ME = "/api/v1/me/healthcode"
T0 = dt.datetime(2026, 6, 1, 2, 0, tzinfo=dt.UTC)

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh_key_caches():
    keys.invalidate_key_caches()
    yield
    keys.invalidate_key_caches()


@pytest.fixture
def resident(institution):
    return ResidentFactory(registered_by=institution)


@pytest.fixture
def resident_user(resident):
    return UserFactory(role=UserRole.RESIDENT, institution=None, resident=resident)


@pytest.fixture
def resident_api(resident_user):
    return api_client_for(resident_user)


def cards_url(resident, suffix=""):
    return f"/api/v1/healthcodes/cards/{resident.public_id}{suffix}"


# --- the resident's own code -------------------------------------------------------------------


def test_resident_gets_a_live_dynamic_code_with_its_svg(resident_api, resident):
    with time_machine.travel(T0, tick=False):
        response = resident_api.get(ME)
    assert response.status_code == 200
    body = response.json()
    assert body["code_type"] == "dynamic"
    assert body["issued_at"] == "2026-06-01T02:00:00Z"
    assert body["expires_at"] == "2026-06-01T02:01:00Z"
    assert body["refresh_after"] == 30
    assert body["svg"].lstrip().startswith("<svg")
    assert qr_version(body["code"]) <= 10

    result = verify(body["code"], keys=codec.load_key_set(keys.key_set_document(now=T0)), now=T0)
    assert result.ok
    card = HealthCard.objects.get(resident=resident)
    assert result.claims.sub == card.sub
    assert AuditEvent.objects.filter(action="healthcard_issue", object_id=card.public_id).exists()


def test_the_same_code_is_shown_until_its_refresh_time(resident_api):
    with time_machine.travel(T0, tick=False):
        first = resident_api.get(ME).json()
    with time_machine.travel(T0 + dt.timedelta(seconds=20), tick=False):
        again = resident_api.get(ME).json()
    assert again["code"] == first["code"]
    assert again["svg"] == first["svg"]
    assert again["refresh_after"] == 10
    with time_machine.travel(T0 + dt.timedelta(seconds=30), tick=False):
        fresh = resident_api.get(ME).json()
    assert fresh["code"] != first["code"]
    assert fresh["issued_at"] == "2026-06-01T02:00:30Z"
    assert HealthCard.objects.count() == 1


def test_the_svg_is_cached_by_code(resident_api, resident_user):
    first = resident_api.get(ME).json()
    card = HealthCard.objects.get()
    issued, _ = services.healthcode_current_for_resident(actor=resident_user)
    assert issued.text == first["code"]
    cache.delete(f"hc:current:{card.sub}")  # the phone's cached code is gone, its SVG is not
    assert services.healthcode_svg(issued) == first["svg"]


@pytest.mark.parametrize(
    "role",
    [UserRole.CLERK, UserRole.DOCTOR, UserRole.PHARMACIST, UserRole.BUREAU, UserRole.SYSTEM_ADMIN],
)
def test_non_residents_have_no_healthcode(institution, role):
    scoped = role not in (UserRole.BUREAU, UserRole.SYSTEM_ADMIN)
    user = UserFactory(role=role, institution=institution if scoped else None)
    response = api_client_for(user).get(ME)
    assert response.status_code == 403
    assert response.json()["code"] == "residents_only"
    assert HealthCard.objects.count() == 0


def test_me_healthcode_needs_authentication(client):
    assert client.get(ME).status_code == 401


def test_dynamic_code_is_issued_only_to_the_cards_resident(resident_user, institution):
    other = UserFactory(
        role=UserRole.RESIDENT,
        institution=None,
        resident=ResidentFactory(registered_by=institution),
    )
    card = services.healthcard_issue(actor=resident_user, resident=resident_user.resident)
    with pytest.raises(Forbidden):
        services.healthcode_issue_dynamic(actor=other, card=card)
    with pytest.raises(Forbidden):
        services.healthcode_issue_dynamic(actor=UserFactory(role=UserRole.CLERK), card=card)


# --- cards -------------------------------------------------------------------------------------


def test_card_issue_is_idempotent(clerk_api, resident):
    first = clerk_api.post(cards_url(resident))
    second = clerk_api.post(cards_url(resident))
    assert first.status_code == second.status_code == 200
    assert first.json()["id"] == second.json()["id"]
    assert first.json()["resident_id"] == str(resident.public_id)
    assert HealthCard.objects.count() == 1
    assert AuditEvent.objects.filter(action="healthcard_issue").count() == 1


def test_revoke_issues_a_new_card_with_a_new_sub(clerk, clerk_api, resident):
    old = services.healthcard_issue(actor=clerk, resident=resident)
    response = clerk_api.post(cards_url(resident, "/revoke"), {"reason": "手机丢失 lost phone"})
    assert response.status_code == 200
    new = HealthCard.objects.get(public_id=response.json()["id"])
    old.refresh_from_db()
    assert old.revoked_at is not None
    assert old.revoked_reason == "手机丢失 lost phone"
    assert new.revoked_at is None
    assert new.sub != old.sub
    revoke = AuditEvent.objects.get(action="healthcard_revoke")
    assert revoke.object_id == str(old.public_id)
    assert revoke.details["replaced_by"] == str(new.public_id)


def test_resident_may_revoke_their_own_card(resident_api, resident_user, resident):
    resident_api.get(ME)
    old = HealthCard.objects.get()
    response = resident_api.post(cards_url(resident, "/revoke"), {"reason": "手机丢失"})
    assert response.status_code == 200
    assert HealthCard.objects.get(revoked_at__isnull=True).sub != old.sub
    # The phone now shows a code of the new card.
    body = resident_api.get(ME).json()
    result = verify(body["code"], keys=keys.verification_key_set(), now=dt.datetime.now(dt.UTC))
    assert result.claims.sub == HealthCard.objects.get(revoked_at__isnull=True).sub


@pytest.mark.parametrize("payload", [{}, {"reason": ""}, {"reason": "x" * 201}])
def test_revoke_needs_a_reason_and_writes_nothing(clerk, clerk_api, resident, payload):
    services.healthcard_issue(actor=clerk, resident=resident)
    audits = AuditEvent.objects.count()
    response = clerk_api.post(cards_url(resident, "/revoke"), payload)
    assert response.status_code == 422
    assert response.json()["code"] == "validation_error"
    assert HealthCard.objects.filter(revoked_at__isnull=True).count() == 1
    assert HealthCard.objects.count() == 1
    assert AuditEvent.objects.count() == audits


def test_revoke_service_refusals(clerk, resident):
    with pytest.raises(InvalidInput) as blank:
        services.healthcard_revoke(actor=clerk, resident=resident, reason="   ")
    assert blank.value.code == "reason_required"
    with pytest.raises(Conflict) as no_card:
        services.healthcard_revoke(actor=clerk, resident=resident, reason="lost")
    assert no_card.value.code == "card_not_found"
    assert HealthCard.objects.count() == 0


def test_staff_of_an_unrelated_institution_may_not_touch_the_card(clerk, resident):
    outsider = api_client_for(UserFactory(role=UserRole.CLERK, institution=InstitutionFactory()))
    services.healthcard_issue(actor=clerk, resident=resident)
    for suffix, payload in (("", None), ("/revoke", {"reason": "x"}), ("/static", None)):
        # out of scope: the same answer as a resident who does not exist
        response = outsider.post(cards_url(resident, suffix), payload)
        unknown = outsider.post(f"/api/v1/healthcodes/cards/{uuid.uuid4()}{suffix}", payload)
        assert response.status_code == 404, suffix
        assert response.json() == unknown.json()
        assert response.json()["code"] == "resident_not_found"
    assert HealthCard.objects.filter(revoked_at__isnull=True).count() == 1


def test_a_role_that_manages_no_card_is_refused_whoever_the_resident(institution, resident):
    pharmacist = api_client_for(UserFactory(role=UserRole.PHARMACIST, institution=institution))
    for suffix, payload in (("", None), ("/revoke", {"reason": "x"}), ("/static", None)):
        unknown = f"/api/v1/healthcodes/cards/{uuid.uuid4()}{suffix}"
        for url in (cards_url(resident, suffix), unknown):
            response = pharmacist.post(url, payload)
            assert response.status_code == 403, url
            assert response.json()["code"] == "forbidden"
    assert HealthCard.objects.count() == 0


@pytest.mark.parametrize(
    ("role", "allowed"),
    [
        (UserRole.CLERK, True),
        (UserRole.DOCTOR, True),
        (UserRole.NURSE, True),
        (UserRole.INSTITUTION_ADMIN, True),
        (UserRole.PHARMACIST, False),
    ],
)
def test_card_management_by_role_at_the_residents_institution(institution, resident, role, allowed):
    staff = api_client_for(UserFactory(role=role, institution=institution))
    response = staff.post(cards_url(resident))
    assert (response.status_code == 200) is allowed
    assert HealthCard.objects.count() == (1 if allowed else 0)


def test_static_code_is_printed_at_the_desk_with_ecc_q(clerk_api, resident):
    with time_machine.travel(T0, tick=False):
        response = clerk_api.post(cards_url(resident, "/static"))
    assert response.status_code == 200
    body = response.json()
    assert body["code_type"] == "static"
    assert body["expires_at"] == "2027-06-01T02:00:00Z"  # 365 days
    assert qr_version(body["code"], print_quality=True) <= 10
    assert body["svg"].lstrip().startswith("<svg")
    png = base64.b64decode(body["png_data_uri"].removeprefix("data:image/png;base64,"))
    [decoded] = zxingcpp.read_barcodes(Image.open(io.BytesIO(png)))
    assert decoded.text == body["code"]
    assert AuditEvent.objects.filter(action="healthcode_issue_static").count() == 1
    assert ScanEvent.objects.count() == 0


def test_resident_may_not_print_a_static_code(resident_api, resident):
    response = resident_api.post(cards_url(resident, "/static"))
    assert response.status_code == 403
    assert AuditEvent.objects.filter(action="healthcode_issue_static").count() == 0


def test_unknown_resident_is_404(clerk_api):
    response = clerk_api.post("/api/v1/healthcodes/cards/00000000-0000-0000-0000-000000000000")
    assert response.status_code == 404
    assert HealthCard.objects.count() == 0
