"""API of family-doctor signing (/api/v1/): teams, packages, contracts, follow-ups, import.

Scope (signing/permissions.py): team members act on their team's residents; an institution admin
on their institution's teams; the bureau reads team aggregates only; anyone else gets 403.
"""

import datetime as dt
import uuid

from django.db import transaction
from django.utils import timezone
from ninja import Field, File, Query, Router, Schema, Status
from ninja.files import UploadedFile
from ninja.pagination import paginate

from config.pagination import PageNumberPagination
from healthnet.errors import Forbidden, InvalidInput
from healthnet.models import KeyPopulation
from healthnet.national_id import decrypt_national_id, mask_national_id
from healthnet.populations import resident_key_populations
from healthnet.selectors import district_by_code, resident_by_public_id
from healthnet.services import audit_record
from signing import importer, permissions, selectors, services
from signing.models import (
    Contract,
    ContractStatus,
    FollowUp,
    FollowUpStatus,
    PackageKind,
    Signatory,
    SignatureMethod,
    TeamMemberRole,
)

router = Router(tags=["signing"])

IMPORT_MAX_BYTES = 64 * 1024 * 1024


def _forbid(message: str = "无权访问家庭医生签约数据 (not allowed)") -> None:
    raise Forbidden("forbidden", message)


# --- teams --------------------------------------------------------------------------------------


class TeamOut(Schema):
    id: uuid.UUID = Field(..., alias="public_id")
    code: str
    name: str
    institution: str
    institution_name: str
    district: str
    lead: str | None
    capacity: int
    signed: int = Field(..., description="contracts holding a place (active + renewal_due)")
    load: float = Field(..., description="signed ÷ capacity")
    service_area: list[str]
    active: bool

    @staticmethod
    def resolve_institution(obj) -> str:
        return obj.institution.code

    @staticmethod
    def resolve_institution_name(obj) -> str:
        return obj.institution.name

    @staticmethod
    def resolve_district(obj) -> str:
        return obj.institution.district_id

    @staticmethod
    def resolve_lead(obj) -> str | None:
        return obj.lead.name if obj.lead_id else None

    @staticmethod
    def resolve_load(obj) -> float:
        return round(obj.signed / obj.capacity, 4)


class MemberOut(Schema):
    practitioner_id: uuid.UUID
    name: str
    role: TeamMemberRole
    home_institution: str | None


class FulfilmentOut(Schema):
    done_on_time: int
    due: int
    rate: float | None


class TeamDetailOut(TeamOut):
    members: list[MemberOut]
    fulfilment: FulfilmentOut

    @staticmethod
    def resolve_members(obj) -> list[dict]:
        return [
            {
                "practitioner_id": m.practitioner.public_id,
                "name": m.practitioner.name,
                "role": m.role,
                "home_institution": m.home_institution.code if m.home_institution_id else None,
            }
            for m in obj.members.all()
        ]

    @staticmethod
    def resolve_fulfilment(obj) -> dict:
        rate = selectors.team_fulfilment(obj)
        return {"done_on_time": rate.done_on_time, "due": rate.due, "rate": rate.rate}


class TeamFilter(Schema):
    institution: str | None = Field(None, max_length=32, description="institution code")
    district: str | None = Field(None, max_length=32, description="district code")


@router.get("/teams", response=list[TeamOut])
@paginate(PageNumberPagination)
def team_list(request, filters: Query[TeamFilter]):
    """Teams with their load (signed ÷ capacity); no resident data."""
    if not permissions.can_list_teams(request.user):
        _forbid()
    if filters.district:
        district_by_code(filters.district)  # 422 district_unknown
    return selectors.teams_visible_to(
        request.user, institution=filters.institution, district=filters.district
    )


@router.get("/teams/{code}", response=TeamDetailOut)
def team_detail(request, code: str):
    if not permissions.can_list_teams(request.user):
        _forbid()
    return selectors.team_detail(request.user, code=code)


# --- packages -----------------------------------------------------------------------------------


class ItemOut(Schema):
    code: str
    name: str
    times_per_year: int
    price_fen: int


class PackageOut(Schema):
    code: str
    name: str
    name_en: str
    kind: PackageKind
    eligible_population: str
    description: str
    price_fen: int = Field(..., description="yearly price in fen (Σ item price × frequency)")
    items: list[ItemOut]

    @staticmethod
    def resolve_items(obj) -> list:
        return list(obj.items.all())


