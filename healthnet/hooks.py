"""Extension points of the network app, filled by the apps above it (in their AppConfig.ready):
the network cannot import them (docs/architecture.md, the app order).

RESIDENT_CARD_CURRENT: callables `(resident) -> card | None` giving the resident's current health
card (an object with `public_id` and `issued_at`). The health-code app registers its selector;
`GET /api/v1/auth/me` shows a resident their card through it, so an app can revoke a lost one.

RESIDENT_LEFT: callables `(resident, reason, actor) -> None` called inside the transaction that
records a resident's death (reason "died") or move away from the city ("moved_away")
(healthnet.register). The signing app ends the resident's contracts through it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from healthnet.models import Resident

RESIDENT_CARD_CURRENT: list[Callable[[Resident], Any]] = []
RESIDENT_LEFT: list[Callable[[Resident, str, Any], object]] = []  # (what a hook returns is unused)


def resident_card_current(resident: Resident) -> Any:
    """The resident's current card from the first registered provider that has one, or None."""
    for provider in RESIDENT_CARD_CURRENT:
        card = provider(resident)
        if card is not None:
            return card
    return None
