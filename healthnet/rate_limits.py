"""Per-user rate limits on what could otherwise enumerate residents (docs/security.md).

Looking a resident up by the full ID number, and a registration refused because the number is
already on a record, both answer whether a number belongs to a resident of the city. The desk
asks that for the person in front of it; a script asks it for every number. Each user has
RESIDENT_LOOKUP_LIMIT such answers per RESIDENT_LOOKUP_WINDOW_SECONDS (a fixed window), counted
*before* the answer, atomically (`cache.add` + `cache.incr`: Redis in production, shared by
every worker), so parallel requests cannot exceed it; past it, 429 `lookup_throttled` with
`Retry-After`, and the database is not asked.
"""

from __future__ import annotations

import datetime as dt
import logging

from django.conf import settings
from django.core.cache import cache
from django.utils import timezone

from healthnet.errors import RateLimited

logger = logging.getLogger("healthnet.rate_limits")


def window_count(key: str, *, window: int, now: dt.datetime) -> tuple[int, int]:
    """Add one to the fixed-window counter `key`, atomically; (the count now, seconds until
    the window ends)."""
    slot = int(now.timestamp()) // window
    counter = f"rate:{key}:{slot}"
    cache.add(counter, 0, window + 1)
    try:
        count = cache.incr(counter)
    except ValueError:  # the window's key expired between add and incr
        cache.add(counter, 1, window + 1)
        count = 1
    return count, window - int(now.timestamp()) % window


def national_id_lookup_count(user, *, now: dt.datetime | None = None) -> None:
    """Count one answer about an ID number for `user`; RateLimited past the limit."""
    limit = int(settings.RESIDENT_LOOKUP_LIMIT)
    window = int(settings.RESIDENT_LOOKUP_WINDOW_SECONDS)
    count, retry_after = window_count(
        f"national-id:user:{user.pk}", window=window, now=now or timezone.now()
    )
    if count > limit:
        if count == limit + 1:
            logger.warning("ID-number lookups throttled user=%s", user.pk)
        raise RateLimited(
            "lookup_throttled",
            f"按身份证号码查询过于频繁，请 {retry_after} 秒后再试"
            f" (too many ID-number lookups; try again in {retry_after} s)",
            retry_after_seconds=retry_after,
        )
