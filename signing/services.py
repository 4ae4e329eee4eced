"""Every write of family-doctor signing (DESIGN §5).

Each service validates, locks (contract → resident → team, always in that order), saves, writes
its audit event and queues notifications through the outbox, all in one transaction. A refusal
raises a healthnet.errors DomainError, writes nothing else, and leaves one `<action>_refused`
audit event (written after the rollback, so attempts are on record too).
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, TypeVar

from django.db import IntegrityError, transaction
from django.db.models import Prefetch
from django.utils import timezone

from healthnet.errors import Conflict, DomainError, Forbidden, InvalidInput, NotFound
from healthnet.models import Institution, Practitioner, Resident, Tier, User
from healthnet.national_id import national_id_hash, parse_national_id
from healthnet.outbox import outbox_enqueue
from healthnet.populations import age_on, resident_key_populations
from healthnet.services import audit_record
from signing import hooks, permissions
from signing.models import (
    ACTIVE_STATUSES,
    ADULT_AGE,
    CAPACITY_WARNING_RATIO,
    CONTRACT_TRANSITIONS,
    DEFAULT_TEAM_CAPACITY,
    FOLLOWUP_ON_TIME_DAYS,
    RENEWAL_GRACE_DAYS,
    RENEWAL_NOTICE_DAYS,
    Contract,
    ContractStatus,
    FamilyDoctorTeam,
    FollowUp,
    FollowUpStatus,
    PackageKind,
    ServiceItem,
    ServicePackage,
    Signatory,
    SignatureMethod,
    TeamMember,
    TeamMemberRole,
    TerminationReason,
)
from signing.selectors import member_team_ids, overdue_counts_by_team, team_active_count

F = TypeVar("F", bound=Callable[..., Any])

ACTIVE_CONTRACT_EXISTS_MESSAGE = (
    "该居民已有有效签约，一人只能签约一个团队 (the resident already has an active contract)"
)


# --- refusals are audited too ------------------------------------------------------------------


def _audit_refusals(action: str) -> Callable[[F], F]:
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


# --- terms, dates, packages ---------------------------------------------------------------------


def term_end(start: dt.date) -> dt.date:
    """A one-year term: 2026-03-01 → 2027-02-28 (the day before the anniversary)."""
    try:
        anniversary = start.replace(year=start.year + 1)
    except ValueError:  # 29 February
        anniversary = start.replace(year=start.year + 1, day=28) + dt.timedelta(days=1)
    return anniversary - dt.timedelta(days=1)


def contract_status_on(start: dt.date, end: dt.date, today: dt.date) -> str:
    """The status a signed contract with this term has on `today` (import and demo data)."""
    if today > end + dt.timedelta(days=RENEWAL_GRACE_DAYS):
        return ContractStatus.EXPIRED
    if today >= end - dt.timedelta(days=RENEWAL_NOTICE_DAYS):
        return ContractStatus.RENEWAL_DUE
    return ContractStatus.ACTIVE


def packages_with_items() -> Prefetch:
    return Prefetch("items", queryset=ServiceItem.objects.order_by("code"))


def packages_offered(resident: Resident, *, on: dt.date) -> list[ServicePackage]:
    """The basic package plus the personalised ones for the resident's key populations."""
    populations = resident_key_populations(resident, on=on)
    packages = ServicePackage.objects.filter(active=True).prefetch_related(packages_with_items())
    return [
        p
        for p in packages.order_by("kind", "code")
        if p.kind == PackageKind.BASIC or p.eligible_population in populations
    ]


def packages_resolve(
    resident: Resident, codes: Iterable[str], *, on: dt.date
) -> list[ServicePackage]:
    """The packages asked for, checked against what the resident is offered; basic always in."""
    offered = {p.code: p for p in packages_offered(resident, on=on)}
    basic = [p for p in offered.values() if p.kind == PackageKind.BASIC]
    if not basic:
        raise Conflict(
            "catalogue_missing", "服务包目录未加载 (the service package catalogue is not loaded)"
        )
    chosen = {basic[0].code: basic[0]}
    codes = [c for c in dict.fromkeys(codes) if c]
    known = set(
        ServicePackage.objects.filter(code__in=codes, active=True).values_list("code", flat=True)
    )
    for code in codes:
        if code not in known:
            raise InvalidInput(
                "package_unknown", f"未知的服务包: {code} (unknown package)", field="packages"
            )
        if code not in offered:
            raise InvalidInput(
                "package_not_eligible",
                f"居民不属于服务包 {code} 的适用人群 (not eligible for this package)",
                field="packages",
                package=code,
            )
        chosen[code] = offered[code]
    return sorted(chosen.values(), key=lambda p: (p.kind, p.code))


