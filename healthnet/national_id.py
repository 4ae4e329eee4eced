"""Resident identity numbers (居民身份证号码, GB 11643-1999).

`parse_national_id` is the one parser of the API, the services and the bulk import. It checks, in
this order and with these codes: the length (`national_id_length`), the format — 17 digits and a
digit or X (`national_id_format`), the GB 11643 check digit (`national_id_checksum`), the birth
date — a real day, not in the future (`national_id_component`), and the region code
(`national_id_component`).

The region is where the number was *issued*, not where the resident was born: a district created
in 1983 issues numbers to residents born in 1940. So a region code is accepted when it is in
python-stdnum's table of administrative codes (`cn/loc`) for any period, now or in the past,
whatever the birth date (stdnum's own `validate` requires the code to exist in the birth year).
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from dataclasses import dataclass
from typing import Any

from django.utils import timezone
from stdnum import numdb
from stdnum.cn import ric
from stdnum.util import clean

from healthnet.encryption import decrypt_text, encrypt_text, lookup_hash
from healthnet.errors import InvalidInput

_CONTEXT = b"resident.national_id"
# What the API's schemas accept as an ID number (the OpenAPI pattern, enforced before the
# handler): 17 digits and a digit or X (a lowercase x is read as X). The check digit, the birth
# date and the region are parse_national_id's 422s.
NATIONAL_ID_PATTERN = r"^[0-9]{17}[0-9Xx]$"
NATIONAL_ID_OR_EMPTY_PATTERN = r"^([0-9]{17}[0-9Xx])?$"
_SHAPE = re.compile(r"[0-9]{17}[0-9X]")


@dataclass(frozen=True)
class NationalId:
    number: str
    birth_date: dt.date
    sex: str  # "male" | "female", from the 17th digit's parity
    region_code: str


def _in_future(day: dt.date) -> bool:
    """After today in the local time zone. The local day is within one day of the UTC day, so
    only a birth date that near needs the (slower) time-zone lookup."""
    if day < dt.datetime.now(dt.UTC).date() - dt.timedelta(days=1):
        return False
    return day > timezone.localdate()


@functools.lru_cache(maxsize=4096)
def region_exists(region_code: str) -> bool:
    """Is this 6-digit code in stdnum's table of administrative divisions, for any period? One
    table lookup per code for the life of the process (an import meets a few hundred codes)."""
    parts = numdb.get("cn/loc").info(region_code)
    # The lookup splits the code into province (2 digits) and county (4); a code the table does
    # not hold ends in a part without a name. A county's name may carry its periods
    # ("[1983-]海勃湾区"): any period will do.
    return len(parts) == 2 and all(props for _, props in parts)


def parse_national_id(value: Any, *, field: str = "national_id") -> NationalId:
    """Validate an ID number; raise InvalidInput with the precise code (see the module doc).
    Spaces and hyphens are ignored, a lowercase x is read as X, full-width digits as digits."""
    if not isinstance(value, str):
        raise InvalidInput("national_id_invalid", "身份证号码必须是字符串", field=field)
    number = value.strip().upper()
    if not _SHAPE.fullmatch(number):  # the common case is already clean: skip the slower path
        number = clean(number, " -")
    if len(number) != 18:
        raise InvalidInput(
            "national_id_length",
            "身份证号码应为18位 (national ID must have 18 characters)",
            field=field,
        )
    if not _SHAPE.fullmatch(number):
        raise InvalidInput(
            "national_id_format", "身份证号码格式错误 (national ID format is wrong)", field=field
        )
    if ric.calc_check_digit(number) != number[17]:
        raise InvalidInput(
            "national_id_checksum",
            "身份证号码校验位错误 (national ID checksum is wrong)",
            field=field,
        )
    try:
        birth_date = dt.date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError:
        birth_date = None
    if birth_date is None or _in_future(birth_date):
        raise InvalidInput(
            "national_id_component",
            "身份证号码中的出生日期无效或在未来 (the birth date in the ID is not a real day or is "
            "in the future)",
            field=field,
        )
    if not region_exists(number[:6]):
        raise InvalidInput(
            "national_id_component",
            "身份证号码中的地区码不存在 (the region code in the ID does not exist)",
            field=field,
        )
    sex = "male" if int(number[16]) % 2 == 1 else "female"
    return NationalId(number=number, birth_date=birth_date, sex=sex, region_code=number[:6])


def national_id_hash(number: str) -> str:
    return lookup_hash(number, context=_CONTEXT)


def encrypt_national_id(number: str) -> str:
    return encrypt_text(number, context=_CONTEXT)


def decrypt_national_id(stored: str) -> str:
    return decrypt_text(stored, context=_CONTEXT)


def mask_national_id(number: str) -> str:
    """1503**********123X: region prefix and the last four, as docs/design.md §3 shows."""
    return number[:4] + "*" * (len(number) - 8) + number[-4:]


def resident_national_id_masked(resident: Any) -> str:
    """The resident's ID number as every screen and API answer shows it: decrypted, masked. The
    one place that does both (anything with a `national_id_encrypted` attribute)."""
    return mask_national_id(decrypt_national_id(resident.national_id_encrypted))


def make_national_id(*, region_code: str, birth_date: dt.date, sequence: int, sex: str) -> str:
    """Compose a valid ID number (demo data, tests): 6-digit region, birth date, a 3-digit
    sequence whose parity carries the sex (odd = male), and the GB 11643 check digit."""
    if not 0 <= sequence <= 499:
        raise ValueError("sequence must be 0..499 (two per number: one male, one female)")
    order = sequence * 2 + (1 if sex == "male" else 0)
    if order == 0:
        order = 2  # 000 is not issued
    body = f"{region_code}{birth_date:%Y%m%d}{order:03d}"
    return body + ric.calc_check_digit(body + "0")  # stdnum ignores the last character
