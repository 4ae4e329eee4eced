"""API of two-way referrals (/api/v1/referrals): create, worklists, detail with the timeline,
one POST operation per action of the workflow, and target suggestions.

Staff see referrals into and out of their own institution; any other referral answers 404 (its
existence is not disclosed). A transition the state does not allow answers 409
`transition_not_allowed` with `details.allowed_actions`; one the actor's side or role may not
take answers 403. The action operations are generated from referrals.workflow.REFERRAL_WORKFLOW:
each with its own input schema, so the OpenAPI says what each action needs.
"""

import datetime as dt
import uuid
from collections.abc import Callable
from typing import Any, cast

from django.http import Http404
from ninja import Field, Query, Router, Schema

from config.openapi import IsoDate, errors, view_answer
from config.pagination import PageNumberPagination
from healthnet.errors import Forbidden, InvalidInput, NotFound
from healthnet.selectors import department_by_public_id
from healthnet.services import audit_record
from healthnet.workflow import ActionSpec
from referrals import permissions, selectors, services
from referrals.models import (
    CareSetting,
    Referral,
    ReferralDirection,
    ReferralStatus,
    ReferralUrgency,
)
from referrals.workflow import REFERRAL_WORKFLOW

router = Router(tags=["referrals"])


# --- schemas -----------------------------------------------------------------------------------


class ReferralIn(Schema):
    resident: uuid.UUID = Field(..., description="the resident's id")
    to_department: uuid.UUID = Field(..., description="the receiving department's id")
    from_department: uuid.UUID | None = Field(None, description="the referring department's id")
    urgency: ReferralUrgency
    reason_code: str = Field(..., min_length=1, max_length=40)
    criteria_codes: list[str] = Field(default_factory=list, max_length=20)
    clinical_summary: str = Field("", max_length=4000)
    resident_consent: bool = Field(
        False, description="the resident agreed (required going down for a signed resident)"
    )
    submit: bool = Field(True, description="submit at once (false: keep as a draft)")
    care_setting: CareSetting = Field(
        CareSetting.OUTPATIENT,
        description="outpatient or inpatient: up, the care asked of the receiving hospital "
        "(inpatient: admitted on arrival); down, the care had at the referring one (inpatient: "
        "discharged down to primary care)",
    )


class PartyOut(Schema):
    code: str
    name: str


class DepartmentRefOut(Schema):
    id: uuid.UUID = Field(..., alias="public_id")
    code: str
    name: str


class ResidentRefOut(Schema):
    id: uuid.UUID = Field(..., alias="public_id")
    name: str


class ReferralIdentityOut(Schema):
    """The identity view of a referral (who, from where to where, which state, when), for the
    roles that do not treat the patient: permission `referral.read_clinical` not held."""

    id: uuid.UUID = Field(..., alias="public_id")
    status: ReferralStatus
    direction: ReferralDirection
    urgency: ReferralUrgency
    care_setting: CareSetting
    resident: ResidentRefOut
    from_institution: PartyOut
    from_department: DepartmentRefOut | None
    from_practitioner: str | None
    to_institution: PartyOut
    to_department: DepartmentRefOut
    created_at: dt.datetime
    submitted_at: dt.datetime | None
    due_at: dt.datetime | None
    overdue: bool
    escalated_at: dt.datetime | None
    appointment_date: dt.date | None
    reschedule_count: int
    allowed_actions: list[str]

    @staticmethod
    def resolve_from_practitioner(obj: Referral) -> str | None:
        user = obj.from_practitioner
        if user is None:
            return None
        return user.get_full_name() or user.username

    @staticmethod
    def resolve_allowed_actions(obj: Referral, context: dict[str, Any]) -> list[str]:
        return permissions.referral_allowed_actions(context["request"].user, obj)


class ReferralOut(ReferralIdentityOut):
    """The clinical view of a referral in a list: the identity view and the reason."""

    reason_code: str
    criteria_codes: list[str]


