"""What every signing service shares: audited refusals, the lock order (contract → resident →
team), moves by the lifecycle table, the checks (the rules are signing.rules: these read what
the rules need and call them), consent and notifications."""

from __future__ import annotations

import datetime as dt
import functools
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, TypeVar

from django.db import IntegrityError, transaction
from django.utils import timezone

from healthnet.errors import Conflict, DomainError, Forbidden, NotFound
from healthnet.models import Resident, User
from healthnet.national_id import national_id_hash, parse_national_id
from healthnet.outbox import outbox_enqueue
from healthnet.services import audit_record
from signing import permissions, rules
from signing.lifecycle import ACTION_LABELS, CONTRACT_LIFECYCLE, REFUSAL_CODES, state_label
from signing.models import (
    Contract,
    ContractEvent,
    FamilyDoctorTeam,
    FollowUp,
    ServicePackage,
    Signatory,
)
from signing.selectors import (
    CONTRACT_NOT_FOUND_MESSAGE,
    RESIDENT_NOT_FOUND_MESSAGE,
    member_team_ids,
    resident_tie_to_institution,
)
from signing.terms import followup_plan, terms_document, terms_hash

F = TypeVar("F", bound=Callable[..., Any])


# --- refusals are audited too ------------------------------------------------------------------


def audit_refusals(action: str) -> Callable[[F], F]:
    """On a DomainError, record `<action>_refused` (with its code) after the rollback, re-raise."""

    def decorate(service: F) -> F:
        @functools.wraps(service)
        def wrapper(**kwargs: Any) -> Any:
            try:
                return service(**kwargs)
            except DomainError as exc:
                target = kwargs.get("contract") or kwargs.get("followup") or kwargs.get("team")
                object_types: dict[type, str] = {
                    Contract: "contract",
                    FollowUp: "follow_up",
                    FamilyDoctorTeam: "family_doctor_team",
                }
                object_type = object_types.get(type(target), "contract")
                with transaction.atomic():
                    audit_record(
                        actor=kwargs.get("actor"),
                        action=f"{action}_refused",
                        object_type=object_type,
                        object_id=str(getattr(target, "public_id", "") or ""),
                        details={"code": exc.code, **_json_safe(exc.details)},
                    )
                raise

        return wrapper  # type: ignore[return-value]

    return decorate


def _json_safe(details: dict[str, Any]) -> dict[str, Any]:
    return json.loads(json.dumps(details, default=str))


def followups_create(contract: Contract, packages: Iterable[ServicePackage]) -> int:
    rows = [
        FollowUp(contract=contract, item=item, due_date=due)
        for item, due in followup_plan(contract.start_date, contract.end_date, packages)
    ]
    FollowUp.objects.bulk_create(rows)
    return len(rows)


# --- locks and checks ---------------------------------------------------------------------------


def lock_contract(contract: Contract) -> Contract:
    locked = (
        Contract.objects.select_for_update(of=("self",))
        .select_related("resident", "team", "team__institution")
        .filter(pk=contract.pk)
        .first()
    )
    if locked is None:
        raise NotFound("contract_not_found", CONTRACT_NOT_FOUND_MESSAGE)
    return locked


def lock_resident(resident_id: int) -> Resident:
    return Resident.objects.select_for_update().get(pk=resident_id)


def lock_team(team_id: int) -> FamilyDoctorTeam:
    return FamilyDoctorTeam.objects.select_for_update().get(pk=team_id)


def contract_event_record(
    contract: Contract,
    *,
    action: str,
    from_status: str,
    actor: User | None,
    at: dt.datetime | None = None,
    reason: str = "",
    details: dict[str, Any] | None = None,
) -> ContractEvent:
    """Append one line to the contract's timeline (its status now is the `to_status`). Call it
    inside the transaction of the change; `move` does for every lifecycle move, the services
    that create a contract do for its first line."""
    return ContractEvent.objects.create(
        contract=contract,
        at=at or timezone.now(),
        actor=actor if actor is not None and actor.pk else None,
        actor_label=actor.username if actor is not None else "system",
        action=action,
        from_status=from_status,
        to_status=contract.status,
        reason=reason[:200],
        details=details or {},
    )


