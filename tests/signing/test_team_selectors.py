"""The signing reads the team pages added (and the API shares): the overdue filter of the contract
list, the overdue counts of a page, 履约率 of several teams in one query, one contract or follow-up
in the user's scope (404 as for none)."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from healthnet.errors import NotFound
from signing import selectors, services
from signing.models import FollowUp
from tests.conftest import api_client_for
from tests.factories import InstitutionFactory, ResidentFactory
from tests.signing.helpers import make_team, signed_contract, years_ago

SHANGHAI = timezone.get_fixed_timezone(8 * 60)


@pytest.fixture
def two_contracts(team, primary):
    """Signed 150 days ago: the basic package's one follow-up (mid-term, day 182) is not due
    yet; the hypertension package's four blood-pressure follow-ups fall on days 45, 136, 228 and
    319 (and its lipid panel on day 182): two of them are past due."""
    start = timezone.localdate() - dt.timedelta(days=150)
    at = dt.datetime.combine(start, dt.time(9), tzinfo=SHANGHAI)
    plain = ResidentFactory(birth_date=years_ago(40), registered_by=primary)
    hypertensive = ResidentFactory(birth_date=years_ago(50), registered_by=primary)
    hypertensive.population_tags.create(population="hypertension")
    with time_machine.travel(at, tick=False):
        first = signed_contract(plain, team)
        second = signed_contract(hypertensive, team, packages=["hypertension"])
    return first, second


def test_the_overdue_filter_and_counts(gp, two_contracts):
    plain, hypertensive = two_contracts
    today = timezone.localdate()

    overdue = selectors.contracts_visible_to(gp, overdue_followups=True, today=today)
    counts = selectors.overdue_followup_counts([plain.pk, hypertensive.pk], today=today)
    listed = api_client_for(gp).get("/api/v1/contracts?overdue_followups=true").json()

    assert list(overdue) == [hypertensive]
    assert counts == {hypertensive.pk: 2}
    assert [c["id"] for c in listed["items"]] == [str(hypertensive.public_id)]


def test_fulfilment_by_team_is_each_teams_fulfilment_in_one_query(gp, team, primary, two_contracts):
    _plain, hypertensive = two_contracts
    first_due = FollowUp.objects.filter(contract=hypertensive).order_by("due_date").first()
    on_time = dt.datetime.combine(
        first_due.due_date + dt.timedelta(days=3), dt.time(10), tzinfo=SHANGHAI
    )
    services.followup_record(actor=gp, followup=first_due, outcome="血压平稳", done_at=on_time)
    other, _ = make_team(primary, code="t-02", member_user=False)

    with CaptureQueriesContext(connection) as captured:
        rates = selectors.fulfilment_by_team([team.pk, other.pk])

    assert len(captured) == 1
    assert rates[team.pk] == selectors.team_fulfilment(team)
    assert (rates[team.pk].done_on_time, rates[team.pk].due) == (1, 2)
    assert (rates[other.pk].due, rates[other.pk].rate) == (0, None)


def test_one_contract_or_follow_up_in_scope_else_404(gp, two_contracts, catalogue):
    plain, _ = two_contracts
    followup = FollowUp.objects.filter(contract=plain).first()
    elsewhere, other_gp = make_team(InstitutionFactory(code="wh-p-02"), code="t-09")

    assert selectors.contract_visible_to(gp, plain.public_id) == plain
    assert selectors.followup_visible_to(gp, followup.public_id) == followup
    for user, public_id in ((other_gp, plain.public_id), (gp, uuid.uuid4())):
        with pytest.raises(NotFound) as refused:
            selectors.contract_visible_to(user, public_id)
        assert refused.value.code == "contract_not_found"
    with pytest.raises(NotFound) as refused:
        selectors.followup_visible_to(other_gp, followup.public_id)
    assert refused.value.code == "follow_up_not_found"
    assert elsewhere.code == "t-09"
