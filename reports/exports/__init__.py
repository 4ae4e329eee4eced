"""Exports of the bureau reports, from the rollups only (reports.selectors): CSV, XLSX and FHIR R4
MeasureReport / Measure. Small cells are blanked here (docs/reports.md, "Suppression")."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

LEVEL_NAMES = {
    "city": _("全市"),
    "district": _("区县"),
    "alliance": _("医联体"),
    "institution": _("机构"),
    "team": _("家庭医生团队"),
}
UNIT_NAMES = {
    "ratio": _("比例"),
    "count": _("数量"),
    "hours": _("小时"),
    "days": _("天"),
}
