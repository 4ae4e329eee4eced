"""signing.rules on plain values, pinned at their edges. Expected values are written from the
design (docs/design.md §5), not computed with the rules."""

from __future__ import annotations

import datetime as dt

import pytest

from healthnet.errors import Conflict, InvalidInput
from signing import rules
from signing.rules import OtherTerm, PackageFacts

D = dt.date

CATALOGUE = {
    "basic": PackageFacts("basic", "basic", ""),
    "hypertension": PackageFacts("hypertension", "personalised", "hypertension"),
    "elderly-65": PackageFacts("elderly-65", "personalised", "elderly_65"),
}


# --- follow-ups on time (履约) -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("done_on", "on_time"),
    [
        (D(2026, 3, 1), True),  # well before the due date
        (D(2026, 3, 9), True),  # the day before
        (D(2026, 3, 10), True),  # the due date
        (D(2026, 3, 24), True),  # due + 14: the last day of the grace
        (D(2026, 3, 25), False),  # due + 15: late
        (D(2026, 6, 1), False),
    ],
)
def test_followup_on_time_within_14_days_after_the_due_date(done_on, on_time):
    assert rules.followup_on_time(due_date=D(2026, 3, 10), done_on=done_on) is on_time


def test_followup_record_needs_a_pending_followup_of_a_contract_holding_a_place():
    ok = {"contract_start": D(2026, 1, 1), "done_on": D(2026, 1, 1)}
    rules.followup_record_check(followup_status="pending", contract_status="active", **ok)
    rules.followup_record_check(followup_status="pending", contract_status="renewal_due", **ok)
    refusals = [
        ({"followup_status": "done", "contract_status": "active"}, "follow_up_not_pending"),
        ({"followup_status": "cancelled", "contract_status": "active"}, "follow_up_not_pending"),
        ({"followup_status": "pending", "contract_status": "expired"}, "contract_not_active"),
        ({"followup_status": "pending", "contract_status": "terminated"}, "contract_not_active"),
    ]
    for kwargs, code in refusals:
        with pytest.raises((Conflict, InvalidInput)) as caught:
            rules.followup_record_check(**kwargs, **ok)
        assert caught.value.code == code
    with pytest.raises(InvalidInput) as before_start:
        rules.followup_record_check(
            followup_status="pending",
            contract_status="active",
            contract_start=D(2026, 1, 2),
            done_on=D(2026, 1, 1),
        )
    assert before_start.value.code == "done_at_invalid"


# --- capacity -----------------------------------------------------------------------------------


def test_team_room_refused_at_capacity_only():
    rules.team_room_check(team_code="t", load=99, capacity=100)
    with pytest.raises(Conflict) as full:
        rules.team_room_check(team_code="t", load=100, capacity=100)
    assert full.value.code == "team_full"
    assert full.value.details["field"] == "team"


@pytest.mark.parametrize(
    ("load", "capacity", "warned"),
    [(94, 100, False), (95, 100, True), (100, 100, True), (1, 2, False), (2, 2, True)],
)
def test_capacity_warning_from_95_percent(load, capacity, warned):
    assert rules.capacity_warning(load=load, capacity=capacity) is warned


# --- term dates and status ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "end"),
    [
        (D(2026, 3, 1), D(2027, 2, 28)),
        (D(2024, 2, 29), D(2025, 2, 28)),
        (D(2027, 3, 1), D(2028, 2, 29)),  # a term over a 29 February has 366 days
    ],
)
def test_a_term_is_one_year_ending_the_day_before_the_anniversary(start, end):
    assert rules.term_end(start) == end
    rules.term_check(start=start, end=end)


@pytest.mark.parametrize(
    ("end", "valid"),
    [
        (D(2026, 3, 1), False),  # not after the start
        (D(2026, 3, 2), True),
        (D(2027, 3, 2), True),  # start + 366 days
        (D(2027, 3, 3), False),  # start + 367 days: over a year
    ],
)
def test_term_end_after_start_and_within_a_year(end, valid):
    if valid:
        rules.term_check(start=D(2026, 3, 1), end=end)
        return
    with pytest.raises(InvalidInput) as caught:
        rules.term_check(start=D(2026, 3, 1), end=end)
    assert (caught.value.code, caught.value.details["field"]) == ("date_invalid", "end_date")


@pytest.mark.parametrize(
    ("start", "valid"),
    [
        (D(2026, 4, 30), False),
        (D(2026, 5, 1), True),
        (D(2026, 7, 30), True),
        (D(2026, 7, 31), False),
    ],
)
def test_an_offer_starts_between_today_and_90_days_ahead(start, valid):
    today = D(2026, 5, 1)  # + 90 days = 2026-07-30
    if valid:
        rules.offer_start_check(start=start, today=today)
        return
    with pytest.raises(InvalidInput) as caught:
        rules.offer_start_check(start=start, today=today)
    assert caught.value.code == "start_date_invalid"


@pytest.mark.parametrize(
    ("today", "status"),
    [
        (D(2027, 1, 28), "active"),  # 31 days before the end
        (D(2027, 1, 29), "renewal_due"),  # 30 days before the end
        (D(2027, 2, 28), "renewal_due"),  # the end date
        (D(2027, 3, 30), "renewal_due"),  # end + 30: the last day of the grace
        (D(2027, 3, 31), "expired"),  # end + 31
    ],
)
def test_contract_status_on_a_day(today, status):
    assert rules.contract_status_on(D(2026, 3, 1), D(2027, 2, 28), today) == status


