"""The small demo city the reports tests rebuild and cross-check: the Wuhai network file, the
service packages and the demo generator's residents, contracts and referrals at a fixed day."""

from __future__ import annotations

import datetime as dt
import io
from pathlib import Path

from django.conf import settings
from django.core.management import call_command

TODAY = dt.date(2026, 6, 30)
RESIDENTS = 300


def build_demo_city(residents: int = RESIDENTS, seed: int = 12) -> None:
    out = io.StringIO()
    call_command("load_network", str(Path(settings.BASE_DIR) / "data" / "wuhai.yaml"), stdout=out)
    call_command("load_service_packages", stdout=out)
    call_command(
        "generate_demo",
        residents=residents,
        seed=seed,
        today=TODAY,
        no_progress=True,
        stdout=out,
    )
