"""The forms of the team pages' contract actions, each made from the action's input schema
(signing.actions.CONTRACT_ACTIONS: ConsentIn, RenewIn, SwitchIn, TerminateIn) with the choices
the page offers (packages the resident is eligible for, teams the user may switch into, the
termination reasons), and signing at the desk (portal/pages/teams.py calls these)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.contrib import messages
from django.db import transaction
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.functional import Promise
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from healthnet.errors import DomainError, InvalidInput, NotFound
from healthnet.models import KeyPopulation, Resident, User
from healthnet.national_id import resident_national_id_masked
from healthnet.permissions import can_lookup_resident
from healthnet.populations import age_on, resident_key_populations
from healthnet.selectors import resident_by_national_id
from healthnet.services import audit_record
from portal.htmx import PortalRequest
from portal.schema_forms import FormField, SchemaForm, input_schema
from signing import permissions, rules, selectors
from signing.actions import CONTRACT_ACTIONS
from signing.lifecycle import REFUSAL_CODES, Action
from signing.models import (
    Contract,
    ContractStatus,
    FamilyDoctorTeam,
    Signatory,
    SignatureMethod,
    TerminationReason,
)
from signing.services import SignResult, contract_create, contract_sign
from signing.terms import packages_offered

# By action name (a view's URL gives the name as text).
ACTION_TITLES: dict[str, Promise] = {
    Action.SIGN: gettext_lazy("签署"),
    Action.RENEW: gettext_lazy("续约"),
    Action.SWITCH: gettext_lazy("转签"),
    Action.TERMINATE: gettext_lazy("解约"),
}
# A 409 that means the contract is no longer in the state the form was made for.
STATE_CONFLICTS = frozenset({"transition_not_allowed", *REFUSAL_CODES.values()})

LABELS = {
    "signed_by": gettext_lazy("签署人"),
    "method": gettext_lazy("签署方式"),
    "guardian_name": gettext_lazy("监护人姓名"),
    "guardian_relationship": gettext_lazy("监护人与居民的关系"),
    "guardian_national_id": gettext_lazy("监护人身份证号码"),
    "resident_incapacitated": gettext_lazy("居民无民事行为能力（由签署人声明）"),
    "packages": gettext_lazy("服务包"),
    "team": gettext_lazy("转入团队"),
    "national_id": gettext_lazy("居民身份证号码（现场核验）"),
    "reason": gettext_lazy("解约原因"),
    "note": gettext_lazy("说明"),
}
HINTS = {
    "guardian_name": gettext_lazy(
        "监护人签署时必填：未成年人或无民事行为能力的居民须由监护人签署。"
    ),
    "packages": gettext_lazy("基础服务包始终包含；个性化服务包仅对相应重点人群提供。"),
    "national_id": gettext_lazy(
        "居民与转入团队的机构尚无登记、就诊、转诊或签约关系时，须现场核验身份证。"
    ),
}
AUTOCOMPLETE = {"guardian_national_id": "off", "national_id": "off", "guardian_name": "off"}


def _package_choices(resident: Resident, on: dt.date) -> list[tuple[str, str]]:
    return [(p.code, p.name) for p in packages_offered(resident, on=on)]


def _switch_teams(user: User, contract: Contract) -> list[FamilyDoctorTeam]:
    """The teams the user may move the resident to: those they act for with a switch, not the
    contract's own."""
    member_of = selectors.member_team_ids(user)
    return [
        team
        for team in selectors.teams_worked_by(user)
        if team.pk != contract.team_id
        and team.active
        and permissions.can_take_contract_action(
            user, team, Action.SWITCH, member_team_ids=member_of
        )
    ]


def action_possible(user: User, contract: Contract, action: str) -> bool:
    """An allowed action whose form can be filled: a switch needs a team to switch into."""
    return action != Action.SWITCH or bool(_switch_teams(user, contract))


def _successor_day(contract: Contract) -> dt.date:
    start = contract.end_date + dt.timedelta(days=1)
    return rules.eligibility_day(start=start, today=timezone.localdate())


