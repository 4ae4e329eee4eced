"""Writes of the reports app: the rollup rebuild (reports/services/rollups.py)."""

from reports.services.rollups import (
    RebuildResult,
    periods_for_months,
    rebuild_months,
    rebuild_period,
    rebuild_recent,
    recent_months,
)

__all__ = [
    "RebuildResult",
    "periods_for_months",
    "rebuild_months",
    "rebuild_period",
    "rebuild_recent",
    "recent_months",
]
