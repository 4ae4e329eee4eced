"""Phone sign-in by one-time code (healthnet/phone_signin.py): the code goes only to the number a
desk recorded, lives 5 minutes, allows 5 tries and one use; the answers never say whether a
number is on a record; counters per number and per address refuse floods."""

from __future__ import annotations

import datetime as dt
import re

import pytest
import time_machine

from healthnet.errors import Conflict, InvalidInput, NotAuthenticated, RateLimited
from healthnet.models import AuditEvent, OneTimeCode, OutboxMessage, User, UserRole
from healthnet.phone_signin import phone_signin_code_request, phone_signin_verify
from healthnet.phones import mobile_masked, mobile_normalized, mobile_normalized_or_none
from healthnet.request_context import client_ip_var
from tests.factories import ResidentFactory, UserFactory

pytestmark = pytest.mark.django_db

# The top of an hour: the fixed-window counters start afresh here.
T0 = dt.datetime(2026, 6, 1, 2, 0, tzinfo=dt.UTC)
ZHANG = "13912345678"
LI = "13687654321"
UNKNOWN = "13800000000"


@pytest.fixture
def zhang():
    return ResidentFactory(name="张桂兰", phone="139 1234 5678")  # typed with spaces at the desk


@pytest.fixture
def li():
    return ResidentFactory(name="李建国", phone=LI)


def sent_code(number: str) -> str:
    """The code in the last message to `number`: what the resident reads on their phone."""
    message = OutboxMessage.objects.filter(recipient=number).latest("created_at")
    return re.search(r"\d{6}", message.body).group(0)


def request_at(moment: dt.datetime, number: str):
    with time_machine.travel(moment, tick=False):
        return phone_signin_code_request(phone=number)


def verify_at(moment: dt.datetime, number: str, code: str):
    with time_machine.travel(moment, tick=False):
        return phone_signin_verify(phone=number, code=code)


# --- numbers -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "typed",
    ["13912345678", "139 1234 5678", "139-1234-5678", "+86 139 1234 5678", "8613912345678"],
)
def test_a_number_however_typed_has_one_normal_form(typed):
    assert mobile_normalized(typed) == "13912345678"


@pytest.mark.parametrize("typed", ["", "1391234567", "23912345678", "12912345678", "abc", "1" * 40])
def test_what_is_not_a_mobile_number_is_refused(typed):
    assert mobile_normalized_or_none(typed) is None
    with pytest.raises(InvalidInput) as refused:
        mobile_normalized(typed)
    assert refused.value.code == "phone_invalid"


def test_a_number_is_shown_masked():
    assert mobile_masked("+86 139 1234 5678") == "139****5678"


# --- sending -----------------------------------------------------------------------------------


def test_a_recorded_number_gets_a_six_digit_code_and_only_hashes_are_stored(zhang):
    answer = request_at(T0, "+86 139 1234 5678")

    assert (answer.resend_after, answer.expires_in) == (60, 300)
    message = OutboxMessage.objects.get()
    assert message.channel == "sms"
    assert message.recipient == ZHANG
    code = sent_code(ZHANG)
    row = OneTimeCode.objects.get()
    stored = " ".join(str(value) for value in row.__dict__.values())
    assert code not in stored
    assert ZHANG not in stored
    assert row.expires_at == T0 + dt.timedelta(minutes=5)


def test_an_unknown_number_gets_the_same_answer_and_no_message(zhang):
    known = request_at(T0, ZHANG)
    unknown = request_at(T0, UNKNOWN)

    assert unknown == known
    assert OutboxMessage.objects.filter(recipient=UNKNOWN).count() == 0
    assert OneTimeCode.objects.count() == 2  # a row either way: checking answers alike


def test_a_malformed_number_is_refused_and_writes_nothing(zhang):
    with pytest.raises(InvalidInput) as refused:
        request_at(T0, "1391234")

    assert refused.value.code == "phone_invalid"
    assert OneTimeCode.objects.count() == OutboxMessage.objects.count() == 0


# --- signing in --------------------------------------------------------------------------------


