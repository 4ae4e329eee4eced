"""The scan (docs/design.md §6).

The scan runs the checks of docs/design.md §6 in order: the offline verifier (prefix and length,
Base45,
CBOR, alg/kid, key, signature, lifetime) → revocation → replay → purpose policy. Every refusal is
recorded as a ScanEvent with its reason (audit, not data) and logged, never with the code text.
Rate-limited attempts are neither verified nor recorded, only logged: recording a flood would
amplify it.

Replay store: a dynamic code's `cti` may be accepted once per purpose within its life. The mark
is `cache.add(...)`, atomic on Redis and on LocMem; in production the cache is the Redis of
CACHE_URL, shared by every web worker and instance, so a code replayed at another worker or
another clinic is still refused. (With the LocMem default each process has its own store: fine
for the embedded single-process runtime, not for several workers.)
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from django.core.cache import cache
from django.db import transaction
from django.utils import timezone

from healthcodes import codec, keys, permissions, selectors
from healthcodes.conf import setting, static_lifetime_seconds
from healthcodes.models import HealthCard, ScanEvent, ScanPurpose, ScanResult
from healthcodes.selectors import ScanSummary
from healthcodes.verifier import Reason, VerifyPolicy, verify
from healthnet.errors import Conflict, DomainError, Forbidden, InvalidInput, RateLimited
from healthnet.models import Encounter, EncounterKind, Resident, User
from healthnet.rate_limits import window_count
from healthnet.services import audit_record, encounter_create
from referrals.selectors import referrals_awaiting_arrival
from referrals.services import referral_arrive

if TYPE_CHECKING:
    from referrals.models import Referral

logger = logging.getLogger("healthcodes.scan")


# --- scanning ----------------------------------------------------------------------------------

# Reason → how it is refused (docs/design.md §6; config/api.py maps the kind to the HTTP status).
REASON_MESSAGES: dict[str, str] = {
    Reason.TOO_LONG: "健康码过长 (code too long)",
    Reason.BAD_PREFIX: "不是健康码 (not a HealthNet code)",
    Reason.BAD_BASE45: "健康码编码无效 (invalid Base45)",
    Reason.BAD_CBOR: "健康码内容无效 (invalid CBOR)",
    Reason.BAD_ALG: "健康码签名算法无效 (invalid algorithm)",
    Reason.MISSING_KID: "健康码缺少密钥标识 (missing key id)",
    Reason.UNKNOWN_KID: "健康码签名密钥未知或已过期 (unknown key)",
    Reason.KEY_COMPROMISED: "健康码签名密钥已作废 (signing key compromised)",
    Reason.BAD_SIGNATURE: "健康码签名无效 (bad signature)",
    Reason.BAD_CLAIMS: "健康码内容无效 (invalid claims)",
    Reason.NOT_YET_VALID: "健康码时间无效，请核对手机时间 (issued in the future)",
    Reason.EXPIRED: "健康码已过期，请刷新 (code expired, refresh it)",
    Reason.LIFETIME_TOO_LONG: "健康码有效期无效 (lifetime too long)",
    Reason.KEY_NOT_VALID: "健康码签发时间不在密钥有效期内 (issued outside the key's validity)",
}
REVOKED = "revoked"
UNKNOWN_CARD = "unknown_card"
REPLAYED = "replayed"
ID_CHECK_REQUIRED = "id_check_required"


@dataclass
class ScanOutcome:
    event: ScanEvent
    resident: Resident
    card: HealthCard
    code_type: str
    expires_at: dt.datetime
    summary: ScanSummary
    encounter: Encounter | None = None
    referrals_arrived: list[Referral] = field(default_factory=list)


@dataclass
class _ScanContext:
    actor: User
    institution_id: int  # the actor's institution (a scanner always has one)
    purpose: str
    id_checked: bool
    device_id: str
    now: dt.datetime
    claims: codec.Claims | None = None
    card: HealthCard | None = None


def healthcode_scan(
    *,
    actor: User,
    code: str,
    purpose: str,
    id_checked: bool = False,
    device_id: str = "",
    now: dt.datetime | None = None,
) -> ScanOutcome:
    """Scan a resident's code at the actor's institution for `purpose`. Refusals raise (after
    recording a refused ScanEvent); success records an accepted ScanEvent, an audit read of the
    resident, and for registration an Encounter."""
    if not permissions.can_scan_healthcode(actor):
        raise Forbidden("forbidden", "仅医疗机构工作人员可扫码 (only institution staff may scan)")
    if purpose not in ScanPurpose.values:
        raise InvalidInput(
            "purpose_unknown", f"未知的扫码用途: {purpose} (unknown purpose)", field="purpose"
        )
    device_id = device_id.strip()[:64]
    now = now or timezone.now()
    _check_rate(actor, device_id, now)
    assert actor.institution_id is not None  # noqa: S101 - can_scan_healthcode checked it
    context = _ScanContext(actor, actor.institution_id, purpose, id_checked, device_id, now)
    try:
        claims, card = _scan_checks(code, context)
    except DomainError as refusal:
        _record_refusal(context, refusal)
        raise
    return _scan_accept(context, claims, card)


def _check_rate(actor: User, device_id: str, now: dt.datetime) -> None:
    limit = int(setting("HEALTHCODE_SCAN_RATE_LIMIT"))
    window = int(setting("HEALTHCODE_SCAN_RATE_WINDOW_SECONDS"))
    counters = [f"hc:scan-rate:user:{actor.pk}"]
    if device_id:
        device = hashlib.sha256(device_id.encode()).hexdigest()[:32]
        counters.append(f"hc:scan-rate:device:{device}")
    for counter in counters:
        count, retry_after = window_count(counter, window=window, now=now)
        if count > limit:
            logger.warning(
                "healthcode scan rate limited user=%s institution=%s device=%s",
                actor.pk,
                actor.institution_id,
                "yes" if device_id else "no",
            )
            raise RateLimited(
                "rate_limited",
                "扫码过于频繁，请稍后再试 (too many scans; try again shortly)",
                retry_after_seconds=retry_after,
            )


def _scan_checks(code: str, context: _ScanContext) -> tuple[codec.Claims, HealthCard]:
    """The checks of docs/design.md §6 after the verifier's; each refusal raises. `context`
    keeps what is known so far, for the refused scan's event."""
    result = verify(
        code,
        keys=keys.verification_key_set(now=context.now),
        now=context.now,
        max_skew=int(setting("HEALTHCODE_MAX_SKEW_SECONDS")),
        policy=VerifyPolicy(
            dynamic_max_lifetime=int(setting("HEALTHCODE_DYNAMIC_LIFETIME_SECONDS")),
            static_max_lifetime=static_lifetime_seconds(),
        ),
    )
    if result.reason is not None or result.claims is None:
        reason = result.reason or Reason.BAD_CLAIMS
        raise InvalidInput(reason.value, REASON_MESSAGES.get(reason, reason.value))
    claims = context.claims = result.claims
    card = selectors.healthcard_by_sub(sub=claims.sub)
    if card is None:
        raise InvalidInput(UNKNOWN_CARD, "健康卡不存在 (no such card)")
    context.card = card
    if card.is_revoked:
        raise InvalidInput(REVOKED, "该健康卡已注销，请使用新的健康码 (this card has been revoked)")
    if claims.code_type is codec.CodeType.DYNAMIC and not _replay_mark(claims, context):
        raise Conflict(
            REPLAYED,
            "该动态健康码已用于此用途，请刷新后重扫 (already scanned for this purpose)",
        )
    if (
        claims.code_type is codec.CodeType.STATIC
        and context.purpose == ScanPurpose.DISPENSING
        and not context.id_checked
    ):
        raise Forbidden(
            ID_CHECK_REQUIRED,
            "纸质健康码取药须核验身份证件 (a printed code needs an ID check for dispensing)",
        )
    return claims, card


