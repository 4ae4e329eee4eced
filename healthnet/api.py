"""API of the network: auth tokens, institutions, alliances, residents."""

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Annotated

from django.utils import timezone
from ninja import Field, Query, Router, Schema, Status
from ninja.pagination import paginate
from ninja.params.functions import Path as PathEx

from config.openapi import errors, view_answer
from config.pagination import PageNumberPagination
from healthnet import permissions, phone_signin, selectors, services
from healthnet.errors import Forbidden, NotAuthenticated
from healthnet.hooks import resident_card_current
from healthnet.models import AllianceKind, ApiToken, GuardianRelationship, Sex, Tier, User
from healthnet.national_id import NATIONAL_ID_PATTERN, resident_national_id_masked
from healthnet.populations import resident_key_populations

# --- auth --------------------------------------------------------------------------------------

auth_router = Router(tags=["auth"])


class TokenIn(Schema):
    username: str = Field(..., min_length=1, max_length=150)
    password: str = Field(..., min_length=1, max_length=200)
    name: str = Field(
        "", max_length=60, description="a label for the token, e.g. the system using it"
    )


@dataclass(frozen=True)
class IssuedToken:
    """A token as issued: its text (shown this once) and its stored row."""

    token: str
    api_token: ApiToken


class TokenOut(Schema):
    """Reads IssuedToken."""

    token: str
    token_type: str = "Bearer"  # noqa: S105 (the scheme name, not a secret)
    expires_at: dt.datetime = Field(..., alias="api_token.expires_at")
    role: str = Field(..., alias="api_token.user.role")
    institution: str | None

    @staticmethod
    def resolve_institution(obj) -> str | None:
        return _institution_code(obj.api_token.user)


class MeCardOut(Schema):
    """The signed-in resident's current health card (revoke it when the phone is lost:
    `POST /api/v1/healthcodes/cards/{resident_id}/revoke`)."""

    id: uuid.UUID = Field(..., alias="public_id")
    issued_at: dt.datetime


class MeOut(Schema):
    """Reads the User."""

    username: str
    role: str
    institution: str | None
    institution_name: str | None
    resident_id: uuid.UUID | None = Field(
        None, description="a resident login: their own resident id; null for staff"
    )
    card: MeCardOut | None = Field(
        None, description="a resident login: their current health card, null if none yet"
    )

    @staticmethod
    def resolve_institution(obj) -> str | None:
        return _institution_code(obj)

    @staticmethod
    def resolve_institution_name(obj) -> str | None:
        return obj.institution.name if obj.institution_id else None

    @staticmethod
    def resolve_resident_id(obj) -> uuid.UUID | None:
        return obj.resident.public_id if obj.resident_id else None

    @staticmethod
    def resolve_card(obj):
        return resident_card_current(obj.resident) if obj.resident_id else None


def _institution_code(user: User) -> str | None:
    return user.institution.code if user.institution is not None else None


@auth_router.post("/token", auth=None, response={201: TokenOut, **errors(401, 429)})
def token_issue(request, payload: TokenIn):
    """Exchange a username and password for a bearer token (failed logins are throttled)."""
    token, api_token = services.api_token_issue(
        username=payload.username, password=payload.password, name=payload.name
    )
    return Status(201, IssuedToken(token, api_token))


@auth_router.delete("/token", response={204: None})
def token_revoke(request):
    """Revoke the bearer token this request was made with."""
    api_token = getattr(request, "api_token", None)
    if api_token is None:
        raise NotAuthenticated(
            "bearer_token_required", "仅可吊销 Bearer 令牌 (send the token to revoke)"
        )
    services.api_token_revoke(actor=request.user, api_token=api_token)
    return Status(204, None)


@auth_router.get("/me", response=MeOut)
def me(request):
    """Who the caller is; a resident also learns their own resident id and current card."""
    return request.user


# --- phone sign-in for residents (healthnet/phone_signin.py) -----------------------------------


class PhoneCodeIn(Schema):
    phone: str = Field(..., min_length=1, max_length=32, description="11-digit mobile number")