class EventIdentityOut(Schema):
    at: dt.datetime
    actor: str
    action: str
    from_status: str
    to_status: str

    @staticmethod
    def resolve_actor(obj) -> str:
        return obj.actor_label


class EventOut(EventIdentityOut):
    reason: str
    details: dict[str, Any]


class _ReferralProgressOut(Schema):
    """The dates and links of a referral's detail, in both views."""

    decided_at: dt.datetime | None
    scheduled_at: dt.datetime | None
    arrived_at: dt.datetime | None
    no_show_at: dt.datetime | None
    completed_at: dt.datetime | None
    closed_at: dt.datetime | None
    decision_due_at: dt.datetime | None
    booking_due_at: dt.datetime | None
    feedback_due_at: dt.datetime | None
    redirected_from: uuid.UUID | None
    redirected_to: uuid.UUID | None
    follow_on: uuid.UUID | None
    follow_on_of: uuid.UUID | None
    encounter: uuid.UUID | None = Field(
        None, description="the visit the arrival opened (an inpatient stay for an inpatient one)"
    )
    closing_followup: uuid.UUID | None = Field(
        None, description="downward: the family-doctor team's follow-up that closed the loop"
    )

    @staticmethod
    def resolve_encounter(obj: Referral) -> uuid.UUID | None:
        linked = obj.encounter  # joined by the detail selector
        return linked.public_id if linked is not None else None

    @staticmethod
    def resolve_closing_followup(obj: Referral) -> uuid.UUID | None:
        linked = obj.closing_followup  # joined by the detail selector
        return linked.public_id if linked is not None else None

    @staticmethod
    def resolve_redirected_from(obj: Referral) -> uuid.UUID | None:
        linked = obj.redirected_from  # prefetched; None without a query when not redirected
        return linked.public_id if linked is not None else None

    @staticmethod
    def resolve_redirected_to(obj: Referral) -> uuid.UUID | None:
        linked = getattr(obj, "redirected_to", None)
        return linked.public_id if linked is not None else None

    @staticmethod
    def resolve_follow_on(obj: Referral) -> uuid.UUID | None:
        linked = obj.follow_on  # prefetched; None without a query when there is none
        return linked.public_id if linked is not None else None

    @staticmethod
    def resolve_follow_on_of(obj: Referral) -> uuid.UUID | None:
        linked = getattr(obj, "follow_on_of", None)
        return linked.public_id if linked is not None else None


class ReferralIdentityDetailOut(ReferralIdentityOut, _ReferralProgressOut):
    """A referral's detail in the identity view: progress and a timeline without reasons."""

    timeline: list[EventIdentityOut]

    @staticmethod
    def resolve_timeline(obj: Referral) -> list:
        return list(obj.events.all())


class ReferralDetailOut(ReferralOut, _ReferralProgressOut):
    """A referral's detail in the clinical view."""

    clinical_summary: str
    rejection_reason: str
    rejection_comment: str
    cancel_reason: str
    findings: str
    diagnosis: str
    feedback_summary: str
    recommendations: str
    return_to_primary_care: bool
    resident_consent: bool
    timeline: list[EventOut]

    @staticmethod
    def resolve_timeline(obj: Referral) -> list:
        return list(obj.events.all())


# Each answer is the view the caller's role reads (permissions.can_read_referral_clinical).
ReferralDetailViewOut = ReferralDetailOut | ReferralIdentityDetailOut


def referral_view(request, referral: Referral, status: int = 200):
    """The referral's detail as the caller's role reads it: the clinical or the identity view."""
    clinical = permissions.can_read_referral_clinical(request.user)
    schema = ReferralDetailOut if clinical else ReferralIdentityDetailOut
    return view_answer(schema.from_orm(referral, context={"request": request}), status)


