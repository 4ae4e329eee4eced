"""From a figure to the records behind it (docs/reports.md, "Drill-down"): the referral
worklists and the team's contract and follow-up lists accept `?kpi=<code>&period=<label>&part=
numerator|denominator` and then list only the records that KPI counted in that part for the
user's institution (reports.drill: the KPI's own queryset). The list keeps its own scope and
its other filters; a bad or foreign figure filter is dropped and named, as any bad filter is.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from django.db.models import QuerySet
from django.urls import reverse
from django.utils import timezone
from django.utils.functional import Promise

from portal.htmx import PortalRequest
from reports.drill import PARTS, drill_of, records
from reports.kpis import KPIS
from reports.periods import Period


@dataclass(frozen=True)
class FigureFilter:
    kpi: str  # the KPI's code (a Kpi is callable: a template would call it)
    kpi_name: str | Promise
    part: str
    period: Period
    label: str | Promise  # what the records are: "本期拒绝的转诊"
    records: QuerySet
    back_url: str  # the institution's figures of that period


def figure_filter(request: PortalRequest, page: str) -> tuple[FigureFilter | None, list[str]]:
    """The figure the list was opened from, if any, with the names of refused parameters."""
    code = request.GET.get("kpi", "")
    if not code:
        return None, []
    drill = drill_of(code)
    part = request.GET.get("part", "numerator")
    try:
        period = Period.parse(request.GET.get("period", "")[:10])
    except ValueError:
        return None, ["kpi"]
    institution_id = request.user.institution_id
    if (
        drill is None
        or drill.page != page
        or part not in PARTS
        or part not in drill.parts
        or period.start > timezone.localdate()
        or institution_id is None
    ):
        return None, ["kpi"]
    found = records(code, part, period, institution_id=institution_id)
    assert found is not None  # noqa: S101 - the part was checked above
    return (
        FigureFilter(
            kpi=code,
            kpi_name=KPIS[code].name,
            part=part,
            period=period,
            label=drill.labels[part],  # type: ignore[index]
            records=found,
            back_url=f"{reverse('portal:institution-kpis')}?{urlencode({'period': period.label})}",
        ),
        [],
    )


def figure_audit(figure: FigureFilter) -> dict[str, str]:
    """What a list's audit record adds when it was opened from a figure."""
    return {"kpi": figure.kpi, "period": figure.period.label, "part": figure.part}


def figure_url(page: str, kpi: str, part: str, period: Period, **query: Any) -> str:
    """The list behind a figure: its page with the figure filter (and a team's code)."""
    params = {
        "kpi": kpi,
        "period": period.label,
        "part": part,
        **{k: v for k, v in query.items() if v},
    }
    return f"{reverse(f'portal:{page}')}?{urlencode(params)}"
