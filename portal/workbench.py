"""The counters of a staff member's 工作台 (workbench), as data: what each counts, through which
selector of the owning app, which rule shows it, and which list it links to.

Every count is the owning app's selector, scoped to the user, then `.count()`: the numbers are
the lists the counters link to, never a second query written here. A counter is shown when its
rule holds and the user may open the list it links to (menu.py), so no counter leads to a 403.
Each counter costs one or two COUNT queries whatever the number of rows.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlencode

from django.urls import reverse
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from healthnet.models import User
from portal.menu import allows, may_use
from referrals.models import OPEN_STATUSES, ReferralDirection, ReferralStatus
from referrals.selectors import WorklistFilters, referrals_worklist
from signing.selectors import contracts_visible_to, followups_visible_to

CONTRACTS_EXPIRING_DAYS = 30
# A downward referral is open until the team's follow-up closes it (docs/design.md §4).
DOWNWARD_OPEN_STATUSES = [status for status in OPEN_STATUSES if status != ReferralStatus.DRAFT]


@dataclass(frozen=True)
class Count:
    total: int
    overdue: int | None = None  # of which past their deadline (None: the counter has none)


def days_left_in_week(today: dt.date) -> int:
    """Days from today to Sunday, the end of the week in China (Monday first): 6 on a Monday,
    0 on a Sunday."""
    return 6 - today.weekday()


def _incoming(**filters: object) -> WorklistFilters:
    return WorklistFilters(box="incoming", **filters)  # type: ignore[arg-type]


def _awaiting_decision(user: User, today: dt.date) -> Count:
    pending = [ReferralStatus.SUBMITTED]
    return Count(
        total=referrals_worklist(user, _incoming(status=pending)).count(),
        overdue=referrals_worklist(user, _incoming(status=pending, overdue=True)).count(),
    )


def _arrivals_today(user: User, today: dt.date) -> Count:
    # The same filters the counter's link gives the worklist (?status=scheduled&appointment_date=).
    arriving = _incoming(status=[ReferralStatus.SCHEDULED], appointment_date=today)
    return Count(total=referrals_worklist(user, arriving).count())


def _downward_to_pick_up(user: User, today: dt.date) -> Count:
    down = {"direction": ReferralDirection.DOWN, "status": DOWNWARD_OPEN_STATUSES}
    return Count(
        total=referrals_worklist(user, _incoming(**down)).count(),
        overdue=referrals_worklist(user, _incoming(**down, overdue=True)).count(),
    )


def _followups_this_week(user: User, today: dt.date) -> Count:
    within = days_left_in_week(today)
    return Count(
        total=followups_visible_to(user, state="due", within_days=within, today=today).count(),
        overdue=followups_visible_to(user, state="overdue", today=today).count(),
    )


def _contracts_expiring(user: User, today: dt.date) -> Count:
    expiring = contracts_visible_to(user, expiring_within_days=CONTRACTS_EXPIRING_DAYS, today=today)
    return Count(total=expiring.count())


@dataclass(frozen=True)
class Counter:
    key: str
    label: Promise
    rule: str  # portal.menu.RULES: who sees it
    page: str  # the list it links to (portal.menu.PAGES)
    count: Callable[[User, dt.date], Count]
    # The list's filters, named as the API's query parameters, so the list shows what was counted.
    query: Callable[[dt.date], list[tuple[str, str]]]


COUNTERS: tuple[Counter, ...] = (
    Counter(
        key="awaiting_decision",
        label=_("待我决定的转诊"),
        rule="referrals.decide",
        page="referrals-incoming",
        count=_awaiting_decision,
        query=lambda today: [("status", ReferralStatus.SUBMITTED)],
    ),
    Counter(
        key="arrivals_today",
        label=_("今日预计到达"),
        rule="referrals.receive_arrivals",
        page="referrals-incoming",
        count=_arrivals_today,
        query=lambda today: [
            ("status", ReferralStatus.SCHEDULED),
            ("appointment_date", today.isoformat()),
        ],
    ),
    Counter(
        key="downward_to_pick_up",
        label=_("待接收的下转"),
        rule="referrals.view_worklist",
        page="referrals-incoming",
        count=_downward_to_pick_up,
        query=lambda today: [
            ("direction", ReferralDirection.DOWN),
            *(("status", status) for status in DOWNWARD_OPEN_STATUSES),
        ],
    ),
    Counter(
        key="followups_this_week",
        label=_("本周到期随访"),
        rule="signing.team_work",
        page="team-followups",
        count=_followups_this_week,
        query=lambda today: [("state", "due"), ("within_days", str(days_left_in_week(today)))],
    ),
    Counter(
        key="contracts_expiring",
        label=_("30天内到期签约"),
        rule="signing.team_work",
        page="team-contracts",
        count=_contracts_expiring,
        query=lambda today: [("expiring_within", str(CONTRACTS_EXPIRING_DAYS))],
    ),
)


@dataclass(frozen=True)
class CounterValue:
    counter: Counter
    total: int
    overdue: int | None
    url: str

    @property
    def key(self) -> str:
        return self.counter.key

    @property
    def label(self) -> Promise:
        return self.counter.label


def counters_for(user: User) -> list[Counter]:
    return [c for c in COUNTERS if allows(user, c.rule) and may_use(user, c.page)]


def workbench_counters(user: User, *, today: dt.date) -> list[CounterValue]:
    values = []
    for counter in counters_for(user):
        count = counter.count(user, today)
        url = reverse(f"portal:{counter.page}") + "?" + urlencode(counter.query(today))
        values.append(
            CounterValue(counter=counter, total=count.total, overdue=count.overdue, url=url)
        )
    return values
