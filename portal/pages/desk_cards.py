"""健康卡办理 at the registration desk (issue 11): find the resident by their ID card, print their
card (a static code on a CR80 card, PNG or PDF), revoke a lost card or phone, and register or
revoke who cares for them (亲属码).

The same services as the API (healthcodes.services, healthnet.services): the same scope (desk
staff of an institution the resident concerns; anyone else: the 404 of no resident) and audit.
The ID number is sent in a POST body only, never in a URL.
"""

from __future__ import annotations

import uuid

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from healthcodes import selectors as healthcode_selectors
from healthcodes import services as healthcodes
from healthcodes.views import printed_card_response
from healthnet import selectors, services
from healthnet.errors import DomainError, NotFound
from healthnet.models import GuardianRelationship, Resident
from healthnet.national_id import resident_national_id_masked
from portal.htmx import PortalRequest
from portal.menu import page_view
from portal.pages.errors import domain_errors_as_http


def _resident_at_desk(request: PortalRequest, resident_id: uuid.UUID) -> Resident:
    """The resident if they concern the desk's institution; else the 404 of no resident."""
    return selectors.resident_visible_to(request.user, resident_id)


@page_view("desk-cards")
def desk_cards(request: PortalRequest) -> HttpResponse:
    """Find the resident by the full ID number (the resident is at the desk with their card)."""
    error = ""
    if request.method == "POST":
        try:
            resident = selectors.resident_by_national_id(
                request.POST.get("national_id", "")[:32], by=request.user
            )
            services.audit_record(
                actor=request.user,
                action="read",
                object_type="resident",
                object_id=resident.public_id,
                details={"via": "desk_cards_lookup"},
            )
            selectors.resident_visible_to(request.user, resident.public_id)
            return redirect("portal:desk-card", resident_id=resident.public_id)
        except NotFound:
            error = _("未找到该居民，或该居民与本机构无关联（请先登记或就诊）。")
        except DomainError as refusal:
            error = refusal.message
    return render(request, "portal/desk/cards.html", {"error": error})


@page_view("desk-cards")
@domain_errors_as_http
def desk_card(request: PortalRequest, resident_id: uuid.UUID) -> HttpResponse:
    resident = _resident_at_desk(request, resident_id)
    return render(
        request,
        "portal/desk/card.html",
        {
            "resident": resident,
            "national_id_masked": resident_national_id_masked(resident),
            "card": healthcode_selectors.healthcard_current(resident=resident),
            "guardianships": list(selectors.guardianships_of_ward(resident)),
            "relationships": GuardianRelationship.choices,
        },
    )


@require_POST
@page_view("desk-cards")
@domain_errors_as_http
def desk_card_print(request: PortalRequest, resident_id: uuid.UUID) -> HttpResponse:
    """The printed card as a download (PNG at 300 dpi, or PDF): a new static code, audited."""
    resident = _resident_at_desk(request, resident_id)
    printed = healthcodes.healthcard_print(
        actor=request.user, resident=resident, file_format=request.POST.get("format", "png")
    )
    return printed_card_response(printed)


@require_POST
@page_view("desk-cards")
@domain_errors_as_http
def desk_card_revoke(request: PortalRequest, resident_id: uuid.UUID) -> HttpResponse:
    """挂失 at the desk: the old card's codes are refused at once (phone and printed), a new card
    is issued, and the resident's login is signed out on every device."""
    resident = _resident_at_desk(request, resident_id)
    try:
        healthcodes.healthcard_revoke(
            actor=request.user, resident=resident, reason=request.POST.get("reason", "")
        )
        messages.success(request, _("旧卡已注销，新卡已生效。如需纸质卡，请重新打印。"))
    except DomainError as refusal:
        if isinstance(refusal, NotFound):
            raise
        messages.error(request, refusal.message)
    return redirect("portal:desk-card", resident_id=resident.public_id)


@require_POST
@page_view("desk-cards")
@domain_errors_as_http
def desk_guardian_register(request: PortalRequest, resident_id: uuid.UUID) -> HttpResponse:
    """Register the person at the desk (found by their own ID card) as caring for the resident."""
    ward = _resident_at_desk(request, resident_id)
    try:
        guardian = selectors.resident_by_national_id(
            request.POST.get("guardian_national_id", "")[:32], by=request.user
        )
    except NotFound:
        messages.error(request, _("未找到照护人的居民档案：请先为其登记。"))
        return redirect("portal:desk-card", resident_id=ward.public_id)
    except DomainError as refusal:
        messages.error(request, refusal.message)
        return redirect("portal:desk-card", resident_id=ward.public_id)
    try:
        services.guardianship_register(
            actor=request.user,
            guardian=guardian,
            ward=ward,
            relationship=request.POST.get("relationship", ""),
        )
        messages.success(request, _("已登记照护人：其手机可出示该居民的亲属码。"))
    except DomainError as refusal:
        if isinstance(refusal, NotFound):
            raise
        messages.error(request, refusal.message)
    return redirect("portal:desk-card", resident_id=ward.public_id)


@require_POST
@page_view("desk-cards")
@domain_errors_as_http
def desk_guardian_revoke(
    request: PortalRequest, resident_id: uuid.UUID, guardianship_id: uuid.UUID
) -> HttpResponse:
    ward = _resident_at_desk(request, resident_id)
    guardianship = selectors.guardianship_by_public_id(guardianship_id)
    if guardianship.ward_id != ward.pk:
        raise selectors.guardianship_not_found()
    try:
        services.guardianship_revoke(
            actor=request.user, guardianship=guardianship, reason=request.POST.get("reason", "")
        )
        messages.success(request, _("已撤销照护关系。"))
    except DomainError as refusal:
        if isinstance(refusal, NotFound):
            raise
        messages.error(request, refusal.message)
    return redirect("portal:desk-card", resident_id=ward.public_id)
