"""Login throttling (docs/security.md): counted before the check, per client address + username,
per address across usernames, per username across addresses (but not from an address the
account logged in from), a doubling delay instead of a lockout, the client address taken from
the trusted proxies only, and the demo password refused in production.

Concurrency on PostgreSQL + Redis: tests/healthnet/test_login_concurrency.py."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.conf import settings as django_settings
from django.test import Client, RequestFactory

from healthnet.middleware import client_address
from healthnet.models import ApiToken, AuditEvent
from tests.conftest import ApiClient
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

T0 = dt.datetime(2026, 6, 1, 8, 0, tzinfo=dt.UTC)


@pytest.fixture
def doctor():
    return UserFactory(username="dr-zhao")


@pytest.fixture
def limits(settings):
    settings.LOGIN_FAILURE_LIMIT = 3
    settings.LOGIN_ADDRESS_FAILURE_LIMIT = 20
    settings.LOGIN_USERNAME_FAILURE_LIMIT = 50
    settings.LOGIN_DELAY_BASE_SECONDS = 2
    settings.LOGIN_DELAY_MAX_SECONDS = 300
    settings.LOGIN_FAILURE_WINDOW_SECONDS = 900
    settings.TRUSTED_PROXY_HOPS = 0
    return settings


def issue(username="dr-zhao", password="healthnet-demo", forwarded: str | None = None):
    headers = {"X-Forwarded-For": forwarded} if forwarded else None
    return ApiClient().post(
        "/api/v1/auth/token", {"username": username, "password": password}, headers=headers
    )


def checked_failures() -> int:
    """A failed password check writes one audit row; a refused attempt is never checked."""
    return AuditEvent.objects.filter(action="login_failed").count()


# --- the growing delay -------------------------------------------------------------------------


def test_past_the_free_attempts_one_attempt_per_doubling_delay_is_checked(doctor, limits):
    with time_machine.travel(T0, tick=False) as clock:
        assert [issue(password="wrong").status_code for _ in range(3)] == [401, 401, 401]

        # The first attempt over the limit is refused unchecked and starts a 2 s clock.
        first_wait = issue(password="wrong")
        assert first_wait.status_code == 429
        assert first_wait["Retry-After"] == "2"
        assert first_wait.json()["details"]["retry_after_seconds"] == 2
        clock.shift(1)
        assert issue(password="wrong")["Retry-After"] == "1"  # still waiting, nothing checked

        clock.shift(1)
        assert issue(password="wrong").status_code == 401  # checked: the wait was over
        assert issue(password="wrong")["Retry-After"] == "4"  # the delay doubled
        clock.shift(4)
        assert issue(password="wrong").status_code == 401
        assert issue(password="wrong")["Retry-After"] == "8"
        assert checked_failures() == 5

        # Not a lockout: once the wait is over, the right password gets in.
        clock.shift(8)
        assert issue().status_code == 201


def test_the_delay_stops_growing_at_its_maximum(doctor, limits):
    limits.LOGIN_DELAY_MAX_SECONDS = 5
    with time_machine.travel(T0, tick=False) as clock:
        for _ in range(3):
            issue(password="wrong")
        waits = []
        for _ in range(6):
            response = issue(password="wrong")
            waits.append(int(response["Retry-After"]))
            clock.shift(waits[-1])
            assert issue(password="wrong").status_code == 401
        assert waits[:4] == [2, 4, 5, 5]


def test_the_right_password_is_refused_unchecked_while_waiting(doctor, limits):
    with time_machine.travel(T0, tick=False):
        for _ in range(3):
            issue(password="wrong")
        response = issue()
        assert response.status_code == 429
        assert response.json()["code"] == "login_throttled"
        assert ApiToken.objects.count() == 0


def test_a_success_starts_the_address_and_username_afresh(doctor, limits):
    with time_machine.travel(T0, tick=False):
        issue(password="wrong")
        issue(password="wrong")
        assert issue().status_code == 201
        assert [issue(password="wrong").status_code for _ in range(3)] == [401, 401, 401]
        assert issue(password="wrong").status_code == 429


def test_waiting_a_quiet_window_forgets_the_failures(doctor, limits):
    if "LocMemCache" not in django_settings.CACHES["default"]["BACKEND"]:
        pytest.skip("a cache server expires entries by its own clock, not the travelled one")
    with time_machine.travel(T0, tick=False) as clock:
        for _ in range(4):
            issue(password="wrong")
        clock.shift(2 + 900 + 1)
        assert [issue(password="wrong").status_code for _ in range(3)] == [401, 401, 401]


# --- scopes: address + username, address, username ---------------------------------------------


def test_behind_a_proxy_one_client_cannot_hold_back_another(doctor, limits):
    """Behind the reverse proxy every request comes from its address; with the hop configured,
    the attacker's failures count against the attacker's address only."""
    limits.TRUSTED_PROXY_HOPS = 1
    with time_machine.travel(T0, tick=False):
        for _ in range(3):
            assert issue(password="wrong", forwarded="203.0.113.9").status_code == 401
        assert issue(password="wrong", forwarded="203.0.113.9").status_code == 429

        assert issue(forwarded="198.51.100.7").status_code == 201


def test_without_trusted_proxies_the_forwarded_header_is_ignored(doctor, limits):
    with time_machine.travel(T0, tick=False):
        for n in range(3):
            issue(password="wrong", forwarded=f"203.0.113.{n}")
        assert issue(password="wrong", forwarded="203.0.113.200").status_code == 429


def test_a_client_cannot_choose_its_address_by_sending_the_header(doctor, limits):
    """With one trusted proxy, only the entry that proxy appended counts: what the client wrote
    to the left of it is ignored, so changing it escapes nothing."""
    limits.TRUSTED_PROXY_HOPS = 1
    with time_machine.travel(T0, tick=False):
        for n in range(3):
            issue(password="wrong", forwarded=f"10.0.0.{n}, 203.0.113.9")
        assert issue(password="wrong", forwarded="10.9.9.9, 203.0.113.9").status_code == 429


def test_password_spraying_from_one_address_is_throttled(limits):
    limits.LOGIN_ADDRESS_FAILURE_LIMIT = 4
    for n in range(6):
        UserFactory(username=f"staff{n}")
    with time_machine.travel(T0, tick=False):
        statuses = [
            issue(username=f"staff{n}", password="Spring2026!").status_code for n in range(6)
        ]
    assert statuses == [401, 401, 401, 401, 429, 429]
    assert checked_failures() == 4


def test_logging_in_to_ones_own_account_between_guesses_does_not_reset_the_address(limits):
    """A success uncounts its attempt in the address scope once per account and window, so an
    account of one's own cannot be used to keep spraying others from the same address."""
    limits.LOGIN_ADDRESS_FAILURE_LIMIT = 4
    UserFactory(username="sprayer")
    for n in range(6):
        UserFactory(username=f"staff{n}")
    with time_machine.travel(T0, tick=False):
        statuses = []
        for n in range(6):
            statuses.append(issue(username=f"staff{n}", password="Spring2026!").status_code)
            statuses.append(issue(username="sprayer").status_code)
    # counts: 1, 2 → 1 (the first success uncounted), 2, 3 (not again), 4, 5 > 4: wait.
    assert statuses[:5] == [401, 201, 401, 201, 401]
    assert set(statuses[5:]) == {429}
    assert checked_failures() == 3