class PhoneCodeOut(Schema):
    """Reads phone_signin.CodeRequested. The same answer for every number, on a record or not."""

    message: str = "如该号码已登记，验证码已发送 (if the number is on a record, a code was sent)"
    resend_after: int = Field(..., description="seconds before another code may be asked for")
    expires_in: int = Field(..., description="seconds a code lives")


class PhoneTokenIn(Schema):
    phone: str = Field(..., min_length=1, max_length=32)
    code: str = Field(..., min_length=1, max_length=12, description="the 6-digit code sent")
    name: str = Field("", max_length=60, description="a label for the token, e.g. the app")


@auth_router.post("/phone/code", auth=None, response={202: PhoneCodeOut, **errors(429)})
def phone_code_request(request, payload: PhoneCodeIn):
    """Send a one-time sign-in code to a resident's recorded mobile number (5 minutes, 5 tries).
    The answer never says whether the number is on a record; throttled per number and address."""
    return Status(202, phone_signin.phone_signin_code_request(phone=payload.phone))


@auth_router.post("/phone/token", auth=None, response={201: TokenOut, **errors(401, 409, 429)})
def phone_token_issue(request, payload: PhoneTokenIn):
    """Exchange the code for a bearer token of the resident whose record carries the number
    (their login is made at the first sign-in). 401 `signin_code_wrong` for any wrong, expired,
    used or unsent code; 409 `phone_shared` when the number is on several records."""
    user = phone_signin.phone_signin_verify(phone=payload.phone, code=payload.code)
    token, api_token = services.api_token_issue_for(user=user, name=payload.name or "phone")
    return Status(201, IssuedToken(token, api_token))


# --- institutions and alliances ----------------------------------------------------------------

institutions_router = Router(tags=["network"])
CodePath = Annotated[str, PathEx(min_length=1, max_length=64)]
alliances_router = Router(tags=["network"])


class InstitutionAllianceOut(Schema):
    """Reads an AllianceMembership."""

    code: str = Field(..., alias="alliance.code")
    name: str = Field(..., alias="alliance.name")
    kind: AllianceKind = Field(..., alias="alliance.kind")
    role: str


class DepartmentOut(Schema):
    id: uuid.UUID = Field(..., alias="public_id")
    code: str
    name: str
    specialty: str
    accepts_referrals: bool
    referral_slots_per_day: int


class InstitutionOut(Schema):
    code: str
    name: str
    name_en: str
    tier: Tier
    tier_level: int
    category: str
    grade: str
    district: str = Field(..., alias="district_id", description="district code")
    beds: int
    is_sample_name: bool
    alliances: list[InstitutionAllianceOut]

    @staticmethod
    def resolve_alliances(obj) -> list:
        return obj.current_memberships  # prefetched by selectors.institutions_filtered


class InstitutionDetailOut(InstitutionOut):
    departments: list[DepartmentOut]

    @staticmethod
    def resolve_departments(obj) -> list:
        return list(obj.departments.all())


class InstitutionFilter(Schema):
    tier: Tier | None = None
    district: str | None = Field(None, max_length=32, description="district code")
    alliance: str | None = Field(None, max_length=32, description="alliance code")


@institutions_router.get("", response=list[InstitutionOut])
@paginate(PageNumberPagination)
def institution_list(request, filters: Query[InstitutionFilter]):
    _require_network_reader(request)
    return selectors.institutions_filtered(
        tier=filters.tier, district=filters.district, alliance=filters.alliance
    )


@institutions_router.get("/{code}", response=InstitutionDetailOut)
def institution_detail(request, code: CodePath):
    _require_network_reader(request)
    return selectors.institution_detail(code=code)


class AllianceMemberOut(Schema):
    institution: str = Field(..., alias="institution.code")
    institution_name: str = Field(..., alias="institution.name")
    tier: Tier = Field(..., alias="institution.tier")
    role: str
    start_date: dt.date
    end_date: dt.date | None


class AllianceOut(Schema):
    code: str
    name: str
    kind: AllianceKind
    district: str = Field(..., description="district code; empty for a medical group")
    members: list[AllianceMemberOut]

    @staticmethod
    def resolve_district(obj) -> str:
        return obj.district_id or ""

    @staticmethod
    def resolve_members(obj) -> list:
        return list(obj.memberships.all())