def test_the_first_sign_in_makes_the_records_login_and_the_next_one_reuses_it(zhang):
    request_at(T0, ZHANG)
    user = verify_at(T0 + dt.timedelta(seconds=20), ZHANG, sent_code(ZHANG))

    assert (user.role, user.resident_id) == (UserRole.RESIDENT, zhang.pk)
    assert not user.has_usable_password()
    assert user.last_name == "张*兰"  # the header shows the masked name
    assert AuditEvent.objects.filter(action="phone_linked", object_id=zhang.public_id).count() == 1

    request_at(T0 + dt.timedelta(minutes=2), ZHANG)
    again = verify_at(T0 + dt.timedelta(minutes=3), ZHANG, sent_code(ZHANG))

    assert again.pk == user.pk
    assert User.objects.filter(resident=zhang).count() == 1
    assert AuditEvent.objects.filter(action="login_phone").count() == 2


def test_a_resident_with_a_password_login_signs_in_by_phone_to_that_same_login(zhang):
    demo = UserFactory(
        username="resident", role=UserRole.RESIDENT, institution=None, resident=zhang
    )
    request_at(T0, ZHANG)

    assert verify_at(T0, ZHANG, sent_code(ZHANG)).pk == demo.pk
    demo.refresh_from_db()
    assert demo.check_password("healthnet-demo")  # the demo login keeps its password


def test_a_number_of_another_resident_signs_in_that_resident_only_with_their_code(zhang, li):
    """Typing someone else's number sends the code to *their* phone: without it nothing links."""
    request_at(T0, LI)
    assert OutboxMessage.objects.get().recipient == LI
    guess = "000000" if sent_code(LI) != "000000" else "111111"

    with pytest.raises(NotAuthenticated):
        verify_at(T0, LI, guess)
    assert not User.objects.filter(resident=zhang).exists()
    assert not User.objects.filter(resident=li).exists()

    user = verify_at(T0, LI, sent_code(LI))  # only Li's phone reads this code
    assert user.resident_id == li.pk


def test_a_code_sent_to_one_number_does_not_sign_in_another(zhang, li):
    request_at(T0, ZHANG)

    with pytest.raises(NotAuthenticated) as refused:
        verify_at(T0, LI, sent_code(ZHANG))
    assert refused.value.code == "signin_code_wrong"


def test_an_unknown_number_is_refused_like_a_wrong_code(zhang):
    request_at(T0, UNKNOWN)
    row = OneTimeCode.objects.get()

    with pytest.raises(NotAuthenticated) as refused:
        verify_at(T0, UNKNOWN, "123456")
    assert refused.value.code == "signin_code_wrong"
    row.refresh_from_db()
    assert row.attempts == 1  # counted like any other number's try
    assert not User.objects.filter(role=UserRole.RESIDENT).exists()


def test_a_code_works_until_five_minutes_and_not_at_five(zhang):
    request_at(T0, ZHANG)
    code = sent_code(ZHANG)
    with pytest.raises(NotAuthenticated):
        verify_at(T0 + dt.timedelta(seconds=300), ZHANG, code)

    request_at(T0 + dt.timedelta(minutes=6), ZHANG)
    fresh = sent_code(ZHANG)
    assert (
        verify_at(T0 + dt.timedelta(minutes=6, seconds=299), ZHANG, fresh).resident_id == zhang.pk
    )


def test_five_tries_the_fifth_may_be_right_a_sixth_is_refused(zhang):
    request_at(T0, ZHANG)
    code = sent_code(ZHANG)
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    for _ in range(4):
        with pytest.raises(NotAuthenticated):
            verify_at(T0, ZHANG, wrong)
    assert verify_at(T0, ZHANG, code).resident_id == zhang.pk  # the fifth try

    request_at(T0 + dt.timedelta(minutes=2), ZHANG)
    code = sent_code(ZHANG)
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    for _ in range(5):
        with pytest.raises(NotAuthenticated):
            verify_at(T0 + dt.timedelta(minutes=2), ZHANG, wrong)
    with pytest.raises(NotAuthenticated):
        verify_at(T0 + dt.timedelta(minutes=2), ZHANG, code)  # right, but out of tries


