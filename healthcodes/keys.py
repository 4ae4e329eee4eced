"""Signing-key management for health codes (docs/design.md §6): generate, rotate, retire, publish.

Lifecycle of a key (one issuer):

    next ──(its not_before arrives)──▶ active ──(the next key takes over)──▶ retired
      └──────────────── any state ──(mark compromised)──▶ compromised

- A key signs only inside its window `not_before`..`not_after` (HEALTHCODE_KEY_SIGNING_DAYS).
- The next key is created HEALTHCODE_KEY_PUBLISH_AHEAD_DAYS before the active key's window ends,
  with its window starting where the active one ends, so offline verifiers fetch it a week
  before the first code it signs.
- A retired key's private half is erased; its public half stays in the published set until
  `not_after + static code lifetime` (the last code it may have signed has expired), then drops
  out and its codes fail with `unknown_kid`.
- The database allows one `active` and one `next` key per issuer (partial unique constraints),
  so two rotations racing cannot both create one.

`healthcode_keys_rotate` is idempotent: run twice at the same instant, the second run changes
nothing. The beat job (healthcodes.tasks) and `manage.py rotate_healthcode_keys` both call it, and
so does every `manage.py migrate` (keys_publish_after_migrate): a fresh install publishes its
first key when its database is created, before any code is signed, instead of at the first code
request (offline verifiers would meanwhile have fetched an empty key set).
"""

from __future__ import annotations

import datetime as dt
import logging
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from django.db import DEFAULT_DB_ALIAS, IntegrityError, connections, transaction
from django.utils import timezone

from healthcodes import codec, permissions
from healthcodes.conf import setting, static_lifetime_seconds
from healthcodes.models import HealthCodeKey, KeyStatus
from healthnet.encryption import decrypt_text, encrypt_text
from healthnet.errors import Conflict, Forbidden
from healthnet.models import User
from healthnet.services import audit_record

logger = logging.getLogger("healthcodes.keys")

PRIVATE_KEY_CONTEXT = b"healthcode.private_key"


def issuer() -> str:
    return setting("HEALTHCODE_ISSUER")


# --- generation --------------------------------------------------------------------------------


def _new_kid(not_before: dt.datetime) -> str:
    """Six characters (every QR code carries it; kid + iss + sub share 26 bytes): the year and
    month the key starts signing, then two random hex digits, unused so far."""
    month = f"{not_before.astimezone(dt.UTC):%y%m}"
    while True:
        kid = month + secrets.token_hex(1)
        if not HealthCodeKey.objects.filter(kid=kid).exists():
            return kid


def _key_create(
    *, status: str, not_before: dt.datetime, not_after: dt.datetime, actor: User | None, now
) -> HealthCodeKey:
    private_key = ec.generate_private_key(ec.SECP256R1())
    private_pem = private_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode("ascii")
    public_pem = (
        private_key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode("ascii")
    )
    key = HealthCodeKey.objects.create(
        kid=_new_kid(not_before),
        iss=issuer(),
        status=status,
        not_before=not_before,
        not_after=not_after,
        public_key_pem=public_pem,
        private_key_encrypted=encrypt_text(private_pem, context=PRIVATE_KEY_CONTEXT),
        activated_at=now if status == KeyStatus.ACTIVE else None,
    )
    audit_record(
        actor=actor,
        action="healthcode_key_create",
        object_type="healthcode_key",
        object_id=key.kid,
        details={
            "status": status,
            "not_before": not_before.isoformat(),
            "not_after": not_after.isoformat(),
        },
    )
    return key


# --- rotation ----------------------------------------------------------------------------------


@dataclass
class RotationReport:
    created: list[str] = field(default_factory=list)
    promoted: list[str] = field(default_factory=list)
    retired: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.created or self.promoted or self.retired)

    def as_dict(self) -> dict[str, list[str]]:
        return {"created": self.created, "promoted": self.promoted, "retired": self.retired}


def healthcode_keys_rotate(
    *, now: dt.datetime | None = None, actor: User | None = None
) -> RotationReport:
    """Bring the issuer's keys up to date at `now`: make sure one key is active, publish the next
    one a week ahead, promote it when its time comes and retire the old one. Idempotent."""
    now = now or timezone.now()
    try:
        report = _rotate_once(now=now, actor=actor)
    except IntegrityError:
        # Another rotation won the race for the one active/next slot; look again.
        report = _rotate_once(now=now, actor=actor)
    if report.changed:
        logger.info("healthcode keys rotated: %s", report.as_dict())
    return report


