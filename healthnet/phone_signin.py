"""Residents sign in on their phone with a one-time code (手机验证码登录, issue 11).

1. `phone_signin_code_request(phone=…)`: a 6-digit code is sent to the number through the outbox
   (settings.PHONE_SIGNIN_CHANNEL, the SMS channel by default, whose gateway is a log line until
   the city's provider is configured: docs/deploy.md). The answer is the same whether or not the
   number is on a record: a code row is written either way, a message only for a record's number.
2. `phone_signin_verify(phone=…, code=…)`: the code is checked (5 minutes, 5 tries, once) and the
   login of the resident whose record carries that number is returned, made at the first sign-in.
   The number is the link: nobody can attach a phone to someone else's record, because the code
   goes only to the number the desk recorded. A number on several records (a family sharing one
   phone) signs in nobody and is sent to the desk.

Only keyed hashes (healthnet.encryption.lookup_hash) of the number and of the code are stored.
Counters are atomic (healthnet.rate_limits.window_count, Redis in production) and counted
*before* the check, so parallel guesses cannot outrun them: per number and per client address
for sending, per client address for checking, and the per-code try counter is a conditional UPDATE.
"""

from __future__ import annotations

import datetime as dt
import hmac
import logging
import secrets
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.core.cache import cache
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from healthnet import permissions
from healthnet.encryption import lookup_hash
from healthnet.errors import Conflict, InvalidInput, NotAuthenticated, RateLimited
from healthnet.models import OneTimeCode, Resident, User, UserRole
from healthnet.names import name_masked
from healthnet.outbox import outbox_enqueue
from healthnet.phones import mobile_masked, mobile_normalized
from healthnet.rate_limits import window_count
from healthnet.request_context import current_client_ip
from healthnet.selectors import resident_login, residents_by_phone
from healthnet.services import audit_record

logger = logging.getLogger("healthnet.phone_signin")

DEFAULTS: dict[str, object] = {
    "PHONE_SIGNIN_CODE_SECONDS": 300,  # a code lives 5 minutes
    "PHONE_SIGNIN_CODE_TRIES": 5,  # and allows 5 tries
    "PHONE_SIGNIN_RESEND_SECONDS": 60,  # one code per number per minute
    "PHONE_SIGNIN_WINDOW_SECONDS": 3600,  # the window of the counters below
    "PHONE_SIGNIN_CODES_PER_PHONE": 5,
    "PHONE_SIGNIN_CODES_PER_ADDRESS": 20,
    "PHONE_SIGNIN_CHECKS_PER_ADDRESS": 30,
    "PHONE_SIGNIN_CHANNEL": "sms",  # a name of settings.NOTIFICATION_CHANNELS
}
CODE_DIGITS = 6


def setting(name: str) -> object:
    return getattr(settings, name, DEFAULTS[name])


def _int(name: str) -> int:
    return int(setting(name))  # type: ignore[call-overload]


def _phone_hash(number: str) -> str:
    return lookup_hash(number, context=b"healthnet.signin_phone")


def _code_hash(number: str, code: str) -> str:
    # Keyed: a stolen table cannot be brute-forced through the million codes without the key.
    return lookup_hash(f"{number}|{code}", context=b"healthnet.signin_code")


# --- counters ------------------------------------------------------------------------------


def _count(key: str, *, limit: int, window: int, now: dt.datetime) -> None:
    """Add one to a fixed-window counter (healthnet.rate_limits.window_count), and refuse (429)
    over `limit`."""
    count, retry_after = window_count(f"signin:{key}", window=window, now=now)
    if count > limit:
        raise RateLimited(
            "signin_throttled",
            "尝试过于频繁，请稍后再试 (too many attempts; try again later)",
            retry_after_seconds=retry_after,
        )


def _address_key() -> str:
    return lookup_hash(current_client_ip() or "-", context=b"healthnet.signin_address")[:32]


# --- sending a code ------------------------------------------------------------------------


@dataclass(frozen=True)
class CodeRequested:
    """What the caller is told, the same for every number: when it may ask again and how long
    a code lives."""

    resend_after: int
    expires_in: int


