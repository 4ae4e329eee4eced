"""The rollup tables of the bureau reports (docs/reports.md, "How it runs").

`KpiValue` holds one figure of one KPI for one period and one unit (and one breakdown value):
what the API, the exports and the dashboard read. The raw tables are read only by the KPI
functions (reports/kpis/), when reports/services/rollups.py rebuilds a period. A rebuild of a
period replaces all of that period's rows in one transaction, so readers see the old figures or
the new ones, never a mix, and running it twice leaves the same rows.

`KpiRebuild` records when each period was last rebuilt (the "data as of" of the pages).
"""

from __future__ import annotations

from django.db import models


class PeriodKind(models.TextChoices):
    MONTH = "month", "月"
    QUARTER = "quarter", "季度"
    YEAR = "year", "年"


class KpiValue(models.Model):
    kpi = models.CharField(max_length=64)
    period_kind = models.CharField(max_length=8, choices=PeriodKind.choices)
    period_start = models.DateField()
    level = models.CharField(max_length=12)
    unit_code = models.CharField(max_length=40)
    # Names and parents as they were in the period (a unit renamed later keeps its old rows).
    unit_name = models.CharField(max_length=100)
    parent_code = models.CharField(max_length=40, blank=True)
    breakdown = models.CharField(max_length=40, blank=True, default="")
    numerator = models.DecimalField(max_digits=18, decimal_places=4)
    denominator = models.DecimalField(max_digits=18, decimal_places=4, null=True, blank=True)
    value = models.DecimalField(max_digits=18, decimal_places=4, null=True, blank=True)
    computed_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["kpi", "period_kind", "period_start", "level", "unit_code", "breakdown"],
                name="kpivalue_unique_cell",
            ),
        ]
        indexes = [
            # a table: one KPI, one period, one level, under one parent (the unique index
            # serves the same read without the parent)
            models.Index(
                fields=["kpi", "period_kind", "period_start", "level", "parent_code"],
                name="kpivalue_table",
            ),
            # a series: one KPI, one unit, its months in order
            models.Index(
                fields=["kpi", "level", "unit_code", "period_kind", "period_start"],
                name="kpivalue_series",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kpi} {self.period_kind} {self.period_start} {self.level}:{self.unit_code}"


class KpiRebuild(models.Model):
    period_kind = models.CharField(max_length=8, choices=PeriodKind.choices)
    period_start = models.DateField()
    rows = models.PositiveIntegerField()
    duration_ms = models.PositiveIntegerField()
    computed_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["period_kind", "period_start"], name="kpirebuild_unique_period"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.period_kind} {self.period_start} @ {self.computed_at}"
