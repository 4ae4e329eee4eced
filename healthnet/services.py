"""Every write of the network app: residents, audit events, API tokens.

Services take keyword arguments, validate, lock where needed, save inside a transaction, write
the audit event in that same transaction, and raise healthnet.errors on refusal (nothing written).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
import uuid
from typing import Any

from django.conf import settings
from django.contrib.auth import authenticate
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from healthnet import login_throttle, permissions
from healthnet.errors import Conflict, Forbidden, InvalidInput, NotAuthenticated, RateLimited
from healthnet.models import (
    ApiToken,
    AuditEvent,
    Department,
    Encounter,
    EncounterKind,
    GuardianRelationship,
    Guardianship,
    KeyPopulation,
    Resident,
    ResidentPopulationTag,
    User,
)
from healthnet.national_id import encrypt_national_id, national_id_hash, parse_national_id
from healthnet.populations import (
    POPULATIONS_FORBIDDEN,
    POPULATIONS_FORBIDDEN_MESSAGE,
    age_on,
)
from healthnet.rate_limits import national_id_lookup_count
from healthnet.request_context import current_client_ip, current_request_id
from healthnet.selectors import (
    district_by_code,
    resident_not_found,
    resident_related_to_institution,
)

# --- audit -------------------------------------------------------------------------------------


def audit_record(
    *,
    actor: User | None,
    action: str,
    object_type: str,
    object_id: str | uuid.UUID | int = "",
    details: dict[str, Any] | None = None,
) -> AuditEvent:
    """Append one audit row (`object_id` is stored as text: a public id, a code or a pk). Call
    it inside the transaction of the change it records."""
    return AuditEvent.objects.create(
        actor=actor if actor is not None and actor.pk else None,
        actor_label=actor.username if actor is not None else "system",
        action=action,
        object_type=object_type,
        object_id=str(object_id),
        request_id=current_request_id(),
        ip_address=current_client_ip(),
        details=details or {},
    )


# --- residents ---------------------------------------------------------------------------------


def resident_create(
    *,
    actor: User,
    national_id: str,
    name: str,
    phone: str = "",
    address: str = "",
    district: str,
    community: str = "",
    populations: list[str] | None = None,
    sex: str | None = None,
    birth_date: dt.date | None = None,
) -> Resident:
    """Register a resident. Sex and birth date come from the ID number; if the caller states them
    too they must agree with it (a typo in either is caught instead of stored)."""
    if not permissions.can_create_resident(actor):
        raise Forbidden("forbidden", "您的角色不能登记居民 (your role may not register residents)")
    identity = parse_national_id(national_id)
    if birth_date is not None and birth_date != identity.birth_date:
        raise InvalidInput(
            "birth_date_mismatch",
            "出生日期与身份证号码不一致 (birth date does not match the ID number)",
            field="birth_date",
        )
    if sex is not None and sex != identity.sex:
        raise InvalidInput(
            "sex_mismatch", "性别与身份证号码不一致 (sex does not match the ID number)", field="sex"
        )
    name = name.strip()
    if not name or len(name) > 50:
        raise InvalidInput(
            "name_invalid", "姓名必填，最多50字 (name is required, ≤ 50)", field="name"
        )
    district_by_code(district, active_only=True)  # district_unknown
    tags = _registry_populations(populations or [])
    if tags and not permissions.can_set_key_populations(actor):
        raise Forbidden(POPULATIONS_FORBIDDEN, POPULATIONS_FORBIDDEN_MESSAGE)
    lookup = national_id_hash(identity.number)
    try:
        with transaction.atomic():
            resident = Resident.objects.create(
                national_id_encrypted=encrypt_national_id(identity.number),
                national_id_hash=lookup,
                name=name,
                sex=identity.sex,
                birth_date=identity.birth_date,
                phone=phone.strip(),
                address=address.strip(),
                district_id=district,
                community=community.strip(),
                registered_by=actor.institution,
            )
            today = timezone.localdate()
            registration_start(resident=resident, district=district, on=today)
            ResidentPopulationTag.objects.bulk_create(
                ResidentPopulationTag(resident=resident, population=tag, valid_from=today)
                for tag in tags
            )
            audit_record(
                actor=actor, action="create", object_type="resident", object_id=resident.public_id
            )
    except IntegrityError:
        existing = Resident.objects.filter(national_id_hash=lookup).first()
        if existing is None:  # some other constraint: let it surface
            raise
        raise _resident_exists(actor, existing) from None
    return resident


def _resident_exists(actor: User, existing: Resident) -> Conflict | RateLimited:
    """The answer to a registration whose ID number is on a record: 409 `resident_exists`,
    counted like an ID-number lookup (it answers the same question: 429 past the limit), and
    naming the existing record only to a caller who may read it (docs/security.md)."""
    try:
        national_id_lookup_count(actor)
    except RateLimited as throttled:
        return throttled
    details = {}
    related = resident_related_to_institution(existing, actor.institution_id)
    if permissions.can_view_resident(actor, existing, related_to_institution=related):
        details["resident_id"] = str(existing.public_id)
    return Conflict(
        "resident_exists",
        "该身份证号码的居民已存在 (a resident with this national ID already exists)",
        **details,
    )


def _registry_populations(populations: list[str]) -> list[str]:
    unknown = [p for p in populations if p not in KeyPopulation.values]
    if unknown:
        raise InvalidInput(
            "population_unknown", f"未知的重点人群: {', '.join(unknown)}", field="populations"
        )
    for population in populations:
        registry_population_check(population, field="populations")
    return sorted(set(populations))


# --- API tokens --------------------------------------------------------------------------------

TOKEN_PREFIX = "hn_"  # noqa: S105 (a marker, not a secret)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def user_authenticate(*, username: str, password: str, request=None) -> User:
    """Check a password; the one login check of the API and the portal. The attempt is counted
    before the check (healthnet/login_throttle.py) and refused at once when a throttle says
    wait. In production the well-known demo password is refused even where it is right.
    Raises RateLimited or NotAuthenticated; audits failures."""
    try:
        attempt = login_throttle.login_attempt_start(username=username, address=current_client_ip())
    except login_throttle.LoginRefused as refused:
        raise RateLimited(
            "login_throttled",
            f"登录尝试过多，请 {refused.retry_after} 秒后再试"
            f" (too many failed logins; try again in {refused.retry_after} s)",
            retry_after_seconds=refused.retry_after,
        ) from None
    demo_refused = settings.IS_PRODUCTION and _is_demo_password(password)
    user = None if demo_refused else authenticate(request, username=username, password=password)
    if user is None:
        details = {"username": username[:150]}
        if demo_refused:
            details["reason"] = "demo_password_in_production"
        with transaction.atomic():
            audit_record(actor=None, action="login_failed", object_type="user", details=details)
        raise NotAuthenticated(
            "invalid_credentials", "用户名或密码错误 (wrong username or password)"
        )
    login_throttle.login_attempt_succeeded(attempt)
    return user


def _is_demo_password(password: str) -> bool:
    known = {settings.DEFAULT_DEMO_PASSWORD, settings.DEMO_PASSWORD}
    return any(hmac.compare_digest(password.encode(), k.encode()) for k in known)


def api_token_issue(*, username: str, password: str, name: str = "") -> tuple[str, ApiToken]:
    """Check the password and issue a bearer token. Returns the token text, shown once; only
    its hash is stored."""
    user = user_authenticate(username=username, password=password)
    return api_token_issue_for(user=user, name=name)


def api_token_issue_for(*, user: User, name: str = "") -> tuple[str, ApiToken]:
    """Issue a bearer token to a login that has just proved who it is (a password, or a
    one-time code sent to the resident's phone). Returns the text, shown once."""
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    with transaction.atomic():
        api_token = ApiToken.objects.create(
            user=user,
            token_hash=token_hash(token),
            prefix=token[:10],
            name=name[:60],
            expires_at=timezone.now() + dt.timedelta(seconds=settings.API_TOKEN_LIFETIME_SECONDS),
        )
        audit_record(
            actor=user, action="token_issue", object_type="api_token", object_id=api_token.pk
        )
    return token, api_token


def api_tokens_revoke_all(*, user: User, reason: str) -> int:
    """Revoke every live token of `user` (their password changed, say). Returns how many."""
    with transaction.atomic():
        revoked = ApiToken.objects.filter(user=user, revoked_at__isnull=True).update(
            revoked_at=timezone.now()
        )
        if revoked:
            audit_record(
                actor=None,
                action="tokens_revoke_all",
                object_type="user",
                object_id=user.pk,
                details={"reason": reason, "tokens": revoked},
            )
    return revoked


def api_token_revoke(*, actor: User, api_token: ApiToken) -> None:
    if api_token.user_id != actor.pk:
        raise Forbidden("forbidden", "只能吊销自己的令牌 (you may revoke only your own tokens)")
    with transaction.atomic():
        updated = ApiToken.objects.filter(pk=api_token.pk, revoked_at__isnull=True).update(
            revoked_at=timezone.now()
        )
        if updated:
            audit_record(
                actor=actor, action="token_revoke", object_type="api_token", object_id=api_token.pk
            )


def user_sessions_end_others(
    *, actor: User | None, user: User, keep_token: ApiToken | None = None
) -> User:
    """Sign the login out everywhere (a lost phone): every session made before now stops
    matching (User.get_session_auth_hash) and every API token but `keep_token` is revoked.
    Returns the user as saved; a view keeps its own session with update_session_auth_hash."""
    with transaction.atomic():
        User.objects.filter(pk=user.pk).update(session_generation=F("session_generation") + 1)
        tokens = ApiToken.objects.filter(user=user, revoked_at__isnull=True)
        if keep_token is not None:
            tokens = tokens.exclude(pk=keep_token.pk)
        revoked = tokens.update(revoked_at=timezone.now())
        audit_record(
            actor=actor,
            action="sessions_end",
            object_type="user",
            object_id=user.pk,
            details={"tokens_revoked": revoked},
        )
    user.refresh_from_db(fields=["session_generation"])
    return user


# --- encounters --------------------------------------------------------------------------------


def encounter_create(
    *,
    actor: User | None,
    resident: Resident,
    institution_id: int,
    kind: str,
    started_at: dt.datetime,
    source: str = "manual",
    department: Department | None = None,
    admitted: bool = False,
) -> Encounter:
    """Record a visit of the resident at an institution (the base of the primary-care share of
    visits, docs/design.md §7), with its audit row. Other apps (the health-code scan at
    registration, a referral's arrival) create visits through here, never by writing the
    table. `admitted`: the patient is admitted on arrival (an inpatient referral): an inpatient
    stay from `started_at`."""
    if admitted:
        kind = EncounterKind.INPATIENT
    if kind not in EncounterKind.values:
        raise InvalidInput(
            "encounter_kind_unknown", f"未知的就诊类型: {kind} (unknown kind)", field="kind"
        )
    if timezone.is_naive(started_at):
        raise InvalidInput(
            "started_at_naive", "就诊时间须带时区 (a timezone-aware time)", field="started_at"
        )
    if department is not None and department.institution_id != institution_id:
        raise InvalidInput(
            "department_not_in_institution",
            "科室不属于该机构 (the department is not in this institution)",
            field="department",
        )
    with transaction.atomic():
        encounter = Encounter.objects.create(
            resident=resident,
            institution_id=institution_id,
            department=department,
            kind=kind,
            started_at=started_at,
            admitted_at=started_at if admitted else None,
            source=source[:16],
        )
        audit_record(
            actor=actor,
            action="create",
            object_type="encounter",
            object_id=str(encounter.public_id),
            details={"source": encounter.source, "kind": kind, "admitted": admitted},
        )
    return encounter


# --- guardianships (亲属码) ----------------------------------------------------------------------

GUARDIAN_MIN_AGE = 18


def guardianship_role_require(actor: User) -> None:
    """Refuse (403) a role that may register no guardian, before any resident is looked up."""
    if not permissions.can_manage_guardianships(actor):
        raise Forbidden(
            "forbidden", "您的角色不能登记照护人 (your role may not register guardians)"
        )


def _require_guardianship_manager(actor: User, ward: Resident) -> None:
    guardianship_role_require(actor)
    related = resident_related_to_institution(ward, actor.institution_id)
    if not permissions.can_manage_guardianship(actor, ward, related_to_institution=related):
        raise resident_not_found()


def guardianship_register(
    *,
    actor: User,
    guardian: Resident,
    ward: Resident,
    relationship: str,
    now: dt.datetime | None = None,
) -> Guardianship:
    """Register at the desk that `guardian` cares for `ward` (a child, an elder): the guardian may
    then show the ward's code on their phone. Idempotent for the same relationship; audited."""
    _require_guardianship_manager(actor, ward)
    if actor.institution_id is None:  # desk staff always have one (_require_guardianship_manager)
        raise resident_not_found()
    now = now or timezone.now()
    if relationship not in GuardianRelationship.values:
        raise InvalidInput(
            "relationship_unknown",
            f"未知的关系: {relationship} (unknown relationship)",
            field="relationship",
        )
    if guardian.pk == ward.pk:
        raise InvalidInput(
            "guardian_is_ward",
            "照护人不能是本人 (a resident cannot guard themself)",
            field="guardian",
        )
    if age_on(guardian.birth_date, timezone.localdate(now)) < GUARDIAN_MIN_AGE:
        raise InvalidInput(
            "guardian_minor", "照护人须年满18周岁 (a guardian must be an adult)", field="guardian"
        )
    try:
        with transaction.atomic():
            existing = Guardianship.objects.select_for_update().filter(
                guardian=guardian, ward=ward, revoked_at__isnull=True
            )
            current = existing.first()
            if current is None:
                current = Guardianship.objects.create(
                    guardian=guardian,
                    ward=ward,
                    relationship=relationship,
                    institution_id=actor.institution_id,
                    registered_by=actor,
                    registered_at=now,
                )
                audit_record(
                    actor=actor,
                    action="guardianship_register",
                    object_type="resident",
                    object_id=ward.public_id,
                    details={
                        "guardianship": str(current.public_id),
                        "guardian": str(guardian.public_id),
                        "relationship": relationship,
                    },
                )
    except IntegrityError:  # registered concurrently (SQLite has no row locks)
        current = Guardianship.objects.get(guardian=guardian, ward=ward, revoked_at__isnull=True)
    if current.relationship != relationship:
        raise Conflict(
            "guardianship_exists",
            "已登记为该居民的照护人，关系不同；请先撤销"
            " (already registered with another relationship)",
            guardianship_id=str(current.public_id),
        )
    return current


def guardianship_revoke(
    *, actor: User, guardianship: Guardianship, reason: str, now: dt.datetime | None = None
) -> Guardianship:
    """End a guardianship at the desk: from now on the guardian's phone shows the ward's code no
    more (a code already shown lives out its minute). Audited."""
    _require_guardianship_manager(actor, guardianship.ward)
    reason = reason.strip()
    if not reason or len(reason) > 200:
        raise InvalidInput(
            "reason_required",
            "请填写撤销原因，最多200字 (a reason is required, ≤ 200)",
            field="reason",
        )
    with transaction.atomic():
        updated = Guardianship.objects.filter(pk=guardianship.pk, revoked_at__isnull=True).update(
            revoked_at=now or timezone.now(), revoked_by=actor, revoked_reason=reason
        )
        if not updated:
            raise Conflict("guardianship_revoked", "该照护关系已撤销 (already revoked)")
        audit_record(
            actor=actor,
            action="guardianship_revoke",
            object_type="resident",
            object_id=guardianship.ward.public_id,
            details={"guardianship": str(guardianship.public_id), "reason": reason},
        )
    guardianship.refresh_from_db()
    return guardianship


# The register over time (moves, deaths, key-population tags, inpatient stays) is its own module
# to keep this one readable; its services are part of this door.
from healthnet.register import (  # noqa: E402, F401
    inpatient_admit,
    inpatient_discharge,
    population_tag_add,
    population_tag_end,
    registration_start,
    registry_population_check,
    resident_death_record,
    resident_move,
    resident_populations_set,
)