@router.get("/packages", response=list[PackageOut])
def package_list(request):
    """The service package catalogue (no personal data)."""
    if not request.user.is_authenticated:
        _forbid()
    return list(selectors.packages_catalogue())


# --- contracts ----------------------------------------------------------------------------------


class ContractResidentOut(Schema):
    id: uuid.UUID
    name: str
    national_id_masked: str
    sex: str
    birth_date: dt.date
    key_populations: list[str]


class ContractOut(Schema):
    id: uuid.UUID
    status: ContractStatus
    resident: ContractResidentOut
    team: str
    team_name: str
    institution: str
    packages: list[str]
    start_date: dt.date
    end_date: dt.date
    signed_by: str
    signature_method: str
    signed_at: dt.datetime | None
    guardian_name: str
    guardian_relationship: str
    terms_hash: str
    terminated_reason: str
    previous_contract: uuid.UUID | None
    source: str
    created_at: dt.datetime


class FollowUpOut(Schema):
    id: uuid.UUID
    contract: uuid.UUID
    resident: uuid.UUID
    resident_name: str
    team: str
    package: str
    item: str
    item_name: str
    due_date: dt.date
    status: FollowUpStatus
    overdue: bool
    done_at: dt.datetime | None
    done_by: str | None
    done_on_time: bool | None
    outcome: str


class ContractDetailOut(ContractOut):
    follow_ups: list[FollowUpOut]
    fulfilment: FulfilmentOut


class SignOut(Schema):
    contract: ContractOut
    capacity_warning: bool = Field(..., description="the team is at ≥ 95% of its capacity")
    team_load: int
    team_capacity: int


def _resident_out(resident, today: dt.date) -> dict:
    return {
        "id": resident.public_id,
        "name": resident.name,
        "national_id_masked": mask_national_id(decrypt_national_id(resident.national_id_encrypted)),
        "sex": resident.sex,
        "birth_date": resident.birth_date,
        "key_populations": resident_key_populations(resident, on=today),
    }


def contract_out(contract: Contract, *, today: dt.date | None = None) -> dict:
    today = today or timezone.localdate()
    return {
        "id": contract.public_id,
        "status": contract.status,
        "resident": _resident_out(contract.resident, today),
        "team": contract.team.code,
        "team_name": contract.team.name,
        "institution": contract.team.institution.code,
        "packages": [p.code for p in contract.packages.all()],
        "start_date": contract.start_date,
        "end_date": contract.end_date,
        "signed_by": contract.signed_by,
        "signature_method": contract.signature_method,
        "signed_at": contract.signed_at,
        "guardian_name": contract.guardian_name,
        "guardian_relationship": contract.guardian_relationship,
        "terms_hash": contract.terms_hash,
        "terminated_reason": contract.terminated_reason,
        "previous_contract": (
            contract.previous_contract.public_id if contract.previous_contract_id else None
        ),
        "source": contract.source,
        "created_at": contract.created_at,
    }


def followup_out(followup: FollowUp, *, today: dt.date | None = None) -> dict:
    today = today or timezone.localdate()
    contract = followup.contract
    return {
        "id": followup.public_id,
        "contract": contract.public_id,
        "resident": contract.resident.public_id,
        "resident_name": contract.resident.name,
        "team": contract.team.code,
        "package": followup.item.package.code,
        "item": followup.item.code,
        "item_name": followup.item.name,
        "due_date": followup.due_date,
        "status": followup.status,
        "overdue": followup.status == FollowUpStatus.PENDING and followup.due_date < today,
        "done_at": followup.done_at,
        "done_by": followup.done_by.username if followup.done_by_id else None,
        "done_on_time": followup.done_on_time,
        "outcome": followup.outcome,
    }


def _sign_out(result: services.SignResult) -> dict:
    contract = selectors.contract_by_public_id(result.contract.public_id)
    return {
        "contract": contract_out(contract),
        "capacity_warning": result.capacity_warning,
        "team_load": result.team_load,
        "team_capacity": result.team_capacity,
    }


class ContractIn(Schema):
    resident_id: uuid.UUID
    team: str = Field(..., min_length=1, max_length=32, description="team code")
    packages: list[str] = Field(
        default_factory=list, description="package codes; basic is always in"
    )
    start_date: dt.date | None = Field(None, description="default today; within 90 days")


