"""Bearer tokens: issue, use, revoke, expiry, login throttling."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from healthnet.models import ApiToken, AuditEvent
from tests.conftest import ApiClient
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def doctor():
    return UserFactory(username="dr-li")


def issue(username="dr-li", password="healthnet-demo"):
    return ApiClient().post("/api/v1/auth/token", {"username": username, "password": password})


def test_token_is_issued_once_and_only_its_hash_is_stored(doctor):
    response = issue()

    assert response.status_code == 201
    token = response.json()["token"]
    assert token.startswith("hn_")
    stored = ApiToken.objects.get()
    assert stored.token_hash != token
    assert token not in stored.token_hash
    assert ApiClient(token=token).get("/api/v1/auth/me").json()["username"] == "dr-li"
    assert AuditEvent.objects.filter(action="token_issue", actor=doctor).exists()


def test_wrong_password_is_a_401_and_audited(doctor):
    response = issue(password="wrong")

    assert response.status_code == 401
    assert response.json()["code"] == "invalid_credentials"
    assert ApiToken.objects.count() == 0
    assert AuditEvent.objects.filter(action="login_failed").count() == 1


def test_repeated_failures_are_throttled_even_with_the_right_password(doctor, settings):
    settings.LOGIN_FAILURE_LIMIT = 3
    for _ in range(3):
        assert issue(password="wrong").status_code == 401

    response = issue()

    assert response.status_code == 429
    assert response.json()["code"] == "login_throttled"
    assert "Retry-After" in response
    assert ApiToken.objects.count() == 0


def test_revoked_token_stops_working(doctor):
    token = issue().json()["token"]
    client = ApiClient(token=token)

    assert client.delete("/api/v1/auth/token").status_code == 204
    assert client.get("/api/v1/auth/me").status_code == 401
    assert ApiToken.objects.get().revoked_at is not None
    assert AuditEvent.objects.filter(action="token_revoke").count() == 1


def test_expired_token_is_refused(doctor):
    token = issue().json()["token"]
    ApiToken.objects.update(expires_at=timezone.now() - dt.timedelta(seconds=1))

    assert ApiClient(token=token).get("/api/v1/auth/me").status_code == 401


def test_inactive_user_token_is_refused(doctor):
    token = issue().json()["token"]
    doctor.is_active = False
    doctor.save()

    assert ApiClient(token=token).get("/api/v1/auth/me").status_code == 401


def test_token_request_validation(db):
    response = ApiClient().post("/api/v1/auth/token", {"username": "x"})

    assert response.status_code == 422
    assert response.json()["code"] == "validation_error"
    assert response.json()["details"]["errors"][0]["field"] == "password"