class WorklistFilter(Schema):
    box: str | None = Field(None, pattern="^(incoming|outgoing)$")
    status: list[ReferralStatus] | None = None
    direction: ReferralDirection | None = None
    urgency: ReferralUrgency | None = None
    overdue: bool | None = None
    department: uuid.UUID | None = None
    resident: uuid.UUID | None = None
    appointment_date: IsoDate | None = Field(None, description="the appointment day")


class SuggestionOut(Schema):
    institution: PartyOut
    tier: str
    department: DepartmentRefOut
    specialty: str
    direction: ReferralDirection
    alliance_partner: bool
    alliances: list[str]
    team_institution: bool
    referral_slots_per_day: int


# --- handlers ----------------------------------------------------------------------------------


def _detail(request, public_id: uuid.UUID, status: int = 200):
    referral = selectors.referral_for_user(request.user, public_id)
    audit_record(
        actor=request.user,
        action="read",
        object_type="referral",
        object_id=str(referral.public_id),
    )
    return referral_view(request, referral, status)


@router.post("", response={201: ReferralDetailViewOut, **errors(404, 409)})
def referral_create(request, payload: ReferralIn):
    """Refer a resident from the caller's institution. Send `Idempotency-Key` to make a retry
    safe: the same key by the same user returns the first referral (201) instead of a new one.
    A second open referral to the same department in the same direction answers 409
    `referral_duplicate` with `details.existing_id`."""
    if not permissions.can_create_referral(request.user):
        raise Forbidden(  # before the resident is looked up: the role alone answers
            "referral_create_forbidden", "您的角色不能开具转诊 (your role may not refer)"
        )
    resident = selectors.resident_for_referral(request.user, payload.resident)
    to_department = _referenced(
        department_by_public_id, payload.to_department, field="to_department"
    )
    from_department = (
        _referenced(department_by_public_id, payload.from_department, field="from_department")
        if payload.from_department
        else None
    )
    referral, _ = services.referral_create(
        actor=request.user,
        resident=resident,
        to_department=to_department,
        from_department=from_department,
        urgency=payload.urgency,
        reason_code=payload.reason_code,
        criteria_codes=payload.criteria_codes,
        clinical_summary=payload.clinical_summary,
        resident_consent=payload.resident_consent,
        submit=payload.submit,
        idempotency_key=request.headers.get("Idempotency-Key", ""),
        care_setting=payload.care_setting,
    )
    return _detail(request, referral.public_id, status=201)


class ReferralPageOut(Schema):
    """A page of a worklist, each referral in the caller's view (config/pagination.py's format)."""

    items: list[ReferralOut | ReferralIdentityOut]
    count: int
    page: int
    page_size: int
    pages: int


@router.get("", response=ReferralPageOut)
def referral_list(
    request, filters: Query[WorklistFilter], pagination: Query[PageNumberPagination.Input]
):
    """Worklists: `box=incoming` (to the caller's institution) or `outgoing` (from it), ordered
    by the nearest deadline."""
    qs = selectors.referrals_worklist(
        request.user,
        selectors.WorklistFilters(
            box=filters.box,
            status=filters.status,
            direction=filters.direction,
            urgency=filters.urgency,
            overdue=filters.overdue,
            department=filters.department,
            resident=filters.resident,
            appointment_date=filters.appointment_date,
        ),
    )
    audit_record(
        actor=request.user,
        action="list",
        object_type="referral",
        details={
            "box": filters.box or "",
            "filters": filters.model_dump(mode="json", exclude_none=True, exclude={"box"}),
        },
    )
    page = PageNumberPagination().paginate_queryset(qs, pagination, request)
    view = (
        ReferralOut if permissions.can_read_referral_clinical(request.user) else ReferralIdentityOut
    )
    context = {"request": request}
    page["items"] = [
        view.from_orm(referral, context=context).model_dump(mode="json")
        for referral in page["items"]
    ]
    return view_answer(page)


