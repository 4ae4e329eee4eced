"""Concurrency on PostgreSQL with real threads and connections: the one-active-contract rule
and team capacity hold under simultaneous signings (row locks + the partial unique index)."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connections

from healthnet.errors import Conflict
from signing import services
from signing.models import Contract, ContractStatus
from tests.factories import ResidentFactory
from tests.signing.helpers import make_team, signed_contract, years_ago

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def run_together(*calls):
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


def _sign(contract):
    return lambda: services.contract_sign(
        actor=None, contract=contract, signed_by="resident", method="in_person"
    )


def test_two_simultaneous_signings_for_one_resident_leave_one_active(primary, catalogue):
    team_a, _ = make_team(primary, code="t-a", member_user=False)
    team_b, _ = make_team(primary, code="t-b", member_user=False)
    for round_number in range(5):
        resident = ResidentFactory(birth_date=years_ago(30 + round_number))
        first = services.contract_create(
            actor=None, resident=resident, team=team_a, package_codes=[]
        )
        second = services.contract_create(
            actor=None, resident=resident, team=team_b, package_codes=[]
        )

        results = run_together(_sign(first), _sign(second))

        failures = [r for r in results if isinstance(r, Exception)]
        assert len(failures) == 1, results
        assert isinstance(failures[0], Conflict)
        assert failures[0].code == "active_contract_exists"
        assert Contract.objects.filter(resident=resident, status=ContractStatus.ACTIVE).count() == 1


def test_simultaneous_signings_into_last_free_place_one_succeeds(primary, catalogue):
    for round_number in range(3):
        team, _ = make_team(primary, code=f"t-last-{round_number}", capacity=3, member_user=False)
        for _ in range(2):
            signed_contract(ResidentFactory(birth_date=years_ago(40)), team)
        contenders = [
            services.contract_create(
                actor=None,
                resident=ResidentFactory(birth_date=years_ago(50)),
                team=team,
                package_codes=[],
            )
            for _ in range(3)
        ]

        results = run_together(*(_sign(c) for c in contenders))

        successes = [r for r in results if not isinstance(r, Exception)]
        failures = [r for r in results if isinstance(r, Exception)]
        assert len(successes) == 1, results
        assert all(isinstance(f, Conflict) and f.code == "team_full" for f in failures)
        assert Contract.objects.filter(team=team, status__in=["active", "renewal_due"]).count() == 3
