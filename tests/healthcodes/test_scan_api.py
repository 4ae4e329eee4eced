"""POST /api/v1/healthcodes/scan: verifier → revocation → replay → purpose policy → summary,
ScanEvent, Encounter for registration; refusals as 4xx with the reason code, rate limits."""

from __future__ import annotations

import datetime as dt
import logging

import cbor2
import pytest
import time_machine
from cryptography.hazmat.primitives.asymmetric import ec

from healthcodes import codec, keys, permissions, services
from healthcodes.models import HealthCard, HealthCodeKey, ScanEvent
from healthnet.models import AuditEvent, Encounter, UserRole
from healthnet.national_id import decrypt_national_id
from tests.conftest import api_client_for
from tests.factories import InstitutionFactory, ResidentFactory, UserFactory

SCAN = "/api/v1/healthcodes/scan"
PURPOSES = ["registration", "consultation", "dispensing", "health_management"]

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh_key_caches():
    keys.invalidate_key_caches()
    yield
    keys.invalidate_key_caches()


@pytest.fixture
def resident(institution):
    return ResidentFactory(registered_by=institution, name="张三", phone="13912345678")


@pytest.fixture
def resident_user(resident):
    return UserFactory(role=UserRole.RESIDENT, institution=None, resident=resident)


@pytest.fixture
def card(resident_user, resident):
    return services.healthcard_issue(actor=resident_user, resident=resident)


def dynamic_code(resident_user, card, now=None) -> str:
    return services.healthcode_issue_dynamic(actor=resident_user, card=card, now=now).text


def counts() -> tuple[int, int, int, int]:
    return (
        ScanEvent.objects.count(),
        Encounter.objects.count(),
        HealthCard.objects.count(),
        AuditEvent.objects.exclude(action="token_issue").count(),
    )


def refused_event() -> ScanEvent:
    return ScanEvent.objects.filter(result="refused").latest("pk")


# --- happy path --------------------------------------------------------------------------------


@pytest.mark.parametrize("purpose", PURPOSES)
def test_scan_accepts_a_dynamic_code_for_each_purpose(
    clerk, clerk_api, resident, resident_user, card, purpose
):
    response = clerk_api.post(SCAN, {"code": dynamic_code(resident_user, card), "purpose": purpose})

    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["result"] == "accepted"
    assert body["purpose"] == purpose
    assert body["code_type"] == "dynamic"
    summary = body["resident"]
    assert summary["resident_id"] == str(resident.public_id)
    assert summary["name"] == "张三"
    event = ScanEvent.objects.get()
    assert str(event.public_id) == body["scan_id"]
    assert (event.result, event.reason, event.purpose) == ("accepted", "", purpose)
    assert (event.scanned_by, event.institution, event.card, event.resident) == (
        clerk,
        clerk.institution,
        card,
        resident,
    )
    assert event.code_type == "dynamic"
    audit = AuditEvent.objects.get(action="read", object_type="resident")
    assert audit.object_id == str(resident.public_id)
    assert audit.actor == clerk
    assert audit.details["via"] == "healthcode_scan"
    assert audit.details["scan"] == body["scan_id"]


def test_registration_scan_creates_an_encounter_at_the_scanners_institution(
    clerk, clerk_api, resident, resident_user, card
):
    response = clerk_api.post(
        SCAN, {"code": dynamic_code(resident_user, card), "purpose": "registration"}
    )
    assert response.status_code == 200
    encounter = Encounter.objects.get()
    assert response.json()["encounter_id"] == str(encounter.public_id)
    assert (encounter.resident, encounter.institution) == (resident, clerk.institution)
    assert (encounter.source, encounter.kind) == ("scan", "outpatient")
    assert ScanEvent.objects.get().encounter == encounter


@pytest.mark.parametrize("purpose", ["consultation", "dispensing", "health_management"])
def test_other_purposes_create_no_encounter(clerk_api, resident_user, card, purpose):
    response = clerk_api.post(SCAN, {"code": dynamic_code(resident_user, card), "purpose": purpose})
    assert response.status_code == 200
    assert response.json()["encounter_id"] is None
    assert Encounter.objects.count() == 0


