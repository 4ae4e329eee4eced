"""The contract lifecycle of docs/design.md §5: create → sign → renew / switch / expire,
terminate."""

from __future__ import annotations

import datetime as dt

from django.db import transaction
from django.utils import timezone

from healthnet.errors import InvalidInput
from healthnet.models import Resident, User
from healthnet.services import audit_record
from signing import rules
from signing.history import OFFER, RENEWAL_OF, SWITCH_OF
from signing.lifecycle import Action
from signing.models import (
    Contract,
    ContractStatus,
    FamilyDoctorTeam,
    FollowUp,
    FollowUpStatus,
    ServicePackage,
    TerminationReason,
)
from signing.selectors import team_active_count
from signing.services.common import (
    SignResult,
    apply_consent,
    audit_refusals,
    consent_from,
    contract_event_record,
    followups_create,
    lock_contract,
    lock_resident,
    lock_team,
    move,
    notify_resident,
    notify_team,
    require_may_act,
    require_no_clash,
    require_room,
    require_team_open,
    require_tie,
    save_active,
    seal_terms,
    sign_result,
)
from signing.terms import packages_offered, packages_resolve, packages_with_items, term_end

# --- contracts ----------------------------------------------------------------------------------


@audit_refusals("contract_create")
def contract_create(
    *,
    actor: User | None,
    resident: Resident,
    team: FamilyDoctorTeam,
    package_codes: list[str],
    start_date: dt.date | None = None,
    national_id: str = "",
) -> Contract:
    """Offer a contract (pending_signature): the basic package plus eligible personalised ones.

    Scope answers first: the actor may offer for the team (403), and the resident is tied to the
    team's institution (else 404, as for an unknown resident) — related to it already, or
    identified in person by `national_id`, the number read from their card at the desk, which
    the offer records as its basis. Then the rules (signing.rules), then the state."""
    require_may_act(actor, team, None)
    basis = require_tie(actor, resident, team.institution_id, national_id=national_id)
    require_team_open(team)
    today = timezone.localdate()
    start_date = start_date or today
    rules.offer_start_check(start=start_date, today=today)
    end_date = term_end(start_date)
    rules.term_check(start=start_date, end=end_date)
    packages = packages_resolve(
        resident, package_codes, on=rules.eligibility_day(start=start_date, today=today)
    )
    with transaction.atomic():
        lock_resident(resident.pk)
        require_no_clash(resident.pk, start=start_date, end=end_date)
        rules.offer_check(
            pending_with_team=Contract.objects.filter(
                resident=resident, team=team, status=ContractStatus.PENDING_SIGNATURE
            ).exists()
        )
        require_room(team, team_active_count(team.pk))
        contract = Contract.objects.create(
            resident=resident,
            team=team,
            start_date=start_date,
            end_date=end_date,
            offer_basis=basis,
            created_by=actor,
        )
        contract.packages.set(packages)
        contract_event_record(contract, action=OFFER, from_status="", actor=actor)
        audit_record(
            actor=actor,
            action="contract_create",
            object_type="contract",
            object_id=contract.public_id,
            details={
                "team": team.code,
                "packages": [p.code for p in packages],
                "basis": basis or "system",
            },
        )
    return contract


@audit_refusals("contract_sign")
def contract_sign(
    *,
    actor: User | None,
    contract: Contract,
    signed_by: str,
    method: str,
    guardian_name: str = "",
    guardian_relationship: str = "",
    guardian_national_id: str = "",
    resident_incapacitated: bool = False,
) -> SignResult:
    """Record consent and activate: one active contract per resident, the team not full."""
    now = timezone.now()
    with transaction.atomic():
        contract = lock_contract(contract)
        require_may_act(actor, contract.team, Action.SIGN)
        move(contract, Action.SIGN, actor=actor, at=now)
        consent = consent_from(
            contract.resident,
            on=timezone.localdate(now),
            signed_by=signed_by,
            method=method,
            guardian_name=guardian_name,
            guardian_relationship=guardian_relationship,
            guardian_national_id=guardian_national_id,
            resident_incapacitated=resident_incapacitated,
        )
        lock_resident(contract.resident_id)
        team = lock_team(contract.team_id)
        require_team_open(team)
        require_no_clash(
            contract.resident_id,
            start=contract.start_date,
            end=contract.end_date,
            exclude_pk=contract.pk,
        )
        load = team_active_count(team.pk)
        require_room(team, load)
        packages = list(contract.packages.prefetch_related(packages_with_items()))
        apply_consent(contract, consent, at=now)
        seal_terms(contract, packages)
        save_active(contract)
        followups = followups_create(contract, packages)
        result = sign_result(contract, team, load + 1)
        audit_record(
            actor=actor,
            action="contract_sign",
            object_type="contract",
            object_id=contract.public_id,
            details={
                "signed_by": consent.signed_by,
                "method": consent.method,
                "terms_hash": contract.terms_hash,
                "follow_ups": followups,
                "team_load": result.team_load,
                "capacity_warning": result.capacity_warning,
            },
        )
        notify_resident(
            contract.resident,
            f"【乌海健康】您已与{team.name}签约家庭医生服务，有效期 {contract.start_date} 至 "
            f"{contract.end_date}。",
        )
        if result.capacity_warning:
            notify_team(
                team,
                "签约容量预警 (capacity warning)",
                f"{team.name} 签约人数 {result.team_load}/{team.capacity}，已达95%。",
                dedupe_key=f"signing:capacity-warning:{team.code}:{timezone.localdate(now)}",
            )
    return result


