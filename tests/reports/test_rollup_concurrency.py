"""Two rebuilds of the same period at once (the beat job and the command), each in its own
thread with its own PostgreSQL connection: the second waits on the period's KpiRebuild row and
then replaces the first one's rows; neither fails on the unique cell constraint."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connections

from reports.models import KpiRebuild, KpiValue
from reports.periods import Period
from reports.services import rebuild_period
from tests.factories import InstitutionFactory

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

PARALLEL = 4


def test_parallel_rebuilds_of_one_period_leave_one_set_of_rows():
    InstitutionFactory()
    period = Period.parse("2026-03")
    alone = rebuild_period(period).rows
    barrier = threading.Barrier(PARALLEL)

    def rebuild() -> int:
        try:
            barrier.wait()
            return rebuild_period(period).rows
        finally:
            connections.close_all()

    with ThreadPoolExecutor(PARALLEL) as pool:
        results = list(pool.map(lambda _: rebuild(), range(PARALLEL)))
    assert results == [alone] * PARALLEL
    assert KpiValue.objects.count() == alone
    assert KpiRebuild.objects.get().rows == alone