def test_summary_masks_the_national_id(clerk_api, resident, resident_user, card):
    body = clerk_api.post(
        SCAN, {"code": dynamic_code(resident_user, card), "purpose": "consultation"}
    ).json()
    national_id = decrypt_national_id(resident.national_id_encrypted)
    masked = body["resident"]["national_id_masked"]
    assert masked == national_id[:4] + "*" * 10 + national_id[-4:]
    assert national_id not in str(body)
    assert resident.phone not in str(body)


def test_static_code_is_accepted_and_may_be_scanned_again(clerk, clerk_api, card):
    printed = services.healthcode_issue_static(actor=clerk, card=card).text
    for _ in range(2):
        response = clerk_api.post(SCAN, {"code": printed, "purpose": "consultation"})
        assert response.status_code == 200
        assert response.json()["code_type"] == "static"


# --- replay and purpose policy -----------------------------------------------------------------


def test_dynamic_code_scans_once_per_purpose(clerk_api, resident_user, card):
    code = dynamic_code(resident_user, card)
    assert clerk_api.post(SCAN, {"code": code, "purpose": "registration"}).status_code == 200
    encounters = Encounter.objects.count()

    again = clerk_api.post(SCAN, {"code": code, "purpose": "registration"})
    assert again.status_code == 409
    assert again.json()["code"] == "replayed"
    assert Encounter.objects.count() == encounters
    assert (refused_event().reason, refused_event().card) == ("replayed", card)

    other = clerk_api.post(SCAN, {"code": code, "purpose": "consultation"})
    assert other.status_code == 200


def test_replay_is_refused_across_clinics(clerk_api, resident_user, card):
    code = dynamic_code(resident_user, card)
    assert clerk_api.post(SCAN, {"code": code, "purpose": "dispensing"}).status_code == 200
    elsewhere = api_client_for(
        UserFactory(role=UserRole.PHARMACIST, institution=InstitutionFactory())
    )
    response = elsewhere.post(SCAN, {"code": code, "purpose": "dispensing"})
    assert response.status_code == 409
    assert response.json()["code"] == "replayed"


def test_static_code_for_dispensing_needs_an_id_check(clerk, clerk_api, card):
    printed = services.healthcode_issue_static(actor=clerk, card=card).text
    pharmacist = api_client_for(
        UserFactory(role=UserRole.PHARMACIST, institution=clerk.institution)
    )

    refused = pharmacist.post(SCAN, {"code": printed, "purpose": "dispensing"})
    assert refused.status_code == 403
    assert refused.json()["code"] == "id_check_required"
    event = refused_event()
    assert (event.reason, event.code_type, event.id_checked) == (
        "id_check_required",
        "static",
        False,
    )

    checked = pharmacist.post(SCAN, {"code": printed, "purpose": "dispensing", "id_checked": True})
    assert checked.status_code == 200
    assert ScanEvent.objects.filter(result="accepted").get().id_checked is True


def test_dynamic_code_for_dispensing_needs_no_id_check(clerk_api, resident_user, card):
    response = clerk_api.post(
        SCAN, {"code": dynamic_code(resident_user, card), "purpose": "dispensing"}
    )
    assert response.status_code == 200


# --- revocation --------------------------------------------------------------------------------


def test_revoked_card_codes_fail_with_revoked(clerk, clerk_api, resident, resident_user, card):
    old_dynamic = dynamic_code(resident_user, card)
    old_printed = services.healthcode_issue_static(actor=clerk, card=card).text

    response = clerk_api.post(
        f"/api/v1/healthcodes/cards/{resident.public_id}/revoke", {"reason": "手机丢失"}
    )
    assert response.status_code == 200

    for code in (old_dynamic, old_printed):
        refused = clerk_api.post(
            SCAN, {"code": code, "purpose": "consultation", "id_checked": True}
        )
        assert refused.status_code == 422
        assert refused.json()["code"] == "revoked"
        assert (refused_event().card, refused_event().resident) == (card, resident)

    new_card = HealthCard.objects.get(resident=resident, revoked_at__isnull=True)
    assert new_card.sub != card.sub
    fresh = clerk_api.post(
        SCAN, {"code": dynamic_code(resident_user, new_card), "purpose": "consultation"}
    )
    assert fresh.status_code == 200


