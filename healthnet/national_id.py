"""Resident identity numbers (居民身份证号码, GB 11643-1999), validated with python-stdnum."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.utils import timezone
from stdnum import exceptions as stdnum_errors
from stdnum.cn import ric

from healthnet.encryption import decrypt_text, encrypt_text, lookup_hash
from healthnet.errors import InvalidInput

_CONTEXT = b"resident.national_id"


@dataclass(frozen=True)
class NationalId:
    number: str
    birth_date: dt.date
    sex: str  # "male" | "female", from the 17th digit's parity
    region_code: str


def parse_national_id(value: str, *, field: str = "national_id") -> NationalId:
    """Validate checksum, birth date and region; raise InvalidInput with a precise code."""
    if not isinstance(value, str):
        raise InvalidInput("national_id_invalid", "身份证号码必须是字符串", field=field)
    number = ric.compact(value).upper()
    try:
        ric.validate(number)
    except stdnum_errors.InvalidLength:
        raise InvalidInput(
            "national_id_length",
            "身份证号码应为18位 (national ID must have 18 characters)",
            field=field,
        ) from None
    except stdnum_errors.InvalidChecksum:
        raise InvalidInput(
            "national_id_checksum",
            "身份证号码校验位错误 (national ID checksum is wrong)",
            field=field,
        ) from None
    except stdnum_errors.InvalidComponent:
        raise InvalidInput(
            "national_id_component",
            "身份证号码中的出生日期或地区码无效 (birth date or region code in the ID is invalid)",
            field=field,
        ) from None
    except stdnum_errors.ValidationError:
        raise InvalidInput(
            "national_id_format", "身份证号码格式错误 (national ID format is wrong)", field=field
        ) from None
    birth_date = ric.get_birth_date(number)
    if birth_date > timezone.localdate():
        raise InvalidInput(
            "national_id_component",
            "身份证号码中的出生日期在未来 (birth date is in the future)",
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
    """1503**********123X: region prefix and the last four, as DESIGN §3 shows."""
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