@alliances_router.get("", response=list[AllianceOut])
@paginate(PageNumberPagination)
def alliance_list(request, kind: AllianceKind | None = None):
    _require_network_reader(request)
    qs = selectors.alliances_with_members()
    return qs.filter(kind=kind) if kind else qs


@alliances_router.get("/{code}", response=AllianceOut)
def alliance_detail(request, code: CodePath):
    _require_network_reader(request)
    return selectors.alliance_detail(code=code)


def _require_network_reader(request) -> None:
    if not permissions.can_read_network(request.user):
        raise Forbidden()


# --- residents ---------------------------------------------------------------------------------

residents_router = Router(tags=["residents"])


class ResidentIn(Schema):
    national_id: str = Field(
        ..., pattern=NATIONAL_ID_PATTERN, description="the 18-character ID number"
    )
    name: str = Field(..., min_length=1, max_length=50)
    district: str = Field(..., min_length=1, max_length=32, description="district code")
    sex: Sex | None = Field(None, description="optional; must agree with the ID number")
    birth_date: dt.date | None = Field(None, description="optional; must agree with the ID number")
    phone: str = Field("", max_length=20, pattern=r"^[0-9+\- ]*$")
    address: str = Field("", max_length=200)
    community: str = Field("", max_length=60)
    populations: list[str] = Field(default_factory=list, description="registry key-population tags")


class ResidentLookupIn(Schema):
    national_id: str = Field(..., pattern=NATIONAL_ID_PATTERN)


class ResidentIdentityOut(Schema):
    """The identity view of a Resident: who they are, for the roles that do not treat them (the
    desk, the pharmacy, the institution's admin: permission `resident.read_clinical` not held)."""

    id: uuid.UUID = Field(..., alias="public_id")
    national_id_masked: str
    name: str
    sex: Sex
    birth_date: dt.date
    district: str = Field(..., alias="district_id", description="district code")
    registered_by: str | None
    died_on: dt.date | None = Field(None, description="the day of death, when recorded")
    created_at: dt.datetime

    @staticmethod
    def resolve_national_id_masked(obj) -> str:
        return resident_national_id_masked(obj)

    @staticmethod
    def resolve_registered_by(obj) -> str | None:
        return obj.registered_by.code if obj.registered_by_id else None


class ResidentOut(ResidentIdentityOut):
    """The clinical view of a Resident (with `registered_by` and `population_tags` joined, as the
    selectors give it): the identity, health tags and contact details."""

    phone: str
    address: str
    community: str
    key_populations: list[str]

    @staticmethod
    def resolve_key_populations(obj) -> list[str]:
        return resident_key_populations(obj, on=timezone.localdate())


# The answer is the view the caller's role reads (healthnet.permissions.can_read_resident_clinical)
ResidentViewOut = ResidentOut | ResidentIdentityOut


def resident_view(user: User, resident, status: int = 200):
    """The resident as this user may read them: the clinical view or the identity view."""
    if permissions.can_read_resident_clinical(user):
        return view_answer(ResidentOut.from_orm(resident), status)
    return view_answer(ResidentIdentityOut.from_orm(resident), status)


@residents_router.post("", response={201: ResidentViewOut, **errors(409, 429)})
def resident_create(request, payload: ResidentIn):
    """Register a resident at the caller's institution. A known ID number answers 409."""
    resident = services.resident_create(actor=request.user, **payload.dict())
    created = selectors.resident_by_public_id(resident.public_id)
    return resident_view(request.user, created, status=201)


@residents_router.post("/lookup", response={200: ResidentViewOut, **errors(404, 429)})
def resident_lookup(request, payload: ResidentLookupIn):
    """Find a resident by the full ID number (sent in the body, never in a URL that is logged)."""
    if not permissions.can_lookup_resident(request.user):
        raise Forbidden(
            "forbidden", "您的角色不能按身份证号码查找居民 (your role may not look up residents)"
        )
    resident = selectors.resident_by_national_id(payload.national_id, by=request.user)
    services.audit_record(
        actor=request.user,
        action="read",
        object_type="resident",
        object_id=resident.public_id,
        details={"via": "national_id_lookup"},
    )
    return resident_view(request.user, resident)


