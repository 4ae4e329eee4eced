"""Contracts: offer, list, detail, the lifecycle actions (signing.actions), import.

Scope: team members act on their team's contracts, an institution admin on their institution's
teams', a resident reads their own; a contract out of scope answers 404 like a missing one."""

import dataclasses
import datetime as dt
import uuid

from django.db import transaction
from ninja import Field, File, Query, Router, Schema, Status
from ninja.files import UploadedFile
from pydantic import model_validator

from config.openapi import errors, view_answer
from config.pagination import PageNumberPagination
from healthnet.errors import Forbidden, InvalidInput
from healthnet.national_id import NATIONAL_ID_OR_EMPTY_PATTERN, NATIONAL_ID_PATTERN
from healthnet.permissions import can_read_resident_clinical
from healthnet.selectors import resident_by_national_id, resident_by_public_id
from healthnet.services import audit_record
from signing import importer, permissions, selectors, services
from signing.actions import CONTRACT_ACTIONS, ConsentIn, RenewIn, SwitchIn, TerminateIn
from signing.api.schemas import (
    ContractDetailOut,
    ContractDetailViewOut,
    ContractFilter,
    ContractIdentityDetailOut,
    ContractIdentityOut,
    ContractOut,
    ContractPageOut,
    ContractViewOut,
    ImportReportOut,
    OfferOut,
    SignIdentityOut,
    SignOut,
    SignViewOut,
)
from signing.api.scope import contract_in_scope, forbid
from signing.importer.limits import MB, limit
from signing.lifecycle import Action
from signing.services.imports import upload_check

router = Router(tags=["signing"])


class ContractIn(Schema):
    resident_id: uuid.UUID | None = Field(None, description="the resident's public id")
    national_id: str = Field(
        "",
        pattern=NATIONAL_ID_OR_EMPTY_PATTERN,
        description="or the resident's ID number, read from their card at the desk: identifies "
        "them in person (a tie to the institution when there is none yet)",
    )
    team: str = Field(..., min_length=1, max_length=32, description="team code")
    packages: list[str] = Field(
        default_factory=list, description="package codes; basic is always in"
    )
    start_date: dt.date | None = Field(None, description="default today; within 90 days")

    # The document says what _names_the_resident enforces: a resident id, or an ID number.
    model_config = {
        "json_schema_extra": {
            "anyOf": [
                {
                    "required": ["resident_id"],
                    "properties": {"resident_id": {"type": "string", "format": "uuid"}},
                },
                {
                    "required": ["national_id"],
                    "properties": {"national_id": {"pattern": NATIONAL_ID_PATTERN}},
                },
            ]
        }
    }

    @model_validator(mode="after")
    def _names_the_resident(self):
        if self.resident_id is None and not self.national_id:
            raise ValueError("resident_id or national_id is required")
        return self


@router.post("/contracts", response={201: OfferOut, **errors(404, 409, 429)})
def contract_create(request, payload: ContractIn):
    """Offer a contract (pending_signature) to a resident for a team. The resident must be tied
    to the team's institution already (registered, visited, referred, signed) or identified at
    its desk by the ID number on their card; otherwise 404 as for an unknown resident."""
    if not permissions.is_staff_of_institution(request.user):
        forbid()
    if payload.resident_id is not None:
        resident = resident_by_public_id(payload.resident_id)
    else:
        resident = resident_by_national_id(payload.national_id, by=request.user)
    contract = services.contract_create(
        actor=request.user,
        resident=resident,
        team=selectors.team_by_code(payload.team),
        package_codes=payload.packages,
        start_date=payload.start_date,
        national_id=payload.national_id,
    )
    return Status(201, selectors.contract_by_public_id(contract.public_id))


def _contract_view(request, contract, status: int = 200):
    """The contract as the caller's role reads its resident (healthnet.permissions.
    can_read_resident_clinical): with their key populations, or without."""
    clinical = can_read_resident_clinical(request.user)
    schema = ContractOut if clinical else ContractIdentityOut
    return view_answer(schema.from_orm(contract), status)


def _sign_view(request, result: services.SignResult, status: int = 200):
    """The result with its contract read again with everything the answer shows, in the
    caller's view of the resident."""
    contract = selectors.contract_by_public_id(result.contract.public_id)
    result = dataclasses.replace(result, contract=contract)
    schema = SignOut if can_read_resident_clinical(request.user) else SignIdentityOut
    return view_answer(schema.from_orm(result), status)


