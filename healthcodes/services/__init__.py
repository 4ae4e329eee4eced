"""Every write of the health-code app: cards and codes (cards.py), family codes (family.py), the
printed card (printed.py), the scan (scan.py)."""

from healthcodes.services.cards import (
    IssuedCode,
    healthcard_current_or_issue,
    healthcard_issue,
    healthcard_revoke,
    healthcard_role_require,
    healthcode_current_for_resident,
    healthcode_issue_dynamic,
    healthcode_issue_static,
    healthcode_static_role_require,
    healthcode_svg,
)
from healthcodes.services.family import (
    family_code_role_require,
    healthcode_current_for_ward,
    healthcode_ward_for,
)
from healthcodes.services.printed import CARD_FORMATS, PrintedCard, healthcard_print
from healthcodes.services.scan import ScanOutcome, healthcode_scan

__all__ = [
    "CARD_FORMATS",
    "IssuedCode",
    "PrintedCard",
    "ScanOutcome",
    "family_code_role_require",
    "healthcard_current_or_issue",
    "healthcard_issue",
    "healthcard_print",
    "healthcard_revoke",
    "healthcard_role_require",
    "healthcode_current_for_resident",
    "healthcode_current_for_ward",
    "healthcode_issue_dynamic",
    "healthcode_issue_static",
    "healthcode_scan",
    "healthcode_static_role_require",
    "healthcode_svg",
    "healthcode_ward_for",
]
