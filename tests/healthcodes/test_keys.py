"""Signing keys: lifecycle, rotation (idempotent), encryption at rest, the published key set."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import serialization
from django.core.management import call_command
from django.test import Client

from healthcodes import codec, keys, services
from healthcodes.models import HealthCodeKey, KeyStatus
from healthcodes.tasks import healthcode_keys_rotate_task
from healthcodes.verifier import Reason, verify
from healthnet.encryption import decrypt_text
from healthnet.errors import Forbidden
from healthnet.models import AuditEvent, UserRole
from tests.factories import ResidentFactory, UserFactory

T0 = dt.datetime(2026, 3, 1, 8, 0, tzinfo=dt.UTC)
DAY = dt.timedelta(days=1)

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh_key_caches():
    keys.invalidate_key_caches()
    yield
    keys.invalidate_key_caches()


def key_rows():
    return list(
        HealthCodeKey.objects.order_by("pk").values_list(
            "kid", "status", "not_before", "not_after", "private_key_encrypted"
        )
    )


def test_first_rotation_creates_one_active_key_and_a_second_run_changes_nothing():
    report = keys.healthcode_keys_rotate(now=T0)
    assert len(report.created) == 1
    key = HealthCodeKey.objects.get()
    assert key.status == KeyStatus.ACTIVE
    assert key.not_before == T0
    assert key.not_after == T0 + 90 * DAY
    assert key.activated_at == T0
    assert AuditEvent.objects.filter(action="healthcode_key_create", object_id=key.kid).exists()

    rows, audits = key_rows(), AuditEvent.objects.count()
    again = keys.healthcode_keys_rotate(now=T0)
    assert not again.changed
    assert key_rows() == rows
    assert AuditEvent.objects.count() == audits


def test_private_key_is_encrypted_at_rest_bound_to_its_context():
    keys.healthcode_keys_rotate(now=T0)
    key = HealthCodeKey.objects.get()
    assert "PRIVATE KEY" not in key.private_key_encrypted
    pem = decrypt_text(key.private_key_encrypted, context=keys.PRIVATE_KEY_CONTEXT)
    private_key = serialization.load_pem_private_key(pem.encode(), password=None)
    public_pem = private_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    assert public_pem.decode() == key.public_key_pem
    # The context is AES-GCM's associated data: under another one the tag does not verify.
    with pytest.raises(InvalidTag):
        decrypt_text(key.private_key_encrypted, context=b"resident.national_id")


def test_next_key_is_published_a_week_ahead_then_promoted_and_the_old_one_retired():
    keys.healthcode_keys_rotate(now=T0)
    first = HealthCodeKey.objects.get()

    # Eight days before the end of the window: nothing to do yet.
    assert not keys.healthcode_keys_rotate(now=first.not_after - 8 * DAY).changed

    # Seven days before: the next key appears, starting exactly where the active one ends.
    week_before = first.not_after - 7 * DAY
    report = keys.healthcode_keys_rotate(now=week_before)
    upcoming = HealthCodeKey.objects.get(status=KeyStatus.NEXT)
    assert report.created == [upcoming.kid]
    assert upcoming.not_before == first.not_after
    assert upcoming.not_after == first.not_after + 90 * DAY
    published = {
        jwk["kid"]: jwk["status"] for jwk in keys.key_set_document(now=week_before)["keys"]
    }
    # to a verifier a key that will sign is like one that signs: its window decides
    assert published == {first.kid: "active", upcoming.kid: "active"}
    assert not keys.healthcode_keys_rotate(now=week_before).changed

    # Still signing with the first key during the overlap week.
    assert keys.signing_key_current(now=week_before + DAY).kid == first.kid

    # Its time comes: promoted; the old key retires and loses its private half.
    report = keys.healthcode_keys_rotate(now=first.not_after)
    assert report.promoted == [upcoming.kid]
    assert report.retired == [first.kid]
    assert report.created == []
    first.refresh_from_db()
    upcoming.refresh_from_db()
    assert first.status == KeyStatus.RETIRED
    assert first.private_key_encrypted == ""
    assert first.retired_at == first.not_after
    assert upcoming.status == KeyStatus.ACTIVE
    assert keys.signing_key_current(now=first.not_after + DAY).kid == upcoming.kid

    rows = key_rows()
    assert not keys.healthcode_keys_rotate(now=first.not_after).changed
    assert key_rows() == rows
    assert AuditEvent.objects.filter(action="healthcode_key_promote").count() == 1
    assert AuditEvent.objects.filter(action="healthcode_key_retire").count() == 1


def test_a_late_rotation_replaces_an_expired_active_key():
    keys.healthcode_keys_rotate(now=T0)
    first = HealthCodeKey.objects.get()
    late = first.not_after + 3 * DAY  # the job never ran in the last week
    report = keys.healthcode_keys_rotate(now=late)
    # The next key would start in the past (at first.not_after) and is promoted at once.
    first.refresh_from_db()
    assert first.status == KeyStatus.RETIRED
    active = HealthCodeKey.objects.get(status=KeyStatus.ACTIVE)
    assert active.not_before <= late < active.not_after
    assert report.retired == [first.kid]
    assert not keys.healthcode_keys_rotate(now=late).changed


def test_retired_key_stays_published_until_its_last_static_code_has_expired(settings):
    settings.HEALTHCODE_STATIC_LIFETIME_DAYS = 365
    keys.healthcode_keys_rotate(now=T0)
    first = HealthCodeKey.objects.get()
    keys.healthcode_keys_rotate(now=first.not_after - 7 * DAY)
    keys.healthcode_keys_rotate(now=first.not_after)
    first.refresh_from_db()
    retired_end = first.not_after

    def published(now):
        return {jwk["kid"]: jwk["status"] for jwk in keys.key_set_document(now=now)["keys"]}

    assert published(retired_end + 365 * DAY)[first.kid] == "retired"
    assert first.kid not in published(retired_end + 366 * DAY)


def test_static_code_of_a_retired_key_verifies_until_it_expires_then_unknown_kid(settings):
    settings.HEALTHCODE_STATIC_LIFETIME_DAYS = 30
    settings.HEALTHCODE_KEY_SIGNING_DAYS = 20
    staff = UserFactory(role=UserRole.CLERK)
    resident = ResidentFactory(registered_by=staff.institution)
    keys.healthcode_keys_rotate(now=T0)
    card = services.healthcard_issue(actor=staff, resident=resident, now=T0)
    printed = services.healthcode_issue_static(actor=staff, card=card, now=T0 + DAY)

    later = T0 + 25 * DAY  # the signing key has retired, the printed code is still live
    keys.healthcode_keys_rotate(now=T0 + 13 * DAY)
    keys.healthcode_keys_rotate(now=T0 + 20 * DAY)
    assert HealthCodeKey.objects.get(kid=printed.kid).status == KeyStatus.RETIRED
    key_set = codec.load_key_set(keys.key_set_document(now=later))
    assert verify(printed.text, keys=key_set, now=later).ok

    gone = T0 + 20 * DAY + 31 * DAY
    key_set = codec.load_key_set(keys.key_set_document(now=gone))
    assert verify(printed.text, keys=key_set, now=gone).reason == Reason.UNKNOWN_KID


def test_compromised_key_is_published_as_such_and_replaced():
    admin = UserFactory(role=UserRole.SYSTEM_ADMIN, institution=None)
    keys.healthcode_keys_rotate(now=T0)
    first = HealthCodeKey.objects.get()
    keys.healthcode_key_mark_compromised(actor=admin, kid=first.kid, now=T0 + DAY)
    first.refresh_from_db()
    assert first.status == KeyStatus.COMPROMISED
    assert first.private_key_encrypted == ""
    replacement = HealthCodeKey.objects.get(status=KeyStatus.ACTIVE)
    assert replacement.not_before == T0 + DAY
    statuses = {jwk["kid"]: jwk["status"] for jwk in keys.key_set_document(now=T0 + DAY)["keys"]}
    assert statuses == {first.kid: "compromised", replacement.kid: "active"}
    assert AuditEvent.objects.filter(
        action="healthcode_key_compromised", object_id=first.kid, actor=admin
    ).exists()


@pytest.mark.parametrize("role", [UserRole.DOCTOR, UserRole.INSTITUTION_ADMIN])
def test_only_a_system_admin_marks_a_key_compromised(role):
    keys.healthcode_keys_rotate(now=T0)
    key = HealthCodeKey.objects.get()
    with pytest.raises(Forbidden):
        keys.healthcode_key_mark_compromised(actor=UserFactory(role=role), kid=key.kid, now=T0)
    key.refresh_from_db()
    assert key.status == KeyStatus.ACTIVE


def test_management_command_and_beat_task_rotate_idempotently(capsys):
    call_command("rotate_healthcode_keys")
    assert "created:" in capsys.readouterr().out
    rows = key_rows()
    call_command("rotate_healthcode_keys")
    assert "nothing to do" in capsys.readouterr().out
    assert healthcode_keys_rotate_task.delay().get() == {
        "created": [],
        "promoted": [],
        "retired": [],
    }
    assert key_rows() == rows


def test_command_marks_a_key_compromised(capsys):
    keys.healthcode_keys_rotate()
    kid = HealthCodeKey.objects.get().kid
    call_command("rotate_healthcode_keys", "--compromised", kid)
    assert f"marked compromised: {kid}" in capsys.readouterr().out
    assert HealthCodeKey.objects.get(kid=kid).status == KeyStatus.COMPROMISED
    assert HealthCodeKey.objects.filter(status=KeyStatus.ACTIVE).count() == 1


def test_well_known_key_set_is_public_cacheable_and_has_no_private_material(settings):
    settings.HEALTHCODE_KEY_SIGNING_DAYS = 5  # so the next key is already published
    keys.healthcode_keys_rotate()
    response = Client().get("/.well-known/healthcode-keys.json")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    cache_control = response["Cache-Control"]
    assert "public" in cache_control
    assert "max-age=300" in cache_control
    document = response.json()
    stored = {key.kid: key for key in HealthCodeKey.objects.all()}
    assert {jwk["kid"] for jwk in document["keys"]} == set(stored)
    assert len(document["keys"]) == 2
    for jwk in document["keys"]:
        assert "d" not in jwk
        assert set(jwk) == {
            "kid", "kty", "crv", "alg", "use", "x", "y", "iss", "not_before", "not_after", "status",
        }  # fmt: skip
        key = stored[jwk["kid"]]
        assert jwk["not_before"] == key.not_before.strftime("%Y-%m-%dT%H:%M:%SZ")
        assert jwk["not_after"] == key.not_after.strftime("%Y-%m-%dT%H:%M:%SZ")
    body = response.content.decode()
    assert "PRIVATE" not in body
    for key in stored.values():
        assert key.private_key_encrypted not in body
    # What is published is exactly what an offline verifier loads.
    assert set(codec.load_key_set(document)) == {(key.iss, key.kid) for key in stored.values()}


def test_well_known_key_set_refuses_writes():
    assert Client().post("/.well-known/healthcode-keys.json").status_code == 405


def test_code_verifies_offline_against_the_published_key_set():
    staff = UserFactory(role=UserRole.CLERK)
    resident = ResidentFactory(registered_by=staff.institution)
    card = services.healthcard_issue(actor=staff, resident=resident)
    printed = services.healthcode_issue_static(actor=staff, card=card)
    document = Client().get("/.well-known/healthcode-keys.json").json()
    result = verify(printed.text, keys=codec.load_key_set(document), now=dt.datetime.now(dt.UTC))
    assert result.ok
    assert result.claims.sub == card.sub
    assert result.claims.code_type is codec.CodeType.STATIC


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_rotations_create_one_active_key():
    import threading

    from django.db import connection

    barrier = threading.Barrier(4)
    reports, errors = [], []

    def rotate():
        try:
            barrier.wait()
            reports.append(keys.healthcode_keys_rotate(now=T0))
        except Exception as error:  # collected and asserted below
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=rotate) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert HealthCodeKey.objects.filter(status=KeyStatus.ACTIVE).count() == 1
    assert HealthCodeKey.objects.count() == 1
    assert sum(len(report.created) for report in reports) == 1


def test_one_key_status_list_shared_by_the_offline_codec_and_the_table():
    assert KeyStatus is codec.KeyStatus
    choices = HealthCodeKey._meta.get_field("status").choices
    assert [value for value, _label in choices] == ["next", "active", "retired", "compromised"]
    assert [str(label) for _value, label in choices] == ["待启用", "使用中", "已退役", "已泄露"]


def test_the_offline_verifier_imports_no_django():
    probe = (
        "import sys, healthcodes.verifier, healthcodes.codec; "
        "loaded = sorted(m for m in sys.modules if m == 'django' or m.startswith('django.')); "
        "print(loaded); sys.exit(1 if loaded else 0)"
    )
    completed = subprocess.run(  # noqa: S603 - our own interpreter and modules
        [sys.executable, "-c", probe],
        cwd=Path(__file__).resolve().parents[2],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