def _replay_mark(claims: codec.Claims, context: _ScanContext) -> bool:
    """True the first time this code's `cti` is seen for this purpose within its life."""
    remaining = claims.exp - int(context.now.timestamp())
    timeout = max(1, remaining + int(setting("HEALTHCODE_MAX_SKEW_SECONDS")) + 1)
    key = f"hc:replay:{context.purpose}:{claims.iss}:{claims.cti.hex()}"
    return cache.add(key, 1, timeout)


def _event_fields(context: _ScanContext) -> dict[str, Any]:
    card = context.card
    return {
        "at": context.now,
        "scanned_by": context.actor,
        "institution_id": context.actor.institution_id,
        "device_id": context.device_id,
        "purpose": context.purpose,
        "id_checked": context.id_checked,
        "code_type": context.claims.code_type.value if context.claims else "",
        "kid": context.claims.kid if context.claims else "",
        "card": card,
        "resident_id": card.resident_id if card is not None else None,
        "presented_by_id": (
            selectors.family_code_presenter_id(card=card, cti=context.claims.cti)
            if card is not None and context.claims is not None
            else None
        ),
    }


def _record_refusal(context: _ScanContext, refusal: DomainError) -> None:
    with transaction.atomic():
        event = ScanEvent.objects.create(
            **_event_fields(context), result=ScanResult.REFUSED, reason=refusal.code[:32]
        )
    logger.warning(
        "healthcode scan refused reason=%s purpose=%s user=%s institution=%s event=%s",
        refusal.code,
        context.purpose,
        context.actor.pk,
        context.actor.institution_id,
        event.public_id,
    )