# --- refusals of the verifier ------------------------------------------------------------------


def _resign(text: str, *, mutate) -> str:
    """Decode a code, let `mutate` change the COSE array, re-encode (signature left as is)."""
    message = cbor2.loads(codec.b45decode_strict(text[len(codec.PREFIX) :]))
    mutate(message.value)
    return codec.PREFIX + codec.b45encode(cbor2.dumps(message))


def _flip_signature_bit(parts):
    signature = bytearray(parts[3])
    signature[10] ^= 0x01
    parts[3] = bytes(signature)


def _flip_claim_bit(parts):
    payload = bytearray(parts[2])
    payload[-10] ^= 0x01  # inside the cti
    parts[2] = bytes(payload)


@pytest.mark.parametrize(
    ("make_code", "reason"),
    [
        (lambda code: code.replace(codec.PREFIX, "XX1:", 1), "bad_prefix"),
        (lambda code: codec.PREFIX + "abc!", "bad_base45"),
        (lambda code: codec.PREFIX + "A" * 3000, "too_long"),
        (lambda code: _resign(code, mutate=_flip_signature_bit), "bad_signature"),
        (lambda code: _resign(code, mutate=_flip_claim_bit), "bad_signature"),
        (lambda code: code[:-6], "bad_cbor"),
    ],
)
def test_invalid_codes_are_refused_with_the_verifiers_reason(
    clerk_api, resident_user, card, make_code, reason
):
    code = make_code(dynamic_code(resident_user, card))
    before = counts()
    response = clerk_api.post(SCAN, {"code": code, "purpose": "registration"})
    assert response.status_code == 422
    assert response.json()["code"] == reason
    scans, encounters, cards, audits = counts()
    assert (scans, encounters, cards, audits) == (before[0] + 1, *before[1:])
    event = refused_event()
    assert (event.reason, event.card, event.resident, event.encounter) == (reason, None, None, None)


def test_code_signed_by_an_unknown_key_is_refused(clerk_api, card):
    rogue = ec.generate_private_key(ec.SECP256R1())
    code = codec.issue_code(
        private_key=rogue,
        kid="rogue1",
        iss=keys.issuer(),
        sub=card.sub,
        code_type="dynamic",
        issued_at=dt.datetime.now(dt.UTC),
        lifetime_seconds=60,
    )
    response = clerk_api.post(SCAN, {"code": code, "purpose": "consultation"})
    assert response.status_code == 422
    assert response.json()["code"] == "unknown_kid"


def test_code_of_a_compromised_key_is_refused(clerk_api, resident_user, card):
    code = dynamic_code(resident_user, card)
    kid = HealthCodeKey.objects.get(status="active").kid
    keys.healthcode_key_mark_compromised(actor=None, kid=kid)
    response = clerk_api.post(SCAN, {"code": code, "purpose": "consultation"})
    assert response.status_code == 422
    assert response.json()["code"] == "key_compromised"
    # The replacement key signs codes that scan.
    fresh = clerk_api.post(
        SCAN, {"code": dynamic_code(resident_user, card), "purpose": "consultation"}
    )
    assert fresh.status_code == 200


def test_expiry_allows_thirty_seconds_of_skew(clerk_api, resident_user, card):
    issued_at = dt.datetime(2026, 6, 1, 2, 0, tzinfo=dt.UTC)
    with time_machine.travel(issued_at, tick=False):
        code = dynamic_code(resident_user, card)
    with time_machine.travel(issued_at + dt.timedelta(seconds=90), tick=False):
        assert clerk_api.post(SCAN, {"code": code, "purpose": "consultation"}).status_code == 200
    with time_machine.travel(issued_at + dt.timedelta(seconds=91), tick=False):
        response = clerk_api.post(SCAN, {"code": code, "purpose": "registration"})
    assert response.status_code == 422
    assert response.json()["code"] == "expired"


