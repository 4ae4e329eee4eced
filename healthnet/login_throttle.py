"""Login throttling (docs/security.md): a password is checked only after the attempt is counted.

Why it is built this way:
- **Counted before the check, atomically.** Every attempt increments its counters (cache `add` +
  `incr`, atomic on Redis and in the in-process cache) before any password is hashed. Parallel
  guesses each get their own number, so a burst cannot slip more checks through than the limit;
  reading the count before and writing it after the check let 80 parallel guesses through.
- **Three scopes**, each with its own number of free attempts in a window:
  the client address + username (someone mistyping, or guessing one account from one place);
  the address across usernames (one address trying a common password on many accounts); and the
  username across addresses (many addresses guessing one account) — except from an address the
  account logged in from before, so that nobody elsewhere can keep a clinician out.
  The address is the client's as the trusted proxies saw it (healthnet.middleware.client_address):
  behind a reverse proxy every client would otherwise share one.
- **A growing delay, not a lockout.** Past its free attempts a scope lets one attempt through per
  delay, the delay doubling from LOGIN_DELAY_BASE_SECONDS up to LOGIN_DELAY_MAX_SECONDS; the
  others are refused at once with the time to wait (Retry-After). The first attempt over the
  limit only starts the clock, so a burst gets exactly the free attempts checked. A scope is
  forgotten after LOGIN_FAILURE_WINDOW_SECONDS without attempts past its next allowed time.
- Cache keys are hashes: the cache holds no username or address.
"""

from __future__ import annotations

import contextlib
import hashlib
import math
import time
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache

LOCK_SECONDS = 5  # how long one attempt may hold a scope's gate while it decides (crash guard)


@dataclass(frozen=True)
class Scope:
    name: str
    key: str
    limit: int

    @property
    def count_key(self) -> str:
        return f"{self.key}:n"

    @property
    def gate_key(self) -> str:
        return f"{self.key}:gate"


@dataclass(frozen=True)
class LoginAttempt:
    """An admitted attempt: its scopes, to settle once the password has been checked."""

    username: str
    address: str
    scopes: tuple[Scope, ...]


class LoginRefused(Exception):
    """Too many attempts in some scope: wait `retry_after` seconds (a whole number, ≥ 1)."""

    def __init__(self, retry_after: int, scope: str) -> None:
        self.retry_after = retry_after
        self.scope = scope
        super().__init__(f"login refused by the {scope} throttle for {retry_after} s")


def _digest(*parts: str) -> str:
    return hashlib.sha256("\x00".join(parts).encode()).hexdigest()[:40]


def _normal_username(username: str) -> str:
    return username.strip().lower()


def _known_address_key(username: str, address: str) -> str:
    return f"login:known:{_digest(_normal_username(username), address)}"


def login_scopes(*, username: str, address: str) -> tuple[Scope, ...]:
    name = _normal_username(username)
    scopes = [
        Scope("address_username", f"login:pair:{_digest(address, name)}", _limit("FAILURE")),
        Scope("address", f"login:address:{_digest(address)}", _limit("ADDRESS_FAILURE")),
    ]
    if cache.get(_known_address_key(username, address)) is None:
        scopes.append(
            Scope("username", f"login:username:{_digest(name)}", _limit("USERNAME_FAILURE"))
        )
    return tuple(scopes)


def _limit(kind: str) -> int:
    return int(getattr(settings, f"LOGIN_{kind}_LIMIT"))


def delay_seconds(step: int) -> float:
    """The wait after the `step`-th attempt past the free ones: base × 2^(step−1), capped."""
    base = float(settings.LOGIN_DELAY_BASE_SECONDS)
    cap = float(settings.LOGIN_DELAY_MAX_SECONDS)
    return min(cap, base * 2 ** min(step - 1, 30))


def login_attempt_start(*, username: str, address: str | None) -> LoginAttempt:
    """Count one attempt in every scope and decide whether its password may be checked.
    Raises LoginRefused (nothing checked) when a scope says wait."""
    address = address or "unknown"
    now = time.time()
    scopes = login_scopes(username=username, address=address)
    for scope in scopes:
        wait = _admit(scope, now)
        if wait is not None:
            raise LoginRefused(max(1, math.ceil(wait)), scope.name)
    return LoginAttempt(username=username, address=address, scopes=scopes)


def login_attempt_succeeded(attempt: LoginAttempt) -> None:
    """The password was right: the address+username scope starts afresh, the wider scopes
    uncount this attempt, and the address becomes one this account logs in from.

    Uncounting keeps a clinic's staff, logging in behind one address, from using up its
    attempts. In the address scope each account uncounts once per window: otherwise someone
    with one account of their own could spray other accounts for ever, logging in to theirs
    between two guesses."""
    window = int(settings.LOGIN_FAILURE_WINDOW_SECONDS)
    for scope in attempt.scopes:
        if scope.name == "address_username":
            cache.delete_many([scope.count_key, scope.gate_key])
            continue
        if scope.name == "address":
            credit_key = f"{scope.key}:credited:{_digest(_normal_username(attempt.username))}"
            if not cache.add(credit_key, 1, timeout=window):
                continue
        with contextlib.suppress(ValueError):  # ValueError: the window ended meanwhile
            cache.decr(scope.count_key)
    cache.set(
        _known_address_key(attempt.username, attempt.address),
        1,
        timeout=int(settings.LOGIN_KNOWN_ADDRESS_DAYS) * 86_400,
    )


def _admit(scope: Scope, now: float) -> float | None:
    """Count the attempt in `scope`. None: it may be checked; else the seconds to wait."""
    window = int(settings.LOGIN_FAILURE_WINDOW_SECONDS)
    cache.add(scope.count_key, 0, timeout=window)
    try:
        count = cache.incr(scope.count_key)
    except ValueError:  # expired between add and incr: this attempt opens a new window
        cache.add(scope.count_key, 1, timeout=window)
        count = 1
    if count <= scope.limit:
        return None
    return _pass_gate(scope, now, window)


def _pass_gate(scope: Scope, now: float, window: int) -> float | None:
    """Past the free attempts: one attempt per delay goes through. The gate holds (next allowed
    time, step); one attempt at a time reads and moves it, under a short lock (cache `add`).
    The count lives as long as the gate, so the free attempts do not come back while a delay
    still runs."""
    lock_key = f"{scope.gate_key}:lock"
    if not cache.add(lock_key, 1, timeout=LOCK_SECONDS):
        return float(settings.LOGIN_DELAY_BASE_SECONDS)  # another attempt is deciding right now
    try:
        gate = cache.get(scope.gate_key)
        if gate is None:  # the first attempt over the limit starts the clock and waits
            _gate_set(scope, now=now, step=1, window=window)
            return delay_seconds(1)
        next_allowed, step = gate
        if now < next_allowed:
            return next_allowed - now
        _gate_set(scope, now=now, step=step + 1, window=window)
        return None
    finally:
        cache.delete(lock_key)


def _gate_set(scope: Scope, *, now: float, step: int, window: int) -> None:
    """Next attempt allowed after the step's delay; the gate and the count are forgotten a quiet
    window after that."""
    wait = delay_seconds(step)
    lifetime = math.ceil(wait) + window
    cache.set(scope.gate_key, (now + wait, step), timeout=lifetime)
    cache.touch(scope.count_key, timeout=lifetime)