def test_staff_logging_in_behind_one_address_are_not_failures(limits):
    limits.LOGIN_ADDRESS_FAILURE_LIMIT = 4
    for n in range(8):
        UserFactory(username=f"nurse{n}")
    with time_machine.travel(T0, tick=False):
        assert [issue(username=f"nurse{n}").status_code for n in range(8)] == [201] * 8


def test_guessing_one_account_from_many_addresses_is_throttled_but_not_its_usual_address(
    doctor, limits
):
    limits.TRUSTED_PROXY_HOPS = 1
    limits.LOGIN_USERNAME_FAILURE_LIMIT = 3
    with time_machine.travel(T0, tick=False):
        assert issue(forwarded="198.51.100.7").status_code == 201  # the clinic PC, known now

        attackers = [issue(password="wrong", forwarded=f"203.0.113.{n}") for n in range(1, 6)]
        assert [r.status_code for r in attackers] == [401, 401, 401, 429, 429]

        assert issue(forwarded="192.0.2.50").status_code == 429  # a new address waits
        assert issue(forwarded="198.51.100.7").status_code == 201  # the usual one does not


def test_the_audit_row_records_the_client_address_from_the_proxy(doctor, limits):
    limits.TRUSTED_PROXY_HOPS = 1
    issue(password="wrong", forwarded="203.0.113.9")

    assert AuditEvent.objects.get(action="login_failed").ip_address == "203.0.113.9"


