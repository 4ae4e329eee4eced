"""The login throttle under parallel attempts, with real threads, each with its own PostgreSQL
connection, against the configured cache (run with CACHE_URL=redis://… as production does).

Passwords are hashed with PBKDF2 here (not the suite's MD5), so that a check takes long enough
for parallel attempts to overlap as they do against a real server."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.contrib.auth.hashers import PBKDF2PasswordHasher, make_password
from django.db import connections
from django.test import Client

from healthnet.models import AuditEvent, User
from tests.factories import UserFactory

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

PARALLEL = 40


class ShorterPBKDF2Hasher(PBKDF2PasswordHasher):
    """~30 ms a check instead of ~0.5 s: long enough to overlap, short enough for the suite."""

    iterations = 60_000


@pytest.fixture
def slow_hashing(settings):
    settings.PASSWORD_HASHERS = [f"{__name__}.ShorterPBKDF2Hasher"]
    settings.LOGIN_FAILURE_LIMIT = 5
    settings.LOGIN_ADDRESS_FAILURE_LIMIT = 10
    settings.LOGIN_USERNAME_FAILURE_LIMIT = 8
    settings.LOGIN_DELAY_BASE_SECONDS = 60  # no gate opens while the threads run
    settings.TRUSTED_PROXY_HOPS = 1
    return settings


def make_user(username: str) -> User:
    user = UserFactory(username=username)
    User.objects.filter(pk=user.pk).update(password=make_password("the-right-password-1"))
    return user


def attempt(username: str, password: str, address: str) -> int:
    response = Client().post(
        "/api/v1/auth/token",
        {"username": username, "password": password},
        content_type="application/json",
        headers={"X-Forwarded-For": address},
    )
    return response.status_code


def run_together(calls):
    barrier = threading.Barrier(len(calls))

    def run(call):
        try:
            barrier.wait(timeout=30)
            return call()
        finally:
            connections.close_all()

    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        return list(pool.map(run, calls))


def checked_failures() -> int:
    return AuditEvent.objects.filter(action="login_failed").count()


def test_parallel_wrong_passwords_get_at_most_the_limit_checked(slow_hashing):
    make_user("dr-parallel")

    statuses = run_together(
        [lambda: attempt("dr-parallel", "wrong", "203.0.113.9") for _ in range(PARALLEL)]
    )

    assert checked_failures() == 5
    assert sorted(statuses) == [401] * 5 + [429] * (PARALLEL - 5)


def test_parallel_spraying_from_one_address_gets_at_most_its_limit_checked(slow_hashing):
    for n in range(PARALLEL):
        make_user(f"spray{n}")

    statuses = run_together(
        [lambda n=n: attempt(f"spray{n}", "Winter2026!", "203.0.113.9") for n in range(PARALLEL)]
    )

    assert checked_failures() == 10
    assert statuses.count(429) == PARALLEL - 10


def test_parallel_guessing_from_many_addresses_does_not_keep_the_owner_out(slow_hashing):
    make_user("dr-target")
    assert attempt("dr-target", "the-right-password-1", "198.51.100.7") == 201  # the clinic PC

    calls = [
        lambda n=n: attempt("dr-target", "wrong", f"203.0.113.{n + 1}") for n in range(PARALLEL)
    ]
    calls.append(lambda: attempt("dr-target", "the-right-password-1", "198.51.100.7"))
    statuses = run_together(calls)

    assert checked_failures() == 8  # the username's limit across addresses
    assert statuses[-1] == 201  # its usual address is not held back
    assert attempt("dr-target", "the-right-password-1", "192.0.2.50") == 429  # a new one is
