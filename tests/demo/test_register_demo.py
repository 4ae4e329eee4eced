"""The demo's history (demo/register.py, demo/contracts.py, demo/referrals.py): registration
periods that tile each resident's time on the register, moves, departures and deaths that agree
with the visits, tags and contracts, contract timelines that end in each contract's status, and
the same rows again for the same seed and day."""

from __future__ import annotations

import datetime as dt
import itertools
from collections import defaultdict

import pytest

from demo.generator import generate_demo
from healthnet.models import Encounter, Resident, ResidentPopulationTag, ResidentRegistration
from referrals.models import Referral
from signing.models import Contract
from signing.selectors import contract_statuses_on, contracts_active_on
from tests.demo.test_generate_demo import TODAY, wipe_demo_data
from tests.demo.test_generate_demo import network as network  # the fixture

DAY = dt.timedelta(days=1)


@pytest.fixture
def city(network):
    generate_demo(residents=1500, seed=4, today=TODAY)


def _periods() -> dict[int, list[ResidentRegistration]]:
    periods = defaultdict(list)
    for period in ResidentRegistration.objects.order_by("resident_id", "valid_from"):
        periods[period.resident_id].append(period)
    return periods


def test_every_resident_has_periods_that_tile_their_time_on_the_register(city):
    periods = _periods()
    residents = {r.pk: r for r in Resident.objects.all()}
    assert set(periods) == set(residents)
    reasons = defaultdict(int)
    for resident_id, rows in periods.items():
        resident = residents[resident_id]
        assert rows[0].valid_from >= resident.birth_date
        for before, after in itertools.pairwise(rows):
            assert (before.ended_reason, before.valid_to + DAY) == (
                "moved_district",
                after.valid_from,
            )
            assert before.district_id != after.district_id
        last = rows[-1]
        assert last.district_id == resident.district_id
        reasons[last.ended_reason] += 1
        if last.ended_reason == "died":
            assert resident.died_on == last.valid_to
        else:
            assert resident.died_on is None
        if len(rows) > 1:
            reasons["moved_district"] += 1
    # about 2 % moved district, 1.2 % moved away, some died, in two years (1,500 residents)
    assert 10 <= reasons["moved_district"] <= 60
    assert 5 <= reasons["moved_away"] <= 40
    assert reasons["died"] >= 3
    window = TODAY - dt.timedelta(days=730)
    assert not ResidentRegistration.objects.filter(valid_to__lt=window).exists()


def _nobody_visits_signs_or_keeps_a_tag_after_leaving():
    left = {
        p.resident_id: (p.valid_to, p.ended_reason)
        for p in ResidentRegistration.objects.filter(ended_reason__in=["died", "moved_away"])
    }
    assert left
    shanghai = dt.timezone(dt.timedelta(hours=8))
    for visit in Encounter.objects.filter(resident_id__in=left, source__in=["demo", "scan"]):
        last_day = left[visit.resident_id][0]
        assert visit.started_at < dt.datetime.combine(last_day + DAY, dt.time(), tzinfo=shanghai)
    assert not ResidentPopulationTag.objects.filter(
        resident_id__in=[r for r, (_, why) in left.items() if why == "died"], valid_to__isnull=True
    ).exists()
    for contract in Contract.objects.filter(
        resident_id__in=left, status__in=["active", "renewal_due"]
    ):
        pytest.fail(f"{contract} holds a place after its resident left")
    ended = Contract.objects.filter(status="terminated")
    assert ended.exists()
    assert set(ended.values_list("terminated_reason", flat=True)) <= {"died", "moved_away"}


def _tags_carry_dates_and_history():
    tags = ResidentPopulationTag.objects.all()
    assert tags.filter(valid_from__isnull=True).exists()  # held since before the window
    assert tags.filter(valid_from__gte=TODAY - dt.timedelta(days=730)).exists()
    assert tags.filter(population="pregnant", valid_to__isnull=False).exists()  # past pregnancies
    assert not tags.filter(valid_from__gt=TODAY).exists()


def _each_contracts_timeline_ends_in_its_status_and_coverage_grows():
    statuses = dict(contract_statuses_on(TODAY).values_list("pk", "status_on"))
    assert statuses == dict(Contract.objects.values_list("pk", "status"))
    assert {"active", "renewal_due", "renewed", "expired"} <= set(statuses.values())
    now = contracts_active_on(TODAY).count()
    year_ago = contracts_active_on(TODAY - dt.timedelta(days=365)).count()
    two_years_ago = contracts_active_on(TODAY - dt.timedelta(days=729)).count()
    assert now > year_ago > two_years_ago > 0


def _signed_residents_downward_loops_are_closed_by_their_teams_follow_up():
    closed = Referral.objects.filter(closing_followup__isnull=False).select_related(
        "closing_followup__contract"
    )
    assert closed.exists()
    for referral in closed:
        followup = referral.closing_followup
        assert referral.direction == "down"
        assert followup.contract.resident_id == referral.resident_id
        assert followup.status == "done"
        assert followup.done_at == referral.closed_at
        day = followup.due_date
        assert followup.contract.start_date <= day <= followup.contract.end_date


def test_the_rest_of_the_history_agrees_with_the_register(city):
    _nobody_visits_signs_or_keeps_a_tag_after_leaving()
    _tags_carry_dates_and_history()
    _each_contracts_timeline_ends_in_its_status_and_coverage_grows()
    _signed_residents_downward_loops_are_closed_by_their_teams_follow_up()


def test_the_same_seed_and_day_give_the_same_register(network):
    def snapshot():
        return (
            sorted(
                ResidentRegistration.objects.values_list(
                    "resident__public_id", "district_id", "valid_from", "valid_to", "ended_reason"
                )
            ),
            sorted(
                ResidentPopulationTag.objects.values_list(
                    "resident__public_id", "population", "valid_from", "valid_to"
                ),
                key=str,
            ),
            sorted(Resident.objects.values_list("public_id", "died_on")),
        )

    generate_demo(residents=600, seed=9, today=TODAY, later_stages=())
    first = snapshot()
    wipe_demo_data()
    generate_demo(residents=600, seed=9, today=TODAY, later_stages=())
    assert snapshot() == first
