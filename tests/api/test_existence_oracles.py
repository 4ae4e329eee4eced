"""No existence oracle (issue 9 item 16): a record out of the caller's scope answers exactly as
one that does not exist; the 409 of a duplicate registration names the existing resident only to
a caller who may read them; ID-number lookups are rate limited per user."""

from __future__ import annotations

import uuid

import pytest
from django.utils import timezone

from healthnet.models import AuditEvent
from healthnet.national_id import decrypt_national_id
from referrals.models import Referral
from tests.conftest import api_client_for
from tests.factories import InstitutionFactory, UserFactory
from tests.portal.scenario import build_clinic, build_people

pytestmark = pytest.mark.django_db


@pytest.fixture
def people():
    return build_people()


def _number(resident) -> str:
    return decrypt_national_id(resident.national_id_encrypted)


def _registration(resident) -> dict:
    return {"national_id": _number(resident), "name": "重名", "district": resident.district_id}


def _body(response) -> dict:
    body = response.json()
    body["details"].pop("request_id", None)
    return body


def test_a_duplicate_registration_names_the_resident_only_to_who_may_read_them(people):
    resident = people.resident  # registered at the primary institution
    own = api_client_for(people.users["clerk"]).post("/api/v1/residents", _registration(resident))
    other = api_client_for(people.users["tertiary_doctor"]).post(
        "/api/v1/residents", _registration(resident)
    )

    assert own.status_code == other.status_code == 409
    assert own.json()["details"]["resident_id"] == str(resident.public_id)
    assert other.json()["code"] == "resident_exists"
    assert "resident_id" not in other.json()["details"]
    assert str(resident.public_id) not in other.content.decode()


def test_referring_a_resident_out_of_scope_answers_as_an_unknown_one(people):
    api = api_client_for(people.users["tertiary_doctor"])  # the resident never came to T

    def refer(resident_id):
        return api.post(
            "/api/v1/referrals",
            {
                "resident": str(resident_id),
                "to_department": str(people.primary_dept.public_id),
                "urgency": "routine",
                "reason_code": "return_to_primary_care",
            },
        )

    out_of_scope, unknown = refer(people.resident.public_id), refer(uuid.uuid4())

    assert out_of_scope.status_code == unknown.status_code == 404
    assert _body(out_of_scope) == _body(unknown)
    assert _body(unknown)["code"] == "resident_not_found"
    assert Referral.objects.count() == 0


def test_target_suggestions_for_a_resident_out_of_scope_answer_as_for_an_unknown_one(people):
    """The suggestions name a signed resident's team institution: for a resident who does not
    concern the caller they would tell who exists and where they are signed."""
    api = api_client_for(people.users["tertiary_doctor"])
    url = "/api/v1/referrals/suggestions?resident="

    out_of_scope = api.get(url + str(people.resident.public_id))
    unknown = api.get(url + str(uuid.uuid4()))

    assert out_of_scope.status_code == unknown.status_code == 404
    assert _body(out_of_scope) == _body(unknown)


def test_id_number_lookups_are_limited_per_user(people, settings):
    settings.RESIDENT_LOOKUP_LIMIT = 2
    clerk, pharmacist = people.users["clerk"], people.users["pharmacist"]
    api = api_client_for(clerk)
    number = {"national_id": _number(people.resident)}

    found = api.post("/api/v1/residents/lookup", number)
    second = api.post("/api/v1/residents/lookup", number)
    third = api.post("/api/v1/residents/lookup", number)
    someone_else = api_client_for(pharmacist).post("/api/v1/residents/lookup", number)

    assert (found.status_code, second.status_code, third.status_code) == (200, 200, 429)
    assert third.json()["code"] == "lookup_throttled"
    assert 0 < int(third["Retry-After"]) <= settings.RESIDENT_LOOKUP_WINDOW_SECONDS
    assert someone_else.status_code == 200  # per user
    reads = AuditEvent.objects.filter(actor=clerk, action="read", object_type="resident")
    assert reads.count() == 2  # the refused one did not reach the record


def test_a_duplicate_registration_counts_as_a_lookup(people, settings):
    settings.RESIDENT_LOOKUP_LIMIT = 1
    api = api_client_for(people.users["tertiary_doctor"])
    payload = _registration(people.resident)

    first = api.post("/api/v1/residents", payload)
    second = api.post("/api/v1/residents", payload)

    assert first.status_code == 409
    assert second.status_code == 429
    assert second.json()["code"] == "lookup_throttled"


def test_every_record_out_of_scope_answers_exactly_as_an_unknown_one():
    """One out-of-scope answer everywhere: residents, referrals, contracts, follow-ups, cards,
    guardianships. A doctor of a third institution asks for each of a clinic's records and for
    an id that exists nowhere: the same status and the same body."""
    clinic = build_clinic()
    elsewhere = InstitutionFactory(code="wh-p-99", name="别处社区卫生服务中心")
    api = api_client_for(UserFactory(username="x-doctor", role="doctor", institution=elsewhere))
    resident = clinic.resident.public_id
    referral = clinic.upward.public_id
    contract = clinic.contracts[0]
    followup = contract.follow_ups.first().public_id
    asks = [
        ("get", "/api/v1/residents/{}", resident),
        ("get", "/api/v1/residents/{}/guardians", resident),
        ("post", "/api/v1/healthcodes/cards/{}", resident),
        ("post", "/api/v1/healthcodes/cards/{}/static", resident),
        ("get", "/api/v1/referrals/{}", referral),
        ("post", "/api/v1/referrals/{}/cancel", referral),
        ("get", "/api/v1/contracts/{}", contract.public_id),
        ("post", "/api/v1/follow-ups/{}/record", followup),
    ]
    for method, template, known in asks:
        bodies = {"reason": "x", "outcome": "x"}
        out_of_scope = getattr(api, method)(template.format(known), bodies)
        unknown = getattr(api, method)(template.format(uuid.uuid4()), bodies)

        assert out_of_scope.status_code == 404, (template, out_of_scope.content)
        assert _body(out_of_scope) == _body(unknown), template


def test_parallel_lookups_get_exactly_the_limit(settings):
    """Counted atomically before the answer (cache.add + cache.incr; Redis on the PostgreSQL
    run): twenty lookups at once by one user, five allowed, five pass."""
    from concurrent.futures import ThreadPoolExecutor
    from types import SimpleNamespace

    from healthnet.errors import RateLimited
    from healthnet.rate_limits import national_id_lookup_count

    settings.RESIDENT_LOOKUP_LIMIT = 5
    user = SimpleNamespace(pk=4242)
    now = timezone.now().replace(minute=30)  # one window for all twenty

    def lookup(_):
        try:
            national_id_lookup_count(user, now=now)
        except RateLimited:
            return False
        return True

    with ThreadPoolExecutor(max_workers=20) as pool:
        allowed = list(pool.map(lookup, range(20)))

    assert allowed.count(True) == 5
