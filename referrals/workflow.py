"""The referral workflow with its actions bound: the one object (`REFERRAL_WORKFLOW`) the API,
the portal and the tests read.

referrals/transitions.py holds the table (states with their facts, transitions with who may
take them), data only so that models and services import it without a cycle. This module sits
above the services and gives each user action of the table its input schema (one per action,
so the OpenAPI says exactly what each needs) and the service that performs it.
`Workflow.bind_actions` refuses at import time a table action without a spec or a spec without a
table action.
"""

import datetime as dt
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, cast

from ninja import Field, Schema

from healthnet.errors import InvalidInput, NotFound
from healthnet.models import User
from healthnet.selectors import department_by_public_id
from healthnet.workflow import ActionSpec, Workflow
from referrals import permissions, services
from referrals.models import Referral, RejectionReason
from referrals.transitions import REFERRAL_TABLE, Action, ReferralState

# --- the input of each action ------------------------------------------------------------------


class ReferralAcceptIn(Schema):
    comment: str = Field("", max_length=2000, description="a note for the timeline")


class ReferralRejectIn(Schema):
    reason_code: RejectionReason = Field(..., description="the coded reason")
    comment: str = Field(..., min_length=1, max_length=2000, description="why, for the referrer")


class ReferralRedirectIn(Schema):
    to_department: uuid.UUID = Field(
        ..., description="the new target department's id, at a third institution"
    )
    comment: str = Field("", max_length=2000, description="why, for the timeline")


class ReferralScheduleIn(Schema):
    date: dt.date = Field(
        ..., description="the appointment day, from today to the end of the booking deadline"
    )


class ReferralRescheduleIn(Schema):
    date: dt.date = Field(..., description="the new appointment day (one rebooking), from today")


class ReferralCompleteIn(Schema):
    summary: str = Field(..., min_length=1, max_length=4000, description="诊疗小结, required")
    findings: str = Field("", max_length=4000)
    diagnosis: str = Field("", max_length=200)
    recommendations: str = Field("", max_length=4000)
    return_to_primary_care: bool = Field(
        False, description="an upward referral goes back down to primary care (opens one)"
    )
    resident_consent: bool = Field(
        False, description="the resident agreed (required to go down for a signed resident)"
    )


class ReferralAcknowledgeIn(Schema):
    comment: str = Field("", max_length=2000, description="a note for the timeline")


class ReferralCancelIn(Schema):
    reason: str = Field(..., min_length=1, max_length=2000, description="why, required")


# --- adapters from an input to its service -----------------------------------------------------


def _redirect(
    *, referral: Referral, actor: User, to_department: uuid.UUID, comment: str = ""
) -> Referral:
    """Redirect to the department named by its public id; answers this (now redirected)
    referral, which links its successor."""
    try:
        department = department_by_public_id(to_department)
    except NotFound as missing:
        raise InvalidInput(missing.code, missing.message, field="to_department") from None
    old, _successor = services.referral_redirect(
        referral=referral, actor=actor, to_department=department, comment=comment
    )
    return old


# --- the bound workflow ------------------------------------------------------------------------

ACTION_SPECS = (
    ActionSpec(Action.SUBMIT, "提交", services.referral_submit, None, "submit a draft"),
    ActionSpec(
        Action.ACCEPT, "接收", services.referral_accept, ReferralAcceptIn, "accept the referral"
    ),
    ActionSpec(
        Action.REJECT,
        "拒绝",
        services.referral_reject,
        ReferralRejectIn,
        "reject with a coded reason and a comment",
    ),
    ActionSpec(
        Action.REDIRECT,
        "改转",
        _redirect,
        ReferralRedirectIn,
        "send it on to another institution: this referral ends redirected and a linked one is "
        "submitted to the new target (answered in `redirected_to`)",
    ),
    ActionSpec(
        Action.SCHEDULE,
        "预约",
        services.referral_schedule,
        ReferralScheduleIn,
        "book a reserved slot of the department on the day (the emergency green channel takes "
        "none); 409 `slots_full` when the day is full",
    ),
    ActionSpec(Action.ARRIVE, "到诊", services.referral_arrive, None, "the resident checked in"),
    ActionSpec(
        Action.NO_SHOW,
        "爽约",
        services.referral_no_show,
        None,
        "the resident did not come: frees the slot and tells the referrer",
    ),
    ActionSpec(
        Action.RESCHEDULE,
        "改约",
        services.referral_reschedule,
        ReferralRescheduleIn,
        "rebook once after a no-show; 409 `reschedule_limit` the second time",
    ),
    ActionSpec(
        Action.COMPLETE,
        "诊疗反馈",
        services.referral_complete,
        ReferralCompleteIn,
        "record the feedback; with `return_to_primary_care` an upward referral opens the "
        "downward one (`follow_on`)",
    ),
    ActionSpec(
        Action.ACKNOWLEDGE,
        "确认闭环",
        services.referral_acknowledge,
        ReferralAcknowledgeIn,
        "the referrer acknowledges the feedback: closed",
    ),
    ActionSpec(
        Action.CANCEL,
        "取消",
        services.referral_cancel,
        ReferralCancelIn,
        "cancel (frees a booked slot and tells the other side)",
    ),
)


@dataclass(frozen=True)
class ReferralWorkflow:
    """The table and its bound actions."""

    table: Workflow[ReferralState]
    actions: Mapping[str, ActionSpec]

    def state(self, status: str) -> ReferralState:
        return self.table.state(status)

    def action(self, name: str) -> ActionSpec:
        """The user action `name`; 404 `action_unknown` for any other name (system moves too)."""
        spec = self.actions.get(name)
        if spec is None:
            raise NotFound("action_unknown", f"未知的转诊操作: {name} (unknown action)")
        return spec

    def allowed_actions(self, user: User, referral: Referral) -> list[str]:
        return permissions.referral_allowed_actions(user, referral)

    def run(
        self, name: str, *, referral: Referral, actor: User, payload: Schema | None = None
    ) -> Referral:
        """Take the user action `name` with its input (None: the input's defaults) and return
        the referral it answers. Refusals are the service's (409, 403, 422)."""
        spec = self.action(name)
        if spec.input is None:
            return spec.service(referral=referral, actor=actor)
        if payload is None:
            payload = spec.input()
        if not isinstance(payload, spec.input):
            raise TypeError(f"{name} takes {spec.input.__name__}, not {type(payload).__name__}")
        values: dict[str, Any] = cast(Schema, payload).model_dump()
        return spec.service(referral=referral, actor=actor, **values)

    def who_may(self, name: str) -> str:
        """Plain words from the table: from which states, which side with which roles."""
        lines = []
        for transition in self.table.transitions:
            if transition.action != name or transition.system:
                continue
            parties = "; ".join(
                f"{party}: {', '.join(sorted(roles))}"
                for party, roles in sorted(transition.actors.items())
            )
            lines.append(f"{transition.source} → {transition.target} ({parties})")
        return "\n".join(lines)


REFERRAL_WORKFLOW = ReferralWorkflow(
    table=REFERRAL_TABLE, actions=REFERRAL_TABLE.bind_actions(ACTION_SPECS)
)
