"""Health cards and issuing codes (docs/design.md §6): a card per resident with a random `sub`,
revocation (new card, new `sub`), dynamic and static codes, and their SVG."""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass

from django.core.cache import cache
from django.db import IntegrityError, transaction
from django.utils import timezone

from healthcodes import codec, keys, permissions, selectors
from healthcodes.conf import setting, static_lifetime_seconds
from healthcodes.models import HealthCard
from healthcodes.rendering import render_svg
from healthnet.errors import Conflict, Forbidden, InvalidInput
from healthnet.models import ApiToken, Resident, User
from healthnet.selectors import (
    resident_login,
    resident_not_found,
    resident_of_login,
    resident_related_to_institution,
)
from healthnet.services import audit_record, user_sessions_end_others

# 96 random bits → 16 base64url characters. Unguessable, never reused, and short: kid + iss +
# sub share 26 bytes of the code (healthcodes.codec.MAX_TEXT_LENGTH).
SUB_BYTES = 12


def _new_sub() -> str:
    """A random card pseudonym: no bit of it comes from the resident (docs/design.md §6)."""
    return secrets.token_urlsafe(SUB_BYTES)


# --- cards -------------------------------------------------------------------------------------


def healthcard_role_require(actor: User) -> None:
    """Refuse (403) a role that may manage no card. The API asks it before looking the resident
    up, so such a role learns nothing of who exists."""
    if not permissions.can_manage_healthcards(actor):
        raise Forbidden(
            "forbidden", "您的角色不能为居民办理健康卡 (your role may not manage health cards)"
        )


def healthcode_static_role_require(actor: User) -> None:
    """Refuse (403) a role that may print no card (a printed code is made at a desk)."""
    if not permissions.can_print_static_healthcodes(actor):
        raise Forbidden(
            "forbidden", "仅窗口工作人员可打印纸质健康码 (a printed code is made at the desk)"
        )


def _require_card_manager(actor: User, resident: Resident) -> None:
    """A role that may manage no card is refused (403); a resident out of the actor's scope is
    answered as if they did not exist (404, docs/design.md §9)."""
    healthcard_role_require(actor)
    related = resident_related_to_institution(resident, actor.institution_id)
    if not permissions.can_manage_healthcard(actor, resident, related_to_institution=related):
        raise resident_not_found()


def healthcard_issue(
    *, actor: User, resident: Resident, now: dt.datetime | None = None
) -> HealthCard:
    """The resident's current card, created with a new random `sub` if they have none.
    Idempotent: a resident has at most one current card (a database constraint)."""
    _require_card_manager(actor, resident)
    return healthcard_current_or_issue(actor=actor, resident=resident, now=now)


def healthcard_current_or_issue(
    *, actor: User | None, resident: Resident, now: dt.datetime | None = None
) -> HealthCard:
    """healthcard_issue without the permission check, for services that made their own (a
    guardian's family code, a printed card at the desk). Never call it from a view or the API."""
    existing = selectors.healthcard_current(resident=resident)
    if existing is not None:
        return existing
    now = now or timezone.now()
    try:
        with transaction.atomic():
            Resident.objects.select_for_update().filter(pk=resident.pk).first()
            existing = selectors.healthcard_current(resident=resident)
            if existing is not None:
                return existing
            card = HealthCard.objects.create(resident=resident, sub=_new_sub(), issued_at=now)
            audit_record(
                actor=actor,
                action="healthcard_issue",
                object_type="healthcard",
                object_id=card.public_id,
                details={"resident": str(resident.public_id)},
            )
    except IntegrityError:  # a concurrent issue on a database without row locks (SQLite)
        existing = selectors.healthcard_current(resident=resident)
        if existing is None:
            raise
        return existing
    return card


def healthcard_revoke(
    *,
    actor: User,
    resident: Resident,
    reason: str,
    now: dt.datetime | None = None,
    keep_token: ApiToken | None = None,
) -> HealthCard:
    """Revoke the resident's current card (lost phone, lost printed card) and issue a new one with
    a new random `sub`: every code of the old card, dynamic or printed, fails with `revoked`.

    The resident's own login is signed out everywhere (a lost phone must not go on showing
    codes of the new card), except the API token `keep_token` the request came with; a view
    acting for the resident keeps its session with update_session_auth_hash."""
    _require_card_manager(actor, resident)
    reason = reason.strip()
    if not reason or len(reason) > 200:
        raise InvalidInput(
            "reason_required",
            "请填写注销原因，最多200字 (a reason is required, ≤ 200)",
            field="reason",
        )
    now = now or timezone.now()
    with transaction.atomic():
        Resident.objects.select_for_update().filter(pk=resident.pk).first()
        old = selectors.healthcard_current(resident=resident)
        if old is None:
            raise Conflict(
                "card_not_found", "该居民没有有效的健康卡 (the resident has no current card)"
            )
        old.revoked_at = now
        old.revoked_reason = reason
        old.save(update_fields=["revoked_at", "revoked_reason"])
        card = HealthCard.objects.create(resident=resident, sub=_new_sub(), issued_at=now)
        audit_record(
            actor=actor,
            action="healthcard_revoke",
            object_type="healthcard",
            object_id=old.public_id,
            details={"reason": reason, "replaced_by": str(card.public_id)},
        )
        audit_record(
            actor=actor,
            action="healthcard_issue",
            object_type="healthcard",
            object_id=card.public_id,
            details={"resident": str(resident.public_id), "replaces": str(old.public_id)},
        )
        login = resident_login(resident)
        if login is not None:
            user_sessions_end_others(actor=actor, user=login, keep_token=keep_token)
    cache.delete(f"hc:current:{old.sub}")
    return card


