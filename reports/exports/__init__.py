"""Exports of the bureau reports, from the rollups only (reports.selectors): CSV, XLSX and FHIR R4
MeasureReport / Measure. Small cells are blanked here (docs/reports.md, "How it runs")."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from reports.units import LEVEL_NAMES

UNIT_NAMES = {
    "ratio": _("比例"),
    "count": _("数量"),
    "hours": _("小时"),
    "days": _("天"),
}

__all__ = ["LEVEL_NAMES", "UNIT_NAMES"]
