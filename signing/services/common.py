"""What every signing service shares: audited refusals, the lock order (contract → resident →
team), the checks, consent and notifications."""

from __future__ import annotations

import datetime as dt
import functools
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, TypeVar

from django.db import IntegrityError, transaction

from healthnet.errors import Conflict, DomainError, Forbidden, InvalidInput, NotFound
from healthnet.models import Resident, User
from healthnet.national_id import national_id_hash, parse_national_id
from healthnet.outbox import outbox_enqueue
from healthnet.populations import age_on
from healthnet.services import audit_record
from signing import permissions
from signing.models import (
    ACTIVE_STATUSES,
    ADULT_AGE,
    CAPACITY_WARNING_RATIO,
    CONTRACT_TRANSITIONS,
    Contract,
    ContractStatus,
    FamilyDoctorTeam,
    FollowUp,
    ServicePackage,
    Signatory,
    SignatureMethod,
)
from signing.selectors import member_team_ids
from signing.terms import followup_plan, terms_document, terms_hash

F = TypeVar("F", bound=Callable[..., Any])

ACTIVE_CONTRACT_EXISTS_MESSAGE = (
    "该居民已有有效签约，一人只能签约一个团队 (the resident already has an active contract)"
)


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
                object_type = {
                    Contract: "contract",
                    FollowUp: "follow_up",
                    FamilyDoctorTeam: "family_doctor_team",
                }.get(type(target), "contract")
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
        raise NotFound("contract_not_found", "签约不存在 (no such contract)")
    return locked


def lock_resident(resident_id: int) -> Resident:
    return Resident.objects.select_for_update().get(pk=resident_id)


def lock_team(team_id: int) -> FamilyDoctorTeam:
    return FamilyDoctorTeam.objects.select_for_update().get(pk=team_id)


def require_transition(
    contract: Contract, to: str, *, code: str = "transition_not_allowed"
) -> None:
    if to not in CONTRACT_TRANSITIONS[contract.status]:
        raise Conflict(
            code,
            f"签约状态为 {contract.get_status_display()}，不能变为 {ContractStatus(to).label} "
            f"(a {contract.status} contract cannot become {to})",
            status=contract.status,
        )


def require_actor_on_team(actor: User | None, team: FamilyDoctorTeam) -> None:
    if actor is None:  # the system: periodic jobs, imports, demo data
        return
    if not permissions.can_act_on_team(actor, team, member_team_ids=member_team_ids(actor)):
        raise Forbidden(
            "team_out_of_scope",
            "您不是该团队成员或其机构管理员 (you are not a member or admin of this team)",
        )


def require_team_open(team: FamilyDoctorTeam) -> None:
    if not team.active:
        raise Conflict("team_inactive", "该团队已停止签约 (this team no longer signs residents)")


def require_no_active_contract(resident_id: int, *, exclude_pk: int | None = None) -> None:
    existing = Contract.objects.filter(resident_id=resident_id, status__in=ACTIVE_STATUSES)
    if exclude_pk is not None:
        existing = existing.exclude(pk=exclude_pk)
    current = existing.select_related("team").first()
    if current is not None:
        raise Conflict(
            "active_contract_exists",
            ACTIVE_CONTRACT_EXISTS_MESSAGE,
            contract_id=str(current.public_id),
            team=current.team.code,
        )


def require_room(team: FamilyDoctorTeam, load: int) -> None:
    if load >= team.capacity:
        raise Conflict(
            "team_full",
            f"团队签约人数已满 ({load}/{team.capacity}) (the team is at capacity)",
            team=team.code,
            load=load,
            capacity=team.capacity,
        )


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
    """知情同意: a minor (< 18) or an incapacitated resident is signed for by a guardian."""
    if signed_by not in Signatory.values:
        raise InvalidInput("signed_by_invalid", "签署人应为居民本人或监护人", field="signed_by")
    if method not in SignatureMethod.values:
        raise InvalidInput("signature_method_invalid", "未知的签署方式", field="method")
    needs_guardian = age_on(resident.birth_date, on) < ADULT_AGE or resident_incapacitated
    if needs_guardian and signed_by != Signatory.GUARDIAN:
        raise InvalidInput(
            "guardian_required",
            "未成年人或无民事行为能力的居民须由监护人签署 (a guardian must sign for a minor or an "
            "incapacitated resident)",
            field="signed_by",
        )
    if signed_by == Signatory.RESIDENT:
        if method == SignatureMethod.GUARDIAN:
            raise InvalidInput(
                "signature_method_mismatch", "居民本人签署不能选择监护人代签", field="method"
            )
        return Consent(signed_by=signed_by, method=method)
    if method == SignatureMethod.IN_PERSON:
        method = SignatureMethod.GUARDIAN
    for field, value in (
        ("guardian_name", guardian_name),
        ("guardian_relationship", guardian_relationship),
        ("guardian_national_id", guardian_national_id),
    ):
        if not value.strip():
            raise InvalidInput(
                "guardian_details_required",
                "监护人签署须填写姓名、关系和身份证号码 (guardian name, relation and ID required)",
                field=field,
            )
    guardian = parse_national_id(guardian_national_id, field="guardian_national_id")
    if age_on(guardian.birth_date, on) < ADULT_AGE:
        raise InvalidInput(
            "guardian_not_adult",
            "监护人须年满18岁 (the guardian must be an adult)",
            field="guardian_national_id",
        )
    guardian_hash = national_id_hash(guardian.number)
    if guardian_hash == resident.national_id_hash:
        raise InvalidInput(
            "guardian_is_resident", "监护人不能是居民本人", field="guardian_national_id"
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
    when two transactions race past the service check."""
    try:
        with transaction.atomic():
            contract.save(update_fields=update_fields)
    except IntegrityError:
        if (
            Contract.objects.filter(resident_id=contract.resident_id, status__in=ACTIVE_STATUSES)
            .exclude(pk=contract.pk)
            .exists()
        ):
            raise Conflict(
                "active_contract_exists",
                ACTIVE_CONTRACT_EXISTS_MESSAGE,
            ) from None
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
        capacity_warning=load_after >= team.capacity * CAPACITY_WARNING_RATIO,
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
