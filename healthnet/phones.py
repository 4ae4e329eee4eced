"""Mainland mobile numbers (手机号): one normal form, the spellings a desk may have typed, a mask.

Pure functions, no database. A record's phone is whatever the desk typed (`138 0000 1234`,
`+86 13800001234`, …); phone sign-in compares normal forms, so it finds the record whichever way
the number was written (healthnet.selectors.residents_by_phone).
"""

from __future__ import annotations

import re
from typing import Final

from healthnet.errors import InvalidInput

# 11 digits starting 13–19: every mainland mobile range in use.
MOBILE: Final = re.compile(r"^1[3-9]\d{9}$")
_SEPARATORS: Final = re.compile(r"[\s\-()]")
_COUNTRY_PREFIXES: Final = ("+86", "0086", "86")


def mobile_normalized_or_none(value: str) -> str | None:
    """The 11-digit form of a mainland mobile number, or None when `value` is not one."""
    if not isinstance(value, str) or len(value) > 32:
        return None
    digits = _SEPARATORS.sub("", value.strip())
    for prefix in _COUNTRY_PREFIXES:
        if digits.startswith(prefix) and len(digits) == len(prefix) + 11:
            digits = digits[len(prefix) :]
            break
    return digits if MOBILE.match(digits) else None


def mobile_normalized(value: str, *, field: str = "phone") -> str:
    """The 11-digit form, or InvalidInput `phone_invalid` (422)."""
    number = mobile_normalized_or_none(value)
    if number is None:
        raise InvalidInput(
            "phone_invalid",
            "请输入11位手机号码 (enter an 11-digit mainland mobile number)",
            field=field,
        )
    return number


def mobile_spellings(number: str) -> list[str]:
    """How a desk may have typed the (normalised) number: the values to look up exactly, so an
    index on the column serves the search."""
    groups = f"{number[:3]} {number[3:7]} {number[7:]}"
    dashed = f"{number[:3]}-{number[3:7]}-{number[7:]}"
    spellings = [number, groups, dashed]
    for prefix in ("+86", "+86 ", "86", "0086"):
        spellings += [prefix + number, prefix + groups]
    return spellings


def mobile_masked(number: str) -> str:
    """138****1234: what a screen or a log line may show of a number."""
    normal = mobile_normalized_or_none(number)
    if normal is None:
        return "*" * min(len(number), 11)
    return normal[:3] + "****" + normal[7:]
