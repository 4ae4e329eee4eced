"""Every write of the health-code app: cards and codes (cards.py), the scan (scan.py)."""

from healthcodes.services.cards import (
    IssuedCode,
    healthcard_issue,
    healthcard_revoke,
    healthcard_role_require,
    healthcode_current_for_resident,
    healthcode_issue_dynamic,
    healthcode_issue_static,
    healthcode_static_role_require,
    healthcode_svg,
)
from healthcodes.services.scan import ScanOutcome, healthcode_scan

__all__ = [
    "IssuedCode",
    "ScanOutcome",
    "healthcard_issue",
    "healthcard_revoke",
    "healthcard_role_require",
    "healthcode_current_for_resident",
    "healthcode_issue_dynamic",
    "healthcode_issue_static",
    "healthcode_scan",
    "healthcode_static_role_require",
    "healthcode_svg",
]