def _rotate_once(*, now: dt.datetime, actor: User | None) -> RotationReport:
    report = RotationReport()
    signing = dt.timedelta(days=setting("HEALTHCODE_KEY_SIGNING_DAYS"))
    ahead = dt.timedelta(days=setting("HEALTHCODE_KEY_PUBLISH_AHEAD_DAYS"))
    with transaction.atomic():
        current = {
            key.status: key
            for key in HealthCodeKey.objects.select_for_update()
            .filter(iss=issuer(), status__in=[KeyStatus.ACTIVE, KeyStatus.NEXT])
            .order_by("not_before")
        }
        active, upcoming = current.get(KeyStatus.ACTIVE), current.get(KeyStatus.NEXT)

        if upcoming is not None and upcoming.not_before <= now:
            if active is not None:
                _retire(active, now=now, actor=actor)
                report.retired.append(active.kid)
            upcoming.status = KeyStatus.ACTIVE
            upcoming.activated_at = now
            upcoming.save(update_fields=["status", "activated_at"])
            audit_record(
                actor=actor,
                action="healthcode_key_promote",
                object_type="healthcode_key",
                object_id=upcoming.kid,
            )
            report.promoted.append(upcoming.kid)
            active, upcoming = upcoming, None

        if active is not None and active.not_after <= now:
            # The active key's window ran out and no successor was ready (the job did not run):
            # retire it and start a fresh key below.
            _retire(active, now=now, actor=actor)
            report.retired.append(active.kid)
            active = None

        if active is None:
            active = _key_create(
                status=KeyStatus.ACTIVE,
                not_before=now,
                not_after=now + signing,
                actor=actor,
                now=now,
            )
            report.created.append(active.kid)

        if upcoming is None and active.not_after - now <= ahead:
            upcoming = _key_create(
                status=KeyStatus.NEXT,
                not_before=active.not_after,
                not_after=active.not_after + signing,
                actor=actor,
                now=now,
            )
            report.created.append(upcoming.kid)

        if report.changed:
            invalidate_key_caches()
            transaction.on_commit(invalidate_key_caches)
    return report


def keys_publish_after_migrate(
    sender: Any, *, using: str = DEFAULT_DB_ALIAS, plan: list | None = None, **kwargs: Any
) -> None:
    """post_migrate receiver (connected for the healthcodes app in its AppConfig): make sure a
    key is active and published. `manage.py flush` sends the same signal without a plan; it
    empties the database and is not an install, so it creates nothing."""
    if plan is None or using != DEFAULT_DB_ALIAS:
        return
    if HealthCodeKey._meta.db_table not in connections[using].introspection.table_names():
        return  # migrated only part way (the healthcodes tables do not exist yet)
    healthcode_keys_rotate()


def _retire(key: HealthCodeKey, *, now: dt.datetime, actor: User | None) -> None:
    key.status = KeyStatus.RETIRED
    key.retired_at = now
    key.not_after = min(key.not_after, now)
    key.private_key_encrypted = ""  # a retired key never signs again
    key.save(update_fields=["status", "retired_at", "not_after", "private_key_encrypted"])
    audit_record(
        actor=actor, action="healthcode_key_retire", object_type="healthcode_key", object_id=key.kid
    )


def healthcode_key_mark_compromised(
    *, actor: User | None, kid: str, now: dt.datetime | None = None
) -> HealthCodeKey:
    """Publish a key as compromised (verifiers refuse its codes at once), erase its private half,
    and rotate so that a fresh key signs from now on. `actor=None` = the operator's command."""
    if actor is not None and not permissions.can_manage_healthcode_keys(actor):
        raise Forbidden(
            "forbidden", "仅系统管理员可管理签名密钥 (only a system admin manages keys)"
        )
    now = now or timezone.now()
    with transaction.atomic():
        key = HealthCodeKey.objects.select_for_update().filter(kid=kid).first()
        if key is None:
            raise Conflict("key_unknown", f"没有该密钥: {kid} (no such key)")
        if key.status != KeyStatus.COMPROMISED:
            key.status = KeyStatus.COMPROMISED
            key.retired_at = key.retired_at or now
            key.private_key_encrypted = ""
            key.save(update_fields=["status", "retired_at", "private_key_encrypted"])
            audit_record(
                actor=actor,
                action="healthcode_key_compromised",
                object_type="healthcode_key",
                object_id=key.kid,
            )
            invalidate_key_caches()
            transaction.on_commit(invalidate_key_caches)
    healthcode_keys_rotate(now=now, actor=actor)
    return key


