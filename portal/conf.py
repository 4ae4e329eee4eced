"""The portal's settings, each overridable in Django settings under the same name; read through
these functions (not at import) so tests can change them with pytest-django's `settings`."""

from __future__ import annotations

from django.conf import settings

DEFAULTS = {
    # How often an open 工作台 asks for fresh counters (htmx polling).
    "PORTAL_COUNTERS_REFRESH_SECONDS": 60,
}


def setting(name: str) -> object:
    return getattr(settings, name, DEFAULTS[name])


def counters_refresh_seconds() -> int:
    return int(setting("PORTAL_COUNTERS_REFRESH_SECONDS"))  # type: ignore[call-overload]
