"""Where each role lands after login, and the staff 工作台 (workbench) with its counters."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone

from healthnet.http import SignedInRequest
from portal.conf import counters_refresh_seconds
from portal.htmx import PortalRequest
from portal.menu import landing_page_for, page_view
from portal.workbench import workbench_counters


@login_required
def home(request: SignedInRequest) -> HttpResponse:
    """`/` and the login's destination: the first page of the user's menu."""
    page = landing_page_for(request.user)
    if page is None:
        raise PermissionDenied("no portal page for this login")
    return redirect(f"portal:{page.name}")


def _counters_context(request: PortalRequest) -> dict[str, object]:
    now = timezone.localtime().replace(microsecond=0)
    counters = workbench_counters(request.user, today=now.date())
    return {
        "counters": counters,
        "all_clear": not any(counter.total for counter in counters),
        "updated_at": now,
        "refresh_seconds": counters_refresh_seconds(),
    }


@page_view("workbench")
def workbench(request: PortalRequest) -> HttpResponse:
    return render(request, "portal/workbench.html", _counters_context(request))


@page_view("workbench")
def workbench_counters_partial(request: PortalRequest) -> HttpResponse:
    """The counters alone, for htmx to poll (hx-trigger="every 60s") and swap in place."""
    return render(request, "portal/partials/workbench_counters.html", _counters_context(request))
