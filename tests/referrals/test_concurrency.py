"""Reserved slots under concurrent scheduling, on PostgreSQL with real connections."""

from __future__ import annotations

import threading

import pytest
from django.db import connection

from healthnet.errors import Conflict
from referrals import services
from referrals.models import DepartmentDaySlots, Referral, ReferralStatus
from tests.factories import ResidentFactory
from tests.referrals.support import build_network, referral_in, tomorrow


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_twenty_threads_five_slots_exactly_five_succeed():
    net = build_network()
    referrals = [
        referral_in(
            net, ReferralStatus.ACCEPTED, resident=ResidentFactory(registered_by=net.primary)
        )
        for _ in range(20)
    ]
    day = tomorrow()
    barrier = threading.Barrier(len(referrals))
    outcomes: list[str] = []
    lock = threading.Lock()

    def book(referral: Referral) -> None:
        try:
            barrier.wait()
            services.referral_schedule(referral=referral, actor=net.office, date=day)
            outcome = "ok"
        except Conflict as refused:
            outcome = refused.code
        except Exception as exc:  # anything else fails the test below with its name
            outcome = repr(exc)
        finally:
            connection.close()
        with lock:
            outcomes.append(outcome)

    threads = [threading.Thread(target=book, args=(r,)) for r in referrals]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(outcomes) == ["ok"] * 5 + ["slots_full"] * 15
    slots = DepartmentDaySlots.objects.get(department=net.cardiology, date=day)
    assert (slots.capacity, slots.booked) == (5, 5)
    assert Referral.objects.filter(status=ReferralStatus.SCHEDULED, appointment=slots).count() == 5
    assert Referral.objects.filter(status=ReferralStatus.ACCEPTED).count() == 15


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_duplicate_creates_one_referral():
    net = build_network()
    barrier = threading.Barrier(8)
    outcomes: list[str] = []
    lock = threading.Lock()

    def create() -> None:
        try:
            barrier.wait()
            services.referral_create(
                actor=net.referrer,
                resident=net.resident,
                to_department=net.cardiology,
                urgency="routine",
                reason_code="I20.0",
            )
            outcome = "ok"
        except Conflict as refused:
            outcome = refused.code
        except Exception as exc:
            outcome = repr(exc)
        finally:
            connection.close()
        with lock:
            outcomes.append(outcome)

    threads = [threading.Thread(target=create) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["ok"] + ["referral_duplicate"] * 7
    assert Referral.objects.count() == 1