def package_terms(package: ServicePackage) -> dict[str, Any]:
    """One package as agreed: code, name and items (items prefetched)."""
    return {
        "code": package.code,
        "name": package.name,
        "items": [
            {
                "code": i.code,
                "name": i.name,
                "times_per_year": i.times_per_year,
                "price_fen": i.price_fen,
            }
            for i in package.items.all()
        ],
    }


def terms_document(
    *,
    contract_id: str,
    resident_id: str,
    team_code: str,
    start_date: dt.date,
    end_date: dt.date,
    packages: Iterable[ServicePackage] = (),
    terms_of_packages: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """What the resident agrees to, as data. Give the packages (items prefetched) or, in bulk
    paths, their precomputed `package_terms` in code order."""
    if terms_of_packages is None:
        terms_of_packages = [package_terms(p) for p in sorted(packages, key=lambda p: p.code)]
    return {
        "contract": contract_id,
        "resident": resident_id,
        "team": team_code,
        "start_date": start_date.isoformat(),
        "end_date": end_date.isoformat(),
        "packages": terms_of_packages,
        "price_fen": sum(
            i["price_fen"] * i["times_per_year"] for p in terms_of_packages for i in p["items"]
        ),
    }


def terms_hash(document: dict[str, Any]) -> str:
    """SHA-256 of the canonical JSON (sorted keys, no spaces, UTF-8) of the agreed terms."""
    canonical = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def followup_plan(
    start: dt.date, end: dt.date, packages: Iterable[ServicePackage]
) -> list[tuple[ServiceItem, dt.date]]:
    """Due dates spread evenly over the term: item k of n falls mid-way in the k-th n-th."""
    term_days = (end - start).days + 1
    plan = []
    for package in packages:
        for item in package.items.all():
            n = item.times_per_year
            for k in range(n):
                plan.append((item, start + dt.timedelta(days=term_days * (2 * k + 1) // (2 * n))))
    return plan


def _followups_create(contract: Contract, packages: Iterable[ServicePackage]) -> int:
    rows = [
        FollowUp(contract=contract, item=item, due_date=due)
        for item, due in followup_plan(contract.start_date, contract.end_date, packages)
    ]
    FollowUp.objects.bulk_create(rows)
    return len(rows)


# --- locks and checks ---------------------------------------------------------------------------


def _lock_contract(contract: Contract) -> Contract:
    locked = (
        Contract.objects.select_for_update(of=("self",))
        .select_related("resident", "team", "team__institution")
        .filter(pk=contract.pk)
        .first()
    )
    if locked is None:
        raise NotFound("contract_not_found", "签约不存在 (no such contract)")
    return locked


def _lock_resident(resident_id: int) -> Resident:
    return Resident.objects.select_for_update().get(pk=resident_id)


def _lock_team(team_id: int) -> FamilyDoctorTeam:
    return FamilyDoctorTeam.objects.select_for_update().get(pk=team_id)


def _require_transition(
    contract: Contract, to: str, *, code: str = "transition_not_allowed"
) -> None:
    if to not in CONTRACT_TRANSITIONS[contract.status]:
        raise Conflict(
            code,
            f"签约状态为 {contract.get_status_display()}，不能变为 {ContractStatus(to).label} "
            f"(a {contract.status} contract cannot become {to})",
            status=contract.status,
        )


def _require_actor_on_team(actor: User | None, team: FamilyDoctorTeam) -> None:
    if actor is None:  # the system: periodic jobs, imports, demo data
        return
    if not permissions.can_act_on_team(actor, team, member_team_ids=member_team_ids(actor)):
        raise Forbidden(
            "team_out_of_scope",
            "您不是该团队成员或其机构管理员 (you are not a member or admin of this team)",
        )


def _require_team_open(team: FamilyDoctorTeam) -> None:
    if not team.active:
        raise Conflict("team_inactive", "该团队已停止签约 (this team no longer signs residents)")


def _require_no_active_contract(resident_id: int, *, exclude_pk: int | None = None) -> None:
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


def _require_room(team: FamilyDoctorTeam, load: int) -> None:
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


def _consent(
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


def _apply_consent(contract: Contract, consent: Consent, *, at: dt.datetime) -> None:
    contract.signed_by = consent.signed_by
    contract.signature_method = consent.method
    contract.guardian_name = consent.guardian_name
    contract.guardian_relationship = consent.guardian_relationship
    contract.guardian_national_id_hash = consent.guardian_national_id_hash
    contract.signed_at = at


def _seal_terms(contract: Contract, packages: Iterable[ServicePackage]) -> None:
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


def _save_active(contract: Contract, *, update_fields: list[str] | None = None) -> None:
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


def _sign_result(contract: Contract, team: FamilyDoctorTeam, load_after: int) -> SignResult:
    return SignResult(
        contract=contract,
        capacity_warning=load_after >= team.capacity * CAPACITY_WARNING_RATIO,
        team_load=load_after,
        team_capacity=team.capacity,
    )


# --- notifications ------------------------------------------------------------------------------


def _notify_resident(resident: Resident, body: str, *, dedupe_key: str | None = None) -> bool:
    """SMS when the resident has a phone, else the log channel. False when deduplicated."""
    if resident.phone:
        channel, recipient = "sms", resident.phone
    else:
        channel, recipient = "log", f"resident:{resident.public_id}"
    message = outbox_enqueue(channel=channel, recipient=recipient, body=body, dedupe_key=dedupe_key)
    return message is not None


def _notify_team(
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


# --- teams --------------------------------------------------------------------------------------


@_audit_refusals("team_create")
def team_create(
    *,
    actor: User | None,
    code: str,
    name: str,
    institution: Institution,
    lead: Practitioner | None = None,
    capacity: int = DEFAULT_TEAM_CAPACITY,
    service_area: list[str] | None = None,
) -> FamilyDoctorTeam:
    """A team is based at a primary-care institution (基层医疗机构)."""
    if actor is not None and not (
        actor.role == "system_admin"
        or (actor.role == "institution_admin" and actor.institution_id == institution.pk)
    ):
        raise Forbidden("forbidden", "只有机构管理员可以组建团队 (only the institution admin)")
    if institution.tier != Tier.PRIMARY:
        raise InvalidInput(
            "institution_not_primary",
            "家庭医生团队须设在基层医疗机构 (teams are based at primary-care institutions)",
            field="institution",
        )
    if capacity < 1:
        raise InvalidInput("capacity_invalid", "签约容量须为正数", field="capacity")
    try:
        with transaction.atomic():
            team = FamilyDoctorTeam.objects.create(
                code=code,
                name=name,
                institution=institution,
                lead=lead,
                capacity=capacity,
                service_area=list(service_area or []),
            )
            if lead is not None:
                TeamMember.objects.create(team=team, practitioner=lead, role=TeamMemberRole.GP)
            audit_record(
                actor=actor,
                action="team_create",
                object_type="family_doctor_team",
                object_id=team.public_id,
            )
    except IntegrityError:
        raise Conflict("team_code_exists", f"团队代码已存在: {code}") from None
    return team


def team_member_add(
    *,
    actor: User | None,
    team: FamilyDoctorTeam,
    practitioner: Practitioner,
    role: str,
    home_institution: Institution | None = None,
) -> TeamMember:
    if role not in TeamMemberRole.values:
        raise InvalidInput("member_role_invalid", "未知的团队角色", field="role")
    if role == TeamMemberRole.SPECIALIST and (
        home_institution is None or home_institution.tier == Tier.PRIMARY
    ):
        raise InvalidInput(
            "specialist_home_required",
            "专科医生须来自上级医院 (a specialist comes from a higher-tier hospital)",
            field="home_institution",
        )
    with transaction.atomic():
        member, created = TeamMember.objects.get_or_create(
            team=team,
            practitioner=practitioner,
            defaults={"role": role, "home_institution": home_institution},
        )
        if created:
            audit_record(
                actor=actor,
                action="team_member_add",
                object_type="family_doctor_team",
                object_id=team.public_id,
                details={"practitioner": str(practitioner.public_id), "role": role},
            )
    return member


# --- contracts ----------------------------------------------------------------------------------


@_audit_refusals("contract_create")
def contract_create(
    *,
    actor: User | None,
    resident: Resident,
    team: FamilyDoctorTeam,
    package_codes: list[str],
    start_date: dt.date | None = None,
) -> Contract:
    """Offer a contract (pending_signature): the basic package plus eligible personalised ones."""
    _require_actor_on_team(actor, team)
    _require_team_open(team)
    today = timezone.localdate()
    start_date = start_date or today
    if not today <= start_date <= today + dt.timedelta(days=90):
        raise InvalidInput(
            "start_date_invalid",
            "起始日期须在今天到90天内 (start date must be within the next 90 days)",
            field="start_date",
        )
    packages = packages_resolve(resident, package_codes, on=start_date)
    with transaction.atomic():
        _lock_resident(resident.pk)
        _require_no_active_contract(resident.pk)
        if Contract.objects.filter(
            resident=resident, team=team, status=ContractStatus.PENDING_SIGNATURE
        ).exists():
            raise Conflict(
                "pending_contract_exists",
                "该居民与此团队已有待签署的签约 (a contract with this team awaits signature)",
            )
        _require_room(team, team_active_count(team.pk))
        contract = Contract.objects.create(
            resident=resident,
            team=team,
            start_date=start_date,
            end_date=term_end(start_date),
            created_by=actor,
        )
        contract.packages.set(packages)
        audit_record(
            actor=actor,
            action="contract_create",
            object_type="contract",
            object_id=contract.public_id,
            details={"team": team.code, "packages": [p.code for p in packages]},
        )
    return contract


@_audit_refusals("contract_sign")
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
        contract = _lock_contract(contract)
        _require_actor_on_team(actor, contract.team)
        _require_transition(contract, ContractStatus.ACTIVE)
        consent = _consent(
            contract.resident,
            on=timezone.localdate(now),
            signed_by=signed_by,
            method=method,
            guardian_name=guardian_name,
            guardian_relationship=guardian_relationship,
            guardian_national_id=guardian_national_id,
            resident_incapacitated=resident_incapacitated,
        )
        _lock_resident(contract.resident_id)
        team = _lock_team(contract.team_id)
        _require_team_open(team)
        _require_no_active_contract(contract.resident_id, exclude_pk=contract.pk)
        load = team_active_count(team.pk)
        _require_room(team, load)
        packages = list(contract.packages.prefetch_related(packages_with_items()))
        _apply_consent(contract, consent, at=now)
        _seal_terms(contract, packages)
        contract.status = ContractStatus.ACTIVE
        _save_active(contract)
        followups = _followups_create(contract, packages)
        result = _sign_result(contract, team, load + 1)
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
        _notify_resident(
            contract.resident,
            f"【乌海健康】您已与{team.name}签约家庭医生服务，有效期 {contract.start_date} 至 "
            f"{contract.end_date}。",
        )
        if result.capacity_warning:
            _notify_team(
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


@_audit_refusals("contract_renew")
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


@_audit_refusals("contract_switch")
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
) -> SignResult:
    """转签 to another team, only at term end (renewal_due): the old one becomes switched."""
    return _succeed(
        actor=actor,
        contract=contract,
        new_team=team,
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
    signed_by: str,
    method: str,
    package_codes: list[str] | None,
    guardian: tuple[str, str, str],
    resident_incapacitated: bool,
) -> SignResult:
    switching = new_team is not None
    action = "contract_switch" if switching else "contract_renew"
    final = ContractStatus.SWITCHED if switching else ContractStatus.RENEWED
    now = timezone.now()
    today = timezone.localdate(now)
    with transaction.atomic():
        old = _lock_contract(contract)
        _require_actor_on_team(actor, new_team or old.team)
        if switching and new_team.pk == old.team_id:
            raise InvalidInput(
                "switch_same_team",
                "转签须选择另一个团队 (switch to a different team)",
                field="team",
            )
        _require_transition(
            old, final, code="switch_not_at_term_end" if switching else "renewal_not_due"
        )
        resident = old.resident
        consent = _consent(
            resident,
            on=today,
            signed_by=signed_by,
            method=method,
            guardian_name=guardian[0],
            guardian_relationship=guardian[1],
            guardian_national_id=guardian[2],
            resident_incapacitated=resident_incapacitated,
        )
        _lock_resident(resident.pk)
        team = _lock_team(new_team.pk if switching else old.team_id)
        _require_team_open(team)
        load = team_active_count(team.pk)
        if switching:
            _require_room(team, load)
            load += 1
        start = old.end_date + dt.timedelta(days=1)
        resident = Resident.objects.prefetch_related("population_tags").get(pk=resident.pk)
        packages = _successor_packages(old, resident, package_codes, on=max(start, today))
        old.status = final
        old.save(update_fields=["status", "updated_at"])
        successor = Contract(
            resident=resident,
            team=team,
            start_date=start,
            end_date=term_end(start),
            status=ContractStatus.ACTIVE,
            previous_contract=old,
            created_by=actor,
        )
        _apply_consent(successor, consent, at=now)
        _seal_terms(successor, packages)
        _save_active(successor)
        successor.packages.set(packages)
        followups = _followups_create(successor, packages)
        result = _sign_result(successor, team, load)
        audit_record(
            actor=actor,
            action=action,
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
        _notify_resident(
            resident,
            f"【乌海健康】您已{word}，新签约有效期 {successor.start_date} 至 "
            f"{successor.end_date}。",
        )
        if switching:
            _notify_team(
                old.team,
                "居民转签 (resident switched team)",
                f"签约 {old.public_id} 的居民已转签至其他团队。",
            )
    return result


@_audit_refusals("contract_terminate")
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
        contract = _lock_contract(contract)
        _require_actor_on_team(actor, contract.team)
        _require_transition(contract, ContractStatus.TERMINATED)
        previous = contract.status
        contract.status = ContractStatus.TERMINATED
        contract.terminated_reason = reason
        contract.terminated_note = note.strip()[:200]
        contract.terminated_at = timezone.now()
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
        if previous != ContractStatus.PENDING_SIGNATURE:
            _notify_resident(
                contract.resident,
                f"【乌海健康】您与{contract.team.name}的家庭医生签约已解除（{TerminationReason(reason).label}）。",
            )
    return contract


# --- follow-ups ---------------------------------------------------------------------------------


@_audit_refusals("followup_record")
def followup_record(
    *,
    actor: User,
    followup: FollowUp,
    outcome: str,
    done_at: dt.datetime | None = None,
) -> FollowUp:
    """Mark a follow-up done (by a member of the contract's team); run FOLLOWUP_RECORDED hooks."""
    now = timezone.now()
    done_at = done_at or now
    outcome = outcome.strip()
    if not outcome:
        raise InvalidInput(
            "outcome_required", "须填写随访结果 (the outcome is required)", field="outcome"
        )
    if len(outcome) > 2000:
        raise InvalidInput("outcome_too_long", "随访结果最多2000字", field="outcome")
    if timezone.is_naive(done_at) or done_at > now + dt.timedelta(minutes=5):
        raise InvalidInput(
            "done_at_invalid",
            "完成时间不能在未来 (done_at cannot be in the future)",
            field="done_at",
        )
    with transaction.atomic():
        locked = (
            FollowUp.objects.select_for_update(of=("self",))
            .select_related("contract", "contract__team", "item")
            .filter(pk=followup.pk)
            .first()
        )
        if locked is None:
            raise NotFound("follow_up_not_found", "随访任务不存在 (no such follow-up)")
        if not permissions.can_record_followup(
            actor, locked, member_team_ids=member_team_ids(actor)
        ):
            raise Forbidden(
                "team_out_of_scope",
                "只有签约团队成员可以记录随访 (only the team's members may record)",
            )
        if locked.status != FollowUpStatus.PENDING:
            raise Conflict(
                "follow_up_not_pending", "该随访已完成或已取消 (already done or cancelled)"
            )
        if locked.contract.status not in ACTIVE_STATUSES:
            raise Conflict("contract_not_active", "签约不在履约期 (the contract is not active)")
        if timezone.localdate(done_at) < locked.contract.start_date:
            raise InvalidInput(
                "done_at_invalid",
                "完成时间早于签约起始日期 (before the contract start)",
                field="done_at",
            )
        locked.status = FollowUpStatus.DONE
        locked.done_at = done_at
        locked.done_by = actor
        locked.outcome = outcome
        locked.done_on_time = timezone.localdate(done_at) <= locked.due_date + dt.timedelta(
            days=FOLLOWUP_ON_TIME_DAYS
        )
        locked.save(update_fields=["status", "done_at", "done_by", "outcome", "done_on_time"])
        audit_record(
            actor=actor,
            action="followup_record",
            object_type="follow_up",
            object_id=locked.public_id,
            details={"contract": str(locked.contract.public_id), "on_time": locked.done_on_time},
        )
        for hook in list(hooks.FOLLOWUP_RECORDED):
            hook(locked)
    return locked


# --- periodic jobs (idempotent) -----------------------------------------------------------------

BATCH = 500


def contracts_mark_renewal_due(*, today: dt.date | None = None) -> int:
    """active → renewal_due 30 days before the end; remind the resident and the team once."""
    today = today or timezone.localdate()
    due = Contract.objects.filter(
        status=ContractStatus.ACTIVE, end_date__lte=today + dt.timedelta(days=RENEWAL_NOTICE_DAYS)
    )
    ids = list(due.order_by("pk").values_list("pk", flat=True))
    moved = 0
    for start in range(0, len(ids), BATCH):
        with transaction.atomic():
            batch = (
                Contract.objects.select_for_update(skip_locked=True, of=("self",))
                .select_related("resident", "team")
                .filter(pk__in=ids[start : start + BATCH], status=ContractStatus.ACTIVE)
            )
            for contract in batch:
                contract.status = ContractStatus.RENEWAL_DUE
                contract.save(update_fields=["status", "updated_at"])
                audit_record(
                    actor=None,
                    action="contract_renewal_due",
                    object_type="contract",
                    object_id=contract.public_id,
                    details={"end_date": contract.end_date.isoformat()},
                )
                _notify_resident(
                    contract.resident,
                    f"【乌海健康】您的家庭医生签约将于 {contract.end_date} 到期，"
                    f"请联系{contract.team.name}续约。",
                    dedupe_key=f"signing:renewal-due:{contract.public_id}",
                )
                moved += 1
    return moved


def contracts_expire(*, today: dt.date | None = None) -> int:
    """renewal_due → expired after the 30-day grace (open follow-ups stay: they were missed)."""
    today = today or timezone.localdate()
    cutoff = today - dt.timedelta(days=RENEWAL_GRACE_DAYS)
    ids = list(
        Contract.objects.filter(status=ContractStatus.RENEWAL_DUE, end_date__lt=cutoff)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    expired = 0
    for start in range(0, len(ids), BATCH):
        with transaction.atomic():
            batch = (
                Contract.objects.select_for_update(skip_locked=True, of=("self",))
                .select_related("resident", "team")
                .filter(pk__in=ids[start : start + BATCH], status=ContractStatus.RENEWAL_DUE)
            )
            for contract in batch:
                contract.status = ContractStatus.EXPIRED
                contract.save(update_fields=["status", "updated_at"])
                audit_record(
                    actor=None,
                    action="contract_expire",
                    object_type="contract",
                    object_id=contract.public_id,
                )
                _notify_resident(
                    contract.resident,
                    f"【乌海健康】您与{contract.team.name}的家庭医生签约已到期，欢迎随时重新签约。",
                    dedupe_key=f"signing:expired:{contract.public_id}",
                )
                expired += 1
    return expired


def followup_reminders_send(*, today: dt.date | None = None, ahead_days: int = 7) -> int:
    """Remind each resident once per follow-up due within `ahead_days`, and each team once a day
    of its overdue follow-ups. Dedupe keys make a second run send nothing new."""
    today = today or timezone.localdate()
    sent = 0
    upcoming = (
        FollowUp.objects.filter(
            status=FollowUpStatus.PENDING,
            due_date__gte=today,
            due_date__lte=today + dt.timedelta(days=ahead_days),
            contract__status__in=ACTIVE_STATUSES,
        )
        .select_related("item", "contract__resident", "contract__team")
        .order_by("pk")
    )
    with transaction.atomic():
        for followup in upcoming.iterator(chunk_size=1000):
            contract = followup.contract
            sent += _notify_resident(
                contract.resident,
                f"【乌海健康】{contract.team.name}提醒：您的“{followup.item.name}”将于 "
                f"{followup.due_date} 前后进行。",
                dedupe_key=f"signing:followup-due:{followup.public_id}",
            )
        for team, count in overdue_counts_by_team(today=today):
            sent += _notify_team(
                team,
                "逾期随访提醒 (overdue follow-ups)",
                f"{team.name} 有 {count} 项随访已逾期。",
                dedupe_key=f"signing:overdue:{team.code}:{today.isoformat()}",
            )
    return sent