def _successor_packages(
    old: Contract, resident: Resident, codes: list[str] | None, *, on: dt.date
) -> list[ServicePackage]:
    if codes is None:  # keep what is still offered
        offered = {p.code for p in packages_offered(resident, on=on)}
        codes = [p.code for p in old.packages.all() if p.code in offered]
    return packages_resolve(resident, codes, on=on)


@audit_refusals("contract_renew")
def contract_renew(
    *,
    actor: User | None,
    contract: Contract,
    signed_by: str,
    method: str,
    package_codes: list[str] | None = None,
    guardian_name: str = "",
    guardian_relationship: str = "",
    guardian_national_id: str = "",
    resident_incapacitated: bool = False,
) -> SignResult:
    """续约 with the same team: the old contract becomes renewed, a new one-year term follows it."""
    return _succeed(
        actor=actor,
        contract=contract,
        new_team=None,
        signed_by=signed_by,
        method=method,
        package_codes=package_codes,
        guardian=(guardian_name, guardian_relationship, guardian_national_id),
        resident_incapacitated=resident_incapacitated,
    )


@audit_refusals("contract_switch")
def contract_switch(
    *,
    actor: User | None,
    contract: Contract,
    team: FamilyDoctorTeam,
    signed_by: str,
    method: str,
    package_codes: list[str] | None = None,
    guardian_name: str = "",
    guardian_relationship: str = "",
    guardian_national_id: str = "",
    resident_incapacitated: bool = False,
    national_id: str = "",
) -> SignResult:
    """转签 to another team, only at term end (renewal_due): the old one becomes switched. The
    resident must be tied to the new team's institution, as for an offer (`national_id`: the
    number read from their card at its desk)."""
    return _succeed(
        actor=actor,
        contract=contract,
        new_team=team,
        national_id=national_id,
        signed_by=signed_by,
        method=method,
        package_codes=package_codes,
        guardian=(guardian_name, guardian_relationship, guardian_national_id),
        resident_incapacitated=resident_incapacitated,
    )


