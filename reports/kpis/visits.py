"""KPIs read from visits (Encounter): 1 基层就诊率, 15 扫码就医 share (docs/reports.md)."""

from __future__ import annotations

from django.db.models import Count, Q
from django.db.models.functions import TruncDate

from healthnet import selectors as network
from healthnet.models import EncounterKind, Tier
from reports.kpis.base import Fact, Figure, Key, tally
from reports.periods import REPORT_TZ, Period
from reports.units import Level, hierarchy

# The source the health-code scan gives the visit it opens at registration
# (healthcodes.services.scan: encounter_create(..., source="scan")).
SCAN_SOURCE = "scan"
# A registration (挂号) opens an outpatient or an emergency visit; an admission is not one.
REGISTRATION_KINDS = (EncounterKind.OUTPATIENT, EncounterKind.EMERGENCY)

INSTITUTION_LEVELS: tuple[Level, ...] = ("city", "district", "alliance", "institution")
AREA_LEVELS: tuple[Level, ...] = ("city", "district", "alliance")


def _by_institution_day(qs, **figures):
    """Visits grouped by institution and local day of their start."""
    return (
        qs.annotate(day=TruncDate("started_at", tzinfo=REPORT_TZ))
        .values("institution_id", "day")
        .annotate(**figures)
        .order_by()
    )


def primary_care_share(period: Period) -> dict[Key, Figure]:
    """1 基层就诊率 = visits at primary-tier institutions ÷ all visits, started in the period."""
    tree = hierarchy(start=period.start, end=period.end)
    start, end = period.bounds()
    rows = _by_institution_day(network.report_encounters(start=start, end=end), n=Count("pk"))
    facts = [
        Fact(
            institution_id=row["institution_id"],
            team_id=None,
            district=tree.district_of_institution(row["institution_id"]),
            day=row["day"],
            numerator=row["n"] if tree.tier_of(row["institution_id"]) == Tier.PRIMARY else 0,
            denominator=row["n"],
        )
        for row in rows
    ]
    return tally(facts, period, AREA_LEVELS, kind="ratio", tree=tree)


def scan_registration_share(period: Period) -> dict[Key, Figure]:
    """15 扫码就医 share = registrations made by scanning the health code ÷ all registrations
    (outpatient and emergency visits started in the period), at the institution registering."""
    tree = hierarchy(start=period.start, end=period.end)
    start, end = period.bounds()
    qs = network.report_encounters(start=start, end=end).filter(kind__in=REGISTRATION_KINDS)
    rows = _by_institution_day(qs, n=Count("pk"), scanned=Count("pk", filter=Q(source=SCAN_SOURCE)))
    facts = [
        Fact(
            institution_id=row["institution_id"],
            team_id=None,
            district=tree.district_of_institution(row["institution_id"]),
            day=row["day"],
            numerator=row["scanned"],
            denominator=row["n"],
        )
        for row in rows
    ]
    return tally(facts, period, INSTITUTION_LEVELS, kind="ratio", tree=tree)