# --- issuing codes -----------------------------------------------------------------------------


@dataclass(frozen=True)
class IssuedCode:
    text: str
    code_type: str
    issued_at: dt.datetime
    expires_at: dt.datetime
    kid: str
    cti: bytes = b""


def _issue(card: HealthCard, *, code_type: codec.CodeType, lifetime: int, now) -> IssuedCode:
    if card.is_revoked:
        raise Conflict("card_revoked", "该健康卡已注销 (this card has been revoked)")
    signing = keys.signing_key_current(now=now)
    issued_at = codec.epoch_seconds(now)
    cti = secrets.token_bytes(codec.CTI_LENGTH)
    text = codec.issue_code(
        private_key=signing.private_key,
        kid=signing.kid,
        iss=signing.iss,
        sub=card.sub,
        code_type=code_type,
        issued_at=issued_at,
        lifetime_seconds=lifetime,
        cti=cti,
    )
    return IssuedCode(
        text=text,
        code_type=code_type.value,
        issued_at=dt.datetime.fromtimestamp(issued_at, tz=dt.UTC),
        expires_at=dt.datetime.fromtimestamp(issued_at + lifetime, tz=dt.UTC),
        kid=signing.kid,
        cti=cti,
    )


def healthcode_issue_dynamic(
    *, actor: User, card: HealthCard, now: dt.datetime | None = None
) -> IssuedCode:
    """A 60-second code for the resident's own phone. Not audited: it is shown every 30 s,
    holds no personal data and changes nothing."""
    if not (permissions.can_view_own_healthcode(actor) and actor.resident_id == card.resident_id):
        raise Forbidden(
            "forbidden", "仅居民本人可获取动态健康码 (only the resident gets their live code)"
        )
    return _issue(
        card,
        code_type=codec.CodeType.DYNAMIC,
        lifetime=int(setting("HEALTHCODE_DYNAMIC_LIFETIME_SECONDS")),
        now=now or timezone.now(),
    )


def healthcode_issue_static(
    *, actor: User, card: HealthCard, now: dt.datetime | None = None
) -> IssuedCode:
    """A long-lived code to print on a card (HEALTHCODE_STATIC_LIFETIME_DAYS). Audited."""
    resident = card.resident
    healthcode_static_role_require(actor)
    related = resident_related_to_institution(resident, actor.institution_id)
    if not permissions.can_print_static_healthcode(actor, resident, related_to_institution=related):
        raise resident_not_found()
    now = now or timezone.now()
    issued = _issue(
        card, code_type=codec.CodeType.STATIC, lifetime=static_lifetime_seconds(), now=now
    )
    with transaction.atomic():
        audit_record(
            actor=actor,
            action="healthcode_issue_static",
            object_type="healthcard",
            object_id=card.public_id,
            details={"kid": issued.kid, "expires_at": issued.expires_at.isoformat()},
        )
    return issued


def healthcode_current_for_resident(
    *, actor: User, now: dt.datetime | None = None
) -> tuple[IssuedCode, int]:
    """What the resident's phone shows: a dynamic code reused for its refresh interval (so
    polling phones and the SVG cache hit), and the seconds after which to ask again."""
    if not permissions.can_view_own_healthcode(actor):
        raise Forbidden(
            "residents_only", "仅居民本人可查看健康码 (only a resident has a health code)"
        )
    now = now or timezone.now()
    card = healthcard_issue(actor=actor, resident=resident_of_login(actor), now=now)
    refresh = int(setting("HEALTHCODE_DYNAMIC_REFRESH_SECONDS"))
    cache_key = f"hc:current:{card.sub}"
    issued: IssuedCode | None = cache.get(cache_key)
    if (
        issued is None
        or (now - issued.issued_at).total_seconds() >= refresh
        or issued.issued_at > now
    ):
        issued = healthcode_issue_dynamic(actor=actor, card=card, now=now)
        cache.set(cache_key, issued, refresh)
    age = int((now - issued.issued_at).total_seconds())
    return issued, max(1, refresh - age)


def healthcode_svg(issued: IssuedCode, *, now: dt.datetime | None = None) -> str:
    """The code's QR as SVG, cached by the code's hash for the code's remaining life (rendering
    costs ~20 ms). Printed (static) codes use ECC Q."""
    now = now or timezone.now()
    printed = issued.code_type == codec.CodeType.STATIC
    cache_key = "hc:svg:" + hashlib.sha256(issued.text.encode("ascii")).hexdigest()
    svg = cache.get(cache_key)
    if svg is None:
        svg = render_svg(issued.text, print_quality=printed)
        life = int((issued.expires_at - now).total_seconds())
        if life > 0:
            cache.set(cache_key, svg, min(life, 86_400))
    return svg
