"""The demo register over time (docs/design.md §3, §7): when each resident came onto the
register, who moved between districts, moved away or died in the two years before `today`, and
when key-population tags began and ended. Drawn from their own seeded streams (a fixed number of
draws per resident), so the residents themselves do not change with it; written through
healthnet/bulk.py like the residents.

Shape (demo assumptions, not statistics): most residents are on the register from birth, a
quarter moved in later; over two years about 2 % moved to another district, 1.2 % moved away
from the city, and deaths follow a rough age curve (about 0.6 % a year overall). About one tag
in six began within the two years (diagnosed, registered); pregnancies last about nine months,
and some ended pregnancies and cured tuberculosis stay as history.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Callable, Iterator
from typing import Any

from healthnet.bulk import rows_writer
from healthnet.models import KeyPopulation, RegistrationEnd, ResidentRegistration

WINDOW_DAYS = 730  # the history reaches two years back (the reports' 24 months)
MOVED_IN_SHARE = 0.25
MOVED_DISTRICT_SHARE = 0.02
MOVED_AWAY_SHARE = 0.012
RECENT_TAG_SHARE = 0.17
PAST_PREGNANCY_SHARE = 0.05  # women 20–40 not pregnant now who were within the window
CURED_TUBERCULOSIS_SHARE = 0.002
PREGNANCY_DAYS = 280

# Why a resident left the register, as stored in the cohort (0: still registered).
STILL, MOVED_AWAY, DIED = 0, 1, 2


def annual_mortality(age: int) -> float:
    if age < 50:
        return 0.0006
    if age < 65:
        return 0.004
    if age < 75:
        return 0.012
    if age < 85:
        return 0.035
    return 0.09


class RegisterHistory:
    """Draws each resident's register dates (six draws a resident, whatever they are) and packs
    them into the cohort's arrays."""

    def __init__(self, rng: random.Random, today: dt.date, districts: int) -> None:
        self.rng = rng
        self.today = today
        self.districts = districts

    def _day_in_window(self, draw: float) -> dt.date:
        return self.today - dt.timedelta(days=1 + int(draw * (WINDOW_DAYS - 1)))

    def add(self, cohort: Any, birth_date: dt.date, age: int, district: int) -> dt.date | None:
        """Append the resident's register dates to the cohort; return the day of death or None."""
        u = [self.rng.random() for _ in range(6)]
        registered_from = birth_date
        if age >= 1 and u[0] < MOVED_IN_SHARE:
            span = (self.today - birth_date).days
            registered_from = birth_date + dt.timedelta(days=int(u[1] * span))
        moved_on, moved_from, left_on, reason = 0, -1, 0, STILL
        event_day = self._day_in_window(u[3])
        if event_day > registered_from:
            if u[2] < 2 * annual_mortality(age):
                left_on, reason = event_day.toordinal(), DIED
            elif u[2] < 2 * annual_mortality(age) + MOVED_AWAY_SHARE:
                # moved away on event_day: the last day on the register is the day before
                left_on, reason = (event_day - dt.timedelta(days=1)).toordinal(), MOVED_AWAY
            elif self.districts > 1 and u[4] < MOVED_DISTRICT_SHARE:
                moved_on = event_day.toordinal()
                moved_from = (district + 1 + int(u[5] * (self.districts - 1))) % self.districts
        cohort.registered_from.append(registered_from.toordinal())
        cohort.moved_on.append(moved_on)
        cohort.moved_from.append(moved_from)
        cohort.left_on.append(left_on)
        cohort.left_reason.append(reason)
        return dt.date.fromordinal(left_on) if reason == DIED else None


def write_registrations(cohort: Any, progress: Callable[[int], None]) -> int:
    """Write each resident's registration periods (one, or two around a move); return how many."""
    written = 0
    reasons = {MOVED_AWAY: RegistrationEnd.MOVED_AWAY.value, DIED: RegistrationEnd.DIED.value}
    with rows_writer(ResidentRegistration, build_indexes_after=True) as write:
        for offset in range(cohort.count):
            resident_id = cohort.ids[offset]
            start = dt.date.fromordinal(cohort.registered_from[offset])
            district = cohort.districts[cohort.district[offset]]
            if cohort.moved_on[offset]:
                moved = dt.date.fromordinal(cohort.moved_on[offset])
                write(
                    resident_id=resident_id,
                    district_id=cohort.districts[cohort.moved_from[offset]],
                    valid_from=start,
                    valid_to=moved - dt.timedelta(days=1),
                    ended_reason=RegistrationEnd.MOVED_DISTRICT.value,
                )
                start = moved
                written += 1
            left = cohort.left_on[offset]
            write(
                resident_id=resident_id,
                district_id=district,
                valid_from=start,
                valid_to=dt.date.fromordinal(left) if left else None,
                ended_reason=reasons.get(cohort.left_reason[offset], ""),
            )
            written += 1
            if offset % 20000 == 19999:
                progress(20000)
    progress(cohort.count % 20000)
    return written


def tag_rows(
    cohort: Any,
    offset: int,
    populations: list[str],
    rng: random.Random,
    today: dt.date,
    female_20_40: bool,
) -> Iterator[dict[str, Any]]:
    """The tag rows of one resident: their current tags (`populations`), with a start date for a
    share and an end on the day of death; plus ended history (a past pregnancy, cured TB). Five
    draws a resident plus two per tag."""
    died = cohort.left_on[offset] if cohort.left_reason[offset] == DIED else 0
    end = dt.date.fromordinal(died) if died else None
    registered = dt.date.fromordinal(cohort.registered_from[offset])
    u = [rng.random() for _ in range(5)]
    window_start = today - dt.timedelta(days=WINDOW_DAYS)
    for population in populations:
        recent, when = rng.random(), rng.random()
        start: dt.date | None = None
        if population == KeyPopulation.PREGNANT:
            start = today - dt.timedelta(days=int(when * (PREGNANCY_DAYS - 30)))
        elif recent < RECENT_TAG_SHARE:
            start = today - dt.timedelta(days=1 + int(when * (WINDOW_DAYS - 1)))
        if start is not None:
            start = max(start, registered)
            if end is not None and start > end:
                start = end
        yield {"population": population, "valid_from": start, "valid_to": end}
    if female_20_40 and KeyPopulation.PREGNANT not in populations and u[0] < PAST_PREGNANCY_SHARE:
        start = window_start + dt.timedelta(days=int(u[1] * (WINDOW_DAYS - PREGNANCY_DAYS - 30)))
        finish = start + dt.timedelta(days=PREGNANCY_DAYS - 10 + int(u[2] * 20))
        if start >= registered and (end is None or finish <= end):
            yield {
                "population": KeyPopulation.PREGNANT.value,
                "valid_from": start,
                "valid_to": finish,
            }
    if KeyPopulation.TUBERCULOSIS not in populations and u[3] < CURED_TUBERCULOSIS_SHARE:
        start = window_start + dt.timedelta(days=int(u[4] * 300))
        finish = start + dt.timedelta(days=180)
        if start >= registered and (end is None or finish <= end):
            yield {
                "population": KeyPopulation.TUBERCULOSIS.value,
                "valid_from": start,
                "valid_to": finish,
            }