def _scan_accept(context: _ScanContext, claims: codec.Claims, card: HealthCard) -> ScanOutcome:
    actor = context.actor
    resident = card.resident
    with transaction.atomic():
        encounter = None
        if context.purpose == ScanPurpose.REGISTRATION:
            encounter = encounter_create(
                actor=actor,
                resident=resident,
                institution_id=context.institution_id,
                kind=EncounterKind.OUTPATIENT,
                started_at=context.now,
                source="scan",
            )
        event = ScanEvent.objects.create(
            **_event_fields(context), result=ScanResult.ACCEPTED, encounter=encounter
        )
        arrived = _mark_referrals_arrived(
            actor, context.institution_id, resident, context.purpose, encounter
        )
        audit_record(
            actor=actor,
            action="read",
            object_type="resident",
            object_id=resident.public_id,
            details={
                "via": "healthcode_scan",
                "purpose": context.purpose,
                "scan": str(event.public_id),
            },
        )
    summary = selectors.scan_summary(
        user=actor, resident=resident, on=timezone.localdate(context.now)
    )
    return ScanOutcome(
        event=event,
        resident=resident,
        card=card,
        code_type=claims.code_type.value,
        expires_at=dt.datetime.fromtimestamp(claims.exp, tz=dt.UTC),
        summary=summary,
        encounter=encounter,
        referrals_arrived=arrived,
    )


def _mark_referrals_arrived(
    actor: User,
    institution_id: int,
    resident: Resident,
    purpose: str,
    encounter: Encounter | None,
) -> list[Referral]:
    """A registration or consultation scan at the receiving institution of a scheduled referral
    marks it arrived (docs/design.md §4), linked to the visit the registration scan recorded
    (the first referral takes it; without one the arrival records its own). A referral the
    scanner's role may not check in is left for the referral office (each attempt in its own
    savepoint, so a refusal does not undo the scan)."""
    if purpose not in (ScanPurpose.REGISTRATION, ScanPurpose.CONSULTATION):
        return []
    arrived = []
    waiting = referrals_awaiting_arrival(resident=resident, institution_id=institution_id)
    for referral in waiting:
        try:
            with transaction.atomic():
                arrived.append(referral_arrive(referral=referral, actor=actor, encounter=encounter))
        except DomainError as refusal:
            logger.info(
                "scan did not mark referral %s arrived: %s", referral.public_id, refusal.code
            )
    return arrived
