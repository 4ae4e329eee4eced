"""The referral worklists (portal issue 10 page 2): referrals into and out of the user's
institution, read through referrals.selectors.referrals_worklist with the API's own filter schema
(referrals.api.WorklistFilter), so the workbench's counters link here with the API's query
parameter names (`?status=submitted`, `?status=scheduled&appointment_date=…`,
`?direction=down&status=…`) and the page lists exactly what was counted.

Sorted by the nearest deadline with the open emergency green channel on top; each row carries
its deadline countdown and an overdue badge. Audited as the API's list is.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from typing import Any

from django.db import transaction
from django.http import HttpResponse, QueryDict
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext as _
from pydantic import ValidationError

from healthnet.selectors import departments_of_institution
from healthnet.services import audit_record
from portal.htmx import PortalRequest
from portal.menu import page_view
from portal.pages.figures import figure_audit, figure_filter
from portal.pages.lists import page_of, query_without_page
from referrals.api import WorklistFilter
from referrals.models import (
    OPEN_STATUSES,
    ReferralDirection,
    ReferralStatus,
    ReferralUrgency,
)
from referrals.selectors import WorklistFilters, referrals_worklist

FILTERS = (
    "status",
    "urgency",
    "direction",
    "department",
    "overdue",
    "resident",
    "appointment_date",
)
LIST_FILTERS = ("status",)  # may repeat: ?status=submitted&status=accepted
GREEN_CHANNEL_MAX = 50  # open emergencies pinned on top (a city has a handful at a time)


def read_filters(query: QueryDict) -> tuple[WorklistFilter, list[str]]:
    """The query read by the API's filter schema; a value it refuses is dropped (the list shows
    without it) and its name returned, so the page can say so."""
    given: dict[str, Any] = {}
    for name in FILTERS:
        if name in LIST_FILTERS:
            values = [v for v in query.getlist(name) if v]
            if values:
                given[name] = values
        elif query.get(name) not in (None, ""):
            given[name] = query.get(name)
    dropped: list[str] = []
    while True:
        try:
            return WorklistFilter.model_validate(given), dropped
        except ValidationError as exc:
            bad = {str(p["loc"][0]) for p in exc.errors() if p["loc"]} & given.keys()
            if not bad:
                raise
            for name in sorted(bad):
                given.pop(name)
                dropped.append(name)


def deadline_note(due_at: dt.datetime | None, now: dt.datetime) -> str:
    """The deadline as a countdown ("剩 5 小时") or how late it is ("超时 2 天")."""
    if due_at is None:
        return ""
    seconds = int((due_at - now).total_seconds())
    late = seconds < 0
    seconds = abs(seconds)
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    if days:
        amount = _("%(days)s 天 %(hours)s 小时") % {"days": days, "hours": hours}
    elif hours:
        amount = _("%(hours)s 小时") % {"hours": hours}
    else:
        amount = _("%(minutes)s 分钟") % {"minutes": max(minutes, 1)}
    return (_("超时 %(amount)s") if late else _("剩 %(amount)s")) % {"amount": amount}


def worklist_row(referral: Any, now: dt.datetime) -> dict[str, Any]:
    is_open = referral.status in OPEN_STATUSES
    return {
        "referral": referral,
        "green_channel": referral.urgency == ReferralUrgency.EMERGENCY and is_open,
        "overdue": referral.overdue
        or (is_open and referral.due_at is not None and referral.due_at < now),
        "deadline": deadline_note(referral.due_at, now) if is_open else "",
    }


def _worklist(request: PortalRequest, box: str) -> HttpResponse:
    filters, dropped = read_filters(request.GET)
    figure, refused = figure_filter(request, f"referrals-{box}")
    dropped += refused
    asked = WorklistFilters(
        box=box,
        status=filters.status,
        direction=filters.direction,
        urgency=filters.urgency,
        overdue=filters.overdue,
        department=filters.department,
        resident=filters.resident,
        appointment_date=filters.appointment_date,
        among=figure.records if figure else None,
    )
    if figure:  # the records behind a figure: all of them in one list, nothing pinned apart
        pinned = []
        page = page_of(request, referrals_worklist(request.user, asked))
    else:
        # The open green channel on top of every page; the list below keeps the deadline order
        # the worklist index gives (no sort over the whole box).
        pinned = list(
            referrals_worklist(request.user, replace(asked, green_channel=True))[:GREEN_CHANNEL_MAX]
        )
        page = page_of(
            request, referrals_worklist(request.user, replace(asked, green_channel=False))
        )
    with transaction.atomic():
        audit_record(
            actor=request.user,
            action="list",
            object_type="referral",
            details={
                "box": box,
                "filters": filters.model_dump(mode="json", exclude_none=True, exclude={"box"}),
                **(figure_audit(figure) if figure else {}),
            },
        )
    now = timezone.now()
    chosen_statuses = [str(s) for s in filters.status or []]
    return render(
        request,
        "portal/referrals/worklist.html",
        {
            "box": box,
            "title": _("转入转诊") if box == "incoming" else _("转出转诊"),
            "filters": filters,
            "chosen_statuses": chosen_statuses,
            "dropped": dropped,
            "page": page,
            "rows": [worklist_row(r, now) for r in [*pinned, *page]],
            "pinned": len(pinned),
            "query": query_without_page(request),
            "statuses": ReferralStatus.choices,
            "urgencies": ReferralUrgency.choices,
            "directions": ReferralDirection.choices,
            "departments": list(departments_of_institution(request.user.institution_id))
            if request.user.institution_id
            else [],
            "filtered": any(request.GET.get(name) for name in FILTERS) or figure is not None,
            "figure": figure,
        },
    )


@page_view("referrals-incoming")
def referrals_incoming(request: PortalRequest) -> HttpResponse:
    return _worklist(request, "incoming")


@page_view("referrals-outgoing")
def referrals_outgoing(request: PortalRequest) -> HttpResponse:
    return _worklist(request, "outgoing")
