"""Template context every portal page needs."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest


def session_limits(request: HttpRequest) -> dict[str, int]:
    """The idle limit, for the page to reload itself when it passes (portal/base.html)."""
    return {"session_idle_seconds": int(settings.SESSION_IDLE_SECONDS)}
