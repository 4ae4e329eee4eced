"""KPIs of the downward leg: 4 住院患者下转占比 and 10 下转随访及时率 (docs/reports.md)."""

from __future__ import annotations

import datetime as dt

from django.db.models import Count, DateTimeField, ExpressionWrapper, F, Q, QuerySet
from django.db.models.functions import TruncDate

from healthnet import selectors as network
from referrals import selectors as referrals
from referrals.models import CareSetting, Referral, ReferralDirection, ReferralStatus
from reports.kpis.base import Fact, Figure, Key, tally
from reports.kpis.referral_kpis import submitted
from reports.periods import REPORT_TZ, Period
from reports.units import Level, hierarchy

INSTITUTION_LEVELS: tuple[Level, ...] = ("city", "district", "alliance", "institution")
FOLLOWUP_DAYS = 3


def inpatient_down(period: Period) -> QuerySet[Referral]:
    """Inpatient downward referrals (patients discharged down) submitted in the period: KPI 4's
    numerator, at the referring hospital."""
    return submitted(period).filter(
        direction=ReferralDirection.DOWN, care_setting=CareSetting.INPATIENT
    )


def inpatient_down_share(period: Period) -> dict[Key, Figure]:
    """4 住院患者下转占比 = inpatient downward referrals (patients discharged down to primary
    care) submitted in the period by a hospital ÷ its inpatient discharges in the period."""
    tree = hierarchy(start=period.start, end=period.end)
    start, end = period.bounds()
    discharges = (
        network.inpatient_discharges(start, end)
        .annotate(day=TruncDate("discharged_at", tzinfo=REPORT_TZ))
        .values("institution_id", "day")
        .annotate(n=Count("pk"))
        .order_by()
    )
    down = (
        inpatient_down(period)
        .annotate(day=TruncDate("submitted_at", tzinfo=REPORT_TZ))
        .values("from_institution_id", "day")
        .annotate(n=Count("pk"))
        .order_by()
    )
    facts = [
        Fact(
            r["institution_id"],
            None,
            tree.district_of_institution(r["institution_id"]),
            r["day"],
            denominator=r["n"],
        )
        for r in discharges
    ] + [
        Fact(
            r["from_institution_id"],
            None,
            tree.district_of_institution(r["from_institution_id"]),
            r["day"],
            numerator=r["n"],
        )
        for r in down
    ]
    return tally(facts, period, INSTITUTION_LEVELS, kind="ratio", tree=tree)


# A downward referral ended this way was not handed over: no follow-up is due for it (a redirect's
# successor is, in its place).
NOT_HANDED_OVER = (ReferralStatus.REDIRECTED, ReferralStatus.REJECTED, ReferralStatus.CANCELLED)


# The team's follow-up answered the downward referral by its due time (KPI 10's numerator).
FOLLOWED_UP_ON_TIME = Q(closing_followup__done_at__lte=F("due"))


def down_followups_due(period: Period) -> QuerySet[Referral]:
    """Downward referrals handed over whose follow-up fell due in the period (`due`: submitted_at
    + 3 days): KPI 10's denominator, at the receiving (primary) institution."""
    start, end = period.bounds()
    window = dt.timedelta(days=FOLLOWUP_DAYS)
    due = ExpressionWrapper(F("submitted_at") + window, output_field=DateTimeField())
    return (
        referrals.report_referrals()
        .filter(direction=ReferralDirection.DOWN, submitted_at__isnull=False)
        .exclude(status__in=NOT_HANDED_OVER)
        .annotate(due=due)
        .filter(due__gte=start, due__lt=end)
    )


def down_followup_on_time(period: Period) -> dict[Key, Figure]:
    """10 下转随访及时率 = downward referrals answered by the team's follow-up (closing_followup)
    done within 3 days of submission ÷ downward referrals whose follow-up fell due in the period
    (submitted_at + 3 days), at the receiving (primary) institution."""
    tree = hierarchy(start=period.start, end=period.end)
    rows = (
        down_followups_due(period)
        .annotate(day=TruncDate("due", tzinfo=REPORT_TZ))
        .values("to_institution_id", "day")
        .annotate(n=Count("pk"), on_time=Count("pk", filter=FOLLOWED_UP_ON_TIME))
        .order_by()
    )
    facts = [
        Fact(
            r["to_institution_id"],
            None,
            tree.district_of_institution(r["to_institution_id"]),
            r["day"],
            numerator=r["on_time"],
            denominator=r["n"],
        )
        for r in rows
    ]
    return tally(facts, period, INSTITUTION_LEVELS, kind="ratio", tree=tree)
