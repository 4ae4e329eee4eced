"""The records behind a figure (docs/reports.md, "Drill-down"): for a KPI whose figure counts
referrals, contracts or follow-ups, which staff list shows them and which of them make its
numerator and its denominator.

The records are the KPI's own queryset (reports/kpis: the same function the figure is computed
from), so a list opened from a figure holds exactly the records counted, never a look-alike
filter by dates. The list's page keeps its own scope: `records()` is city-wide, and the worklist
of an institution (its outgoing or incoming box) or the contracts and follow-ups of a user's
teams narrow it to what that user may see. A figure is attributed to the referring institution
(the outgoing box), to the receiving one (the incoming box) or to the contract's team, so the
box or team list a figure names holds all of that unit's records and only them.

KPIs read from visits, the register or the reserved slots have no list behind them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from django.db.models import Q, QuerySet
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from referrals.models import ReferralStatus
from reports.kpis import KPIS
from reports.kpis import downward as down
from reports.kpis import referral_kpis as ref
from reports.kpis import signing_kpis as sign
from reports.periods import Period

Part = Literal["numerator", "denominator"]
PARTS: tuple[Part, ...] = ("numerator", "denominator")
# The portal's list pages (portal/urls.py names) a drill-down opens.
ListPage = Literal["referrals-outgoing", "referrals-incoming", "team-contracts", "team-followups"]


@dataclass(frozen=True)
class Drill:
    page: ListPage
    # The records of each part, city-wide for the period; a part with no records (a count has
    # no denominator; 4's discharges are visits, not referrals) is absent.
    parts: dict[Part, Callable[[Period], QuerySet]]
    labels: dict[Part, str | Promise]


def _where(records: Callable[[Period], QuerySet], condition: Q):
    return lambda period: records(period).filter(condition)


DRILLS: dict[str, Drill] = {
    "referrals_up": Drill(
        "referrals-outgoing",
        {"numerator": _where(ref.submitted, Q(direction="up"))},
        {"numerator": _("本期提交的上转申请")},
    ),
    "referrals_down": Drill(
        "referrals-outgoing",
        {"numerator": _where(ref.submitted, Q(direction="down"))},
        {"numerator": _("本期提交的下转申请")},
    ),
    "inpatient_down_share": Drill(
        "referrals-outgoing",
        {"numerator": down.inpatient_down},
        {"numerator": _("本期提交的住院患者下转申请")},
    ),
    "decision_on_time": Drill(
        "referrals-incoming",
        {"numerator": _where(ref.decided, ref.DECIDED_ON_TIME), "denominator": ref.decided},
        {"numerator": _("时限内作出决定的转诊"), "denominator": _("本期作出决定的转诊")},
    ),
    "decision_hours_median": Drill(
        "referrals-incoming",
        {"denominator": ref.decided},
        {"denominator": _("本期作出决定的转诊")},
    ),
    "rejection_rate": Drill(
        "referrals-incoming",
        {
            "numerator": _where(ref.decided, Q(status=ReferralStatus.REJECTED)),
            "denominator": ref.decided,
        },
        {"numerator": _("本期拒绝的转诊"), "denominator": _("本期作出决定的转诊")},
    ),
    "loop_closed_3d": Drill(
        "referrals-outgoing",
        {"numerator": _where(ref.completed, Q(closed=True)), "denominator": ref.completed},
        {"numerator": _("完成后3天内闭环的转诊"), "denominator": _("本期完成的转诊")},
    ),
    "wait_days_median": Drill(
        "referrals-incoming",
        {"denominator": ref.accepted_up_with_appointment},
        {"denominator": _("本期接收并已预约的上转")},
    ),
    "down_followup_on_time": Drill(
        "referrals-incoming",
        {
            "numerator": _where(down.down_followups_due, down.FOLLOWED_UP_ON_TIME),
            "denominator": down.down_followups_due,
        },
        {"numerator": _("3天内完成随访的下转"), "denominator": _("本期应随访的下转")},
    ),
    "renewal_rate": Drill(
        "team-contracts",
        {
            "numerator": _where(sign.contracts_ending, sign.RENEWED),
            "denominator": sign.contracts_ending,
        },
        {"numerator": _("本期到期并已续约的签约"), "denominator": _("本期到期的签约")},
    ),
    "fulfilment": Drill(
        "team-followups",
        {
            "numerator": _where(sign.followups_due, sign.DONE_BY_DUE_DATE),
            "denominator": sign.followups_due,
        },
        {"numerator": _("应随访日当天或之前完成的随访"), "denominator": _("本期应随访")},
    ),
    "fulfilment_grace": Drill(
        "team-followups",
        {
            "numerator": _where(sign.followups_due, sign.DONE_IN_GRACE),
            "denominator": sign.followups_due,
        },
        {"numerator": _("应随访日后14天内完成的随访"), "denominator": _("本期应随访")},
    ),
}
assert set(DRILLS) <= set(KPIS)  # noqa: S101 - a programming error, at import


# The institution a record's figure is attributed to, by the list that shows it.
INSTITUTION_FIELD: dict[str, str] = {
    "referrals-outgoing": "from_institution_id",
    "referrals-incoming": "to_institution_id",
    "team-contracts": "team__institution_id",
    "team-followups": "contract__team__institution_id",
}
TEAM_FIELD: dict[str, str] = {
    "team-contracts": "team_id",
    "team-followups": "contract__team_id",
}


def drill_of(kpi: str) -> Drill | None:
    return DRILLS.get(kpi)


def records(
    kpi: str,
    part: str,
    period: Period,
    *,
    institution_id: int | None = None,
    team_id: int | None = None,
) -> QuerySet | None:
    """The records counted in the KPI's `part` for the period: city-wide, or those of one
    institution's figure, or one team's (a KPI read at the team level); None where the KPI has
    no such list."""
    drill = DRILLS.get(kpi)
    if drill is None or part not in drill.parts:
        return None
    found = drill.parts[part](period)  # type: ignore[index]
    if institution_id is not None:
        found = found.filter(**{INSTITUTION_FIELD[drill.page]: institution_id})
    if team_id is not None:
        found = found.filter(**{TEAM_FIELD[drill.page]: team_id})
    return found