class ConsentIn(Schema):
    signed_by: Signatory
    method: SignatureMethod
    guardian_name: str = Field("", max_length=50)
    guardian_relationship: str = Field("", max_length=20)
    guardian_national_id: str = Field("", max_length=32)
    resident_incapacitated: bool = Field(False, description="the signer attests incapacity")


class RenewIn(ConsentIn):
    packages: list[str] | None = Field(
        None, description="default: the current packages still offered"
    )


class SwitchIn(RenewIn):
    team: str = Field(..., min_length=1, max_length=32, description="the new team's code")


class TerminateIn(Schema):
    reason: str = Field(
        "", max_length=20, description="resident_request | moved_away | died | team_dissolved"
    )
    note: str = Field("", max_length=200)


class ContractFilter(Schema):
    team: str | None = Field(None, max_length=32)
    status: ContractStatus | None = None
    key_population: KeyPopulation | None = None
    expiring_within: int | None = Field(None, ge=0, le=366, description="days")


def _contract_for_action(request, contract_id: uuid.UUID, *, new_team=None) -> Contract:
    """The contract, if in the caller's scope (for a switch: or the new team is)."""
    contract = selectors.contract_by_public_id(contract_id)
    member_of = selectors.member_team_ids(request.user)
    allowed = permissions.can_view_contract(request.user, contract, member_team_ids=member_of)
    if not allowed and new_team is not None:
        allowed = permissions.can_act_on_team(request.user, new_team, member_team_ids=member_of)
    if not allowed:
        raise Forbidden(
            "contract_out_of_scope",
            "该签约不属于您的团队或机构 (this contract is not in your scope)",
        )
    return contract


@router.post("/contracts", response={201: ContractOut})
def contract_create(request, payload: ContractIn):
    """Offer a contract (pending_signature) to a resident for a team."""
    if not permissions.is_staff_of_institution(request.user):
        _forbid()
    resident = resident_by_public_id(payload.resident_id)
    team = selectors.team_by_code(payload.team)
    contract = services.contract_create(
        actor=request.user,
        resident=resident,
        team=team,
        package_codes=payload.packages,
        start_date=payload.start_date,
    )
    return Status(201, contract_out(selectors.contract_by_public_id(contract.public_id)))


@router.get("/contracts", response=list[ContractOut])
@paginate(PageNumberPagination)
def contract_list(request, filters: Query[ContractFilter]):
    """Contracts of the caller's teams (institution admin: the institution's teams)."""
    if not permissions.can_list_contracts(request.user):
        _forbid()
    with transaction.atomic():
        audit_record(
            actor=request.user,
            action="list",
            object_type="contract",
            details={k: str(v) for k, v in filters.dict().items() if v is not None},
        )
    return _RenderedPage(
        selectors.contracts_visible_to(
            request.user,
            team=filters.team,
            status=filters.status,
            key_population=filters.key_population,
            expiring_within_days=filters.expiring_within,
        )
    )


class _RenderedPage:
    """A queryset wrapper the paginator slices; each page's rows are turned into dicts."""

    def __init__(self, queryset, render=contract_out):
        self.queryset = queryset
        self.render = render

    def count(self) -> int:
        return self.queryset.count()

    def __len__(self) -> int:
        return self.count()

    def __getitem__(self, item):
        today = timezone.localdate()
        return [self.render(row, today=today) for row in self.queryset[item]]


@router.get("/contracts/{uuid:contract_id}", response=ContractDetailOut)
def contract_detail(request, contract_id: uuid.UUID):
    contract = _contract_for_action(request, contract_id)
    contract = selectors.contract_detail(contract.public_id)
    with transaction.atomic():
        audit_record(
            actor=request.user, action="read", object_type="contract", object_id=contract.public_id
        )
    today = timezone.localdate()
    rate = selectors.contract_fulfilment(contract, as_of=today)
    return {
        **contract_out(contract, today=today),
        "follow_ups": [followup_out(f, today=today) for f in contract.follow_ups.all()],
        "fulfilment": {"done_on_time": rate.done_on_time, "due": rate.due, "rate": rate.rate},
    }