def test_refusals_are_logged_without_the_code_text(clerk_api, resident_user, card, caplog):
    code = dynamic_code(resident_user, card)
    caplog.set_level(logging.DEBUG)
    clerk_api.post(SCAN, {"code": code, "purpose": "consultation"})
    replay = clerk_api.post(SCAN, {"code": code, "purpose": "consultation"})
    broken = clerk_api.post(SCAN, {"code": code[:-6], "purpose": "consultation"})
    assert (replay.status_code, broken.status_code) == (409, 422)
    assert "reason=replayed" in caplog.text
    assert "reason=bad_cbor" in caplog.text
    assert code[len(codec.PREFIX) : len(codec.PREFIX) + 40] not in caplog.text
    stored = " ".join(str(row) for row in ScanEvent.objects.values_list())
    assert code[len(codec.PREFIX) : len(codec.PREFIX) + 40] not in stored


# --- bad input: nothing written ----------------------------------------------------------------


@pytest.mark.parametrize(
    "payload",
    [
        {"purpose": "registration"},
        {"code": "HN1:AAA"},
        {"code": "HN1:AAA", "purpose": "surgery"},
        {"code": "", "purpose": "registration"},
        {"code": "HN1:" + "A" * 5000, "purpose": "registration"},
        {"code": 12345, "purpose": "registration"},
    ],
)
def test_malformed_requests_are_refused_and_write_nothing(clerk_api, card, payload):
    before = counts()
    response = clerk_api.post(SCAN, payload)
    assert response.status_code == 422
    assert response.json()["code"] == "validation_error"
    assert counts() == before


def test_a_body_that_is_not_json_is_refused(clerk_api, card):
    before = counts()
    response = clerk_api.post(SCAN, raw="{not json")
    assert response.status_code in (400, 422)
    assert response.json()["code"] in ("malformed_request", "validation_error")
    assert counts() == before


# --- who may scan ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "role",
    [
        UserRole.DOCTOR,
        UserRole.NURSE,
        UserRole.PUBLIC_HEALTH,
        UserRole.REFERRAL_COORDINATOR,
        UserRole.PHARMACIST,
        UserRole.CLERK,
        UserRole.INSTITUTION_ADMIN,
    ],
)
def test_every_institution_staff_role_may_scan(institution, resident_user, card, role):
    scanner = api_client_for(UserFactory(role=role, institution=institution))
    response = scanner.post(
        SCAN, {"code": dynamic_code(resident_user, card), "purpose": "health_management"}
    )
    assert response.status_code == 200
    summary = response.json()["resident"]
    assert "national_id_masked" in summary


@pytest.mark.parametrize("role", [UserRole.BUREAU, UserRole.SYSTEM_ADMIN, UserRole.RESIDENT])
def test_non_staff_may_not_scan(resident_user, card, role):
    user = resident_user if role == UserRole.RESIDENT else UserFactory(role=role, institution=None)
    code = dynamic_code(resident_user, card)
    before = counts()
    response = api_client_for(user).post(SCAN, {"code": code, "purpose": "consultation"})
    assert response.status_code == 403
    assert response.json()["code"] == "forbidden"
    assert counts() == before


def test_scan_needs_authentication(client, card):
    response = client.post(
        SCAN, {"code": "HN1:AAA", "purpose": "consultation"}, content_type="application/json"
    )
    assert response.status_code == 401


def test_inactive_staff_may_not_scan(clerk, clerk_api, resident_user, card):
    clerk.is_active = False
    clerk.save(update_fields=["is_active"])
    response = clerk_api.post(
        SCAN, {"code": dynamic_code(resident_user, card), "purpose": "consultation"}
    )
    assert response.status_code in (401, 403)
    assert ScanEvent.objects.count() == 0


