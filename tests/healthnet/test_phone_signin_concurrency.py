"""Phone sign-in under parallel guesses, on PostgreSQL + Redis with real threads: the tries of a
code and the per-address counter are counted atomically before the check, so twenty guesses at
once get no more than the allowed tries between them."""

from __future__ import annotations

import re
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connections

from healthnet.errors import NotAuthenticated, RateLimited
from healthnet.models import OneTimeCode, OutboxMessage
from healthnet.phone_signin import phone_signin_code_request, phone_signin_verify
from tests.factories import ResidentFactory

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

NUMBER = "13912345678"


def run_together(calls):
    """Run the calls at the same instant in separate threads (each its own DB connection)."""
    barrier = threading.Barrier(len(calls))

    def run(call):
        try:
            barrier.wait(timeout=10)
            return call()
        except Exception as exc:
            return exc
        finally:
            connections.close_all()

    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        return list(pool.map(run, calls))


@pytest.fixture
def code():
    ResidentFactory(phone=NUMBER)
    phone_signin_code_request(phone=NUMBER)
    return re.search(r"\d{6}", OutboxMessage.objects.get().body).group(0)


def wrong_for(code: str) -> str:
    return f"{(int(code) + 1) % 1_000_000:06d}"


def test_twenty_parallel_wrong_guesses_use_five_tries_and_no_more(code):
    guess = wrong_for(code)

    results = run_together([lambda: phone_signin_verify(phone=NUMBER, code=guess)] * 20)

    assert all(isinstance(r, NotAuthenticated) for r in results), results
    assert OneTimeCode.objects.get().attempts == 5
    with pytest.raises(NotAuthenticated):
        phone_signin_verify(phone=NUMBER, code=code)  # out of tries, even when right


def test_the_per_address_counter_holds_under_parallel_checks(code, settings):
    settings.PHONE_SIGNIN_CHECKS_PER_ADDRESS = 3
    guess = wrong_for(code)

    results = run_together([lambda: phone_signin_verify(phone=NUMBER, code=guess)] * 12)

    assert sum(isinstance(r, RateLimited) for r in results) == 9
    assert sum(isinstance(r, NotAuthenticated) for r in results) == 3
    assert OneTimeCode.objects.get().attempts == 3


def test_parallel_right_codes_sign_in_once(code):
    results = run_together([lambda: phone_signin_verify(phone=NUMBER, code=code)] * 6)

    signed_in = [r for r in results if not isinstance(r, Exception)]
    assert len(signed_in) == 1, results
    assert all(isinstance(r, NotAuthenticated) for r in results if r not in signed_in)
