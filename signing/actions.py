"""The user actions of the contract lifecycle (signing.lifecycle) bound to their services and
input schemas: what the API routes, the portal's forms and the OpenAPI document read. Each
service is called as `service(contract=..., actor=..., **input.model_dump())`."""

from __future__ import annotations

from typing import Any

from ninja import Field, Schema

from healthnet.models import User
from healthnet.national_id import NATIONAL_ID_OR_EMPTY_PATTERN
from healthnet.workflow import ActionSpec
from signing.lifecycle import ACTION_LABELS, CONTRACT_LIFECYCLE, Action
from signing.models import Contract, Signatory, SignatureMethod, TerminationReason
from signing.selectors import team_by_code
from signing.services import (
    SignResult,
    contract_renew,
    contract_sign,
    contract_switch,
    contract_terminate,
)


class ConsentIn(Schema):
    signed_by: Signatory
    method: SignatureMethod
    guardian_name: str = Field("", max_length=50)
    guardian_relationship: str = Field("", max_length=20)
    guardian_national_id: str = Field("", pattern=NATIONAL_ID_OR_EMPTY_PATTERN)
    resident_incapacitated: bool = Field(False, description="the signer attests incapacity")


class RenewIn(ConsentIn):
    package_codes: list[str] | None = Field(
        None, alias="packages", description="default: the current packages still offered"
    )


class SwitchIn(RenewIn):
    team: str = Field(..., min_length=1, max_length=32, description="the new team's code")
    national_id: str = Field(
        "",
        pattern=NATIONAL_ID_OR_EMPTY_PATTERN,
        description="the resident's ID number read from their card at the new team's desk; "
        "needed when the resident has no tie to the new team's institution yet",
    )


class TerminateIn(Schema):
    # Required and one of the reasons (the service's 422 `termination_reason_unknown` for any
    # other); a string, so the portal's form offers the reasons as its own choices.
    reason: str = Field(
        ...,
        min_length=1,
        max_length=20,
        json_schema_extra={"enum": list(TerminationReason.values)},
        description=" | ".join(TerminationReason.values),
    )
    note: str = Field("", max_length=200)


def _switch(*, actor: User | None, contract: Contract, team: str, **consent: Any) -> SignResult:
    """The switch action names the new team by its code."""
    return contract_switch(actor=actor, contract=contract, team=team_by_code(team), **consent)


CONTRACT_ACTIONS: dict[str, ActionSpec] = CONTRACT_LIFECYCLE.bind_actions(
    [
        ActionSpec(
            Action.SIGN,
            ACTION_LABELS[Action.SIGN],
            contract_sign,
            ConsentIn,
            "Record consent and activate: one active contract per resident, the team not full.",
        ),
        ActionSpec(
            Action.RENEW,
            ACTION_LABELS[Action.RENEW],
            contract_renew,
            RenewIn,
            "续约 with the same team at term end: a new one-year contract follows.",
        ),
        ActionSpec(
            Action.SWITCH,
            ACTION_LABELS[Action.SWITCH],
            _switch,
            SwitchIn,
            "转签 to another team at term end; the new team signs.",
        ),
        ActionSpec(
            Action.TERMINATE,
            ACTION_LABELS[Action.TERMINATE],
            contract_terminate,
            TerminateIn,
            "解约 with a reason from the list; open follow-ups not yet due are cancelled.",
        ),
    ]
)
