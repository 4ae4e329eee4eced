"""The output schemas of the signing API: each reads the model object a handler returns (field
aliases for plain attributes, resolvers for what is computed). Lists stay at a fixed number of
queries: the selectors join and prefetch what the resolvers read."""

import datetime as dt
import uuid

from django.utils import timezone
from ninja import Field, Schema

from healthnet.models import KeyPopulation
from healthnet.national_id import resident_national_id_masked
from healthnet.populations import resident_key_populations
from signing import selectors
from signing.importer import API_MAX_ERRORS
from signing.models import (
    ContractStatus,
    FollowUpStatus,
    ImportJobStatus,
    PackageKind,
    TeamMemberRole,
)

# --- teams and packages -------------------------------------------------------------------------


class TeamOut(Schema):
    id: uuid.UUID = Field(..., alias="public_id")
    code: str
    name: str
    institution: str = Field(..., alias="institution.code")
    institution_name: str = Field(..., alias="institution.name")
    district: str = Field(..., alias="institution.district_id")
    lead: str | None
    capacity: int
    signed: int = Field(..., description="contracts holding a place (active + renewal_due)")
    load: float = Field(..., description="signed ÷ capacity")
    service_area: list[str]
    active: bool

    @staticmethod
    def resolve_lead(obj) -> str | None:
        return obj.lead.name if obj.lead_id else None

    @staticmethod
    def resolve_load(obj) -> float:
        return round(obj.signed / obj.capacity, 4)


class MemberOut(Schema):
    practitioner_id: uuid.UUID = Field(..., alias="practitioner.public_id")
    name: str = Field(..., alias="practitioner.name")
    role: TeamMemberRole
    home_institution: str | None

    @staticmethod
    def resolve_home_institution(obj) -> str | None:
        return obj.home_institution.code if obj.home_institution_id else None


class FulfilmentOut(Schema):
    done_on_time: int
    due: int
    rate: float | None


class TeamDetailOut(TeamOut):
    members: list[MemberOut]
    fulfilment: FulfilmentOut

    @staticmethod
    def resolve_members(obj) -> list:
        return list(obj.members.all())

    @staticmethod
    def resolve_fulfilment(obj) -> selectors.FulfilmentRate:
        return selectors.team_fulfilment(obj)


class TeamFilter(Schema):
    institution: str | None = Field(None, max_length=32, description="institution code")
    district: str | None = Field(None, max_length=32, description="district code")


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


# --- contracts ----------------------------------------------------------------------------------


class OfferResidentOut(Schema):
    """The resident as an offer shows them: who, not their health (no key populations)."""

    id: uuid.UUID = Field(..., alias="public_id")
    name: str
    national_id_masked: str

    @staticmethod
    def resolve_national_id_masked(obj) -> str:
        return resident_national_id_masked(obj)


class ContractResidentOut(OfferResidentOut):
    sex: str
    birth_date: dt.date
    key_populations: list[str]

    @staticmethod
    def resolve_key_populations(obj) -> list[str]:
        return resident_key_populations(obj, on=timezone.localdate())


class ContractOut(Schema):
    id: uuid.UUID = Field(..., alias="public_id")
    status: ContractStatus
    resident: ContractResidentOut
    team: str = Field(..., alias="team.code")
    team_name: str = Field(..., alias="team.name")
    institution: str = Field(..., alias="team.institution.code")
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

    @staticmethod
    def resolve_packages(obj) -> list[str]:
        return [p.code for p in obj.packages.all()]

    @staticmethod
    def resolve_previous_contract(obj) -> uuid.UUID | None:
        return obj.previous_contract.public_id if obj.previous_contract_id else None


class OfferOut(ContractOut):
    """A new offer (pending_signature). It widens nothing: the resident without their health
    data (issue 9), the tie it rested on."""

    # An offer shows less of the resident than a contract does (pydantic replaces the field).
    resident: OfferResidentOut  # type: ignore[assignment]
    offer_basis: str = Field(..., description="related | desk_identification")


class FollowUpOut(Schema):
    id: uuid.UUID = Field(..., alias="public_id")
    contract: uuid.UUID = Field(..., alias="contract.public_id")
    resident: uuid.UUID = Field(..., alias="contract.resident.public_id")
    resident_name: str = Field(..., alias="contract.resident.name")
    team: str = Field(..., alias="contract.team.code")
    package: str = Field(..., alias="item.package.code")
    item: str = Field(..., alias="item.code")
    item_name: str = Field(..., alias="item.name")
    due_date: dt.date
    status: FollowUpStatus
    overdue: bool
    done_at: dt.datetime | None
    done_by: str | None
    done_on_time: bool | None
    outcome: str

    @staticmethod
    def resolve_overdue(obj) -> bool:
        return obj.status == FollowUpStatus.PENDING and obj.due_date < timezone.localdate()

    @staticmethod
    def resolve_done_by(obj) -> str | None:
        return obj.done_by.username if obj.done_by_id else None


class ContractDetailOut(ContractOut):
    follow_ups: list[FollowUpOut]
    fulfilment: FulfilmentOut

    @staticmethod
    def resolve_follow_ups(obj) -> list:
        return list(obj.follow_ups.all())

    @staticmethod
    def resolve_fulfilment(obj) -> selectors.FulfilmentRate:
        return selectors.contract_fulfilment(obj)


class SignOut(Schema):
    contract: ContractOut
    capacity_warning: bool = Field(..., description="the team is at ≥ 95% of its capacity")
    team_load: int
    team_capacity: int


class ContractFilter(Schema):
    team: str | None = Field(None, max_length=32)
    status: ContractStatus | None = None
    key_population: KeyPopulation | None = None
    expiring_within: int | None = Field(None, ge=0, le=366, description="days")
    overdue_followups: bool = Field(False, description="only contracts with overdue follow-ups")


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
    error_count: int = Field(..., description="every bad row of the file")
    errors: list[ImportErrorOut] = Field(..., description=f"the first {API_MAX_ERRORS}")
    errors_truncated: bool


class ImportJobOut(Schema):
    """An import job: its progress while it runs, its counts when done."""

    id: uuid.UUID = Field(..., alias="public_id")
    status: ImportJobStatus
    filename: str
    file_size: int
    rows_total: int | None = Field(..., description="the estimated data rows; null: unknown")
    rows_done: int
    progress: float | None = Field(..., description="rows_done ÷ rows_total, 1 when finished")
    created: int
    unchanged: int
    follow_ups: int
    error_count: int
    errors: list[ImportErrorOut] = Field(
        ..., alias="errors_preview", description="the first row errors; all are in the report"
    )
    report_available: bool = Field(..., description="GET …/report gives the XLSX of every error")
    report_expired: bool
    failure_code: str
    failure_message: str
    created_at: dt.datetime
    started_at: dt.datetime | None
    finished_at: dt.datetime | None

    @staticmethod
    def resolve_report_available(obj) -> bool:
        return bool(obj.report)


# --- follow-ups ---------------------------------------------------------------------------------


class FollowUpFilter(Schema):
    state: str = Field("due", pattern="^(due|overdue|pending|done)$")
    team: str | None = Field(None, max_length=32)
    within_days: int = Field(30, ge=0, le=366)


class RecordIn(Schema):
    outcome: str = Field(..., min_length=1, max_length=2000)
    done_at: dt.datetime | None = None