def move(
    contract: Contract,
    action: str,
    *,
    actor: User | None,
    at: dt.datetime | None = None,
    reason: str = "",
) -> str:
    """Move the contract by the lifecycle table (status set, not saved) and write the move on its
    timeline (ContractEvent): the one door every status change goes through, users' actions and
    the periodic jobs alike. Returns the old status. 409 when the table has no such move from the
    contract's status. Call it inside the transaction that saves the contract."""
    transition = CONTRACT_LIFECYCLE.transition(contract.status, action)
    if transition is None:
        raise Conflict(
            REFUSAL_CODES.get(action, "transition_not_allowed"),
            f"签约状态为 {state_label(contract.status)}，不能{ACTION_LABELS.get(action, action)} "
            f"(a {contract.status} contract cannot take {action})",
            status=contract.status,
            allowed_actions=CONTRACT_LIFECYCLE.actions_from(contract.status),
        )
    previous = contract.status
    contract.status = transition.target
    contract_event_record(
        contract, action=action, from_status=previous, actor=actor, at=at, reason=reason
    )
    return previous


def require_may_act(actor: User | None, team: FamilyDoctorTeam, action: str | None) -> None:
    """The actor is a party allowed to take `action` (None: to offer a contract) on the team's
    contracts. No actor: the system (periodic jobs, imports, demo data)."""
    if actor is None:
        return
    member_of = member_team_ids(actor)
    if action is None:
        allowed = permissions.can_offer_contract(actor, team, member_team_ids=member_of)
    else:
        allowed = permissions.can_take_contract_action(
            actor, team, action, member_team_ids=member_of
        )
    if not allowed:
        raise Forbidden(
            "team_out_of_scope",
            "您不是该团队成员或其机构管理员 (you are not a member or admin of this team)",
        )


def require_tie(
    actor: User | None, resident: Resident, institution_id: int, *, national_id: str = ""
) -> str:
    """An offer (or a switch) needs the resident tied to the team's institution already: related
    to it (registered, visited, referred, signed: healthnet.selectors.resident_related_to_
    institution) or identified in person by the ID number read from their card at its desk.
    A pending offer is no tie. Without one the resident is out of scope: 404 exactly like a
    resident that does not exist. Returns the basis recorded on the contract."""
    if actor is None:
        return ""
    basis = resident_tie_to_institution(resident, institution_id, national_id=national_id)
    if basis is None:
        raise NotFound("resident_not_found", RESIDENT_NOT_FOUND_MESSAGE)
    return basis


def require_team_open(team: FamilyDoctorTeam) -> None:
    rules.team_open_check(active=team.active)


def require_no_clash(
    resident_id: int,
    *,
    start: dt.date,
    end: dt.date,
    will_hold_place: bool = True,
    exclude_pk: int | None = None,
) -> None:
    """signing.rules.term_clash_check against the resident's other contracts."""
    others = Contract.objects.filter(resident_id=resident_id)
    if exclude_pk is not None:
        others = others.exclude(pk=exclude_pk)
    rules.term_clash_check(
        start=start,
        end=end,
        will_hold_place=will_hold_place,
        others=[
            rules.OtherTerm(start=s, end=e, status=status)
            for s, e, status in others.values_list("start_date", "end_date", "status")
        ],
    )


def require_room(team: FamilyDoctorTeam, load: int) -> None:
    rules.team_room_check(team_code=team.code, load=load, capacity=team.capacity)


@dataclass(frozen=True)
class Consent:
    signed_by: str
    method: str
    guardian_name: str = ""
    guardian_relationship: str = ""
    guardian_national_id_hash: str = ""


