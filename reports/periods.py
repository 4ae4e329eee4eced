"""Reporting periods (docs/reports.md): a calendar month, quarter or year of the Asia/Shanghai
calendar, as the bureau reads them. A period is the half-open day range [start, end): `end` is the
first day after it, and its instants run from local midnight of `start` to local midnight of
`end` (`bounds`), so an event at 23:59:59 on the last day is in, and one at 00:00 the next day is
out, whatever the UTC date of either is.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Literal
from zoneinfo import ZoneInfo

# The bureau's calendar. Fixed here, not read from settings.TIME_ZONE: a figure must not change
# with a deployment setting (docs/reports.md, "Periods").
REPORT_TZ = ZoneInfo("Asia/Shanghai")

PeriodKind = Literal["month", "quarter", "year"]
KINDS: tuple[PeriodKind, ...] = ("month", "quarter", "year")

_MONTH = re.compile(r"^(\d{4})-(\d{2})$")
_QUARTER = re.compile(r"^(\d{4})Q([1-4])$")
_YEAR = re.compile(r"^(\d{4})$")


def _add_months(day: dt.date, months: int) -> dt.date:
    """The first day of the month `months` after `day`'s month."""
    index = day.year * 12 + (day.month - 1) + months
    return dt.date(index // 12, index % 12 + 1, 1)


_LENGTH = {"month": 1, "quarter": 3, "year": 12}


@dataclass(frozen=True, order=True)
class Period:
    kind: PeriodKind
    start: dt.date  # first day (Asia/Shanghai calendar)
    end: dt.date  # first day AFTER the period (exclusive)

    def __post_init__(self) -> None:
        if self.kind not in _LENGTH:
            raise ValueError(f"unknown period kind {self.kind!r}")
        if self.start.day != 1 or _add_months(self.start, _LENGTH[self.kind]) != self.end:
            raise ValueError(f"{self.start}..{self.end} is not one {self.kind}")
        if self.kind == "quarter" and (self.start.month - 1) % 3:
            raise ValueError("a quarter starts in January, April, July or October")
        if self.kind == "year" and self.start.month != 1:
            raise ValueError("a year starts on 1 January")

    # --- names -------------------------------------------------------------------------------

    @property
    def label(self) -> str:
        """ "2026-03", "2026Q1", "2026"."""
        if self.kind == "month":
            return f"{self.start.year}-{self.start.month:02d}"
        if self.kind == "quarter":
            return f"{self.start.year}Q{(self.start.month - 1) // 3 + 1}"
        return f"{self.start.year}"

    def __str__(self) -> str:
        return self.label

    @classmethod
    def parse(cls, label: str) -> Period:
        """The period of a label; ValueError for anything else."""
        text = label.strip()
        if match := _MONTH.match(text):
            number = int(match[2])
            if not 1 <= number <= 12:
                raise ValueError(f"no month {number}")
            return month(int(match[1]), number)
        if match := _QUARTER.match(text):
            return quarter(int(match[1]), int(match[2]))
        if match := _YEAR.match(text):
            return year(int(match[1]))
        raise ValueError(f"not a period label: {label!r} (2026-03, 2026Q1 or 2026)")

    # --- arithmetic ----------------------------------------------------------------------------

    @property
    def last_day(self) -> dt.date:
        """The period's last day (`end` − 1 day): stocks (active contracts, residents) are read
        at its end."""
        return self.end - dt.timedelta(days=1)

    def shifted(self, periods: int) -> Period:
        months = _LENGTH[self.kind] * periods
        return Period(self.kind, _add_months(self.start, months), _add_months(self.end, months))

    def previous(self) -> Period:
        return self.shifted(-1)

    def year_ago(self) -> Period:
        return Period(self.kind, _add_months(self.start, -12), _add_months(self.end, -12))

    def contains(self, day: dt.date) -> bool:
        return self.start <= day < self.end

    def days(self) -> int:
        return (self.end - self.start).days

    def bounds(self) -> tuple[dt.datetime, dt.datetime]:
        """Aware datetimes at Asia/Shanghai midnight, [start, end)."""
        return local_midnight(self.start), local_midnight(self.end)

    def months(self) -> list[Period]:
        """The months of the period, in order."""
        return [month_of(_add_months(self.start, i)) for i in range(_LENGTH[self.kind])]


def local_midnight(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time.min, tzinfo=REPORT_TZ)


def local_date(moment: dt.datetime) -> dt.date:
    """The Asia/Shanghai calendar day of an aware instant."""
    return moment.astimezone(REPORT_TZ).date()


def month(year: int, month: int) -> Period:
    start = dt.date(year, month, 1)
    return Period("month", start, _add_months(start, 1))


def month_of(day: dt.date) -> Period:
    return month(day.year, day.month)


def quarter(year: int, number: int) -> Period:
    if not 1 <= number <= 4:
        raise ValueError(f"no quarter {number}")
    start = dt.date(year, 3 * (number - 1) + 1, 1)
    return Period("quarter", start, _add_months(start, 3))


def year(year: int) -> Period:
    return Period("year", dt.date(year, 1, 1), dt.date(year + 1, 1, 1))


def period_containing(kind: PeriodKind, day: dt.date) -> Period:
    if kind == "month":
        return month_of(day)
    if kind == "quarter":
        return quarter(day.year, (day.month - 1) // 3 + 1)
    return year(day.year)


def months_between(first: Period, last: Period) -> list[Period]:
    """Every month from `first`'s first month to `last`'s last month, in order (empty when
    `last` ends before `first` starts)."""
    result = []
    current = month_of(first.start)
    while current.start < last.end:
        result.append(current)
        current = current.shifted(1)
    return result
