"""Family codes 亲属码: a guardian's phone shows the live code of those they are registered to
care for; the scan finds the ward and records who presented the code; nobody else's code is
reachable (the 404 of no resident)."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine

from healthcodes import codec, keys
from healthcodes.models import FamilyCodeIssue, HealthCard, ScanEvent
from healthcodes.verifier import verify
from healthnet import services as healthnet_services
from healthnet.models import UserRole
from tests.conftest import api_client_for
from tests.factories import ResidentFactory, UserFactory

T0 = dt.datetime(2026, 6, 1, 2, 0, tzinfo=dt.UTC)

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh_key_caches():
    keys.invalidate_key_caches()
    yield
    keys.invalidate_key_caches()


@pytest.fixture
def grandchild(institution):
    return ResidentFactory(registered_by=institution, name="王小宝", birth_date=dt.date(2022, 1, 5))


@pytest.fixture
def mother(institution):
    return ResidentFactory(registered_by=institution, name="王丽", birth_date=dt.date(1990, 2, 2))


@pytest.fixture
def mother_login(mother):
    return UserFactory(role=UserRole.RESIDENT, institution=None, resident=mother)


@pytest.fixture
def guardianship(clerk, mother, grandchild):
    return healthnet_services.guardianship_register(
        actor=clerk, guardian=mother, ward=grandchild, relationship="parent"
    )


def ward_url(ward):
    return f"/api/v1/me/wards/{ward.public_id}/healthcode"


def test_a_guardian_lists_those_they_care_for_masked(guardianship, mother_login, grandchild):
    wards = api_client_for(mother_login).get("/api/v1/me/wards").json()

    assert wards == [
        {"resident_id": str(grandchild.public_id), "name_masked": "王*宝", "relationship": "parent"}
    ]


def test_a_guardian_shows_the_wards_code_and_the_scan_records_who_presented_it(
    guardianship, mother_login, mother, grandchild, clerk_api
):
    api = api_client_for(mother_login)
    with time_machine.travel(T0, tick=False):
        body = api.get(ward_url(grandchild)).json()
    result = verify(body["code"], keys=codec.load_key_set(keys.key_set_document(now=T0)), now=T0)
    assert result.ok
    card = HealthCard.objects.get(resident=grandchild)
    assert result.claims.sub == card.sub  # the ward's own card
    issue = FamilyCodeIssue.objects.get()
    assert (issue.card, issue.presented_by, issue.cti) == (card, mother, result.claims.cti.hex())

    with time_machine.travel(T0 + dt.timedelta(seconds=5), tick=False):
        scanned = clerk_api.post(
            "/api/v1/healthcodes/scan", {"code": body["code"], "purpose": "registration"}
        )
    assert scanned.status_code == 200, scanned.json()
    assert scanned.json()["resident"]["resident_id"] == str(grandchild.public_id)
    event = ScanEvent.objects.get()
    assert (event.resident, event.presented_by) == (grandchild, mother)
    admin = UserFactory(role=UserRole.INSTITUTION_ADMIN, institution=event.institution)
    [logged] = api_client_for(admin).get("/api/v1/healthcodes/scans").json()["items"]
    assert logged["presented_by_id"] == str(mother.public_id)


def test_the_wards_own_code_records_no_presenter(guardianship, grandchild, clerk_api):
    ward_login = UserFactory(role=UserRole.RESIDENT, institution=None, resident=grandchild)
    with time_machine.travel(T0, tick=False):
        code = api_client_for(ward_login).get("/api/v1/me/healthcode").json()["code"]
        clerk_api.post("/api/v1/healthcodes/scan", {"code": code, "purpose": "consultation"})

    event = ScanEvent.objects.get()
    assert (event.result, event.resident, event.presented_by) == ("accepted", grandchild, None)


def test_the_guardian_and_the_ward_never_share_a_code(guardianship, mother_login, grandchild):
    ward_login = UserFactory(role=UserRole.RESIDENT, institution=None, resident=grandchild)
    with time_machine.travel(T0, tick=False):
        own = api_client_for(ward_login).get("/api/v1/me/healthcode").json()["code"]
        shown = api_client_for(mother_login).get(ward_url(grandchild)).json()["code"]
        shown_again = api_client_for(mother_login).get(ward_url(grandchild)).json()["code"]

    assert own != shown
    assert shown_again == shown  # reused for its refresh interval, like the resident's own
    assert FamilyCodeIssue.objects.count() == 1


def test_anyone_else_is_the_404_of_no_resident(guardianship, mother_login, institution):
    api = api_client_for(mother_login)
    stranger = ResidentFactory(registered_by=institution)

    unknown = api.get("/api/v1/me/wards/00000000-0000-0000-0000-000000000000/healthcode")
    not_mine = api.get(ward_url(stranger))
    assert not_mine.status_code == unknown.status_code == 404
    assert not_mine.json() == unknown.json()
    assert not HealthCard.objects.filter(resident=stranger).exists()


def test_after_revocation_the_guardian_shows_the_code_no_more(
    guardianship, mother_login, grandchild, clerk
):
    api = api_client_for(mother_login)
    assert api.get(ward_url(grandchild)).status_code == 200

    healthnet_services.guardianship_revoke(
        actor=clerk, guardianship=guardianship, reason="家属申请"
    )

    assert api.get(ward_url(grandchild)).status_code == 404
    assert api.get("/api/v1/me/wards").json() == []


def test_staff_have_no_family_codes(guardianship, clerk_api, grandchild):
    response = clerk_api.get(ward_url(grandchild))

    assert response.status_code == 403
    assert response.json()["code"] == "residents_only"
