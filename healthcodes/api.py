"""API of the health-code app (mounted at /api/v1/): scan, the resident's own code, cards.

The published key set is a plain Django view (healthcodes.views), not part of this API: it needs
no authentication and is cached by proxies.
"""

import base64
import datetime as dt
import uuid
from dataclasses import dataclass

from django.contrib.auth import update_session_auth_hash
from ninja import Field, Query, Router, Schema
from ninja.pagination import paginate

from config.openapi import errors
from config.pagination import PageNumberPagination
from healthcodes import permissions, selectors, services
from healthcodes.models import ScanPurpose, ScanResult
from healthcodes.rendering import render_png
from healthcodes.views import printed_card_response
from healthnet.errors import Forbidden
from healthnet.names import name_masked
from healthnet.selectors import resident_by_public_id, wards_of_guardian

router = Router(tags=["healthcodes"])


# --- scan --------------------------------------------------------------------------------------


class ScanIn(Schema):
    # Longer than any real code (≤ 512 characters), so an overlong one reaches the verifier and
    # is refused with its reason (too_long); the bound only caps what the server reads.
    code: str = Field(..., min_length=1, max_length=4096, description="the QR code's text")
    purpose: ScanPurpose
    id_checked: bool = Field(
        False,
        description="the resident's ID document was checked (required: static code, dispensing)",
    )


class ContractSummaryOut(Schema):
    id: uuid.UUID | None = Field(..., alias="public_id")
    status: str | None
    start_date: dt.date | None
    end_date: dt.date | None
    team: str | None = Field(..., alias="team.name")
    team_institution: str | None = Field(..., alias="team.institution.name")


class ReferralSummaryOut(Schema):
    id: uuid.UUID | None = Field(..., alias="public_id")
    direction: str | None
    status: str | None
    urgency: str | None
    from_institution: str | None = Field(..., alias="from_institution.name")
    to_institution: str | None = Field(..., alias="to_institution.name")
    to_department: str | None = Field(..., alias="to_department.name")
    appointment_date: dt.date | None


class ResidentSummaryOut(Schema):
    """Reads healthcodes.selectors.ScanSummary."""

    resident_id: uuid.UUID
    name: str
    sex: str
    age: int
    national_id_masked: str
    key_populations: list[str] = Field(
        ..., description="empty for a role that reads the identity view only (docs/security.md)"
    )
    contract: ContractSummaryOut | None
    referrals: list[ReferralSummaryOut]
    appointments_today: list[ReferralSummaryOut]


class ScanOut(Schema):
    """Reads healthcodes.services.ScanOutcome."""

    scan_id: uuid.UUID = Field(..., alias="event.public_id")
    result: str = Field(..., alias="event.result")
    purpose: ScanPurpose = Field(..., alias="event.purpose")
    code_type: str
    code_expires_at: dt.datetime = Field(..., alias="expires_at")
    resident: ResidentSummaryOut = Field(..., alias="summary")
    encounter_id: uuid.UUID | None
    referrals_arrived: list[uuid.UUID]

    @staticmethod
    def resolve_encounter_id(obj) -> uuid.UUID | None:
        return obj.encounter.public_id if obj.encounter else None

    @staticmethod
    def resolve_referrals_arrived(obj) -> list[uuid.UUID]:
        return [referral.public_id for referral in obj.referrals_arrived]


@router.post("/healthcodes/scan", response={200: ScanOut, **errors(409, 429)})
def healthcode_scan(request, payload: ScanIn):
    """Scan a resident's QR code at the caller's institution. Refusals answer 4xx with the reason
    as `code`: 422 for an invalid, expired or revoked code, 409 `replayed`, 403
    `id_check_required`, 429 `rate_limited`. Send `X-Device-Id` to be rate limited per device."""
    return services.healthcode_scan(
        actor=request.user,
        code=payload.code,
        purpose=payload.purpose,
        id_checked=payload.id_checked,
        device_id=request.headers.get("X-Device-Id", ""),
    )