def test_the_periodic_jobs_cutoffs_match_the_status_on_a_day():
    today = D(2027, 1, 29)
    assert rules.renewal_due_from(today) == D(2027, 2, 28)  # ends within 30 days
    assert rules.expired_before(D(2027, 3, 31)) == D(2027, 3, 1)  # ended over 30 days ago


# --- packages -----------------------------------------------------------------------------------


def test_basic_is_always_in_and_personalised_needs_its_population():
    assert rules.packages_choose([], catalogue=CATALOGUE, populations=set()) == ["basic"]
    assert rules.packages_choose(
        ["hypertension", "basic", "hypertension"], catalogue=CATALOGUE, populations={"hypertension"}
    ) == ["basic", "hypertension"]
    with pytest.raises(InvalidInput) as not_eligible:
        rules.packages_choose(["elderly-65"], catalogue=CATALOGUE, populations={"hypertension"})
    with pytest.raises(InvalidInput) as unknown:
        rules.packages_choose(["nope", "elderly-65"], catalogue=CATALOGUE, populations=set())
    assert (not_eligible.value.code, not_eligible.value.details["packages"]) == (
        "package_not_eligible",
        ["elderly-65"],
    )
    assert (unknown.value.code, unknown.value.details["packages"]) == ("package_unknown", ["nope"])


def test_the_age_groups_count_on_the_eligibility_day():
    born = D(1961, 6, 1)  # 65 on 2026-06-01
    assert "elderly_65" not in rules.key_populations([], born, D(2026, 5, 31))
    assert "elderly_65" in rules.key_populations(["hypertension"], born, D(2026, 6, 1))
    assert rules.eligibility_day(start=D(2025, 1, 1), today=D(2026, 6, 1)) == D(2026, 6, 1)
    assert rules.eligibility_day(start=D(2026, 7, 1), today=D(2026, 6, 1)) == D(2026, 7, 1)


def test_no_catalogue_no_contract():
    with pytest.raises(Conflict) as caught:
        rules.basic_package({"hypertension": CATALOGUE["hypertension"]})
    assert caught.value.code == "catalogue_missing"


# --- one contract at a time ---------------------------------------------------------------------


def test_one_contract_holding_a_place_and_no_overlapping_signed_terms():
    start, end = D(2026, 3, 1), D(2027, 2, 28)

    def clash(*others: OtherTerm, place: bool = True) -> str | None:
        try:
            rules.term_clash_check(start=start, end=end, will_hold_place=place, others=others)
        except Conflict as exc:
            return exc.code
        return None

    elsewhere = OtherTerm(D(2026, 10, 1), D(2027, 9, 30), "active")
    assert clash(elsewhere) == "active_contract_exists"
    assert clash(OtherTerm(D(2027, 10, 1), D(2028, 9, 30), "renewal_due")) == (
        "active_contract_exists"
    )
    assert clash(elsewhere, place=False) == "contract_overlap"
    # signed terms that touch the first or last day overlap; the day after does not
    assert clash(OtherTerm(D(2025, 3, 1), D(2026, 3, 1), "expired")) == "contract_overlap"
    assert clash(OtherTerm(D(2027, 2, 28), D(2028, 2, 27), "renewed")) == "contract_overlap"
    assert clash(OtherTerm(D(2025, 3, 1), D(2026, 2, 28), "expired")) is None
    # an offer, a terminated contract do not count
    assert clash(OtherTerm(start, end, "pending_signature")) is None
    assert clash(OtherTerm(start, end, "terminated")) is None


# --- consent ------------------------------------------------------------------------------------


def test_a_minor_until_the_18th_birthday_needs_a_guardian():
    born = D(2008, 6, 1)
    assert rules.needs_guardian(birth_date=born, on=D(2026, 5, 31))
    assert not rules.needs_guardian(birth_date=born, on=D(2026, 6, 1))
    assert rules.needs_guardian(birth_date=D(1980, 1, 1), on=D(2026, 6, 1), incapacitated=True)


@pytest.mark.parametrize(
    ("signed_by", "method", "needed", "result"),
    [
        ("resident", "in_person", False, "in_person"),
        ("resident", "e_signature", False, "e_signature"),
        ("guardian", "in_person", True, "guardian"),  # a guardian in person signs as guardian
        ("guardian", "e_signature", True, "e_signature"),
        ("guardian", "guardian", False, "guardian"),
        ("resident", "in_person", True, "guardian_required"),
        ("resident", "guardian", False, "signature_method_mismatch"),
        ("someone", "in_person", False, "signed_by_invalid"),
        ("resident", "fax", False, "signature_method_invalid"),
    ],
)
def test_signatory_and_method_agree(signed_by, method, needed, result):
    try:
        got = rules.signatory_check(signed_by=signed_by, method=method, guardian_needed=needed)
    except InvalidInput as exc:
        got = exc.code
    assert got == result


def test_the_guardian_is_an_adult_other_than_the_resident():
    on = D(2026, 6, 1)
    rules.guardian_check(
        guardian_birth_date=D(2008, 6, 1), on=on, guardian_id_hash="a", resident_id_hash="b"
    )
    with pytest.raises(InvalidInput) as minor:
        rules.guardian_check(
            guardian_birth_date=D(2008, 6, 2), on=on, guardian_id_hash="a", resident_id_hash="b"
        )
    with pytest.raises(InvalidInput) as same:
        rules.guardian_check(
            guardian_birth_date=D(1980, 1, 1), on=on, guardian_id_hash="a", resident_id_hash="a"
        )
    assert (minor.value.code, same.value.code) == ("guardian_not_adult", "guardian_is_resident")
    with pytest.raises(InvalidInput) as missing:
        rules.guardian_details_check(name="李父", relationship=" ", national_id="x")
    assert missing.value.details["field"] == "guardian_relationship"