@router.get("/suggestions", response={200: list[SuggestionOut], **errors(404)})
def referral_suggestions(
    request,
    direction: ReferralDirection | None = None,
    specialty: str | None = None,
    resident: uuid.UUID | None = None,
):
    """Where the caller's institution may refer to: alliance partners first (and, for a signed
    resident going down, only the family-doctor team's institution)."""
    if not permissions.can_create_referral(request.user):
        raise Forbidden(
            "referral_create_forbidden", "您的角色不能开具转诊 (your role may not refer)"
        )
    resident_obj = selectors.resident_for_referral(request.user, resident) if resident else None
    suggestions = selectors.referral_targets_suggested(
        request.user, direction=direction, specialty=specialty, resident=resident_obj
    )
    return [
        {
            "institution": s.department.institution,
            "tier": s.department.institution.tier,
            "department": s.department,
            "specialty": s.department.specialty,
            "direction": s.direction,
            "alliance_partner": s.alliance_partner,
            "alliances": s.alliances,
            "team_institution": s.team_institution,
            "referral_slots_per_day": s.department.referral_slots_per_day,
        }
        for s in suggestions
    ]


@router.get("/{uuid:referral_id}", response=ReferralDetailViewOut)
def referral_detail(request, referral_id: uuid.UUID):
    return _detail(request, referral_id)


# --- one operation per action, generated from the workflow -------------------------------------


def _act(request, referral_id: uuid.UUID, name: str, payload: Schema | None) -> Referral:
    referral = selectors.referral_for_user(request.user, referral_id)
    result = REFERRAL_WORKFLOW.run(name, referral=referral, actor=request.user, payload=payload)
    return _detail(request, result.public_id)


def _action_view(spec: ActionSpec) -> Callable[..., Referral]:
    """A handler whose signature carries the action's own input schema (ninja reads it). An
    action whose fields all have defaults may be sent without a body."""
    name = spec.name

    def without_input(request, referral_id: uuid.UUID):
        return _act(request, referral_id, name, None)

    if spec.input is None:
        view: Callable[..., Referral] = without_input
    else:
        schema = cast(type[Schema], spec.input)

        def with_input(request, referral_id: uuid.UUID, payload: schema):  # type: ignore[valid-type]
            return _act(request, referral_id, name, payload)

        def with_optional_input(request, referral_id: uuid.UUID, payload: schema | None = None):  # type: ignore[valid-type]
            return _act(request, referral_id, name, payload)

        required = any(field.is_required() for field in schema.model_fields.values())
        view = with_input if required else with_optional_input
    view.__name__ = f"referral_{name}"
    return view


for _spec in REFERRAL_WORKFLOW.actions.values():
    router.add_api_operation(
        f"/{{uuid:referral_id}}/{_spec.name}",
        ["POST"],
        _action_view(_spec),
        response={200: ReferralDetailViewOut, **errors(409)},
        operation_id=f"referral_{_spec.name}",
        summary=f"{_spec.name}: {_spec.label}",
        description=(
            f"{_spec.description}.\n\nFrom → to (side: roles):\n"
            f"{REFERRAL_WORKFLOW.who_may(_spec.name)}\n\n"
            "409 `transition_not_allowed` (with `details.allowed_actions`) when the state does "
            "not allow it, 403 `referral_action_forbidden` for a side or role that may not, "
            "404 for a referral outside the caller's institution."
        ),
    )


@router.post(
    "/{uuid:referral_id}/{action}", response=ReferralDetailViewOut, include_in_schema=False
)
def referral_action_unknown(request, referral_id: uuid.UUID, action: str):
    """Any other action name: 404 `action_unknown` in the API's error format."""
    REFERRAL_WORKFLOW.action(action)  # 404 `action_unknown` for a name the workflow lacks
    raise Http404  # a bound action always matches its own operation first


def _referenced(lookup: Callable[[uuid.UUID], Any], public_id: uuid.UUID, *, field: str) -> Any:
    """A record the body names: one that does not exist is bad input (422, its not-found code),
    not a missing resource."""
    try:
        return lookup(public_id)
    except NotFound as missing:
        raise InvalidInput(missing.code, missing.message, field=field) from None