def _succeed(
    *,
    actor: User | None,
    contract: Contract,
    new_team: FamilyDoctorTeam | None,
    national_id: str = "",
    signed_by: str,
    method: str,
    package_codes: list[str] | None,
    guardian: tuple[str, str, str],
    resident_incapacitated: bool,
) -> SignResult:
    switching = new_team is not None
    action = Action.SWITCH if switching else Action.RENEW
    now = timezone.now()
    today = timezone.localdate(now)
    with transaction.atomic():
        old = lock_contract(contract)
        require_may_act(actor, new_team or old.team, action)
        if new_team is not None:
            require_tie(actor, old.resident, new_team.institution_id, national_id=national_id)
            if new_team.pk == old.team_id:
                raise InvalidInput(
                    "switch_same_team",
                    "转签须选择另一个团队 (switch to a different team)",
                    field="team",
                )
        move(old, action, actor=actor, at=now)
        resident = old.resident
        consent = consent_from(
            resident,
            on=today,
            signed_by=signed_by,
            method=method,
            guardian_name=guardian[0],
            guardian_relationship=guardian[1],
            guardian_national_id=guardian[2],
            resident_incapacitated=resident_incapacitated,
        )
        lock_resident(resident.pk)
        team = lock_team(new_team.pk if new_team is not None else old.team_id)
        require_team_open(team)
        load = team_active_count(team.pk)
        if switching:
            require_room(team, load)
            load += 1
        start = old.end_date + dt.timedelta(days=1)
        end = term_end(start)
        rules.term_check(start=start, end=end)
        require_no_clash(resident.pk, start=start, end=end, exclude_pk=old.pk)
        resident = Resident.objects.prefetch_related("population_tags").get(pk=resident.pk)
        packages = _successor_packages(
            old, resident, package_codes, on=rules.eligibility_day(start=start, today=today)
        )
        old.save(update_fields=["status", "updated_at"])
        successor = Contract(
            resident=resident,
            team=team,
            start_date=start,
            end_date=end,
            status=ContractStatus.ACTIVE,
            previous_contract=old,
            created_by=actor,
        )
        apply_consent(successor, consent, at=now)
        seal_terms(successor, packages)
        save_active(successor)
        successor.packages.set(packages)
        contract_event_record(
            successor,
            action=SWITCH_OF if switching else RENEWAL_OF,
            from_status="",
            actor=actor,
            at=now,
            details={"previous_contract": str(old.public_id)},
        )
        followups = followups_create(successor, packages)
        result = sign_result(successor, team, load)
        audit_record(
            actor=actor,
            action=f"contract_{action}",
            object_type="contract",
            object_id=successor.public_id,
            details={
                "previous_contract": str(old.public_id),
                "from_team": old.team.code,
                "to_team": team.code,
                "terms_hash": successor.terms_hash,
                "follow_ups": followups,
            },
        )
        word = f"转签至{team.name}" if switching else f"与{team.name}续约"
        notify_resident(
            resident,
            f"【乌海健康】您已{word}，新签约有效期 {successor.start_date} 至 "
            f"{successor.end_date}。",
        )
        if switching:
            notify_team(
                old.team,
                "居民转签 (resident switched team)",
                f"签约 {old.public_id} 的居民已转签至其他团队。",
            )
    return result


@audit_refusals("contract_terminate")
def contract_terminate(
    *, actor: User | None, contract: Contract, reason: str, note: str = ""
) -> Contract:
    """解约 with a reason from the fixed list; the open follow-ups are cancelled."""
    if not reason:
        raise InvalidInput(
            "termination_reason_required",
            "解约须说明原因 (a termination reason is required)",
            field="reason",
        )
    if reason not in TerminationReason.values:
        raise InvalidInput(
            "termination_reason_unknown",
            f"未知的解约原因: {reason} (allowed: {', '.join(TerminationReason.values)})",
            field="reason",
        )
    with transaction.atomic():
        contract = lock_contract(contract)
        require_may_act(actor, contract.team, Action.TERMINATE)
        now = timezone.now()
        previous = move(contract, Action.TERMINATE, actor=actor, at=now, reason=reason)
        contract.terminated_reason = reason
        contract.terminated_note = note.strip()[:200]
        contract.terminated_at = now
        contract.save()
        # Future follow-ups are cancelled; past-due open ones stay as missed (they count in 履约率).
        cancelled = FollowUp.objects.filter(
            contract=contract, status=FollowUpStatus.PENDING, due_date__gte=timezone.localdate()
        ).update(status=FollowUpStatus.CANCELLED)
        audit_record(
            actor=actor,
            action="contract_terminate",
            object_type="contract",
            object_id=contract.public_id,
            details={"reason": reason, "from": previous, "follow_ups_cancelled": cancelled},
        )
        # (no message to a resident who has died)
        if previous != ContractStatus.PENDING_SIGNATURE and reason != TerminationReason.DIED:
            notify_resident(
                contract.resident,
                f"【乌海健康】您与{contract.team.name}的家庭医生签约已解除（{TerminationReason(reason).label}）。",
            )
    return contract


def contracts_end_for_departure(resident: Resident, reason: str, actor: User | None) -> int:
    """Hook for healthnet.hooks.RESIDENT_LEFT: the resident died or moved away from the city, so
    each of their contracts not yet ended (an offer, or one holding a place) is terminated with
    that reason, by the system (the desk that recorded it need not be in the team; its audit row
    is the death's or the move's). Runs in the caller's transaction; returns how many."""
    ending = Contract.objects.filter(
        resident=resident,
        status__in=[
            ContractStatus.PENDING_SIGNATURE,
            ContractStatus.ACTIVE,
            ContractStatus.RENEWAL_DUE,
        ],
    ).order_by("pk")
    ended = 0
    for contract in ending:
        contract_terminate(
            actor=None,
            contract=contract,
            reason=reason,
            note=f"登记人: {actor.username}" if actor is not None else "",
        )
        ended += 1
    return ended