@router.get("/contracts", response={200: ContractPageOut, **errors(403)})
def contract_list(
    request, filters: Query[ContractFilter], pagination: Query[PageNumberPagination.Input]
):
    """Contracts of the caller's teams (institution admin: the institution's teams), each
    resident in the caller's view; `key_population` only for a role that reads health tags."""
    if not permissions.can_list_contracts(request.user):
        forbid()
    clinical = can_read_resident_clinical(request.user)
    if filters.key_population is not None and not clinical:
        raise Forbidden(
            "key_population_forbidden",
            "您的角色不能按重点人群筛选 (your role may not filter by key population)",
        )
    with transaction.atomic():
        audit_record(
            actor=request.user,
            action="list",
            object_type="contract",
            details={k: str(v) for k, v in filters.dict().items() if v is not None},
        )
    contracts = selectors.contracts_visible_to(
        request.user,
        team=filters.team,
        status=filters.status,
        key_population=filters.key_population,
        expiring_within_days=filters.expiring_within,
        overdue_followups=filters.overdue_followups,
    )
    page = PageNumberPagination().paginate_queryset(contracts, pagination, request)
    view = ContractOut if clinical else ContractIdentityOut
    page["items"] = [view.from_orm(c).model_dump(mode="json") for c in page["items"]]
    return view_answer(page)


@router.get("/contracts/{uuid:contract_id}", response=ContractDetailViewOut)
def contract_detail(request, contract_id: uuid.UUID):
    """A contract with its follow-ups; its resident in the caller's view (the institution's
    admin and the desk: without key populations)."""
    contract = contract_in_scope(request, contract_id)
    with transaction.atomic():
        audit_record(
            actor=request.user, action="read", object_type="contract", object_id=contract.public_id
        )
    detail = selectors.contract_detail(contract.public_id)
    clinical = can_read_resident_clinical(request.user)
    schema = ContractDetailOut if clinical else ContractIdentityDetailOut
    return view_answer(schema.from_orm(detail))


def _take(request, contract, action: str, payload: Schema):
    spec = CONTRACT_ACTIONS[action]
    return spec.service(actor=request.user, contract=contract, **payload.model_dump())


@router.post("/contracts/{uuid:contract_id}/sign", response=SignViewOut)
def contract_sign(request, contract_id: uuid.UUID, payload: ConsentIn):
    """Record consent and activate. 409 if the resident has an active contract or the team is
    full; `capacity_warning` once the team is at 95%."""
    contract = contract_in_scope(request, contract_id)
    return _sign_view(request, _take(request, contract, Action.SIGN, payload))


@router.post("/contracts/{uuid:contract_id}/renew", response={201: SignViewOut})
def contract_renew(request, contract_id: uuid.UUID, payload: RenewIn):
    """续约 with the same team, only when due (renewal_due)."""
    contract = contract_in_scope(request, contract_id)
    return _sign_view(request, _take(request, contract, Action.RENEW, payload), 201)


@router.post("/contracts/{uuid:contract_id}/switch", response={201: SignViewOut})
def contract_switch(request, contract_id: uuid.UUID, payload: SwitchIn):
    """转签 to another team, only at term end (renewal_due); the new team's staff act, and the
    resident must be tied to its institution (or identified at its desk: `national_id`)."""
    team = selectors.team_by_code(payload.team)
    contract = contract_in_scope(
        request, contract_id, new_team=team, national_id=payload.national_id
    )
    return _sign_view(request, _take(request, contract, Action.SWITCH, payload), 201)


@router.post("/contracts/{uuid:contract_id}/terminate", response=ContractViewOut)
def contract_terminate(request, contract_id: uuid.UUID, payload: TerminateIn):
    """解约 with a reason: resident_request, moved_away, died, team_dissolved."""
    contract = contract_in_scope(request, contract_id)
    _take(request, contract, Action.TERMINATE, payload)
    return _contract_view(request, selectors.contract_by_public_id(contract_id))


@router.post("/contracts/import", response=ImportReportOut)
def contract_import(request, file: File[UploadedFile]):
    """Import existing contracts from CSV or XLSX within the request, for a file up to
    SIGNING_IMPORT_SYNC_MAX_BYTES (2 MB); a larger one is an import job (`POST
    /contracts/import-jobs`). Good rows land, each bad row is reported (row number, field,
    reason) with the code the API would answer — the first 1,000 listed, all counted;
    re-importing the same file changes nothing."""
    if not permissions.can_import_contracts(request.user):
        forbid("只有机构管理员可以导入签约 (only an institution admin may import)")
    most = limit("SIGNING_IMPORT_SYNC_MAX_BYTES")
    if (file.size or 0) > most:
        raise InvalidInput(
            "file_too_large",
            f"文件超过 {most // MB} MB，请使用导入任务 POST /api/v1/contracts/import-jobs "
            f"(files over {most // MB} MB are imported as a job)",
            field="file",
            limit=most,
        )
    name = file.name or ""
    upload_check(filename=name, size=file.size or 0, file=file, max_bytes=most)
    return importer.contracts_import(actor=request.user, file=file, filename=name)