def action_form(user: User, contract: Contract, action: str, *, data: Any = None) -> SchemaForm:
    spec = CONTRACT_ACTIONS[action]
    resident = contract.resident
    choices: dict[str, Any] = {}
    initial: dict[str, Any] = {}
    if action in (Action.SIGN, Action.RENEW, Action.SWITCH):
        initial.update(_consent_initial(resident))
    if action in (Action.RENEW, Action.SWITCH):
        choices["packages"] = _package_choices(resident, _successor_day(contract))
        offered = {code for code, _label in choices["packages"]}
        initial["packages"] = [p.code for p in contract.packages.all() if p.code in offered]
    if action == Action.SWITCH:
        choices["team"] = [(t.code, f"{t.name}（{t.code}）") for t in _switch_teams(user, contract)]
    if action == Action.TERMINATE:
        choices["reason"] = [("", _("请选择")), *TerminationReason.choices]
    return SchemaForm(
        input_schema(spec),
        data=data,
        initial=initial,
        labels=LABELS,
        choices=choices,
        hints=HINTS,
        autocomplete=AUTOCOMPLETE,
    )


def _consent_initial(resident: Resident) -> dict[str, Any]:
    if rules.needs_guardian(birth_date=resident.birth_date, on=timezone.localdate()):
        return {"signed_by": Signatory.GUARDIAN, "method": SignatureMethod.GUARDIAN}
    return {"signed_by": Signatory.RESIDENT, "method": SignatureMethod.IN_PERSON}


def capacity_note(team: FamilyDoctorTeam, action: str) -> dict[str, Any] | None:
    """The team's load before a signing that takes a place, and whether it warns or is full
    (signing.rules: the same thresholds the service applies)."""
    if action not in (Action.SIGN, Action.SWITCH):
        return None
    load = selectors.team_active_count(team.pk)
    return {
        "team": team,
        "load": load,
        "full": load >= team.capacity,
        "warning": rules.capacity_warning(load=load + 1, capacity=team.capacity),
    }


def done(request: PortalRequest, action: str, result: Any, *, fallback: Contract) -> HttpResponse:
    """After an action: say what happened (and a capacity warning), show the contract that
    follows (a renewal or switch makes a new one)."""
    contract = result.contract if isinstance(result, SignResult) else result
    contract = contract if isinstance(contract, Contract) else fallback
    messages.success(
        request,
        _("已%(action)s：%(name)s，%(team)s，%(start)s 至 %(end)s。")
        % {
            "action": ACTION_TITLES[action],
            "name": contract.resident.name,
            "team": contract.team.name,
            "start": contract.start_date,
            "end": contract.end_date,
        },
    )
    if isinstance(result, SignResult) and result.capacity_warning:
        messages.warning(
            request,
            _("容量预警：%(team)s 已签约 %(load)s 人，容量 %(capacity)s 人（≥95%%）。")
            % {
                "team": contract.team.name,
                "load": result.team_load,
                "capacity": result.team_capacity,
            },
        )
    return redirect("portal:team-contract", contract_id=contract.public_id)


# --- signing at the desk ------------------------------------------------------------------------


def _offer_teams(user: User) -> list[FamilyDoctorTeam]:
    member_of = selectors.member_team_ids(user)
    return [
        t
        for t in selectors.teams_worked_by(user)
        if t.active and permissions.can_offer_contract(user, t, member_team_ids=member_of)
    ]


def _lookup(request: PortalRequest, number: str) -> Resident:
    """The resident whose card the desk reads, audited like the API's lookup."""
    resident = resident_by_national_id(number, by=request.user)
    with transaction.atomic():
        audit_record(
            actor=request.user,
            action="read",
            object_type="resident",
            object_id=resident.public_id,
            details={"via": "national_id_lookup"},
        )
    return resident


def _current_contract(user: User, resident: Resident) -> dict[str, Any] | None:
    """The resident's contract holding a place, as the desk may know it: with the team when it
    is one of the user's, else only that one exists (what signing would answer: 409)."""
    current = selectors.active_contract_for(resident)
    if current is None:
        return None
    mine = permissions.can_view_contract(
        user, current, member_team_ids=selectors.member_team_ids(user)
    )
    return {"contract": current if mine else None}


