"""Extension points other apps hook into (in their AppConfig.ready), called by signing services.

FOLLOWUP_RECORDED: callables `(followup) -> None`, called inside `followup_record`'s transaction
after the follow-up is saved as done. The referrals app uses it to close a downward referral's
loop on the team's first follow-up. A hook that raises rolls the recording back.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

FOLLOWUP_RECORDED: list[Callable[[Any], None]] = []
