"""National ID validation, masking, encryption and keyed lookup hash."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone
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


# Written out by hand (GB 11643: the check digit is "10X98765432"[Σ digit × weight mod 11] with
# weights 7 9 10 5 8 4 2 1 6 3 7 9 10 5 8 4 2), not composed by the code under test.
# 150302 is Wuhai's 海勃湾区, created in 1983; this elder was born on 1940-03-15.
ELDER_HAIBOWAN = "150302194003150128"
ELDER_HAINAN = "150303194003150124"  # 海南区, also from 1983
UNKNOWN_COUNTY = "150399194003150127"  # Inner Mongolia (15), but no county 0399 ever
UNKNOWN_PROVINCE = "999999194003150124"


def _check_digit(body: str) -> str:
    weights = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
    return "10X98765432"[sum(int(c) * w for c, w in zip(body, weights, strict=True)) % 11]


def test_the_hand_written_numbers_carry_their_check_digit():
    for number in (ELDER_HAIBOWAN, ELDER_HAINAN, UNKNOWN_COUNTY, UNKNOWN_PROVINCE):
        assert _check_digit(number[:17]) == number[17]


@pytest.mark.parametrize("number", [ELDER_HAIBOWAN, ELDER_HAINAN])
def test_a_region_code_is_accepted_whatever_the_birth_date(number):
    """Issue 9: the region is where the number was issued; districts created in 1983 issue
    numbers to residents born before (stdnum's own rule refuses them)."""
    assert not ric.is_valid(number)  # the rule this parser no longer follows

    identity = parse_national_id(number)

    assert identity.birth_date == dt.date(1940, 3, 15)
    assert identity.region_code == number[:6]
    assert identity.sex == "female"  # the 17th digit, 2, is even


@pytest.mark.parametrize(
    ("value", "code"),
    [
        (NUMBER[:-1] + ("1" if NUMBER[-1] != "1" else "2"), "national_id_checksum"),
        ("123", "national_id_length"),
        ("1503021940031501281", "national_id_length"),
        (UNKNOWN_PROVINCE, "national_id_component"),
        (UNKNOWN_COUNTY, "national_id_component"),
        # 30 February (check digit by hand: 15030219900230001 → 9)
        ("150302199002300019", "national_id_component"),
        ("1503021990030400AB", "national_id_format"),
        ("15030219900304X012", "national_id_format"),
    ],
)
def test_invalid_numbers_are_refused_with_a_precise_code(value, code):
    with pytest.raises(InvalidInput) as caught:
        parse_national_id(value)
    assert caught.value.code == code
    assert caught.value.details["field"] == "national_id"


def test_a_birth_date_in_the_future_is_refused_and_today_is_not(settings):
    today = timezone.localdate()
    for day, refused in ((today, False), (today + dt.timedelta(days=1), True)):
        body = f"150302{day:%Y%m%d}012"
        number = body + _check_digit(body)
        if refused:
            with pytest.raises(InvalidInput) as caught:
                parse_national_id(number)
            assert caught.value.code == "national_id_component"
        else:
            assert parse_national_id(number).birth_date == today


def test_separators_and_full_width_digits_are_read():
    assert parse_national_id("150302-19400315-0128").number == ELDER_HAIBOWAN
    assert parse_national_id("150302 1940 0315 0128").number == ELDER_HAIBOWAN
    assert parse_national_id("１５０３０２１９４００３１５０１２８").number == ELDER_HAIBOWAN


def test_a_value_that_is_not_text_is_refused():
    with pytest.raises(InvalidInput) as caught:
        parse_national_id(150302194003150128)
    assert caught.value.code == "national_id_invalid"


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
