"""The health-code settings, each overridable in Django settings under the same name.

Read through these functions (not at import) so tests can override them with pytest-django's
`settings` fixture.
"""

from __future__ import annotations

from django.conf import settings

DEFAULTS = {
    # `iss` of every code and key. Inside every QR code, where kid + iss + sub share 26 bytes
    # (healthcodes.codec.MAX_TEXT_LENGTH: a printed card must fit version 10 at ECC Q).
    "HEALTHCODE_ISSUER": "WH",
    # How long a key signs before the next one takes over, and how early the next is published.
    "HEALTHCODE_KEY_SIGNING_DAYS": 90,
    "HEALTHCODE_KEY_PUBLISH_AHEAD_DAYS": 7,
    # Code lifetimes (docs/design.md §6): dynamic 60 s on the phone, refreshed every 30 s; static
    # printed.
    "HEALTHCODE_DYNAMIC_LIFETIME_SECONDS": 60,
    "HEALTHCODE_DYNAMIC_REFRESH_SECONDS": 30,
    "HEALTHCODE_STATIC_LIFETIME_DAYS": 365,
    # Clock skew the verifier tolerates (docs/design.md §6: ±30 s).
    "HEALTHCODE_MAX_SKEW_SECONDS": 30,
    # How long a web worker reuses the key set it built from the database.
    "HEALTHCODE_KEYSET_CACHE_SECONDS": 30,
    # Scans per user (and per device, when the scanner sends X-Device-Id) per window.
    "HEALTHCODE_SCAN_RATE_LIMIT": 120,
    "HEALTHCODE_SCAN_RATE_WINDOW_SECONDS": 60,
    # Cache-Control max-age of the published key set.
    "HEALTHCODE_KEYSET_MAX_AGE_SECONDS": 300,
    # The printed card (healthcodes/card_rendering.py): a font that writes Chinese (empty: the
    # first of card_rendering.DEFAULT_FONT_PATHS found) and the card's title.
    "HEALTHCODE_CARD_FONT": "",
    "HEALTHCODE_CARD_TITLE": "乌海市居民健康卡",
}


def setting(name: str):
    return getattr(settings, name, DEFAULTS[name])


def static_lifetime_seconds() -> int:
    return int(setting("HEALTHCODE_STATIC_LIFETIME_DAYS")) * 86_400