def consent_from(
    resident: Resident,
    *,
    on: dt.date,
    signed_by: str,
    method: str,
    guardian_name: str,
    guardian_relationship: str,
    guardian_national_id: str,
    resident_incapacitated: bool,
) -> Consent:
    """知情同意 by signing.rules: a minor (< 18) or an incapacitated resident is signed for by an
    adult guardian who is not the resident; who signs and how agree."""
    method = rules.signatory_check(
        signed_by=signed_by,
        method=method,
        guardian_needed=rules.needs_guardian(
            birth_date=resident.birth_date, on=on, incapacitated=resident_incapacitated
        ),
    )
    if signed_by == Signatory.RESIDENT:
        return Consent(signed_by=signed_by, method=method)
    rules.guardian_details_check(
        name=guardian_name, relationship=guardian_relationship, national_id=guardian_national_id
    )
    guardian = parse_national_id(guardian_national_id, field="guardian_national_id")
    guardian_hash = national_id_hash(guardian.number)
    rules.guardian_check(
        guardian_birth_date=guardian.birth_date,
        on=on,
        guardian_id_hash=guardian_hash,
        resident_id_hash=resident.national_id_hash,
    )
    return Consent(
        signed_by=signed_by,
        method=method,
        guardian_name=guardian_name.strip()[:50],
        guardian_relationship=guardian_relationship.strip()[:20],
        guardian_national_id_hash=guardian_hash,
    )


def apply_consent(contract: Contract, consent: Consent, *, at: dt.datetime) -> None:
    contract.signed_by = consent.signed_by
    contract.signature_method = consent.method
    contract.guardian_name = consent.guardian_name
    contract.guardian_relationship = consent.guardian_relationship
    contract.guardian_national_id_hash = consent.guardian_national_id_hash
    contract.signed_at = at


def seal_terms(contract: Contract, packages: Iterable[ServicePackage]) -> None:
    contract.terms_hash = terms_hash(
        terms_document(
            contract_id=str(contract.public_id),
            resident_id=str(contract.resident.public_id),
            team_code=contract.team.code,
            start_date=contract.start_date,
            end_date=contract.end_date,
            packages=packages,
        )
    )


def save_active(contract: Contract, *, update_fields: list[str] | None = None) -> None:
    """Save a contract entering an active status; the partial unique constraint is the backstop
    when two transactions race past the service check (read again, the rule answers)."""
    try:
        with transaction.atomic():
            contract.save(update_fields=update_fields)
    except IntegrityError:
        require_no_clash(
            contract.resident_id,
            start=contract.start_date,
            end=contract.end_date,
            exclude_pk=contract.pk,
        )
        raise


@dataclass(frozen=True)
class SignResult:
    contract: Contract
    capacity_warning: bool
    team_load: int
    team_capacity: int


def sign_result(contract: Contract, team: FamilyDoctorTeam, load_after: int) -> SignResult:
    return SignResult(
        contract=contract,
        capacity_warning=rules.capacity_warning(load=load_after, capacity=team.capacity),
        team_load=load_after,
        team_capacity=team.capacity,
    )


# --- notifications ------------------------------------------------------------------------------


def notify_resident(resident: Resident, body: str, *, dedupe_key: str | None = None) -> bool:
    """SMS when the resident has a phone, else the log channel. False when deduplicated."""
    if resident.phone:
        channel, recipient = "sms", resident.phone
    else:
        channel, recipient = "log", f"resident:{resident.public_id}"
    message = outbox_enqueue(channel=channel, recipient=recipient, body=body, dedupe_key=dedupe_key)
    return message is not None


def notify_team(
    team: FamilyDoctorTeam, subject: str, body: str, *, dedupe_key: str | None = None
) -> bool:
    message = outbox_enqueue(
        channel="log",
        recipient=f"team:{team.code}",
        subject=subject,
        body=body,
        dedupe_key=dedupe_key,
    )
    return message is not None