# --- signing -----------------------------------------------------------------------------------

# Decrypted private keys, per process, by their stored ciphertext (unique per key: a random nonce),
# not by kid, which is short and may come back years later: decrypting and parsing a PEM on
# every code would cost more than signing it.
_private_keys: dict[str, ec.EllipticCurvePrivateKey] = {}


@dataclass(frozen=True)
class SigningKey:
    kid: str
    iss: str
    private_key: ec.EllipticCurvePrivateKey
    not_after: dt.datetime


def signing_key_current(*, now: dt.datetime | None = None) -> SigningKey:
    """The active key for `now`. If there is none (fresh install, beat not running), rotate first:
    the rotation is idempotent and locked, so doing it here is safe."""
    now = now or timezone.now()
    key = _usable_active_key(now)
    if key is None:
        healthcode_keys_rotate(now=now)
        key = _usable_active_key(now)
        if key is None:  # pragma: no cover - rotation always leaves a usable active key
            raise Conflict("no_signing_key", "没有可用的签名密钥 (no usable signing key)")
    private_key = _private_keys.get(key.private_key_encrypted)
    if private_key is None:
        pem = decrypt_text(key.private_key_encrypted, context=PRIVATE_KEY_CONTEXT)
        loaded = serialization.load_pem_private_key(pem.encode("ascii"), password=None)
        if not isinstance(loaded, ec.EllipticCurvePrivateKey):  # pragma: no cover - we made it
            raise TypeError(f"health-code key {key.kid} is not an EC private key")
        private_key = _private_keys[key.private_key_encrypted] = loaded
    return SigningKey(kid=key.kid, iss=key.iss, private_key=private_key, not_after=key.not_after)


def _public_key(key: HealthCodeKey) -> ec.EllipticCurvePublicKey:
    loaded = serialization.load_pem_public_key(key.public_key_pem.encode("ascii"))
    if not isinstance(loaded, ec.EllipticCurvePublicKey):  # pragma: no cover - we made it
        raise TypeError(f"health-code key {key.kid} is not an EC public key")
    return loaded


def _usable_active_key(now: dt.datetime) -> HealthCodeKey | None:
    return (
        HealthCodeKey.objects.filter(
            iss=issuer(), status=KeyStatus.ACTIVE, not_before__lte=now, not_after__gt=now
        )
        .exclude(private_key_encrypted="")
        .first()
    )


# --- publishing --------------------------------------------------------------------------------


def _published_status(status: str) -> str:
    """A `next` key is published as `active`: to a verifier the two are the same (a key verifies
    only codes signed inside its window, which the verifier checks), and the published set keeps
    the three statuses it has always had."""
    return KeyStatus.ACTIVE.value if status == KeyStatus.NEXT else status


def key_set_document(*, now: dt.datetime | None = None) -> dict[str, Any]:
    """The published key set (GET /.well-known/healthcode-keys.json): every key that may still
    have a live code, with its validity and status. Public halves only."""
    now = now or timezone.now()
    max_skew = int(setting("HEALTHCODE_MAX_SKEW_SECONDS"))
    jwks = [
        codec.public_jwk(
            _public_key(key),
            kid=key.kid,
            iss=key.iss,
            not_before=key.not_before,
            not_after=key.not_after,
            status=_published_status(key.status),
        )
        for key in HealthCodeKey.objects.order_by("not_before", "kid")
    ]
    return codec.key_set_document(
        jwks, now=now, max_code_lifetime=static_lifetime_seconds() + max_skew
    )


# The key set each web worker verifies with, rebuilt from the database every
# HEALTHCODE_KEYSET_CACHE_SECONDS (or at once after a key change in this process).
_key_set_cache: dict[str, Any] = {}


def invalidate_key_caches() -> None:
    _key_set_cache.clear()


def verification_key_set(*, now: dt.datetime | None = None) -> codec.KeySet:
    """The published key set, parsed exactly as an offline verifier parses it."""
    now = now or timezone.now()
    ttl = float(setting("HEALTHCODE_KEYSET_CACHE_SECONDS"))
    built_at = _key_set_cache.get("built_at")
    fresh = (
        built_at is not None
        and abs((now - built_at).total_seconds()) < ttl
        and time.monotonic() - _key_set_cache["monotonic"] < ttl
    )
    if not fresh:
        _key_set_cache.update(
            key_set=codec.load_key_set(key_set_document(now=now)),
            built_at=now,
            monotonic=time.monotonic(),
        )
    return _key_set_cache["key_set"]
