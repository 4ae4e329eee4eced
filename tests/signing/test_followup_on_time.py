"""signing.terms.followup_on_time, the 履约率 numerator: done by the 14th local calendar day
after the due date. Edge days pinned; expected values written by hand."""

from __future__ import annotations

import datetime as dt

import pytest

from signing.terms import followup_on_time

DUE = dt.date(2026, 3, 10)
SHANGHAI = dt.timezone(dt.timedelta(hours=8))


@pytest.mark.parametrize(
    ("done_at", "on_time"),
    [
        (dt.datetime(2026, 3, 1, 9, 0, tzinfo=SHANGHAI), True),  # early
        (dt.datetime(2026, 3, 10, 9, 0, tzinfo=SHANGHAI), True),  # on the due date
        (dt.datetime(2026, 3, 24, 23, 30, tzinfo=SHANGHAI), True),  # the 14th day, late evening
        (dt.datetime(2026, 3, 25, 0, 10, tzinfo=SHANGHAI), False),  # the 15th day
        (dt.datetime(2026, 4, 30, 9, 0, tzinfo=SHANGHAI), False),
    ],
)
def test_on_time_through_the_fourteenth_day(done_at, on_time):
    assert followup_on_time(DUE, done_at) is on_time


def test_the_day_is_the_local_one_not_utcs():
    # 2026-03-25 00:10 in Wuhai is still 2026-03-24 in UTC: late all the same.
    done_at = dt.datetime(2026, 3, 24, 16, 10, tzinfo=dt.UTC)
    assert followup_on_time(DUE, done_at) is False
    # 2026-03-24 23:30 in Wuhai, given in UTC: on time.
    assert followup_on_time(DUE, dt.datetime(2026, 3, 24, 15, 30, tzinfo=dt.UTC)) is True