@pytest.mark.parametrize(
    ("role", "sees_referrals"),
    [
        (UserRole.DOCTOR, True),
        (UserRole.NURSE, True),
        (UserRole.PUBLIC_HEALTH, True),
        (UserRole.REFERRAL_COORDINATOR, True),
        (UserRole.CLERK, True),
        (UserRole.INSTITUTION_ADMIN, True),
        (UserRole.PHARMACIST, False),
        (UserRole.BUREAU, False),
        (UserRole.RESIDENT, False),
    ],
)
def test_summary_visibility_by_role(institution, resident, role, sees_referrals):
    if role in (UserRole.BUREAU, UserRole.RESIDENT):
        extra = {"institution": None}
        if role == UserRole.RESIDENT:
            extra["resident"] = resident
        user = UserFactory(role=role, **extra)
    else:
        user = UserFactory(role=role, institution=institution)
    staff = role not in (UserRole.BUREAU, UserRole.RESIDENT)
    assert permissions.can_scan_healthcode(user) is staff
    assert permissions.can_see_scan_contract(user) is staff
    assert permissions.can_see_scan_referrals(user) is sees_referrals


# --- rate limits -------------------------------------------------------------------------------


def test_scans_are_rate_limited_per_user(settings, clerk_api, resident_user, card):
    settings.HEALTHCODE_SCAN_RATE_LIMIT = 2
    code = dynamic_code(resident_user, card)
    assert clerk_api.post(SCAN, {"code": code, "purpose": "consultation"}).status_code == 200
    assert clerk_api.post(SCAN, {"code": code, "purpose": "dispensing"}).status_code == 200
    before = counts()
    limited = clerk_api.post(SCAN, {"code": code, "purpose": "registration"})
    assert limited.status_code == 429
    assert limited.json()["code"] == "rate_limited"
    assert 1 <= int(limited["Retry-After"]) <= 60
    assert counts() == before  # neither verified nor recorded

    other = api_client_for(
        UserFactory(role=UserRole.NURSE, institution=card.resident.registered_by)
    )
    assert other.post(SCAN, {"code": code, "purpose": "registration"}).status_code == 200


def test_scans_are_rate_limited_per_device(settings, institution, resident_user, card):
    settings.HEALTHCODE_SCAN_RATE_LIMIT = 2
    device = {"X-Device-Id": "scanner-desk-1"}
    first = api_client_for(UserFactory(role=UserRole.CLERK, institution=institution))
    second = api_client_for(UserFactory(role=UserRole.NURSE, institution=institution))
    code = dynamic_code(resident_user, card)
    assert (
        first.post(SCAN, {"code": code, "purpose": "consultation"}, headers=device).status_code
        == 200
    )
    assert (
        second.post(SCAN, {"code": code, "purpose": "dispensing"}, headers=device).status_code
        == 200
    )
    limited = second.post(SCAN, {"code": code, "purpose": "registration"}, headers=device)
    assert limited.status_code == 429
    assert ScanEvent.objects.get(purpose="dispensing").device_id == "scanner-desk-1"


def test_rate_limit_window_resets(settings, clerk_api, resident_user, card):
    settings.HEALTHCODE_SCAN_RATE_LIMIT = 1
    start = dt.datetime(2026, 6, 1, 2, 0, 5, tzinfo=dt.UTC)
    with time_machine.travel(start, tick=False):
        code = dynamic_code(resident_user, card)
        assert clerk_api.post(SCAN, {"code": code, "purpose": "consultation"}).status_code == 200
        assert clerk_api.post(SCAN, {"code": code, "purpose": "dispensing"}).status_code == 429
    with time_machine.travel(start + dt.timedelta(seconds=60), tick=False):
        assert clerk_api.post(SCAN, {"code": code, "purpose": "dispensing"}).status_code == 200


# --- privacy of the code -----------------------------------------------------------------------


def test_code_holds_no_personal_data_and_sub_is_random(clerk, resident, resident_user, card):
    code = dynamic_code(resident_user, card)
    message = cbor2.loads(codec.b45decode_strict(code[len(codec.PREFIX) :]))
    claims = cbor2.loads(message.value[2])
    values = " ".join(str(value) for value in claims.values())
    national_id = decrypt_national_id(resident.national_id_encrypted)
    for personal in (
        resident.name,
        national_id,
        national_id[-6:],
        national_id[6:14],  # the birth date inside the ID
        resident.phone,
        resident.birth_date.isoformat(),
        resident.birth_date.strftime("%Y%m%d"),
        str(resident.public_id),
    ):
        assert personal not in values
        assert personal not in code
    assert set(claims) == {1, 2, 4, 6, 7, -70001}
    assert claims[2] == card.sub
    assert len(card.sub) == 16  # 96 random bits, base64url

    # Same person, same name, same ID: a new card has an unrelated sub.
    subs = {card.sub}
    for n in range(3):
        subs.add(services.healthcard_revoke(actor=clerk, resident=resident, reason=f"lost {n}").sub)
    assert len(subs) == 4