class ScanEventOut(Schema):
    id: uuid.UUID = Field(..., alias="public_id")
    at: dt.datetime
    purpose: ScanPurpose
    result: ScanResult
    reason: str
    code_type: str
    id_checked: bool
    device_id: str
    scanned_by: str | None
    resident_id: uuid.UUID | None
    presented_by_id: uuid.UUID | None = Field(
        None, description="a family code (亲属码): the guardian whose phone showed it"
    )
    encounter_id: uuid.UUID | None

    @staticmethod
    def resolve_presented_by_id(obj) -> uuid.UUID | None:
        return obj.presented_by.public_id if obj.presented_by_id else None

    @staticmethod
    def resolve_scanned_by(obj) -> str | None:
        return obj.scanned_by.username if obj.scanned_by else None

    @staticmethod
    def resolve_resident_id(obj) -> uuid.UUID | None:
        return obj.resident.public_id if obj.resident else None

    @staticmethod
    def resolve_encounter_id(obj) -> uuid.UUID | None:
        return obj.encounter.public_id if obj.encounter else None


class ScanEventFilter(Schema):
    result: ScanResult | None = None
    purpose: ScanPurpose | None = None


@router.get("/healthcodes/scans", response=list[ScanEventOut])
@paginate(PageNumberPagination)
def scan_event_list(request, filters: Query[ScanEventFilter]):
    """The caller's institution's scan log, newest first: accepted scans and refusals with their
    reason (never a code's text). For the institution admin."""
    if not permissions.can_view_scan_log(request.user):
        raise Forbidden("forbidden", "仅机构管理员可查看扫码记录 (only the institution admin)")
    return selectors.scan_events_for_institution(
        institution_id=request.user.institution_id, result=filters.result, purpose=filters.purpose
    )


# --- the resident's own code -------------------------------------------------------------------


@dataclass(frozen=True)
class LiveCode:
    """The resident's current dynamic code and the seconds after which the phone asks again."""

    issued: services.IssuedCode
    refresh_after: int


class MyHealthCodeOut(Schema):
    """Reads LiveCode."""

    code: str = Field(..., alias="issued.text")
    code_type: str = Field(..., alias="issued.code_type")
    issued_at: dt.datetime = Field(..., alias="issued.issued_at")
    expires_at: dt.datetime = Field(..., alias="issued.expires_at")
    refresh_after: int = Field(..., description="seconds until the phone should ask again")
    svg: str

    @staticmethod
    def resolve_svg(obj) -> str:
        return services.healthcode_svg(obj.issued)


@router.get("/me/healthcode", response=MyHealthCodeOut)
def my_healthcode(request):
    """The signed-in resident's live (dynamic) code: text, expiry, refresh interval and QR SVG."""
    issued, refresh_after = services.healthcode_current_for_resident(actor=request.user)
    return LiveCode(issued, refresh_after)


class WardOut(Schema):
    """Reads a healthnet Guardianship (ward joined): someone the resident cares for."""

    resident_id: uuid.UUID = Field(..., alias="ward.public_id")
    name_masked: str
    relationship: str

    @staticmethod
    def resolve_name_masked(obj) -> str:
        return name_masked(obj.ward.name)


@router.get("/me/wards", response=list[WardOut])
def my_wards(request):
    """The residents (children, elders) the signed-in resident is registered to care for: their
    codes are the family codes (亲属码) this resident may show."""
    services.family_code_role_require(request.user)
    return list(wards_of_guardian(request.user.resident))


@router.get("/me/wards/{uuid:resident_id}/healthcode", response=MyHealthCodeOut)
def ward_healthcode(request, resident_id: uuid.UUID):
    """A family code: the live code of a resident the caller cares for (the scan records the
    caller as who presented it). Anyone else's id: the 404 of no resident."""
    ward = services.healthcode_ward_for(actor=request.user, ward_id=resident_id)
    issued, refresh_after = services.healthcode_current_for_ward(actor=request.user, ward=ward)
    return LiveCode(issued, refresh_after)


