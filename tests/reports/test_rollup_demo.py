"""Rollups over the demo city (the demo generator at a fixed day): rebuilding is idempotent, a
rebuild follows changed raw data, and the rolled-up figures equal a direct computation over the
raw tables written here independently of reports/kpis (several KPIs, several levels, months and a
quarter). The API answers from them with no personal data."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import statistics
from collections import Counter, defaultdict
from decimal import ROUND_HALF_UP, Decimal
from zoneinfo import ZoneInfo

import pytest

from healthnet.models import Resident, UserRole
from referrals.models import Referral
from reports.models import KpiRebuild, KpiValue
from reports.periods import Period
from reports.services import rebuild_months, rebuild_period
from signing.models import FollowUp
from tests.conftest import api_client_for
from tests.factories import UserFactory
from tests.reports.demo_city import TODAY, build_demo_city

pytestmark = pytest.mark.django_db

SHANGHAI = ZoneInfo("Asia/Shanghai")
MONTHS = [f"2026-{m:02d}" for m in range(1, 7)]


def _bounds(first: dt.date, months: int) -> tuple[dt.datetime, dt.datetime]:
    index = first.year * 12 + first.month - 1 + months
    after = dt.date(index // 12, index % 12 + 1, 1)
    return (
        dt.datetime(first.year, first.month, 1, tzinfo=SHANGHAI),
        dt.datetime(after.year, after.month, 1, tzinfo=SHANGHAI),
    )


def _span(label: str) -> tuple[dt.datetime, dt.datetime]:
    if "Q" in label:
        year, q = label.split("Q")
        return _bounds(dt.date(int(year), 3 * int(q) - 2, 1), 3)
    year, month = label.split("-")
    return _bounds(dt.date(int(year), int(month), 1), 1)


def _fingerprint() -> list[tuple]:
    return list(
        KpiValue.objects.order_by(
            "kpi", "period_kind", "period_start", "level", "unit_code", "breakdown"
        ).values_list(
            "kpi",
            "period_kind",
            "period_start",
            "level",
            "unit_code",
            "unit_name",
            "parent_code",
            "breakdown",
            "numerator",
            "denominator",
            "value",
        )
    )


def _rolled(kpi: str, label: str, levels=None, field="numerator") -> dict:
    period = Period.parse(label)
    rows = KpiValue.objects.filter(kpi=kpi, period_kind=period.kind, period_start=period.start)
    if levels:
        rows = rows.filter(level__in=levels)
    return {(r.level, r.unit_code, r.breakdown): getattr(r, field) for r in rows}


def _nonzero(figures: dict) -> dict:
    return {key: value for key, value in figures.items() if value}


@pytest.fixture
def city():
    build_demo_city()
    results = rebuild_months(Period.parse(MONTHS[0]), Period.parse(MONTHS[-1]))
    assert len(results) == 6 + 2 + 1  # the months, 2026Q1 and Q2, 2026
    return results


# --- direct computations over the raw tables ----------------------------------------------------


def direct_referrals(label: str, direction: str) -> dict:
    start, end = _span(label)
    counts: Counter = Counter()
    for referral in Referral.objects.filter(
        direction=direction,
        redirected_from__isnull=True,
        submitted_at__gte=start,
        submitted_at__lt=end,
    ).select_related("from_institution"):
        institution = referral.from_institution
        # downward ones also by care setting (outpatient, or discharged from a stay)
        breakdowns = ["", referral.care_setting] if direction == "down" else [""]
        for breakdown in breakdowns:
            counts[("institution", institution.code, breakdown)] += 1
            counts[("district", institution.district_id, breakdown)] += 1
            counts[("city", "city", breakdown)] += 1
    return {key: Decimal(n) for key, n in counts.items()}


def direct_rejections(label: str) -> tuple[dict, dict]:
    """(numerators, denominators) at institutions, by reason and in total."""
    start, end = _span(label)
    decided: Counter = Counter()
    rejected: Counter = Counter()
    for referral in Referral.objects.filter(
        decided_at__gte=start, decided_at__lt=end
    ).select_related("to_institution"):
        code = referral.to_institution.code
        decided[code] += 1
        if referral.status == "rejected":
            rejected[("institution", code, "")] += 1
            rejected[("institution", code, referral.rejection_reason)] += 1
    return {k: Decimal(n) for k, n in rejected.items()}, {
        ("institution", code, ""): Decimal(n) for code, n in decided.items()
    }


def direct_fulfilment(label: str) -> tuple[dict, dict]:
    """(on time, due) per team: follow-ups due in the month, cancelled ones left out; on time =
    done on or before the due date (Shanghai calendar)."""
    year, month = map(int, label.split("-"))
    first = dt.date(year, month, 1)
    after = dt.date(year + month // 12, month % 12 + 1, 1)
    due: Counter = Counter()
    done: Counter = Counter()
    for followup in (
        FollowUp.objects.filter(due_date__gte=first, due_date__lt=after)
        .exclude(status="cancelled")
        .select_related("contract")
    ):
        team = ("team", str(followup.contract.team_id), "")
        due[team] += 1
        if (
            followup.status == "done"
            and followup.done_at.astimezone(SHANGHAI).date() <= followup.due_date
        ):
            done[team] += 1
    return {k: Decimal(n) for k, n in done.items()}, {k: Decimal(n) for k, n in due.items()}


def direct_decision_hours_median(label: str) -> Decimal | None:
    start, end = _span(label)
    hours = [
        Decimal((r.decided_at - r.submitted_at).total_seconds()) / Decimal(3600)
        for r in Referral.objects.filter(decided_at__gte=start, decided_at__lt=end)
    ]
    if not hours:
        return None
    median = Decimal(str(statistics.median(hours)))
    return median.quantize(Decimal("0.01"), ROUND_HALF_UP)


# --- tests --------------------------------------------------------------------------------------


def test_rollups_equal_a_direct_computation_over_the_raw_tables(city):
    seen = defaultdict(int)
    for label in [*MONTHS, "2026Q1", "2026Q2"]:
        for kpi, direction in [("referrals_up", "up"), ("referrals_down", "down")]:
            expected = direct_referrals(label, direction)
            rolled = _rolled(kpi, label, levels=("city", "district", "institution"))
            assert _nonzero(rolled) == expected, (kpi, label)
            seen[kpi] += sum(expected.values())

        numerators, denominators = direct_rejections(label)
        rolled_num = _rolled("rejection_rate", label, levels=("institution",))
        rolled_den = _rolled("rejection_rate", label, ("institution",), field="denominator")
        assert _nonzero(rolled_num) == numerators, label
        totals = {key: n for key, n in rolled_den.items() if key[2] == ""}
        assert _nonzero(totals) == denominators, label
        seen["rejected"] += sum(n for key, n in numerators.items() if key[2] == "")

        median = direct_decision_hours_median(label)
        rolled_median = _rolled("decision_hours_median", label, ("city",), field="value")
        assert rolled_median[("city", "city", "")] == median, label

        if "Q" not in label:
            on_time, due = direct_fulfilment(label)
            assert _nonzero(_rolled("fulfilment", label, ("team",))) == on_time, label
            rolled_due = _rolled("fulfilment", label, ("team",), field="denominator")
            assert _nonzero(rolled_due) == due, label
            seen["followups_due"] += sum(due.values())
    # the demo city has enough of each for the comparison to mean something
    assert seen["referrals_up"] >= 10
    assert seen["referrals_down"] >= 1
    assert seen["rejected"] >= 1
    assert seen["followups_due"] >= 10


def test_rebuilding_twice_leaves_the_same_rows(city):
    before = _fingerprint()
    assert len(before) == sum(result.rows for result in city) > 0
    rebuild_months(Period.parse(MONTHS[0]), Period.parse(MONTHS[-1]))
    assert _fingerprint() == before
    assert KpiRebuild.objects.count() == 9


def test_a_rebuild_follows_changed_raw_data_in_its_period_only(city):
    referral = (
        Referral.objects.filter(direction="up", redirected_from__isnull=True)
        .select_related("from_institution")
        .order_by("submitted_at")
        .last()
    )
    local = referral.submitted_at.astimezone(SHANGHAI)
    label = f"{local.year}-{local.month:02d}"
    key = ("institution", referral.from_institution.code, "")
    up_before = _rolled("referrals_up", label)[key]
    other = next(m for m in MONTHS if m != label)
    other_before = _rolled("referrals_up", other)
    Referral.objects.filter(pk=referral.pk).update(direction="down")

    rebuild_period(Period.parse(label))
    assert _rolled("referrals_up", label)[key] == up_before - 1
    assert _rolled("referrals_up", other) == other_before


def test_the_api_answers_from_the_rollups_without_personal_data(city):
    api = api_client_for(UserFactory(role=UserRole.BUREAU, institution=None))
    residents = list(Resident.objects.values_list("name", "phone"))
    assert residents
    personal = {name for name, _ in residents} | {phone for _, phone in residents if phone}

    values = api.get(
        "/api/v1/reports/values",
        {"kpi": "fulfilment", "period": MONTHS[-1], "level": "team"},
    ).json()
    expected_on_time, _ = direct_fulfilment(MONTHS[-1])
    rolled = {
        ("team", r["unit_code"], ""): Decimal(str(r["numerator"]))
        for r in values["rows"]
        if r["numerator"]
    }
    assert rolled == expected_on_time

    bodies = [json.dumps(values, ensure_ascii=False)]
    for level in ("city", "district", "alliance", "institution", "team"):
        cards = api.get("/api/v1/reports/cards", {"period": MONTHS[-1], "level": level})
        if level == "city":
            assert cards.status_code == 200
        bodies.append(cards.content.decode())
    export = api.get("/api/v1/reports/export.csv", {"period": MONTHS[-1]})
    cells = {
        cell for row in csv.reader(io.StringIO(export.content.decode("utf-8-sig"))) for cell in row
    }
    assert not cells & personal
    for body in bodies:
        strings = set()
        _strings(json.loads(body), strings)
        assert not strings & personal
    assert TODAY.isoformat() not in "".join(bodies)  # no event dates either: periods only


def _strings(value, into: set) -> None:
    if isinstance(value, dict):
        for inner in value.values():
            _strings(inner, into)
    elif isinstance(value, list):
        for inner in value:
            _strings(inner, into)
    elif isinstance(value, str):
        into.add(value)
