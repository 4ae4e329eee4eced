"""National ID validation, masking, encryption and keyed lookup hash."""

from __future__ import annotations

import datetime as dt

import pytest
from stdnum.cn import ric

from healthnet.errors import InvalidInput
from healthnet.models import Tier, is_higher_tier
from healthnet.national_id import (
    decrypt_national_id,
    encrypt_national_id,
    make_national_id,
    mask_national_id,
    national_id_hash,
    parse_national_id,
)

NUMBER = make_national_id(
    region_code="150302", birth_date=dt.date(1990, 3, 4), sequence=12, sex="female"
)


def test_composed_numbers_are_valid_and_carry_birth_date_and_sex():
    identity = parse_national_id(NUMBER)

    assert ric.is_valid(NUMBER)
    assert identity.birth_date == dt.date(1990, 3, 4)
    assert identity.sex == "female"
    assert identity.region_code == "150302"


def test_lowercase_x_and_spaces_are_normalised():
    number = next(
        make_national_id(
            region_code="150300", birth_date=dt.date(1975, 1, 1), sequence=n, sex="male"
        )
        for n in range(500)
        if make_national_id(
            region_code="150300", birth_date=dt.date(1975, 1, 1), sequence=n, sex="male"
        ).endswith("X")
    )
    assert parse_national_id(" " + number.lower() + " ").number == number


@pytest.mark.parametrize(
    ("value", "code"),
    [
        (NUMBER[:-1] + ("1" if NUMBER[-1] != "1" else "2"), "national_id_checksum"),
        ("123", "national_id_length"),
        (
            "99999919900304002" + ric.calc_check_digit("99999919900304002" + "0"),
            "national_id_component",
        ),
        # Haibowan district's code exists only from 1983.
        (
            "15030219700304002" + ric.calc_check_digit("15030219700304002" + "0"),
            "national_id_component",
        ),
        ("1503021990030400AB", "national_id_format"),
    ],
)
def test_invalid_numbers_are_refused_with_a_precise_code(value, code):
    with pytest.raises(InvalidInput) as caught:
        parse_national_id(value)
    assert caught.value.code == code
    assert caught.value.details["field"] == "national_id"


def test_mask_keeps_region_prefix_and_last_four():
    assert mask_national_id("15030219900304012X") == "1503**********012X"


def test_encryption_round_trips_and_is_randomised():
    first, second = encrypt_national_id(NUMBER), encrypt_national_id(NUMBER)

    assert first != second
    assert NUMBER not in first
    assert decrypt_national_id(first) == decrypt_national_id(second) == NUMBER


def test_lookup_hash_is_keyed_and_stable(settings):
    stable = national_id_hash(NUMBER)
    assert stable == national_id_hash(NUMBER)

    settings.FIELD_ENCRYPTION_KEY = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="
    assert national_id_hash(NUMBER) != stable


def test_tier_order_is_one_place():
    assert is_higher_tier(Tier.TERTIARY, Tier.PRIMARY)
    assert is_higher_tier(Tier.DISTRICT, Tier.PRIMARY)
    assert is_higher_tier(Tier.SPECIALIST, Tier.DISTRICT)
    assert not is_higher_tier(Tier.PRIMARY, Tier.DISTRICT)
    # the city's general and specialist hospitals are one level: lateral, neither up nor down
    assert not is_higher_tier(Tier.TERTIARY, Tier.SPECIALIST)
    assert not is_higher_tier(Tier.SPECIALIST, Tier.TERTIARY)
