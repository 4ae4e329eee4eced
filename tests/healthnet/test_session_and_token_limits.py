"""Logins end with the shift (shared clinic PCs): portal sessions and API tokens have an idle
limit and an absolute one, and a new password ends every token issued under the old one."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.conf import settings as django_settings
from django.contrib.auth.forms import SetPasswordForm
from django.test import Client

from healthnet.models import ApiToken, AuditEvent
from tests.conftest import ApiClient
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

T0 = dt.datetime(2026, 6, 1, 0, 30, tzinfo=dt.UTC)  # 08:30 in Wuhai
MINUTE = dt.timedelta(minutes=1)
HOUR = dt.timedelta(hours=1)


@pytest.fixture
def doctor():
    return UserFactory(username="dr-liu")


def test_the_defaults_suit_a_clinic_shift():
    assert django_settings.SESSION_IDLE_SECONDS == 30 * 60
    assert django_settings.SESSION_COOKIE_AGE == 12 * 3600
    assert django_settings.API_TOKEN_IDLE_SECONDS == 30 * 60
    assert django_settings.API_TOKEN_LIFETIME_SECONDS == 12 * 3600


# --- API tokens --------------------------------------------------------------------------------


def issue_token(username="dr-liu", password="healthnet-demo") -> ApiClient:
    response = ApiClient().post("/api/v1/auth/token", {"username": username, "password": password})
    assert response.status_code == 201, response.content
    return ApiClient(token=response.json()["token"])


def test_a_token_says_when_it_ends_and_ends_then_even_when_used(doctor):
    with time_machine.travel(T0, tick=False) as clock:
        response = ApiClient().post(
            "/api/v1/auth/token", {"username": "dr-liu", "password": "healthnet-demo"}
        )
        assert response.json()["expires_at"] == "2026-06-01T12:30:00Z"  # 12 h later
        client = ApiClient(token=response.json()["token"])
        for _ in range(35):  # used every 20 minutes: never idle
            clock.shift(20 * MINUTE)
            assert client.get("/api/v1/auth/me").status_code == 200
        clock.shift(20 * MINUTE)  # 12 h 0 min
        assert client.get("/api/v1/auth/me").status_code == 401


def test_a_token_untouched_for_half_an_hour_ends(doctor):
    with time_machine.travel(T0, tick=False) as clock:
        client = issue_token()
        clock.shift(30 * MINUTE)
        assert client.get("/api/v1/auth/me").status_code == 200  # exactly at the limit: still on
        clock.shift(30 * MINUTE + dt.timedelta(seconds=1))
        response = client.get("/api/v1/auth/me")
        assert response.status_code == 401
        assert response["WWW-Authenticate"] == 'Bearer realm="healthnet", error="invalid_token"'


def test_token_limits_are_settings(doctor, settings):
    settings.API_TOKEN_IDLE_SECONDS = 8 * 3600
    settings.API_TOKEN_LIFETIME_SECONDS = 24 * 3600
    with time_machine.travel(T0, tick=False) as clock:
        client = issue_token()
        clock.shift(7 * HOUR)
        assert client.get("/api/v1/auth/me").status_code == 200
        clock.shift(17 * HOUR + MINUTE)
        assert client.get("/api/v1/auth/me").status_code == 401


def test_a_new_password_revokes_every_token(doctor):
    first, second = issue_token(), issue_token()
    other = UserFactory(username="dr-other")
    others = issue_token("dr-other")

    form = SetPasswordForm(
        doctor, {"new_password1": "Zq8!new-pass", "new_password2": "Zq8!new-pass"}
    )
    assert form.is_valid(), form.errors
    form.save()  # what the admin's password page does

    assert first.get("/api/v1/auth/me").status_code == 401
    assert second.get("/api/v1/auth/me").status_code == 401
    assert others.get("/api/v1/auth/me").status_code == 200
    assert ApiToken.objects.filter(user=doctor, revoked_at__isnull=True).count() == 0
    event = AuditEvent.objects.get(action="tokens_revoke_all")
    assert event.object_id == str(doctor.pk)
    assert event.details == {"reason": "password_change", "tokens": 2}
    assert other.api_tokens.filter(revoked_at__isnull=True).count() == 1


def test_saving_a_user_without_a_new_password_keeps_the_tokens(doctor):
    client = issue_token()
    doctor.first_name = "刘"
    doctor.save()
    doctor.is_staff = False
    doctor.save(update_fields=["is_staff"])

    assert client.get("/api/v1/auth/me").status_code == 200
    assert not AuditEvent.objects.filter(action="tokens_revoke_all").exists()


# --- portal sessions ---------------------------------------------------------------------------


def portal_login(client: Client, username="dr-liu") -> None:
    response = client.post("/accounts/login/", {"username": username, "password": "healthnet-demo"})
    assert response.status_code == 302, response.content


def test_a_session_untouched_for_half_an_hour_is_logged_out(doctor):
    client = Client()
    with time_machine.travel(T0, tick=False) as clock:
        portal_login(client)
        clock.shift(29 * MINUTE)
        assert client.get("/workbench/").status_code == 200
        clock.shift(31 * MINUTE)  # 31 minutes since the last page
        response = client.get("/workbench/")
        assert response.status_code == 302
        assert response["Location"].startswith("/accounts/login/")
        assert client.get("/workbench/").status_code == 302


def test_the_idle_logout_says_why_on_the_login_page(doctor, settings):
    client = Client()
    with time_machine.travel(T0, tick=False) as clock:
        portal_login(client)
        clock.shift(20 * MINUTE)
        assert client.get("/workbench/").status_code == 200
        # The stored session still exists (a longer cookie life than the idle limit), so the
        # middleware, not the session's own expiry, ends it here.
        settings.SESSION_IDLE_SECONDS = 60
        clock.shift(2 * MINUTE)
        page = client.get("/workbench/", follow=True)
        assert "请重新登录" in page.content.decode()


def test_a_session_in_use_ends_after_the_shift(doctor):
    client = Client()
    with time_machine.travel(T0, tick=False) as clock:
        portal_login(client)
        for _ in range(35):
            clock.shift(20 * MINUTE)
            assert client.get("/workbench/").status_code == 200
        clock.shift(20 * MINUTE)  # 12 h since the login
        assert client.get("/workbench/").status_code == 302


def test_the_session_cookie_lives_no_longer_than_the_idle_limit(doctor):
    client = Client()
    with time_machine.travel(T0, tick=False):
        portal_login(client)
        cookie = client.cookies[django_settings.SESSION_COOKIE_NAME]
        assert int(cookie["max-age"]) == 30 * 60


def test_an_idle_session_is_not_authenticated_in_the_api_either(doctor):
    client = Client()
    with time_machine.travel(T0, tick=False) as clock:
        portal_login(client)
        assert client.get("/api/v1/auth/me").status_code == 200
        clock.shift(31 * MINUTE)
        assert client.get("/api/v1/auth/me").status_code == 401


def test_a_page_polling_by_itself_does_not_keep_an_idle_session_alive(doctor):
    client = Client()
    with time_machine.travel(T0, tick=False) as clock:
        portal_login(client)
        for _ in range(4):  # a 工作台 left open: its counters refresh every few minutes
            clock.shift(10 * MINUTE)
            client.get(
                "/workbench/counters/", headers={"HX-Request": "true", "X-HealthNet-Poll": "1"}
            )
        # 40 minutes without a person's request: the next page is the login page
        response = client.get("/workbench/")
        assert response.status_code == 302
        assert response["Location"].startswith("/accounts/login/")