def test_a_code_signs_in_once(zhang):
    request_at(T0, ZHANG)
    code = sent_code(ZHANG)
    verify_at(T0, ZHANG, code)

    with pytest.raises(NotAuthenticated):
        verify_at(T0, ZHANG, code)


def test_a_code_that_is_not_six_digits_is_a_form_error_and_no_try(zhang):
    request_at(T0, ZHANG)

    with pytest.raises(InvalidInput) as refused:
        verify_at(T0, ZHANG, "12a45")
    assert refused.value.code == "signin_code_format"
    assert OneTimeCode.objects.get().attempts == 0


def test_a_number_on_several_records_signs_in_nobody(zhang):
    ResidentFactory(name="张小明", phone=ZHANG)  # a child registered with the parent's phone
    request_at(T0, ZHANG)

    with pytest.raises(Conflict) as refused:
        verify_at(T0, ZHANG, sent_code(ZHANG))
    assert refused.value.code == "phone_shared"
    assert not User.objects.filter(role=UserRole.RESIDENT).exists()


def test_a_staff_login_is_never_reached_by_phone(zhang):
    """A number on a resident's record signs in that resident's own login only."""
    UserFactory(username="dr", role=UserRole.DOCTOR)
    request_at(T0, ZHANG)

    user = verify_at(T0, ZHANG, sent_code(ZHANG))
    assert user.role == UserRole.RESIDENT


def test_an_inactive_resident_login_cannot_sign_in(zhang):
    UserFactory(role=UserRole.RESIDENT, institution=None, resident=zhang, is_active=False)
    request_at(T0, ZHANG)

    with pytest.raises(NotAuthenticated):
        verify_at(T0, ZHANG, sent_code(ZHANG))


# --- throttling --------------------------------------------------------------------------------


def test_one_code_per_number_per_minute(zhang):
    request_at(T0, ZHANG)
    with pytest.raises(RateLimited) as refused:
        request_at(T0 + dt.timedelta(seconds=59), ZHANG)
    assert refused.value.code == "signin_throttled"

    request_at(T0 + dt.timedelta(seconds=61), ZHANG)
    assert OutboxMessage.objects.count() == 2


def test_codes_per_number_per_hour_are_limited(zhang, settings):
    settings.PHONE_SIGNIN_CODES_PER_PHONE = 2
    request_at(T0, ZHANG)
    request_at(T0 + dt.timedelta(minutes=2), ZHANG)

    with pytest.raises(RateLimited):
        request_at(T0 + dt.timedelta(minutes=4), ZHANG)
    request_at(T0 + dt.timedelta(hours=1), ZHANG)  # a new window
    assert OutboxMessage.objects.count() == 3


def test_codes_per_address_are_limited_across_numbers(zhang, settings):
    settings.PHONE_SIGNIN_CODES_PER_ADDRESS = 3
    token = client_ip_var.set("203.0.113.7")
    try:
        for number in ("13900000001", "13900000002", "13900000003"):
            request_at(T0, number)
        with pytest.raises(RateLimited):
            request_at(T0, ZHANG)
    finally:
        client_ip_var.reset(token)
    other = client_ip_var.set("203.0.113.8")
    try:
        request_at(T0, ZHANG)  # another address is not held up
    finally:
        client_ip_var.reset(other)
    assert OutboxMessage.objects.filter(recipient=ZHANG).count() == 1


def test_checks_per_address_are_limited_even_with_the_right_code(zhang, settings):
    settings.PHONE_SIGNIN_CHECKS_PER_ADDRESS = 3
    request_at(T0, ZHANG)
    code = sent_code(ZHANG)
    for _ in range(3):
        with pytest.raises(NotAuthenticated):
            verify_at(T0, ZHANG, "999999" if code != "999999" else "888888")

    with pytest.raises(RateLimited):
        verify_at(T0, ZHANG, code)
