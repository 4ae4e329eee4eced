"""KPIs read from referrals: 2 上转人次, 3 下转人次 and 下转/上转比, 5 转诊响应及时率 and the median
hours to a decision, 6 转诊拒绝率, 7 转诊闭环率, 8 预留号源使用率, 9 上转候诊天数 (docs/reports.md).

Each reads its rows in one or two grouped queries through referrals.selectors and sums them into
every unit (reports/kpis/base.py)."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from decimal import Decimal
from typing import cast

from django.db.models import (
    Count,
    DateTimeField,
    Exists,
    ExpressionWrapper,
    F,
    OuterRef,
    Q,
    QuerySet,
)
from django.db.models.functions import TruncDate

from healthnet import selectors as network
from referrals import selectors as referrals
from referrals.models import (
    CareSetting,
    Referral,
    ReferralDirection,
    ReferralStatus,
    RejectionReason,
)
from referrals.transitions import Action
from reports.kpis.base import Fact, Figure, Key, medians, tally
from reports.periods import REPORT_TZ, Period, local_date
from reports.units import Hierarchy, Level, hierarchy

INSTITUTION_LEVELS: tuple[Level, ...] = ("city", "district", "alliance", "institution")
AREA_LEVELS: tuple[Level, ...] = ("city", "district", "alliance")
NOT_ACCEPTED = (ReferralStatus.REJECTED, ReferralStatus.REDIRECTED)
# The referrer's acknowledgement, or the team's follow-up for a downward referral, closes a loop;
# the system's auto_close after the missed acknowledgement deadline does not.
LOOP_CLOSING_ACTIONS = (Action.ACKNOWLEDGE, Action.CLOSE_LOOP)
LOOP_DAYS = 3
HOUR = Decimal(3600)
CARE_SETTINGS = tuple(CareSetting.values)


def _fact(tree: Hierarchy, institution_id: int, day: dt.date, **figures) -> Fact:
    return Fact(
        institution_id=institution_id,
        team_id=None,
        district=tree.district_of_institution(institution_id),
        day=day,
        **figures,
    )


def _between(field: str, period: Period) -> Q:
    start, end = period.bounds()
    return Q(**{f"{field}__gte": start, f"{field}__lt": end})


# --- 2, 3: referrals submitted ------------------------------------------------------------------


def submitted(period: Period) -> QuerySet[Referral]:
    """Referral requests submitted in the period (KPIs 2, 3, 4). A redirect's successor is the
    same request sent on: not counted again."""
    return referrals.report_referrals().filter(
        _between("submitted_at", period), redirected_from__isnull=True
    )


def _submitted(period: Period):
    """The submitted requests grouped by referring institution, local day and direction."""
    return (
        submitted(period)
        .annotate(day=TruncDate("submitted_at", tzinfo=REPORT_TZ))
        .values("from_institution_id", "day", "direction", "care_setting")
        .annotate(n=Count("pk"))
        .order_by()
    )


def referrals_up(period: Period) -> dict[Key, Figure]:
    """2 上转人次: upward referrals submitted in the period, at the referring institution."""
    tree = hierarchy(start=period.start, end=period.end)
    facts = [
        _fact(tree, row["from_institution_id"], row["day"], numerator=row["n"])
        for row in _submitted(period)
        if row["direction"] == ReferralDirection.UP
    ]
    return tally(facts, period, INSTITUTION_LEVELS, kind="count", tree=tree)


def referrals_down(period: Period) -> dict[Key, Figure]:
    """3 下转人次: downward referrals submitted in the period, at the referring institution; by
    care setting (outpatient, inpatient: a patient discharged down), "" both together."""
    tree = hierarchy(start=period.start, end=period.end)
    facts = [
        _fact(
            tree,
            row["from_institution_id"],
            row["day"],
            breakdown=row["care_setting"],
            numerator=row["n"],
        )
        for row in _submitted(period)
        if row["direction"] == ReferralDirection.DOWN
    ]
    return tally(
        facts, period, INSTITUTION_LEVELS, kind="count", breakdowns=CARE_SETTINGS, tree=tree
    )


def down_up_ratio(period: Period) -> dict[Key, Figure]:
    """3 下转/上转比 = downward ÷ upward referrals submitted in the period by the area's
    institutions (city, district, alliance: an area holds both ends)."""
    tree = hierarchy(start=period.start, end=period.end)
    facts = [
        _fact(
            tree,
            row["from_institution_id"],
            row["day"],
            numerator=row["n"] if row["direction"] == ReferralDirection.DOWN else 0,
            denominator=row["n"] if row["direction"] == ReferralDirection.UP else 0,
        )
        for row in _submitted(period)
    ]
    return tally(facts, period, AREA_LEVELS, kind="ratio", tree=tree)


# --- 5, 6: decisions ----------------------------------------------------------------------------


def decided(period: Period) -> QuerySet[Referral]:
    """Referrals decided (accepted, rejected or redirected) in the period (KPIs 5, 6)."""
    return referrals.report_referrals().filter(_between("decided_at", period))


# Decided by the decision deadline (KPI 5's numerator).
DECIDED_ON_TIME = Q(decided_at__lte=F("decision_due_at"))


def decision_on_time(period: Period) -> dict[Key, Figure]:
    """5 转诊响应及时率 = decided by the decision deadline ÷ decided in the period, at the
    receiving institution."""
    tree = hierarchy(start=period.start, end=period.end)
    rows = (
        decided(period)
        .annotate(day=TruncDate("decided_at", tzinfo=REPORT_TZ))
        .values("to_institution_id", "day")
        .annotate(n=Count("pk"), on_time=Count("pk", filter=DECIDED_ON_TIME))
        .order_by()
    )
    facts = [
        _fact(tree, r["to_institution_id"], r["day"], numerator=r["on_time"], denominator=r["n"])
        for r in rows
    ]
    return tally(facts, period, INSTITUTION_LEVELS, kind="ratio", tree=tree)


def decision_hours_median(period: Period) -> dict[Key, Figure]:
    """5 median hours from submission to decision, over the referrals decided in the period."""
    tree = hierarchy(start=period.start, end=period.end)
    # Decided in the period: submitted and decided, both instants set.
    rows = cast(
        "Iterable[tuple[int, dt.datetime, dt.datetime]]",
        decided(period).values_list("to_institution_id", "submitted_at", "decided_at"),
    )
    facts = [
        _fact(
            tree,
            institution_id,
            local_date(decided_at),
            values=(Decimal((decided_at - submitted_at).total_seconds()) / HOUR,),
        )
        for institution_id, submitted_at, decided_at in rows
    ]
    return medians(facts, period, INSTITUTION_LEVELS, tree=tree)


REJECTION_REASONS = tuple(RejectionReason.values)


def rejection_rate(period: Period) -> dict[Key, Figure]:
    """6 转诊拒绝率 = rejected ÷ decided in the period, at the receiving institution; by reason
    code: rejected with that reason ÷ all decided (the reasons' rates add up to the total)."""
    tree = hierarchy(start=period.start, end=period.end)
    rows = (
        decided(period)
        .annotate(day=TruncDate("decided_at", tzinfo=REPORT_TZ))
        .values("to_institution_id", "day", "status", "rejection_reason")
        .annotate(n=Count("pk"))
        .order_by()
    )
    decisions: dict[tuple[int, dt.date], int] = defaultdict(int)
    rejected: dict[tuple[int, dt.date, str], int] = defaultdict(int)
    for row in rows:
        place = (row["to_institution_id"], row["day"])
        decisions[place] += row["n"]
        if row["status"] == ReferralStatus.REJECTED:
            rejected[(*place, row["rejection_reason"])] += row["n"]
    facts = []
    for (institution_id, day), n in decisions.items():
        for reason in ("", *REJECTION_REASONS):
            if reason:
                numerator = rejected.get((institution_id, day, reason), 0)
            else:
                numerator = sum(
                    rejected.get((institution_id, day, r), 0) for r in REJECTION_REASONS
                )
            facts.append(
                _fact(
                    tree, institution_id, day, breakdown=reason, numerator=numerator, denominator=n
                )
            )
    return tally(
        facts,
        period,
        INSTITUTION_LEVELS,
        kind="ratio",
        breakdowns=REJECTION_REASONS,
        tree=tree,
        total_from_facts=True,
    )


# --- 7: closed loops ----------------------------------------------------------------------------


def completed(period: Period) -> QuerySet[Referral]:
    """Referrals completed in the period (KPI 7's denominator), each marked `closed`: its loop
    closed (the referrer's acknowledgement, or the team's follow-up) within 3 days."""
    closing = referrals.report_referral_events(actions=LOOP_CLOSING_ACTIONS).filter(
        referral=OuterRef("pk"),
        at__lte=ExpressionWrapper(
            OuterRef("completed_at") + dt.timedelta(days=LOOP_DAYS),
            output_field=DateTimeField(),
        ),
    )
    return (
        referrals.report_referrals()
        .filter(_between("completed_at", period))
        .annotate(closed=Exists(closing))
    )


def loop_closed_3d(period: Period) -> dict[Key, Figure]:
    """7 转诊闭环率 = referrals completed in the period whose loop was closed (the referrer's
    acknowledgement, or the team's follow-up) within 3 days of completion ÷ completed in the
    period, at the referring institution."""
    tree = hierarchy(start=period.start, end=period.end)
    rows = (
        completed(period)
        .annotate(day=TruncDate("completed_at", tzinfo=REPORT_TZ))
        .values("from_institution_id", "day")
        .annotate(n=Count("pk"), closed_n=Count("pk", filter=Q(closed=True)))
        .order_by()
    )
    facts = [
        _fact(tree, r["from_institution_id"], r["day"], numerator=r["closed_n"], denominator=r["n"])
        for r in rows
    ]
    return tally(facts, period, INSTITUTION_LEVELS, kind="ratio", tree=tree)


# --- 8: reserved slots --------------------------------------------------------------------------


def reserved_slot_use(period: Period) -> dict[Key, Figure]:
    """8 预留号源使用率 = reserved slots booked ÷ reserved slots, over the days of the period, at
    the department's institution. A day's slots are its recorded capacity once a first booking
    opened it, else the department's current referral_slots_per_day."""
    tree = hierarchy(start=period.start, end=period.end)
    opened = {
        (row["department_id"], row["date"]): row
        for row in referrals.report_day_slots(start=period.start, end=period.end).values(
            "department_id", "department__institution_id", "date", "capacity", "booked"
        )
    }
    facts = [
        _fact(
            tree,
            row["department__institution_id"],
            row["date"],
            numerator=row["booked"],
            denominator=row["capacity"],
        )
        for row in opened.values()
    ]
    departments = network.report_departments_with_slots().values_list(
        "pk", "institution_id", "referral_slots_per_day"
    )
    for department_id, institution_id, per_day in departments:
        for offset in range(period.days()):
            day = period.start + dt.timedelta(days=offset)
            if (department_id, day) not in opened:
                facts.append(_fact(tree, institution_id, day, denominator=per_day))
    return tally(facts, period, INSTITUTION_LEVELS, kind="ratio", tree=tree)


# --- 9: days waited -----------------------------------------------------------------------------


def accepted_up_with_appointment(period: Period) -> QuerySet[Referral]:
    """Upward referrals accepted in the period that have an appointment (KPI 9's referrals)."""
    return (
        decided(period)
        .filter(direction=ReferralDirection.UP, appointment_date__isnull=False)
        .exclude(status__in=NOT_ACCEPTED)
    )


def wait_days_median(period: Period) -> dict[Key, Figure]:
    """9 上转候诊天数: median days from acceptance (its local day) to the first appointment day,
    over the upward referrals accepted in the period that have an appointment, at the receiving
    institution. A no-show rebooked keeps its first appointment (the one offered)."""
    tree = hierarchy(start=period.start, end=period.end)
    accepted = accepted_up_with_appointment(period)
    rows = cast(  # accepted in the period with an appointment: both set
        "list[tuple[int, int, dt.datetime, dt.date]]",
        list(accepted.values_list("pk", "to_institution_id", "decided_at", "appointment_date")),
    )
    first_booked: dict[int, dt.date] = {}
    events = (
        referrals.report_referral_events(actions=[Action.SCHEDULE])
        .filter(referral__in=accepted.filter(reschedule_count__gt=0).values("pk"))
        .order_by("at", "pk")
        .values_list("referral_id", "details")
    )
    for referral_id, details in events:
        if referral_id not in first_booked and (details or {}).get("date"):
            first_booked[referral_id] = dt.date.fromisoformat(details["date"])
    facts = []
    for pk, institution_id, decided_at, appointment_date in rows:
        accepted_day = local_date(decided_at)
        appointment = first_booked.get(pk, appointment_date)
        facts.append(
            _fact(
                tree,
                institution_id,
                accepted_day,
                values=(Decimal((appointment - accepted_day).days),),
            )
        )
    return medians(facts, period, INSTITUTION_LEVELS, tree=tree)