# --- cards -------------------------------------------------------------------------------------


class CardOut(Schema):
    id: uuid.UUID = Field(..., alias="public_id")
    resident_id: uuid.UUID = Field(..., alias="resident.public_id")
    issued_at: dt.datetime
    revoked_at: dt.datetime | None


class RevokeIn(Schema):
    reason: str = Field(..., min_length=1, max_length=200, description="e.g. 手机丢失 (lost phone)")


class StaticCodeOut(Schema):
    """Reads healthcodes.services.IssuedCode; its QR as SVG, and as PNG for card printers."""

    code: str = Field(..., alias="text")
    code_type: str
    issued_at: dt.datetime
    expires_at: dt.datetime
    svg: str
    png_data_uri: str = Field(..., description="the same QR as PNG, for card printers")

    @staticmethod
    def resolve_svg(obj) -> str:
        return services.healthcode_svg(obj)

    @staticmethod
    def resolve_png_data_uri(obj) -> str:
        png = render_png(obj.text, print_quality=True)
        return "data:image/png;base64," + base64.b64encode(png).decode()


@router.post("/healthcodes/cards/{uuid:resident_id}", response=CardOut)
def healthcard_issue(request, resident_id: uuid.UUID):
    """The resident's current card, created if they have none (idempotent). A role that may
    manage no card: 403; a resident out of the caller's scope: the 404 of an unknown one."""
    services.healthcard_role_require(request.user)  # before the lookup: no existence oracle
    resident = resident_by_public_id(resident_id)
    return services.healthcard_issue(actor=request.user, resident=resident)


@router.post("/healthcodes/cards/{uuid:resident_id}/revoke", response=CardOut)
def healthcard_revoke(request, resident_id: uuid.UUID, payload: RevokeIn):
    """Revoke the current card (lost phone or card) and return the new one: every code of the
    old card fails with `revoked` from now on."""
    services.healthcard_role_require(request.user)
    resident = resident_by_public_id(resident_id)
    card = services.healthcard_revoke(
        actor=request.user,
        resident=resident,
        reason=payload.reason,
        keep_token=getattr(request, "api_token", None),
    )
    if request.user.resident_id == resident.pk and getattr(request, "api_token", None) is None:
        request.user.refresh_from_db(fields=["session_generation"])
        update_session_auth_hash(request, request.user)  # the portal session that asked stays
    return card


@router.post("/healthcodes/cards/{uuid:resident_id}/static", response=StaticCodeOut)
def healthcode_static(request, resident_id: uuid.UUID):
    """A long-lived code to print (ECC Q). Dispensing on it needs an ID check."""
    services.healthcode_static_role_require(request.user)
    resident = resident_by_public_id(resident_id)
    card = services.healthcard_issue(actor=request.user, resident=resident)
    return services.healthcode_issue_static(actor=request.user, card=card)


class PrintedCardFilter(Schema):
    format: str = Field("png", pattern="^(png|pdf)$", description="png (300 dpi) or pdf")


@router.post(
    "/healthcodes/cards/{uuid:resident_id}/printed",
    response={200: bytes},
    openapi_extra={
        "responses": {
            "200": {
                "description": "the card, 85.6 × 54 mm (CR80) at 300 dpi",
                "content": {
                    "image/png": {"schema": {"type": "string", "format": "binary"}},
                    "application/pdf": {"schema": {"type": "string", "format": "binary"}},
                },
            }
        }
    },
)
def healthcard_printed(request, resident_id: uuid.UUID, filters: Query[PrintedCardFilter]):
    """The printed card for a resident without a phone: a new static code (ECC Q) on a CR80
    card with the name printed and the ID number masked, as PNG (300 dpi) or PDF. Desk staff of
    an institution the resident concerns; audited."""
    services.healthcode_static_role_require(request.user)
    resident = resident_by_public_id(resident_id)
    printed = services.healthcard_print(
        actor=request.user, resident=resident, file_format=filters.format
    )
    return printed_card_response(printed)
