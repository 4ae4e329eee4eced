"""The family-doctor team's pages (portal issue 10 page 6): its signed residents, a contract with
the actions the lifecycle table allows the user now (each a form made from the action's input
schema, run through the action's service: signing.actions.CONTRACT_ACTIONS), signing a resident
found by the ID number read at the desk, and the follow-ups due with their record form.

Every list and detail reads through signing.selectors with the user's scope (out of scope: 404,
as for what does not exist) and is audited as the API's are.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from django.contrib import messages
from django.db import transaction
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from healthnet.errors import Conflict, DomainError
from healthnet.models import KeyPopulation
from healthnet.national_id import resident_national_id_masked
from healthnet.permissions import can_read_resident_clinical
from healthnet.populations import age_on, resident_key_populations
from healthnet.services import audit_record
from portal.htmx import PortalRequest
from portal.menu import page_view
from portal.pages import contract_forms
from portal.pages.figures import figure_audit, figure_filter
from portal.pages.lists import filters_from, found, page_of, query_without_page
from portal.schema_forms import SchemaForm
from signing import permissions, selectors
from signing.actions import CONTRACT_ACTIONS
from signing.api.schemas import ContractFilter, FollowUpFilter, RecordIn
from signing.lifecycle import ContractStatus
from signing.models import Contract, FollowUp, FollowUpStatus
from signing.services import followup_record as followup_record_service

CONTRACT_FILTERS = ("team", "status", "key_population", "expiring_within", "overdue_followups")
FOLLOWUP_FILTERS = ("state", "team", "within_days")
FOLLOWUP_STATES = {
    "due": gettext_lazy("待随访（含逾期）"),
    "overdue": gettext_lazy("已逾期"),
    "pending": gettext_lazy("全部未完成"),
    "done": gettext_lazy("已完成"),
}
RECORD_LABELS = {"outcome": gettext_lazy("随访结果"), "done_at": gettext_lazy("完成时间")}
RECORD_HINTS = {"done_at": gettext_lazy("不填则为现在")}


def _audit_list(request: PortalRequest, object_type: str, filters: dict[str, Any]) -> None:
    with transaction.atomic():
        audit_record(
            actor=request.user,
            action="list",
            object_type=object_type,
            details={k: str(v) for k, v in filters.items() if v not in (None, False)},
        )


def _teams_header(user: Any, team_code: str | None) -> dict[str, Any]:
    """The user's teams, with each one's 履约率, for the page header and the team filter."""
    teams = list(selectors.teams_worked_by(user))
    shown = [t for t in teams if not team_code or t.code == team_code]
    rates = selectors.fulfilment_by_team([t.pk for t in shown])
    return {"teams": teams, "team_rates": [(t, rates[t.pk]) for t in shown]}


def _populations(contract: Contract, today: dt.date) -> list[Any]:
    """The resident's key populations, labelled: for the clinical view only (the callers ask
    healthnet.permissions.can_read_resident_clinical)."""
    return [KeyPopulation(p).label for p in resident_key_populations(contract.resident, on=today)]


# --- my signed residents ------------------------------------------------------------------------


@page_view("team-contracts")
def team_contracts(request: PortalRequest) -> HttpResponse:
    filters, dropped = filters_from(ContractFilter, request.GET, CONTRACT_FILTERS)
    # The health tags, shown and filtered on, only for the clinical view (as the API answers).
    clinical = can_read_resident_clinical(request.user)
    if filters.key_population is not None and not clinical:
        filters.key_population = None
        dropped = [*dropped, "key_population"]
    figure, refused = figure_filter(request, "team-contracts")
    dropped = [*dropped, *refused]
    today = timezone.localdate()
    contracts = selectors.contracts_visible_to(
        request.user,
        team=filters.team,
        status=filters.status,
        key_population=filters.key_population,
        expiring_within_days=filters.expiring_within,
        overdue_followups=filters.overdue_followups,
        today=today,
        among=figure.records if figure else None,
    )
    page = page_of(request, contracts)
    overdue = selectors.overdue_followup_counts([c.pk for c in page], today=today)
    _audit_list(request, "contract", {**filters.dict(), **(figure_audit(figure) if figure else {})})
    rows = [
        {
            "contract": contract,
            "resident": contract.resident,
            "masked_id": resident_national_id_masked(contract.resident),
            "age": age_on(contract.resident.birth_date, today),
            "populations": _populations(contract, today) if clinical else None,
            "days_left": (contract.end_date - today).days,
            "overdue": overdue.get(contract.pk, 0),
        }
        for contract in page
    ]
    return render(
        request,
        "portal/teams/contracts.html",
        {
            **_teams_header(request.user, filters.team),
            "filters": filters,
            "dropped": dropped,
            "page": page,
            "rows": rows,
            "query": query_without_page(request),
            "statuses": ContractStatus.choices,
            "clinical": clinical,
            "populations": KeyPopulation.choices,
            "expiring_days": 30,
            "filtered": any(request.GET.get(name) for name in CONTRACT_FILTERS)
            or figure is not None,
            "figure": figure,
        },
    )


# --- one contract and its actions ---------------------------------------------------------------


def _contract(request: PortalRequest, contract_id: uuid.UUID) -> Contract:
    return found(selectors.contract_visible_to, request.user, contract_id)


def _action_links(request: PortalRequest, contract: Contract) -> list[dict[str, Any]]:
    actions = permissions.contract_actions_for(
        request.user, contract, member_team_ids=selectors.member_team_ids(request.user)
    )
    return [
        {
            "name": action,
            "label": contract_forms.ACTION_TITLES[action],
            "url": reverse("portal:team-contract-action", args=[contract.public_id, action]),
        }
        for action in actions
        if contract_forms.action_possible(request.user, contract, action)
    ]


@page_view("team-contracts")
def contract_detail(request: PortalRequest, contract_id: uuid.UUID) -> HttpResponse:
    contract = _contract(request, contract_id)
    contract = selectors.contract_detail(contract.public_id)  # with its follow-ups
    with transaction.atomic():
        audit_record(
            actor=request.user, action="read", object_type="contract", object_id=contract.public_id
        )
    today = timezone.localdate()
    member_of = selectors.member_team_ids(request.user)
    followups = list(contract.follow_ups.all())
    return render(
        request,
        "portal/teams/contract_detail.html",
        {
            "contract": contract,
            "resident": contract.resident,
            "masked_id": resident_national_id_masked(contract.resident),
            "age": age_on(contract.resident.birth_date, today),
            "populations": (
                _populations(contract, today) if can_read_resident_clinical(request.user) else None
            ),
            "actions": _action_links(request, contract),
            "followups": followups,
            "may_record": bool(followups)
            and permissions.can_record_followup(
                request.user, followups[0], member_team_ids=member_of
            ),
            "has_pending": any(f.status == FollowUpStatus.PENDING for f in followups),
            "fulfilment": selectors.contract_fulfilment(contract, as_of=today),
            "today": today,
        },
    )


@never_cache
@page_view("team-contracts")
@require_http_methods(["GET", "POST"])
def contract_action(request: PortalRequest, contract_id: uuid.UUID, action: str) -> HttpResponse:
    """A lifecycle action's form (GET) and its run (POST) through the action's service."""
    contract = _contract(request, contract_id)
    spec = CONTRACT_ACTIONS.get(action)
    if spec is None:
        raise Http404("no such action")
    detail = reverse("portal:team-contract", args=[contract.public_id])
    if action not in [link["name"] for link in _action_links(request, contract)]:
        messages.error(
            request,
            _("此签约当前不能%(action)s（状态：%(status)s）。")
            % {
                "action": contract_forms.ACTION_TITLES[action],
                "status": contract.get_status_display(),
            },
        )
        return redirect(detail)
    data = request.POST if request.method == "POST" else None
    form = contract_forms.action_form(request.user, contract, action, data=data)
    status = 200
    if form.is_valid():
        try:
            result = spec.service(
                actor=request.user, contract=contract, **form.validated.model_dump()
            )
        except Conflict as exc:
            if exc.code in contract_forms.STATE_CONFLICTS:  # someone moved it meanwhile
                messages.error(request, exc.message)
                return redirect(detail)
            form.add_domain_error(exc)
            status = 409
        except DomainError as exc:
            form.add_domain_error(exc)
            status = 422 if exc.code != "team_out_of_scope" else 403
        else:
            return contract_forms.done(request, action, result, fallback=contract)
    elif data is not None:
        status = 422
    return render(
        request,
        "portal/teams/contract_action.html",
        {
            "contract": contract,
            "resident": contract.resident,
            "masked_id": resident_national_id_masked(contract.resident),
            "action": action,
            "title": contract_forms.ACTION_TITLES[action],
            "form": form,
            "capacity": contract_forms.capacity_note(contract.team, action),
        },
        status=status,
    )


# --- signing at the desk ------------------------------------------------------------------------


@never_cache
@page_view("team-contracts")
@require_http_methods(["GET", "POST"])
def contract_sign_desk(request: PortalRequest) -> HttpResponse:
    """Sign a resident found by the ID number on their card: the number is the desk
    identification an offer to a resident without a tie needs (signing.services.contract_create),
    then consent (contract_sign). Nothing is read before the number is typed; the number travels
    only in POST bodies of pages not cached."""
    return contract_forms.sign_desk(request)


# --- follow-ups ---------------------------------------------------------------------------------


def _record_form(followup: FollowUp, data: Any = None) -> SchemaForm[RecordIn]:
    return SchemaForm(
        RecordIn,
        data=data,
        labels=RECORD_LABELS,
        hints=RECORD_HINTS,
        prefix=f"f-{followup.public_id}-",
    )


def _followup_row(followup: FollowUp, today: Any, *, may_record: bool, form: Any = None) -> dict:
    return {
        "followup": followup,
        "resident": followup.contract.resident,
        "overdue_days": (today - followup.due_date).days
        if followup.status == FollowUpStatus.PENDING and followup.due_date < today
        else 0,
        "may_record": may_record and followup.status == FollowUpStatus.PENDING,
        "form": form or _record_form(followup),
    }


@page_view("team-followups")
def team_followups(request: PortalRequest) -> HttpResponse:
    filters, dropped = filters_from(FollowUpFilter, request.GET, FOLLOWUP_FILTERS)
    figure, refused = figure_filter(request, "team-followups")
    dropped = [*dropped, *refused]
    today = timezone.localdate()
    followups = selectors.followups_visible_to(
        request.user,
        # The follow-ups behind a figure are of every state (done on time, late, pending).
        state=None if figure else filters.state,
        team=filters.team,
        within_days=filters.within_days,
        today=today,
        among=figure.records if figure else None,
    )
    page = page_of(request, followups)
    member_of = selectors.member_team_ids(request.user)
    _audit_list(
        request, "follow_up", {**filters.dict(), **(figure_audit(figure) if figure else {})}
    )
    rows = [
        _followup_row(
            f,
            today,
            may_record=permissions.can_record_followup(request.user, f, member_team_ids=member_of),
        )
        for f in page
    ]
    return render(
        request,
        "portal/teams/followups.html",
        {
            **_teams_header(request.user, filters.team),
            "filters": filters,
            "dropped": dropped,
            "states": FOLLOWUP_STATES,
            "page": page,
            "rows": rows,
            "query": query_without_page(request),
            "next": request.get_full_path(),
            "figure": figure,
        },
    )


def _safe_next(request: PortalRequest) -> str:
    target = request.POST.get("next", "")
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return reverse("portal:team-followups")


@page_view("team-followups")
@require_POST
def followup_record(request: PortalRequest, followup_id: uuid.UUID) -> HttpResponse:
    """Record a follow-up's outcome (signing.services.followup_record; its hook closes the loop
    of a downward referral). With htmx the row is swapped in place; without, back to the list."""
    followup = found(selectors.followup_visible_to, request.user, followup_id)
    form = _record_form(followup, request.POST)
    status = 422
    if form.is_valid():
        try:
            followup = followup_record_service(
                actor=request.user,
                followup=followup,
                outcome=form.validated.outcome,
                done_at=form.validated.done_at,
            )
        except DomainError as exc:
            form.add_domain_error(exc)
            status = {"follow_up_not_pending": 409, "contract_not_active": 409}.get(exc.code, 422)
            if exc.code == "team_out_of_scope":
                status = 403
        else:
            message = _("已记录 %(name)s 的随访：%(item)s。") % {
                "name": followup.contract.resident.name,
                "item": followup.item.name,
            }
            if request.htmx:
                row = _followup_row(followup, timezone.localdate(), may_record=False)
                return render(
                    request,
                    "portal/teams/partials/followup_row.html",
                    {"row": row, "message": message, "next": _safe_next(request)},
                )
            messages.success(request, message)
            return redirect(_safe_next(request))
    today = timezone.localdate()
    row = _followup_row(followup, today, may_record=True, form=form)
    if request.htmx:
        # htmx swaps only a 2xx answer: the row with its errors is this request's answer.
        return render(
            request,
            "portal/teams/partials/followup_row.html",
            {"row": row, "open": True, "next": _safe_next(request)},
        )
    return render(
        request,
        "portal/teams/followup_record.html",
        {"row": row, "next": _safe_next(request)},
        status=status,
    )