def sign_desk(request: PortalRequest) -> HttpResponse:
    user = request.user
    teams = _offer_teams(user)
    context: dict[str, Any] = {"teams": teams, "lookup_error": "", "number": ""}
    if not can_lookup_resident(user):  # every staff role may; kept for the rule's sake
        context["lookup_error"] = _("您的角色不能按身份证号码查找居民。")
        return render(request, "portal/teams/sign_desk.html", context, status=403)
    if request.method != "POST":
        return render(request, "portal/teams/sign_desk.html", context)
    number = request.POST.get("national_id", "").strip()[:32]
    asked = request.POST.get("team") or (teams[0].code if len(teams) == 1 else "")
    team = next((t for t in teams if t.code == asked), None)
    context.update(number=number, team=team)
    if not teams:
        context["lookup_error"] = _("您不在任何可签约的团队中。")
        return render(request, "portal/teams/sign_desk.html", context, status=403)
    if team is None:
        context["lookup_error"] = _("请选择您可签约的团队。")
        return render(request, "portal/teams/sign_desk.html", context, status=422)
    try:
        resident = _lookup(request, number)
    except (InvalidInput, NotFound) as exc:
        context["lookup_error"] = exc.message
        return render(request, "portal/teams/sign_desk.html", context, status=422)
    today = timezone.localdate()
    offered = packages_offered(resident, on=today)
    packages = FormField(
        name="packages",
        label=LABELS["packages"],
        widget="checkboxes",
        choices=[(p.code, p.name) for p in offered],
        # the packages offered to everyone (the basic one) come ticked: they are always in
        value=request.POST.getlist("packages")
        if request.POST.get("step") == "sign"
        else [p.code for p in offered if p.kind in rules.OFFERED_TO_EVERYONE],
        hint=HINTS["packages"],
        id="field-packages",
    )
    consent = SchemaForm(
        input_schema(CONTRACT_ACTIONS[Action.SIGN]),
        data=request.POST if request.POST.get("step") == "sign" else None,
        initial=_consent_initial(resident),
        labels=LABELS,
        hints=HINTS,
        autocomplete=AUTOCOMPLETE,
    )
    context.update(
        resident=resident,
        masked_id=resident_national_id_masked(resident),
        age=age_on(resident.birth_date, today),
        populations=[KeyPopulation(p).label for p in resident_key_populations(resident, on=today)],
        current=_current_contract(request.user, resident),
        packages=packages,
        package_fields=[packages],
        form=consent,
        capacity=capacity_note(team, Action.SIGN),
        needs_guardian=rules.needs_guardian(birth_date=resident.birth_date, on=today),
    )
    if request.POST.get("step") != "sign":
        return render(request, "portal/teams/sign_desk.html", context)
    if not consent.is_valid():
        return render(request, "portal/teams/sign_desk.html", context, status=422)
    return _offer_and_sign(request, context, resident, team, number, packages, consent)


def _offer_and_sign(
    request: PortalRequest,
    context: dict[str, Any],
    resident: Resident,
    team: FamilyDoctorTeam,
    number: str,
    packages: FormField,
    consent: SchemaForm,
) -> HttpResponse:
    """Offer (the desk identification its tie) and sign, the API's two steps. A signing refused
    leaves the offer pending: its own sign page takes it from there."""
    try:
        offer = contract_create(
            actor=request.user,
            resident=resident,
            team=team,
            package_codes=packages.values,
            national_id=number,
        )
    except DomainError as exc:
        if exc.code == "pending_contract_exists":
            pending = (
                selectors.contracts_visible_to(
                    request.user, team=team.code, status=ContractStatus.PENDING_SIGNATURE
                )
                .filter(resident=resident)
                .first()
            )
            if pending is not None:
                messages.info(request, _("该居民已有待签署的签约，请在此完成签署。"))
                return redirect("portal:team-contract-action", pending.public_id, Action.SIGN)
        if exc.details.get("field") == "packages":
            packages.error = exc.message
        else:
            consent.add_domain_error(exc, field_of={"resident": "", "team": ""})
        status = (
            409 if exc.code in ("active_contract_exists", "contract_overlap", "team_full") else 422
        )
        return render(request, "portal/teams/sign_desk.html", context, status=status)
    try:
        result = contract_sign(actor=request.user, contract=offer, **consent.validated.model_dump())
    except DomainError as exc:
        messages.error(request, exc.message)
        return redirect("portal:team-contract-action", offer.public_id, Action.SIGN)
    return done(request, Action.SIGN, result, fallback=offer)
