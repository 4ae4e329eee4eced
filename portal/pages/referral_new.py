"""新建转诊 (portal issue 10 page 4): refer a resident from the user's institution.

1. Find the resident: by the ID number on their card (healthnet.selectors.resident_by_national_id,
   audited as the API's `/residents/lookup`), or by scanning their health code (the scan station's
   input: the code's text typed by a handheld scanner, checked by the scan service of
   `POST /api/v1/healthcodes/scan` for a consultation — verifier, revocation, replay, the
   ScanEvent and the audit read). Either way the resident must concern the institution
   (healthnet.selectors.resident_visible_to); anyone else answers as if not found.
2. Refer: direction, target department (referrals.selectors.referral_targets_suggested: alliance
   partners first — healthnet.selectors.alliance_memberships_current —, accepting referrals, with
   their free reserved slots), urgency, reason codes, summary. The form is read by the API's own
   input schema (referrals.api.ReferralIn) and goes to the API's create service
   (referrals.services.referral_create) with an Idempotency-Key made when the form is rendered:
   the same form posted twice makes one referral. A second open referral of the resident to the
   department is the service's duplicate refusal, shown as a warning linking the existing one.

The ID number travels only in POST bodies of pages that are never cached.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from typing import Any

from django.contrib import messages
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods
from pydantic import ValidationError

from healthcodes.models import ScanPurpose
from healthcodes.services import healthcode_scan
from healthnet import selectors as network
from healthnet.errors import Conflict, DomainError, Forbidden, InvalidInput, NotFound
from healthnet.models import Resident
from healthnet.national_id import resident_national_id_masked
from healthnet.permissions import can_lookup_resident
from healthnet.populations import age_on
from healthnet.services import audit_record
from portal.htmx import PortalRequest
from portal.menu import page_view
from portal.pages.scan_station import refusal_text
from referrals import selectors as referral_selectors
from referrals.api import ReferralIn
from referrals.models import ReferralDirection, ReferralUrgency
from referrals.services import referral_create
from signing.selectors import active_contract_for

SLOT_DAYS = 7  # free reserved slots are counted over the coming week
FIELD_LABELS = {
    "direction": gettext_lazy("转诊方向"),
    "to_department": gettext_lazy("接收机构与科室"),
    "from_department": gettext_lazy("转出科室"),
    "urgency": gettext_lazy("紧急程度"),
    "reason_code": gettext_lazy("转诊原因代码"),
    "criteria_codes": gettext_lazy("转诊指征代码"),
    "clinical_summary": gettext_lazy("病情摘要"),
    "resident_consent": gettext_lazy("居民同意"),
}
NOT_FOUND = gettext_lazy("未找到该居民，或该居民与本机构无关联（请先登记或就诊）。")
KEY_PATTERN = re.compile(r"^[0-9a-f-]{36}$")


@dataclass
class ReferralForm:
    """What the form holds (as typed), its errors by field, and the key of this render."""

    values: dict[str, Any]
    idempotency_key: str
    errors: dict[str, str] = field(default_factory=dict)
    non_field_errors: list[str] = field(default_factory=list)
    duplicate: str = ""  # the existing open referral's id (the duplicate warning)
    duplicate_url: str = ""

    @classmethod
    def blank(cls, direction: str) -> ReferralForm:
        return cls(
            values={"direction": direction, "urgency": ReferralUrgency.ROUTINE, "criteria": ""},
            idempotency_key=str(uuid.uuid4()),
        )

    @classmethod
    def posted(cls, data: Any) -> ReferralForm:
        key = data.get("idempotency_key", "")
        values = {
            "direction": data.get("direction", ""),
            "to_department": data.get("to_department", ""),
            "from_department": data.get("from_department", ""),
            "urgency": data.get("urgency", ""),
            "reason_code": data.get("reason_code", "").strip(),
            "criteria": data.get("criteria_codes", ""),
            "clinical_summary": data.get("clinical_summary", ""),
            "resident_consent": data.get("resident_consent") == "on",
        }
        # A key this page did not make is replaced; the one it made is kept across a correction.
        return cls(values=values, idempotency_key=key if KEY_PATTERN.match(key) else "")

    @property
    def criteria_codes(self) -> list[str]:
        return [c for c in re.split(r"[\s,，、;；]+", self.values.get("criteria", "")) if c]

    def add(self, name: str, message: str) -> None:
        if name in FIELD_LABELS and name not in self.errors:
            self.errors[name] = message
        elif name not in FIELD_LABELS:
            self.non_field_errors.append(message)

    @property
    def invalid(self) -> bool:
        return bool(self.errors or self.non_field_errors)


# --- step 1: the resident -------------------------------------------------------------------


def _visible(request: PortalRequest, resident: Resident) -> Resident:
    """The resident if they concern the user's institution; NotFound otherwise (the same answer
    as a number on no record)."""
    return network.resident_visible_to(request.user, resident.public_id)


def _find_by_id(request: PortalRequest) -> Resident:
    """The ID-number lookup of the API (`POST /residents/lookup`): its permission, its audit."""
    if not can_lookup_resident(request.user):
        raise Forbidden("forbidden", str(_("您的角色不能按身份证号码查找居民。")))
    number = request.POST.get("national_id", "").strip()[:32]
    if not number:
        raise InvalidInput("national_id_missing", str(_("请输入身份证号码。")))
    resident = network.resident_by_national_id(number, by=request.user)
    audit_record(
        actor=request.user,
        action="read",
        object_type="resident",
        object_id=resident.public_id,
        details={"via": "national_id_lookup"},
    )
    return _visible(request, resident)


def _find_by_code(request: PortalRequest) -> Resident:
    """The scan station's check of the code, for the consultation at hand."""
    code = request.POST.get("code", "").strip()[:4096]
    if not code:
        raise InvalidInput("code_missing", "code_missing")
    try:
        outcome = healthcode_scan(actor=request.user, code=code, purpose=ScanPurpose.CONSULTATION)
    except DomainError as refusal:
        raise InvalidInput(refusal.code, refusal_text(refusal)) from None
    return _visible(request, outcome.resident)