def phone_signin_code_request(*, phone: str, now: dt.datetime | None = None) -> CodeRequested:
    """Send a sign-in code to `phone` if it is a resident's recorded number. Refusals: 422
    `phone_invalid` (not a mobile number), 429 `signin_throttled` (counted for every number,
    registered or not, so they reveal nothing)."""
    number = mobile_normalized(phone)
    now = now or timezone.now()
    phone_hash = _phone_hash(number)
    window = _int("PHONE_SIGNIN_WINDOW_SECONDS")
    resend = _int("PHONE_SIGNIN_RESEND_SECONDS")
    _count(
        f"send-address:{_address_key()}",
        limit=_int("PHONE_SIGNIN_CODES_PER_ADDRESS"),
        window=window,
        now=now,
    )
    # One code a minute: the last code's time (the database, so the rule follows `now`), and
    # an atomic mark for this minute, so two requests at once cannot both pass.
    last = (
        OneTimeCode.objects.filter(phone_hash=phone_hash)
        .order_by("-created_at")
        .values_list("created_at", flat=True)
        .first()
    )
    slot = int(now.timestamp()) // resend
    if (last is not None and now - last < dt.timedelta(seconds=resend)) or not cache.add(
        f"signin:cooldown:{phone_hash}:{slot}", 1, resend + 1
    ):
        raise RateLimited(
            "signin_throttled",
            "验证码已发送，请稍后再获取 (a code was just sent; wait a minute)",
            retry_after_seconds=resend,
        )
    _count(
        f"send-phone:{phone_hash}",
        limit=_int("PHONE_SIGNIN_CODES_PER_PHONE"),
        window=window,
        now=now,
    )
    code = f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"
    lifetime = _int("PHONE_SIGNIN_CODE_SECONDS")
    on_record = bool(residents_by_phone(number))
    with transaction.atomic():
        # A row for every number: checking a code then answers alike for all of them.
        OneTimeCode.objects.create(
            phone_hash=phone_hash,
            code_hash=_code_hash(number, code),
            created_at=now,
            expires_at=now + dt.timedelta(seconds=lifetime),
        )
        if on_record:
            outbox_enqueue(
                channel=str(setting("PHONE_SIGNIN_CHANNEL")),
                recipient=number,
                subject="HealthNet",
                body=(
                    f"【乌海健康】您的登录验证码是{code}，{lifetime // 60}分钟内有效。"
                    "请勿告诉他人。"
                ),
            )
    logger.info("sign-in code requested for %s (on record: %s)", mobile_masked(number), on_record)
    return CodeRequested(resend_after=resend, expires_in=lifetime)


# --- checking a code -----------------------------------------------------------------------


def _wrong_code() -> NotAuthenticated:
    return NotAuthenticated(
        "signin_code_wrong", "验证码错误或已过期，请重新获取 (wrong or expired code)"
    )


def phone_signin_verify(*, phone: str, code: str, now: dt.datetime | None = None) -> User:
    """Check the code last sent to `phone` and return the login of the resident whose record
    carries that number (made at the first sign-in). Refusals: 422 `phone_invalid` or
    `signin_code_format`; 429 `signin_throttled`; 401 `signin_code_wrong` (wrong, expired, used,
    out of tries, or never sent: one answer); 409 `phone_shared` (the number is on several
    records) after a right code only."""
    number = mobile_normalized(phone)
    code = (code or "").strip()
    if len(code) != CODE_DIGITS or not code.isdigit():
        raise InvalidInput(
            "signin_code_format", "请输入6位数字验证码 (enter the 6-digit code)", field="code"
        )
    now = now or timezone.now()
    _count(
        f"check-address:{_address_key()}",
        limit=_int("PHONE_SIGNIN_CHECKS_PER_ADDRESS"),
        window=_int("PHONE_SIGNIN_WINDOW_SECONDS"),
        now=now,
    )
    latest = (
        OneTimeCode.objects.filter(phone_hash=_phone_hash(number)).order_by("-created_at").first()
    )
    if latest is None or latest.used_at is not None or latest.expires_at <= now:
        raise _wrong_code()
    # The try is counted before the comparison, in one conditional UPDATE: parallel guesses
    # cannot get more than the allowed tries between them.
    tries = _int("PHONE_SIGNIN_CODE_TRIES")
    counted = OneTimeCode.objects.filter(pk=latest.pk, attempts__lt=tries).update(
        attempts=F("attempts") + 1
    )
    if not counted or not hmac.compare_digest(latest.code_hash, _code_hash(number, code)):
        raise _wrong_code()
    if not OneTimeCode.objects.filter(pk=latest.pk, used_at__isnull=True).update(used_at=now):
        raise _wrong_code()  # used by a concurrent request a moment ago
    residents = residents_by_phone(number)
    if not residents:  # the record's number changed since the code was sent
        raise _wrong_code()
    if len(residents) > 1:
        raise Conflict(
            "phone_shared",
            "该手机号登记在多位居民名下，请到社区卫生服务中心窗口办理 "
            "(this number is on several residents' records; please ask at the desk)",
        )
    user = _resident_login_for(residents[0])
    with transaction.atomic():
        audit_record(actor=user, action="login_phone", object_type="user", object_id=user.pk)
    return user


def _resident_login_for(resident: Resident) -> User:
    """The resident's own login, made (without a password) at their first phone sign-in."""
    user = resident_login(resident)
    if user is None:
        try:
            with transaction.atomic():
                user = User.objects.create(
                    username=f"resident-{resident.public_id.hex[:16]}",
                    role=UserRole.RESIDENT,
                    resident=resident,
                    last_name=name_masked(resident.name),  # what the page header shows
                    password=make_password(None),  # unusable: this login signs in by phone
                )
                audit_record(
                    actor=user,
                    action="phone_linked",
                    object_type="resident",
                    object_id=resident.public_id,
                    details={"user": user.pk},
                )
        except IntegrityError:  # made by a concurrent first sign-in
            user = resident_login(resident)
            if user is None:
                raise
    if not permissions.can_sign_in_by_phone(user):
        raise _wrong_code()
    return user