# --- the scan log ------------------------------------------------------------------------------

SCANS = "/api/v1/healthcodes/scans"


def _scan_many(clerk, card, n: int) -> None:
    printed = services.healthcode_issue_static(actor=clerk, card=card).text
    for _ in range(n):
        services.healthcode_scan(actor=clerk, code=printed, purpose="consultation")


def test_scan_log_lists_the_institutions_scans_and_refusals(clerk, clerk_api, resident_user, card):
    code = dynamic_code(resident_user, card)
    clerk_api.post(SCAN, {"code": code, "purpose": "registration"})
    clerk_api.post(SCAN, {"code": code, "purpose": "registration"})  # replayed
    elsewhere = api_client_for(UserFactory(role=UserRole.DOCTOR, institution=InstitutionFactory()))
    elsewhere.post(SCAN, {"code": code, "purpose": "consultation"})
    admin = api_client_for(
        UserFactory(role=UserRole.INSTITUTION_ADMIN, institution=clerk.institution)
    )

    body = admin.get(SCANS).json()
    assert body["count"] == 2
    newest, oldest = body["items"]
    assert (newest["result"], newest["reason"]) == ("refused", "replayed")
    assert (oldest["result"], oldest["reason"]) == ("accepted", "")
    assert oldest["scanned_by"] == clerk.username
    assert oldest["resident_id"] == str(card.resident.public_id)
    assert oldest["encounter_id"] == str(Encounter.objects.get().public_id)
    assert code[len(codec.PREFIX) : len(codec.PREFIX) + 40] not in str(body)

    refused = admin.get(SCANS, {"result": "refused"}).json()
    assert [item["reason"] for item in refused["items"]] == ["replayed"]


@pytest.mark.parametrize("role", [UserRole.CLERK, UserRole.DOCTOR, UserRole.PHARMACIST])
def test_scan_log_is_for_the_institution_admin(institution, role):
    response = api_client_for(UserFactory(role=role, institution=institution)).get(SCANS)
    assert response.status_code == 403


def test_scan_log_queries_stay_flat(clerk, card, django_assert_num_queries):
    admin = api_client_for(
        UserFactory(role=UserRole.INSTITUTION_ADMIN, institution=clerk.institution)
    )
    _scan_many(clerk, card, 2)
    admin.get(SCANS)  # the token's first use stamps it; measure the steady state
    with django_assert_num_queries(3) as few:  # token, count, page (with its joins)
        assert admin.get(SCANS).json()["count"] == 2
    _scan_many(clerk, card, 6)
    with django_assert_num_queries(len(few.captured_queries)):
        assert admin.get(SCANS).json()["count"] == 8


# --- concurrency -------------------------------------------------------------------------------


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_scans_of_one_dynamic_code_accept_it_once():
    import threading

    from django.db import connection

    from healthnet.errors import Conflict

    institution = InstitutionFactory()
    resident = ResidentFactory(registered_by=institution)
    resident_user = UserFactory(role=UserRole.RESIDENT, institution=None, resident=resident)
    card = services.healthcard_issue(actor=resident_user, resident=resident)
    code = dynamic_code(resident_user, card)
    scanners = [UserFactory(role=UserRole.CLERK, institution=institution) for _ in range(6)]
    barrier = threading.Barrier(len(scanners))
    outcomes: list[str] = []

    def scan(scanner):
        try:
            barrier.wait()
            services.healthcode_scan(actor=scanner, code=code, purpose="registration")
            outcomes.append("accepted")
        except Conflict as refusal:
            outcomes.append(refusal.code)
        finally:
            connection.close()

    threads = [threading.Thread(target=scan, args=(scanner,)) for scanner in scanners]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["accepted"] + ["replayed"] * 5
    assert Encounter.objects.count() == 1
    assert ScanEvent.objects.filter(result="accepted").count() == 1