def _resident_of_form(request: PortalRequest) -> Resident:
    """The resident the form is for (its hidden id): out of scope or malformed, the 404."""
    try:
        public_id = uuid.UUID(request.POST.get("resident", ""))
        return network.resident_visible_to(request.user, public_id)
    except (NotFound, ValueError):
        raise Http404("resident_not_found") from None


# --- step 2: where to ---------------------------------------------------------------------------


def _targets(request: PortalRequest, resident: Resident, direction: str) -> list[dict[str, Any]]:
    """The suggested departments (alliance partners first), with their free reserved slots."""
    suggestions = referral_selectors.referral_targets_suggested(
        request.user, direction=direction or None, resident=resident
    )
    free = referral_selectors.reserved_slots_free(
        [s.department.pk for s in suggestions], start=timezone.localdate(), days=SLOT_DAYS
    )
    return [
        {
            "department": s.department,
            "institution": s.department.institution,
            "direction": s.direction,
            "alliances": s.alliances,
            "alliance_partner": s.alliance_partner,
            "team_institution": s.team_institution,
            "free_slots": free.get(s.department.pk, 0),
        }
        for s in suggestions
    ]


def _directions(request: PortalRequest, resident: Resident) -> list[tuple[str, Any]]:
    """The directions the institution can refer in (a primary clinic only up, a tertiary
    hospital only down)."""
    found = {
        s.direction
        for s in referral_selectors.referral_targets_suggested(request.user, resident=resident)
    }
    return [(value, label) for value, label in ReferralDirection.choices if value in found]


def _context(
    request: PortalRequest, resident: Resident, form: ReferralForm, directions: list
) -> dict[str, Any]:
    today = timezone.localdate()
    contract = active_contract_for(resident)
    return {
        "resident": resident,
        "masked_id": resident_national_id_masked(resident),
        "age": age_on(resident.birth_date, today),
        "team": contract.team if contract is not None else None,
        "form": form,
        "labels": FIELD_LABELS,
        "directions": directions,
        "targets": _targets(request, resident, form.values.get("direction", "")),
        "urgencies": ReferralUrgency.choices,
        "own_departments": list(network.departments_of_institution(request.user.institution_id))
        if request.user.institution_id is not None
        else [],
        "slot_days": SLOT_DAYS,
    }


def _detail_url(public_id: uuid.UUID) -> str:
    return reverse("portal:referral-detail", args=[public_id])


