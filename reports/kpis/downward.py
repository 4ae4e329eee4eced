"""KPIs of the downward leg: 4 住院患者下转占比 and 10 下转随访及时率 (docs/reports.md)."""

from __future__ import annotations

import datetime as dt

from django.db.models import Count, DateTimeField, Exists, ExpressionWrapper, OuterRef, Q
from django.db.models.functions import Coalesce, TruncDate

from healthnet import selectors as network
from referrals import selectors as referrals
from referrals.models import ReferralDirection
from referrals.transitions import Action
from reports.kpis.base import Fact, Figure, Key, tally
from reports.periods import REPORT_TZ, Period
from reports.units import hierarchy

INSTITUTION_LEVELS = ("city", "district", "alliance", "institution")
FOLLOWUP_DAYS = 3


def inpatient_down_share(period: Period) -> dict[Key, Figure]:
    """4 住院患者下转占比 = downward referrals submitted in the period by a hospital ÷ its
    discharges (inpatient stays ended) in the period, at the hospital."""
    tree = hierarchy(start=period.start, end=period.end)
    start, end = period.bounds()
    discharges = (
        network.report_discharges(start=start, end=end)
        .annotate(day=TruncDate("ended_at", tzinfo=REPORT_TZ))
        .values("institution_id", "day")
        .annotate(n=Count("pk"))
        .order_by()
    )
    down = (
        referrals.report_referrals()
        .filter(
            direction=ReferralDirection.DOWN,
            redirected_from__isnull=True,
            submitted_at__gte=start,
            submitted_at__lt=end,
        )
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


def down_followup_on_time(period: Period) -> dict[Key, Figure]:
    """10 下转随访及时率 = downward referrals whose team's follow-up came within 3 days ÷ downward
    referrals whose follow-up fell due in the period (3 days after the resident arrived, or after
    submission when no arrival is recorded), at the receiving (primary) institution."""
    tree = hierarchy(start=period.start, end=period.end)
    start, end = period.bounds()
    window = dt.timedelta(days=FOLLOWUP_DAYS)
    base = Coalesce("arrived_at", "submitted_at")
    followed = referrals.report_referral_events(actions=[Action.CLOSE_LOOP]).filter(
        referral=OuterRef("pk"),
        at__lte=ExpressionWrapper(OuterRef("base") + window, output_field=DateTimeField()),
    )
    rows = (
        referrals.report_referrals()
        .filter(direction=ReferralDirection.DOWN, submitted_at__isnull=False)
        .annotate(base=base)
        .annotate(due=ExpressionWrapper(base + window, output_field=DateTimeField()))
        .filter(due__gte=start, due__lt=end)
        .annotate(day=TruncDate("due", tzinfo=REPORT_TZ), followed=Exists(followed))
        .values("to_institution_id", "day")
        .annotate(n=Count("pk"), on_time=Count("pk", filter=Q(followed=True)))
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
