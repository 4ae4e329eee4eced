"""扫码台 (portal issue 10 page 5): a clinic desk's scan station.

A handheld scanner types the QR code's text into the always-focused field and ends it with Enter
(a keyboard to the browser); the camera mode (portal/static/portal/js/scan-station.js, the
vendored jsQR) decodes in the browser and submits the same form. Either way the text goes to the
scan service of `POST /api/v1/healthcodes/scan` (healthcodes.services.healthcode_scan: verifier,
revocation, replay, purpose policy, the ScanEvent, the audit read, referrals marked arrived), so
the station refuses and accepts exactly what the API does.

The answer is a result card (the resident's summary with the ID masked, their team, today's
appointments, the referrals just marked arrived — or the refusal's reason in Chinese) and the
day's scan log of this user at this institution. Without JavaScript it is a plain form POST
answered with the whole page; with htmx only the result card and the log are swapped.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.http import HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from healthcodes import selectors as healthcode_selectors
from healthcodes.models import ScanPurpose
from healthcodes.services import ScanOutcome, healthcode_scan
from healthcodes.verifier import Reason
from healthnet.errors import Conflict, DomainError, Forbidden, InvalidInput, RateLimited
from healthnet.models import KeyPopulation
from healthnet.names import name_masked
from portal.htmx import PortalRequest
from portal.menu import page_view

LOG_SIZE = 50  # the day's last scans shown under the station
CODE_MAX_LENGTH = 4096  # the API's bound (healthcodes.api.ScanIn): longer is cut, then refused

# The scan service's refusal codes (healthcodes.services.scan), said in the portal's language.
REFUSALS: dict[str, Any] = {
    Reason.TOO_LONG: _("健康码过长，不是有效的健康码。"),
    Reason.BAD_PREFIX: _("这不是健康码，请扫描居民的健康码。"),
    Reason.BAD_BASE45: _("健康码内容无法识别，请重新扫描。"),
    Reason.BAD_CBOR: _("健康码内容无法识别，请重新扫描。"),
    Reason.BAD_ALG: _("健康码签名无效，不予通过。"),
    Reason.MISSING_KID: _("健康码签名无效，不予通过。"),
    Reason.UNKNOWN_KID: _("健康码签名密钥未知或已过期，请居民刷新健康码。"),
    Reason.KEY_COMPROMISED: _("健康码签名密钥已作废，请居民刷新健康码。"),
    Reason.BAD_SIGNATURE: _("健康码签名无效，不予通过。"),
    Reason.BAD_CLAIMS: _("健康码内容无效，不予通过。"),
    Reason.NOT_YET_VALID: _("健康码时间无效，请居民核对手机时间。"),
    Reason.EXPIRED: _("健康码已过期，请居民刷新后重扫。"),
    Reason.LIFETIME_TOO_LONG: _("健康码有效期无效，不予通过。"),
    Reason.KEY_NOT_VALID: _("健康码签发时间不在密钥有效期内，不予通过。"),
    "revoked": _("该健康卡已注销，请居民使用新的健康码。"),
    "unknown_card": _("未找到该健康码对应的健康卡。"),
    "replayed": _("该动态健康码已用于此用途，请居民刷新后重扫。"),
    "id_check_required": _("纸质健康码取药须核验身份证件：核验后勾选“已核验身份证件”再扫。"),
    "rate_limited": _("扫码过于频繁，请稍后再试。"),
    "purpose_unknown": _("请选择扫码用途。"),
    "code_missing": _("未读到健康码，请重新扫描。"),
}


def refusal_text(error: DomainError) -> str:
    """A refusal of the scan service, in the portal's language (its own message if unknown)."""
    known = REFUSALS.get(error.code)
    return str(known) if known is not None else error.message


def _status_of(error: DomainError) -> int:
    if isinstance(error, RateLimited):
        return 429
    if isinstance(error, Forbidden):
        return 403
    if isinstance(error, Conflict):
        return 409
    return 422


def _today_start() -> dt.datetime:
    today = timezone.localdate()
    return dt.datetime.combine(today, dt.time.min, tzinfo=timezone.get_current_timezone())


def scan_log(request: PortalRequest) -> list[dict[str, Any]]:
    """Today's scans of this user at this institution, newest first (one query: the selector
    joins what a row shows)."""
    if request.user.institution_id is None:  # the scan page is institution staff's only
        return []
    events = healthcode_selectors.scan_events_for_institution(
        institution_id=request.user.institution_id
    ).filter(scanned_by=request.user, at__gte=_today_start())[:LOG_SIZE]
    return [
        {
            "event": event,
            "resident": name_masked(event.resident.name) if event.resident else "",
            "reason": refusal_text(DomainError(event.reason)) if event.reason else "",
        }
        for event in events
    ]


def _result(outcome: ScanOutcome) -> dict[str, Any]:
    summary = outcome.summary
    return {
        "accepted": True,
        "summary": summary,
        "populations": [KeyPopulation(p).label for p in summary.key_populations],
        "purpose": outcome.event.get_purpose_display(),
        "code_type": outcome.code_type,
        "arrived": outcome.referrals_arrived,
        "encounter": outcome.encounter,
    }


@never_cache
@page_view("scan-station")
@require_http_methods(["GET", "POST"])
def scan_station(request: PortalRequest) -> HttpResponse:
    purpose = request.POST.get("purpose") or request.GET.get("purpose") or ScanPurpose.REGISTRATION
    if purpose not in ScanPurpose.values:
        purpose = ScanPurpose.REGISTRATION
    context: dict[str, Any] = {"purposes": ScanPurpose.choices, "purpose": purpose, "result": None}
    status = 200
    if request.method == "POST":
        code = request.POST.get("code", "").strip()[:CODE_MAX_LENGTH]
        try:
            if not code:
                raise InvalidInput("code_missing", "code_missing", field="code")
            if request.POST.get("purpose") not in ScanPurpose.values:
                raise InvalidInput("purpose_unknown", "purpose_unknown", field="purpose")
            outcome = healthcode_scan(
                actor=request.user,
                code=code,
                purpose=purpose,
                id_checked=request.POST.get("id_checked") == "on",
            )
        except DomainError as refusal:
            context["result"] = {"accepted": False, "reason": refusal_text(refusal)}
            status = _status_of(refusal)
        else:
            context["result"] = _result(outcome)
    context["log"] = scan_log(request)
    if request.htmx:
        # htmx swaps only a 2xx answer: a refusal is this request's result card all the same.
        return render(request, "portal/scan/partials/output.html", context)
    return render(request, "portal/scan/station.html", context, status=status)
