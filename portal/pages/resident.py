"""The resident's phone (issue 11): 我的健康码 with its live code, 亲属码 (the codes of those the
resident cares for), reporting a lost phone, and the elder-friendly display (适老化).

Phone first (`layout-phone`, 360×640 and up), high contrast, and usable without JavaScript (the
code page then reloads itself every refresh). With JavaScript the code region polls itself
(htmx) exactly when its code is due for refresh, counts down, shows a clear "expired" state when
the phone is offline, and keeps the screen awake (portal/static/portal/js/resident.js).
"""

from __future__ import annotations

import datetime as dt
import uuid

from django.contrib import messages
from django.contrib.auth import update_session_auth_hash
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.gzip import gzip_page
from django.views.decorators.http import require_POST

from healthcodes import services as healthcodes
from healthnet.models import Resident
from healthnet.names import name_masked
from healthnet.national_id import resident_national_id_masked
from healthnet.populations import age_on
from healthnet.selectors import resident_of_login, wards_of_guardian
from portal.htmx import PortalRequest
from portal.menu import page_view
from portal.pages.errors import domain_errors_as_http

DISPLAY_COOKIE = "hn_display"
ELDER = "elder"
DISPLAY_COOKIE_AGE = 365 * 86_400


def elder_mode(request: HttpRequest) -> bool:
    """The large-text, high-contrast display (适老化), remembered on this phone by a cookie."""
    return request.COOKIES.get(DISPLAY_COOKIE) == ELDER


def resident_context(request: HttpRequest, **context: object) -> dict[str, object]:
    """What every resident page's template needs (portal/resident/base.html)."""
    return {"elder_mode": elder_mode(request), **context}


# --- the live code -------------------------------------------------------------------------


def check_line(resident: Resident, today: dt.date) -> str:
    """What a desk checks the holder against, with no photo: sex, age, the masked ID number."""
    return _("%(sex)s · %(age)s岁 · 身份证 %(id)s") % {
        "sex": resident.get_sex_display(),
        "age": age_on(resident.birth_date, today),
        "id": resident_national_id_masked(resident),
    }


def _live_code_context(
    request: PortalRequest,
    *,
    issued: healthcodes.IssuedCode,
    refresh_after: int,
    holder: Resident,
    live_url: str,
    page_url: str,
) -> dict[str, object]:
    now = timezone.now()
    return resident_context(
        request,
        svg=healthcodes.healthcode_svg(issued, now=now),  # rendered once per code (cached)
        refresh_after=refresh_after,
        expires_in=max(0, int((issued.expires_at - now).total_seconds())),
        updated_at=timezone.localtime(now).replace(microsecond=0),
        holder_masked=name_masked(holder.name),
        check_line=check_line(holder, timezone.localdate(now)),
        live_url=live_url,
        page_url=page_url,
    )


def _my_code_context(request: PortalRequest) -> dict[str, object]:
    issued, refresh_after = healthcodes.healthcode_current_for_resident(actor=request.user)
    return _live_code_context(
        request,
        issued=issued,
        refresh_after=refresh_after,
        holder=resident_of_login(request.user),
        live_url=reverse("portal:my-code-live"),
        page_url=reverse("portal:my-code"),
    )


@page_view("my-code")
def my_code(request: PortalRequest) -> HttpResponse:
    return render(request, "portal/resident/my_code.html", _my_code_context(request))


@page_view("my-code")
@gzip_page  # ~5 kB → ~2 kB a refresh; the region holds no secret an attacker could reflect into
def my_code_live(request: PortalRequest) -> HttpResponse:
    """The code region alone, for the page to poll: a few kilobytes (the SVG is cached)."""
    return render(request, "portal/resident/partials/live_code.html", _my_code_context(request))


# --- lost phone ----------------------------------------------------------------------------


@page_view("my-code")
def my_card_revoke(request: PortalRequest) -> HttpResponse:
    """挂失: a confirmation page (GET), then the card is revoked and a new one issued (POST).
    Every code of the old card is refused at once, and this login is signed out everywhere
    else (the lost phone), this session excepted."""
    if request.method != "POST":
        return render(request, "portal/resident/card_revoke.html", resident_context(request))
    healthcodes.healthcard_revoke(
        actor=request.user,
        resident=resident_of_login(request.user),
        reason=_("手机丢失，本人挂失"),
    )
    request.user.refresh_from_db(fields=["session_generation"])
    update_session_auth_hash(request, request.user)
    messages.success(
        request,
        _("已挂失：旧健康码立即失效，已换发新卡，其他设备上的登录已退出。"),
    )
    return redirect("portal:my-code")


# --- family codes (亲属码) -----------------------------------------------------------------


@page_view("my-family")
def my_family(request: PortalRequest) -> HttpResponse:
    wards = [
        {
            "id": guardianship.ward.public_id,
            "name": name_masked(guardianship.ward.name),
            "relationship": guardianship.get_relationship_display(),
        }
        for guardianship in wards_of_guardian(resident_of_login(request.user))
    ]
    return render(request, "portal/resident/my_family.html", resident_context(request, wards=wards))


def _family_code_context(request: PortalRequest, ward_id: uuid.UUID) -> dict[str, object]:
    ward = healthcodes.healthcode_ward_for(actor=request.user, ward_id=ward_id)
    issued, refresh_after = healthcodes.healthcode_current_for_ward(actor=request.user, ward=ward)
    return _live_code_context(
        request,
        issued=issued,
        refresh_after=refresh_after,
        holder=ward,
        live_url=reverse("portal:family-code-live", args=[ward_id]),
        page_url=reverse("portal:family-code", args=[ward_id]),
    )


@page_view("my-family")
@domain_errors_as_http
def family_code(request: PortalRequest, ward_id: uuid.UUID) -> HttpResponse:
    """A ward's live code on the guardian's phone; anyone else's id: 404."""
    return render(
        request, "portal/resident/family_code.html", _family_code_context(request, ward_id)
    )


@page_view("my-family")
@gzip_page
@domain_errors_as_http
def family_code_live(request: PortalRequest, ward_id: uuid.UUID) -> HttpResponse:
    return render(
        request, "portal/resident/partials/live_code.html", _family_code_context(request, ward_id)
    )


# --- the elder-friendly display ------------------------------------------------------------


@require_POST
@page_view("my-code")
def display_mode(request: PortalRequest) -> HttpResponse:
    """Switch the large-text, high-contrast display on or off; remembered on this phone."""
    target = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        target = reverse("portal:my-code")
    response = redirect(target)
    if request.POST.get("mode") == ELDER:
        response.set_cookie(
            DISPLAY_COOKIE, ELDER, max_age=DISPLAY_COOKIE_AGE, samesite="Lax", httponly=True
        )
    else:
        response.delete_cookie(DISPLAY_COOKIE, samesite="Lax")
    return response
