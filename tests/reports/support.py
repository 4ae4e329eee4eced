"""Helpers of the reports tests: rollup rows written by hand (the API and exports read only the
rollups, so their expected values are these rows), and KPIs picked from the catalogue by shape."""

from __future__ import annotations

from decimal import Decimal

from django.utils import timezone

from reports.kpis import KPIS, Kpi
from reports.models import KpiValue
from reports.periods import Period


def kpi_where(unit: str, level: str | None = None, breakdown: bool | None = None) -> Kpi:
    for kpi in KPIS.values():
        if kpi.unit != unit or (level is not None and level not in kpi.levels):
            continue
        if breakdown is not None and bool(kpi.breakdown) != breakdown:
            continue
        return kpi
    raise LookupError(f"no {unit} KPI at {level}")


def put(
    kpi: Kpi,
    label: str,
    level: str,
    code: str,
    numerator,
    denominator=None,
    value=None,
    *,
    name: str | None = None,
    parent: str = "",
    breakdown: str = "",
) -> KpiValue:
    period = Period.parse(label)
    numerator = Decimal(str(numerator))
    denominator = None if denominator is None else Decimal(str(denominator))
    if value is None:
        if denominator is not None:
            value = (numerator / denominator).quantize(Decimal("0.0001")) if denominator else None
        else:
            value = numerator
    return KpiValue.objects.create(
        kpi=kpi.code,
        period_kind=period.kind,
        period_start=period.start,
        level=level,
        unit_code=code,
        unit_name=name or f"单位{code}",
        parent_code=parent,
        breakdown=breakdown,
        numerator=numerator,
        denominator=denominator,
        value=None if value is None else Decimal(str(value)),
        computed_at=timezone.now(),
    )
