"""本机构指标: an institution's tiered-care figures and its family-doctor teams', for the staff
who run it (permission `report.read_institution`: the institution admin, the referral office),
read from the rollups as the bureau's dashboard is (reports.selectors, a constant number of
queries). Each figure counting records the user may list leads to them: its numerator and
denominator link to the referral worklist, the contract list or the follow-up list filtered to
exactly the records counted (portal/pages/figures.py, reports.drill). A link is shown only where
the list would hold all of the figure's records for this user: the worklists for the
institution's figures, a team's lists for the teams whose residents the user works with.

Aggregates of the user's own institution only: no other institution's or team's figure is
readable here (the bureau's dashboard is for those).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from django.http import Http404, HttpResponse
from django.shortcuts import render
from django.utils import timezone

from portal.htmx import PortalRequest
from portal.menu import may_use, page_view
from portal.pages.bureau import (
    change_direction,
    change_text,
    kpi_info,
    period_choices,
    period_from,
    row_cells,
)
from portal.pages.figures import figure_url
from reports import selectors
from reports.drill import drill_of
from reports.kpis import KPIS, Kpi
from reports.periods import Period, month_of
from signing.selectors import team_codes_worked_by

TEAM_KPIS = tuple(code for code, kpi in KPIS.items() if "team" in kpi.levels)


def _links(
    user: Any, kpi: Kpi, period: Period, *, may_list: bool, team: str = ""
) -> dict[str, str | None]:
    """The list behind each part of the figure, where the user may open all of it."""
    drill = drill_of(kpi.code)
    links: dict[str, str | None] = {"numerator": None, "denominator": None}
    if drill is None or not may_list or not may_use(user, drill.page):
        return links
    for part in drill.parts:
        links[part] = figure_url(drill.page, kpi.code, part, period, team=team)
    return links


def _row(kpi: Kpi, row: selectors.KpiRow | None, links: dict[str, str | None]) -> dict[str, Any]:
    if row is not None and row.suppressed and (links["numerator"] or links["denominator"]):
        row = replace(row, suppressed=False)  # the user may list the records: no cell to hide
    cells = row_cells(kpi, row)
    numerator, denominator = (None, None) if row is None else (row.numerator, row.denominator)
    shown = not cells["suppressed"]
    return {  # a part with no records leads nowhere: no link to an empty list
        **cells,
        "numerator_url": links["numerator"] if shown and numerator else None,
        "denominator_url": links["denominator"] if shown and denominator else None,
    }


@page_view("institution-kpis")
def institution_kpis(request: PortalRequest) -> HttpResponse:
    period, refused = period_from(request)
    user = request.user
    institution = user.institution
    if institution is None:  # the page's rule admits staff of an institution only
        raise Http404
    computed_at = selectors.period_computed_at(period)
    context: dict[str, Any] = {
        "institution": institution,
        "period": period,
        "period_refused": refused,
        "picker": period_choices(period),
        "computed_at": computed_at,
        "first_month": month_of(timezone.localdate()).previous().label,
    }
    if computed_at is None:
        return render(request, "portal/institution/kpis.html", context)

    team_tables = {
        code: selectors.kpi_table(code, period, "team", institution.code) for code in TEAM_KPIS
    }
    worked = team_codes_worked_by(user)
    teams = {row.unit_code: row.unit_name for rows in team_tables.values() for row in rows}
    # The institution's team lists hold every team's records only for who works with them all.
    all_teams = all(int(code) in worked for code in teams)
    figures = []
    for card in selectors.kpi_cards(period, "institution", institution.code):
        drill = drill_of(card.kpi.code)
        may_list = drill is not None and (drill.page.startswith("referrals-") or all_teams)
        links = _links(user, card.kpi, period, may_list=may_list)
        figures.append(
            {
                "kpi": kpi_info(card.kpi),
                **_row(card.kpi, card.row, links),
                "mom": change_text(card.kpi, card.mom_change),
                "mom_direction": change_direction(card.mom_change),
                "listed": bool(links["numerator"] or links["denominator"]),
            }
        )
    team_kpis = [KPIS[code] for code in TEAM_KPIS]
    team_rows = []
    for unit_code, name in sorted(teams.items(), key=lambda item: item[1]):
        team_code = worked.get(int(unit_code), "")
        cells = []
        for kpi in team_kpis:
            row = next(
                (r for r in team_tables[kpi.code] if r.unit_code == unit_code and not r.breakdown),
                None,
            )
            links = _links(user, kpi, period, may_list=bool(team_code), team=team_code)
            cells.append(_row(kpi, row, links))
        team_rows.append({"name": name, "cells": cells})
    context.update(
        figures=figures,
        team_kpis=[kpi_info(kpi) for kpi in team_kpis],
        team_rows=team_rows,
    )
    return render(request, "portal/institution/kpis.html", context)