def _check(form: ReferralForm, resident: Resident, targets: list[dict[str, Any]]) -> Any:
    """The form read by the API's schema; the department one of the suggestions, in the
    direction chosen. Returns (payload, department) or None with the errors in the form."""
    values = form.values
    if values["direction"] not in ReferralDirection.values:
        form.add("direction", _("请选择转诊方向。"))
    try:
        payload = ReferralIn.model_validate(
            {
                "resident": resident.public_id,
                "to_department": values["to_department"] or None,
                "from_department": values["from_department"] or None,
                "urgency": values["urgency"],
                "reason_code": values["reason_code"],
                "criteria_codes": form.criteria_codes,
                "clinical_summary": values["clinical_summary"],
                "resident_consent": values["resident_consent"],
                "submit": True,
            }
        )
    except ValidationError as exc:
        for problem in exc.errors():
            name = str(problem["loc"][0]) if problem["loc"] else ""
            required = problem["type"] in ("missing", "string_too_short", "uuid_type", "none")
            if name == "to_department":
                form.add(name, _("请选择接收机构与科室。"))
            elif required or (name == "reason_code" and not values["reason_code"]):
                form.add(name, _("此项必填。"))
            else:
                form.add(name, _("格式不正确。"))
        return None
    chosen = next(
        (t for t in targets if str(t["department"].public_id) == str(payload.to_department)),
        None,
    )
    if chosen is None:
        form.add("to_department", _("请从建议的去向中选择接收科室。"))
        return None
    if form.invalid:
        return None
    return payload, chosen["department"]


def _create(request: PortalRequest, resident: Resident, form: ReferralForm) -> HttpResponse | None:
    """Create through the API's service; None with the refusal in the form."""
    targets = _targets(request, resident, form.values["direction"])
    checked = _check(form, resident, targets)
    if checked is None:
        return None
    payload, department = checked
    from_department = None
    if payload.from_department:
        try:
            from_department = network.department_by_public_id(payload.from_department)
        except NotFound:
            form.add("from_department", _("转出科室须属于您的机构。"))
            return None
    try:
        referral, created = referral_create(
            actor=request.user,
            resident=resident,
            to_department=department,
            from_department=from_department,
            urgency=payload.urgency,
            reason_code=payload.reason_code,
            criteria_codes=payload.criteria_codes,
            clinical_summary=payload.clinical_summary,
            resident_consent=payload.resident_consent,
            submit=True,
            idempotency_key=form.idempotency_key,
        )
    except Conflict as exc:
        if exc.code == "referral_duplicate":
            form.duplicate = str(exc.details.get("existing_id", ""))
            form.duplicate_url = _detail_url(uuid.UUID(form.duplicate)) if form.duplicate else ""
        form.non_field_errors.append(exc.message)
        return None
    except DomainError as exc:
        name = str(exc.details.get("field") or "")
        form.add(name, exc.message)
        return None
    if created:
        messages.success(
            request,
            _("已提交转诊：%(name)s → %(institution)s %(department)s。")
            % {
                "name": resident.name,
                "institution": department.institution.name,
                "department": department.name,
            },
        )
    else:
        messages.info(request, _("此转诊已提交过，未重复创建。"))
    return redirect(_detail_url(referral.public_id))


def _default_direction(directions: list[tuple[str, Any]]) -> str:
    return directions[0][0] if len(directions) == 1 else ReferralDirection.UP


@never_cache
@page_view("referral-new")
@require_http_methods(["GET", "POST"])
def referral_new(request: PortalRequest) -> HttpResponse:
    step = request.POST.get("step", "") if request.method == "POST" else ""
    if step in ("find_id", "find_code"):
        try:
            resident = (_find_by_id if step == "find_id" else _find_by_code)(request)
        except NotFound:
            return _find_page(request, step, str(NOT_FOUND), status=422)
        except Forbidden as exc:
            return _find_page(request, step, exc.message, status=403)
        except DomainError as exc:
            message = refusal_text(exc) if step == "find_code" else exc.message
            return _find_page(request, step, message, status=422)
        directions = _directions(request, resident)
        form = ReferralForm.blank(_default_direction(directions))
        return render(
            request,
            "portal/referral_new/form.html",
            _context(request, resident, form, directions),
        )
    if step not in ("targets", "create"):
        return _find_page(request, "", "")
    resident = _resident_of_form(request)
    directions = _directions(request, resident)
    form = ReferralForm.posted(request.POST)
    if step == "targets":  # the direction changed: its targets (htmx) or the whole form
        form.idempotency_key = form.idempotency_key or str(uuid.uuid4())
        context = _context(request, resident, form, directions)
        template = "portal/referral_new/partials/targets.html" if request.htmx else None
        return render(request, template or "portal/referral_new/form.html", context)
    if not form.idempotency_key:
        form.idempotency_key = str(uuid.uuid4())
    response = _create(request, resident, form)
    if response is not None:
        return response
    status = 409 if form.duplicate else 422
    return render(
        request,
        "portal/referral_new/form.html",
        _context(request, resident, form, directions),
        status=status,
    )


def _find_page(request: PortalRequest, step: str, error: str, *, status: int = 200) -> HttpResponse:
    return render(
        request,
        "portal/referral_new/find.html",
        {"step": step, "error": error},
        status=status,
    )