def test_the_portal_login_shares_the_throttle_and_says_how_long_to_wait(doctor, limits):
    client = Client()
    with time_machine.travel(T0, tick=False):
        for _ in range(3):
            client.post("/accounts/login/", {"username": "dr-zhao", "password": "wrong"})
        page = client.post("/accounts/login/", {"username": "dr-zhao", "password": "wrong"})
        assert "2" in page.content.decode()
        assert "登录失败次数过多" in page.content.decode()
        assert issue().status_code == 429  # the API sees the same counters


# --- client address ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("hops", "remote", "forwarded", "expected"),
    [
        (0, "10.0.0.1", "", "10.0.0.1"),
        (0, "10.0.0.1", "203.0.113.9", "10.0.0.1"),
        (1, "10.0.0.1", "203.0.113.9", "203.0.113.9"),
        (1, "10.0.0.1", "6.6.6.6, 203.0.113.9", "203.0.113.9"),
        (2, "10.0.0.2", "6.6.6.6, 203.0.113.9, 10.0.0.1", "203.0.113.9"),
        (2, "10.0.0.2", "203.0.113.9", "203.0.113.9"),  # fewer entries than hops: leftmost
        (1, "10.0.0.1", "", "10.0.0.1"),  # no header: the connecting address
        (1, "10.0.0.1", "not-an-address", "10.0.0.1"),
        (1, "10.0.0.1", "2001:db8::1", "2001:db8::1"),
    ],
)
def test_client_address(settings, hops, remote, forwarded, expected):
    settings.TRUSTED_PROXY_HOPS = hops
    meta = {"REMOTE_ADDR": remote}
    if forwarded:
        meta["HTTP_X_FORWARDED_FOR"] = forwarded
    request = RequestFactory().get("/", **meta)

    assert client_address(request) == expected


# --- demo logins in production -----------------------------------------------------------------


def test_demo_password_is_refused_in_production_even_when_right(doctor, settings):
    settings.IS_PRODUCTION = True

    response = issue()

    assert response.status_code == 401
    assert response.json()["code"] == "invalid_credentials"  # no hint that the account exists
    assert ApiToken.objects.count() == 0
    event = AuditEvent.objects.get(action="login_failed")
    assert event.details["reason"] == "demo_password_in_production"


def test_a_configured_demo_password_is_refused_in_production_too(settings):
    settings.DEMO_PASSWORD = "another-demo-pass"
    UserFactory(username="dr-qian", password="another-demo-pass")
    UserFactory(username="dr-sun", password="healthnet-demo")
    settings.IS_PRODUCTION = True

    assert issue(username="dr-qian", password="another-demo-pass").status_code == 401
    assert issue(username="dr-sun", password="healthnet-demo").status_code == 401


def test_real_passwords_work_in_production(settings):
    UserFactory(username="dr-zhou", password="a-long-real-password-42")
    settings.IS_PRODUCTION = True

    assert issue(username="dr-zhou", password="a-long-real-password-42").status_code == 201


def test_the_portal_refuses_the_demo_password_in_production(doctor, settings):
    settings.IS_PRODUCTION = True
    client = Client()

    page = client.post("/accounts/login/", {"username": "dr-zhao", "password": "healthnet-demo"})

    assert "用户名或密码错误" in page.content.decode()
    assert client.get("/").status_code == 302


def test_demo_logins_still_work_outside_production(doctor):
    assert issue().status_code == 201  # development and test keep the README's logins