@residents_router.get("/{uuid:resident_id}", response=ResidentViewOut)
def resident_detail(request, resident_id: uuid.UUID):
    """A resident's record. A role that may read no resident: 403; a resident who does not
    concern the caller (not registered or seen at their institution, not themself): the same
    404 as an unknown id."""
    if not permissions.can_read_residents(request.user):
        raise Forbidden("forbidden", "您的角色不能查看居民档案 (your role may not read residents)")
    resident = selectors.resident_visible_to(request.user, resident_id)
    services.audit_record(
        actor=request.user, action="read", object_type="resident", object_id=resident.public_id
    )
    return resident_view(request.user, resident)


# --- guardianships (亲属码) ----------------------------------------------------------------------


class GuardianshipIn(Schema):
    guardian_id: uuid.UUID = Field(
        ..., description="the guardian's resident id (found at the desk by ID number: /lookup)"
    )
    relationship: GuardianRelationship


class GuardianshipRevokeIn(Schema):
    reason: str = Field(..., min_length=1, max_length=200)


class GuardianshipOut(Schema):
    """Reads a Guardianship (guardian and institution joined)."""

    id: uuid.UUID = Field(..., alias="public_id")
    guardian_id: uuid.UUID = Field(..., alias="guardian.public_id")
    guardian_name: str = Field(..., alias="guardian.name")
    ward_id: uuid.UUID = Field(..., alias="ward.public_id")
    relationship: GuardianRelationship
    institution: str = Field(..., alias="institution.code")
    registered_at: dt.datetime
    revoked_at: dt.datetime | None
    revoked_reason: str


def _ward_for_desk(request, resident_id: uuid.UUID):
    services.guardianship_role_require(request.user)  # before the lookup: no existence oracle
    ward = selectors.resident_by_public_id(resident_id)
    related = selectors.resident_related_to_institution(ward, request.user.institution_id)
    if not permissions.can_manage_guardianship(request.user, ward, related_to_institution=related):
        raise selectors.resident_not_found()
    return ward


@residents_router.get("/{uuid:resident_id}/guardians", response=list[GuardianshipOut])
def guardianship_list(request, resident_id: uuid.UUID, include_revoked: bool = False):
    """Who is registered to show this resident's code (亲属码), for desk staff of an institution
    the resident concerns."""
    ward = _ward_for_desk(request, resident_id)
    return list(selectors.guardianships_of_ward(ward, current_only=not include_revoked))


@residents_router.post("/{uuid:resident_id}/guardians", response={201: GuardianshipOut})
def guardianship_register(request, resident_id: uuid.UUID, payload: GuardianshipIn):
    """Register at the desk that a resident (the guardian, an adult) cares for this one (a child,
    an elder): the guardian's phone may then show this resident's code. Idempotent; audited."""
    ward = _ward_for_desk(request, resident_id)
    guardian = selectors.resident_by_public_id(payload.guardian_id)
    guardianship = services.guardianship_register(
        actor=request.user, guardian=guardian, ward=ward, relationship=payload.relationship
    )
    return Status(201, selectors.guardianship_by_public_id(guardianship.public_id))


@residents_router.post(
    "/{uuid:resident_id}/guardians/{uuid:guardianship_id}/revoke", response=GuardianshipOut
)
def guardianship_revoke(
    request, resident_id: uuid.UUID, guardianship_id: uuid.UUID, payload: GuardianshipRevokeIn
):
    """End a guardianship: the guardian's phone shows this resident's code no more."""
    ward = _ward_for_desk(request, resident_id)
    guardianship = selectors.guardianship_by_public_id(guardianship_id)
    if guardianship.ward_id != ward.pk:
        raise selectors.guardianship_not_found()
    return services.guardianship_revoke(
        actor=request.user, guardianship=guardianship, reason=payload.reason
    )


# The register over time (moves, deaths, key populations, inpatient stays) adds its endpoints to
# the residents router from its own module.
from healthnet import register_api  # noqa: E402, F401