@router.post("/contracts/{uuid:contract_id}/sign", response=SignOut)
def contract_sign(request, contract_id: uuid.UUID, payload: ConsentIn):
    """Record consent and activate. 409 if the resident has an active contract or the team is
    full; `capacity_warning` once the team is at 95%."""
    contract = _contract_for_action(request, contract_id)
    result = services.contract_sign(actor=request.user, contract=contract, **payload.dict())
    return _sign_out(result)


@router.post("/contracts/{uuid:contract_id}/renew", response={201: SignOut})
def contract_renew(request, contract_id: uuid.UUID, payload: RenewIn):
    contract = _contract_for_action(request, contract_id)
    data = payload.dict()
    result = services.contract_renew(
        actor=request.user, contract=contract, package_codes=data.pop("packages"), **data
    )
    return Status(201, _sign_out(result))


@router.post("/contracts/{uuid:contract_id}/switch", response={201: SignOut})
def contract_switch(request, contract_id: uuid.UUID, payload: SwitchIn):
    """Switch to another team, only at term end (renewal_due)."""
    data = payload.dict()
    team = selectors.team_by_code(data.pop("team"))
    contract = _contract_for_action(request, contract_id, new_team=team)
    result = services.contract_switch(
        actor=request.user, contract=contract, team=team, package_codes=data.pop("packages"), **data
    )
    return Status(201, _sign_out(result))


@router.post("/contracts/{uuid:contract_id}/terminate", response=ContractOut)
def contract_terminate(request, contract_id: uuid.UUID, payload: TerminateIn):
    contract = _contract_for_action(request, contract_id)
    services.contract_terminate(
        actor=request.user, contract=contract, reason=payload.reason, note=payload.note
    )
    return contract_out(selectors.contract_by_public_id(contract_id))


class ImportErrorOut(Schema):
    row: int
    field: str
    code: str
    message: str


class ImportReportOut(Schema):
    rows: int
    created: int
    unchanged: int
    follow_ups: int
    error_count: int
    errors: list[ImportErrorOut]
    errors_truncated: bool


@router.post("/contracts/import", response=ImportReportOut)
def contract_import(request, file: File[UploadedFile]):
    """Import existing contracts from CSV or XLSX. Good rows land, each bad row is reported
    (row number, field, reason); re-importing the same file changes nothing."""
    if not permissions.can_import_contracts(request.user):
        _forbid("只有机构管理员可以导入签约 (only an institution admin may import)")
    if file.size and file.size > IMPORT_MAX_BYTES:
        raise InvalidInput("file_too_large", "文件过大 (file larger than 64 MB)", field="file")
    report = importer.contracts_import(actor=request.user, file=file, filename=file.name or "")
    return report.as_dict(max_errors=importer.API_MAX_ERRORS)


# --- follow-ups ---------------------------------------------------------------------------------


class FollowUpFilter(Schema):
    state: str = Field("due", pattern="^(due|overdue|pending|done)$")
    team: str | None = Field(None, max_length=32)
    within_days: int = Field(30, ge=0, le=366)


class RecordIn(Schema):
    outcome: str = Field(..., min_length=1, max_length=2000)
    done_at: dt.datetime | None = None


@router.get("/follow-ups", response=list[FollowUpOut])
@paginate(PageNumberPagination)
def followup_list(request, filters: Query[FollowUpFilter]):
    """Follow-ups of my team(s): due (within `within_days`, overdue included), overdue, done."""
    if not permissions.can_list_followups(request.user):
        _forbid()
    with transaction.atomic():
        audit_record(
            actor=request.user, action="list", object_type="follow_up", details=filters.dict()
        )
    return _RenderedPage(
        selectors.followups_visible_to(
            request.user, state=filters.state, team=filters.team, within_days=filters.within_days
        ),
        render=followup_out,
    )


@router.post("/follow-ups/{uuid:followup_id}/record", response=FollowUpOut)
def followup_record(request, followup_id: uuid.UUID, payload: RecordIn):
    """Mark a follow-up done with its outcome (members of the contract's team only)."""
    followup = selectors.followup_by_public_id(followup_id)
    services.followup_record(
        actor=request.user, followup=followup, outcome=payload.outcome, done_at=payload.done_at
    )
    return followup_out(
        selectors.followups_visible_to(request.user, state=None).get(pk=followup.pk)
    )
