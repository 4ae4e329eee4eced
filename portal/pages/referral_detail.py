"""One referral (portal issue 10 page 3): the resident (ID number masked), the clinical summary for
the roles allowed to read it (referrals.permissions.can_read_referral_clinical), the timeline,
and a button or form for exactly the actions the workflow table allows this user now
(referrals.permissions.referral_allowed_actions), each run through the service the API runs
(REFERRAL_WORKFLOW.run). POST then redirect; a referral someone else moved meanwhile (the
service's `transition_not_allowed`) is said plainly and the page shows its new state.

Out of scope and missing are the same 404 (referrals.selectors.referral_for_user). Reads are
audited as the API's are.
"""

from __future__ import annotations

import uuid
from typing import Any

from django.contrib import messages
from django.db import transaction
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from healthnet.errors import Conflict, DomainError, Forbidden
from healthnet.national_id import resident_national_id_masked
from healthnet.populations import age_on
from healthnet.services import audit_record
from portal.htmx import PortalRequest
from portal.menu import page_view
from portal.pages import referral_forms
from portal.pages.lists import found
from portal.pages.referral_worklists import worklist_row
from portal.schema_forms import SchemaForm
from referrals import permissions, selectors
from referrals.models import Referral, ReferralStatus
from referrals.workflow import REFERRAL_WORKFLOW


def _referral(request: PortalRequest, referral_id: uuid.UUID) -> Referral:
    return found(selectors.referral_for_user, request.user, referral_id)


def _status_label(status: str) -> str:
    return str(ReferralStatus(status).label) if status in ReferralStatus.values else status


def _timeline(referral: Referral) -> list[dict[str, Any]]:
    return [
        {
            "event": event,
            "action": referral_forms.EVENT_TITLES.get(event.action, event.action),
            "from": _status_label(event.from_status) if event.from_status else "",
            "to": _status_label(event.to_status) if event.to_status else "",
        }
        for event in referral.events.all()
    ]


def _actions(
    request: PortalRequest, referral: Referral, bound: tuple[str, SchemaForm] | None = None
) -> list[dict[str, Any]]:
    """The allowed actions, each with its form (the one just posted with its errors)."""
    actions = []
    for name in permissions.referral_allowed_actions(request.user, referral):
        if bound is not None and bound[0] == name:
            form: SchemaForm | None = bound[1]
        else:
            form = referral_forms.action_form(request.user, referral, name)
        actions.append(
            {
                "name": name,
                "title": referral_forms.TITLES.get(name, name),
                "form": form,
                "open": bound is not None and bound[0] == name,
                "secondary": name in ("reject", "cancel", "no_show", "redirect"),
            }
        )
    return actions


def _render(
    request: PortalRequest,
    referral: Referral,
    *,
    bound: tuple[str, SchemaForm] | None = None,
    status: int = 200,
) -> HttpResponse:
    with transaction.atomic():
        audit_record(
            actor=request.user,
            action="read",
            object_type="referral",
            object_id=str(referral.public_id),
        )
    now = timezone.now()
    resident = referral.resident
    sides = permissions.referral_sides(request.user, referral)
    return render(
        request,
        "portal/referrals/detail.html",
        {
            "referral": referral,
            "row": worklist_row(referral, now),
            "resident": resident,
            "masked_id": resident_national_id_masked(resident),
            "age": age_on(resident.birth_date, timezone.localdate()),
            "clinical": permissions.can_read_referral_clinical(request.user),
            "timeline": _timeline(referral),
            "actions": _actions(request, referral, bound),
            "back": "referrals-incoming" if "receiving" in sides else "referrals-outgoing",
            "redirected_to": getattr(referral, "redirected_to", None),
            "follow_on_of": getattr(referral, "follow_on_of", None),
        },
        status=status,
    )


@page_view("referral-detail")
def referral_detail(request: PortalRequest, referral_id: uuid.UUID) -> HttpResponse:
    return _render(request, _referral(request, referral_id))


@page_view("referral-detail")
@require_POST
def referral_action(request: PortalRequest, referral_id: uuid.UUID, action: str) -> HttpResponse:
    """Run one action through the workflow (the API's service), then back to the referral."""
    referral = _referral(request, referral_id)
    if action not in REFERRAL_WORKFLOW.actions:
        raise Http404("no such action")
    detail = redirect("portal:referral-detail", referral_id=referral.public_id)
    title = referral_forms.TITLES.get(action, action)
    form = referral_forms.action_form(request.user, referral, action, data=request.POST)
    if form is not None and not form.is_valid():
        return _render(request, referral, bound=(action, form), status=422)
    try:
        result = REFERRAL_WORKFLOW.run(
            action,
            referral=referral,
            actor=request.user,
            payload=form.payload if form is not None else None,
        )
    except Conflict as exc:
        if exc.code in referral_forms.STATE_CONFLICTS:
            current = Referral.objects.filter(pk=referral.pk).values_list("status", flat=True)
            messages.error(
                request,
                _("未能%(action)s：该转诊已被他人处理，当前状态为“%(status)s”。请查看最新状态。")
                % {"action": title, "status": _status_label(current.first() or "")},
            )
            return detail
        return _refused(request, referral, action, form, exc, status=409)
    except Forbidden as exc:  # a side or role that may not: not a form to correct
        messages.error(request, exc.message)
        return detail
    except DomainError as exc:
        return _refused(request, referral, action, form, exc, status=422)
    messages.success(
        request,
        _("已%(action)s：%(name)s，当前状态“%(status)s”。")
        % {
            "action": title,
            "name": result.resident.name,
            "status": result.get_status_display(),
        },
    )
    if action == "redirect":
        successor = getattr(result, "redirected_to", None)
        if successor is not None and permissions.can_view_referral(request.user, successor):
            return redirect("portal:referral-detail", referral_id=successor.public_id)
    return detail


def _refused(
    request: PortalRequest,
    referral: Referral,
    action: str,
    form: SchemaForm | None,
    exc: DomainError,
    *,
    status: int,
) -> HttpResponse:
    """A service's refusal other than a state conflict (a full day, a past date, a role that
    may not): at the form's field it names, the page otherwise unchanged."""
    if form is None:
        messages.error(request, exc.message)
        return redirect("portal:referral-detail", referral_id=referral.public_id)
    form.add_domain_error(exc, field_of=referral_forms.FIELD_OF_CODE.get(exc.code))
    return _render(request, referral, bound=(action, form), status=status)
