"""The contract timeline (signing.models.ContractEvent): every status change writes its event
through the one door (services, periodic jobs, the import); "active at the end of a day" is read
from it (signing.selectors.contracts_active_on / contract_status_on) at Asia/Shanghai midnights;
the timeline a contract's dates imply (signing.history.events_from_dates) backs the migration's
backfill and the demo data."""

from __future__ import annotations

import datetime as dt
import importlib
import io

import pytest
import time_machine
from django.apps import apps

from healthnet.errors import Conflict
from healthnet.national_id import decrypt_national_id
from signing import services
from signing.history import events_from_dates
from signing.importer import contracts_import
from signing.models import Contract, ContractEvent
from signing.selectors import (
    contract_events_between,
    contract_status_on,
    contract_statuses_on,
    contracts_active_on,
)
from tests.signing.helpers import make_team, sign

SHANGHAI = dt.timezone(dt.timedelta(hours=8))


def _at(y, m, d, hh=0, mm=0) -> dt.datetime:
    return dt.datetime(y, m, d, hh, mm, tzinfo=SHANGHAI)


def _timeline(contract) -> list[tuple[str, str, str]]:
    return list(
        ContractEvent.objects.filter(contract=contract)
        .order_by("at", "pk")
        .values_list("action", "from_status", "to_status")
    )


# --- the services write the events -------------------------------------------------------------


def test_offer_sign_and_terminate_write_their_events_with_actor_and_reason(adult, team, gp):
    with time_machine.travel(_at(2026, 3, 1, 10), tick=False):
        contract = services.contract_create(actor=gp, resident=adult, team=team, package_codes=[])
    with time_machine.travel(_at(2026, 3, 2, 9), tick=False):
        sign(contract, gp)
    with time_machine.travel(_at(2026, 5, 20, 15), tick=False):
        services.contract_terminate(actor=gp, contract=contract, reason="moved_away")

    assert _timeline(contract) == [
        ("offer", "", "pending_signature"),
        ("sign", "pending_signature", "active"),
        ("terminate", "active", "terminated"),
    ]
    events = list(ContractEvent.objects.filter(contract=contract).order_by("at"))
    assert [e.at for e in events] == [_at(2026, 3, 1, 10), _at(2026, 3, 2, 9), _at(2026, 5, 20, 15)]
    assert {e.actor_id for e in events} == {gp.pk}
    assert events[2].reason == "moved_away"


def test_a_refused_move_writes_no_event(adult, team, gp):
    contract = services.contract_create(actor=gp, resident=adult, team=team, package_codes=[])
    before = _timeline(contract)
    with pytest.raises(Conflict) as refusal:
        services.contract_renew(
            actor=gp, contract=contract, signed_by="resident", method="in_person"
        )
    assert refusal.value.code == "renewal_not_due"
    assert _timeline(contract) == before


def test_the_periodic_jobs_and_a_renewal_write_system_and_user_events(adult, team, gp):
    with time_machine.travel(_at(2026, 1, 10, 10), tick=False):
        contract = services.contract_create(actor=gp, resident=adult, team=team, package_codes=[])
        sign(contract, gp)
    contract.refresh_from_db()
    with time_machine.travel(_at(2026, 12, 15, 1), tick=False):
        assert services.contracts_mark_renewal_due() == 1
    with time_machine.travel(_at(2026, 12, 20, 11), tick=False):
        result = services.contract_renew(
            actor=gp, contract=contract, signed_by="resident", method="in_person"
        )

    assert _timeline(contract) == [
        ("offer", "", "pending_signature"),
        ("sign", "pending_signature", "active"),
        ("mark_renewal_due", "active", "renewal_due"),
        ("renew", "renewal_due", "renewed"),
    ]
    system = ContractEvent.objects.get(contract=contract, action="mark_renewal_due")
    assert (system.actor_id, system.actor_label) == (None, "system")
    assert _timeline(result.contract) == [("renewal_of", "", "active")]
    assert ContractEvent.objects.get(contract=result.contract).at == _at(2026, 12, 20, 11)


def test_expiry_by_the_job_writes_its_event(adult, team, gp):
    with time_machine.travel(_at(2025, 1, 10, 10), tick=False):
        contract = services.contract_create(actor=gp, resident=adult, team=team, package_codes=[])
        sign(contract, gp)
    with time_machine.travel(_at(2026, 2, 15, 1), tick=False):
        services.contracts_mark_renewal_due()
        assert services.contracts_expire() == 1
    assert _timeline(contract)[-2:] == [
        ("mark_renewal_due", "active", "renewal_due"),
        ("expire", "renewal_due", "expired"),
    ]


@time_machine.travel(dt.datetime(2026, 3, 1, 10, 0, tzinfo=dt.UTC), tick=False)
def test_the_import_writes_each_contracts_timeline(hypertensive, team):
    number = decrypt_national_id(hypertensive.national_id_encrypted)
    text = (
        "national_id,team_code,start_date,signed_at,packages\n"
        f"{number},t-01,2025-03-20,2025-03-18,hypertension\n"
    )
    report = contracts_import(actor=None, file=io.BytesIO(text.encode()), filename="c.csv")
    assert (report.created, report.errors) == (1, [])
    contract = Contract.objects.get(resident=hypertensive)
    # a term from 2025-03-20 to 2026-03-19, imported on 2026-03-01: renewal due since 02-17
    assert contract.status == "renewal_due"
    assert _timeline(contract) == [
        ("import", "", "active"),
        ("mark_renewal_due", "active", "renewal_due"),
    ]
    events = list(ContractEvent.objects.filter(contract=contract).order_by("at"))
    assert events[0].at == _at(2025, 3, 18, 9)  # the import signs at 09:00 on the day
    assert events[1].at == _at(2026, 2, 17)  # the job's day: 30 days before the end


# --- reading the timeline at period boundaries (Asia/Shanghai) ----------------------------------


def _contract_with(events, resident, team) -> Contract:
    """A contract whose timeline is exactly `events` ((at, from, to)), written by hand."""
    contract = Contract.objects.create(
        resident=resident,
        team=team,
        start_date=dt.date(2026, 1, 1),
        end_date=dt.date(2026, 12, 31),
        status=events[-1][2],
        terms_hash="x" * 64,
        terminated_reason="resident_request" if events[-1][2] == "terminated" else "",
    )
    for at, before, after in events:
        ContractEvent.objects.create(
            contract=contract, at=at, action="test", from_status=before, to_status=after
        )
    return contract


def test_active_at_the_end_of_a_day_counts_events_until_local_midnight(adult, minor, team):
    # signed at 23:59 Shanghai time on 31 March (15:59 UTC): active at the end of 31 March
    late = _contract_with([(_at(2026, 3, 31, 23, 59), "", "active")], adult, team)
    # signed at 00:00 on 1 April (16:00 UTC on 31 March): not yet at the end of 31 March
    early = _contract_with([(_at(2026, 4, 1, 0, 0), "", "active")], minor, team)

    assert set(contracts_active_on(dt.date(2026, 3, 31))) == {late}
    assert set(contracts_active_on(dt.date(2026, 4, 1))) == {late, early}
    assert contract_status_on(early, dt.date(2026, 3, 31)) is None
    assert contract_status_on(early, dt.date(2026, 4, 1)) == "active"
    # an instant: events at it count
    assert contract_status_on(early, _at(2026, 4, 1, 0, 0)) == "active"
    assert contract_status_on(early, _at(2026, 3, 31, 23, 59)) is None


def test_a_contract_in_its_renewal_grace_is_active_and_one_ended_is_not(adult, minor, team):
    graced = _contract_with(
        [
            (_at(2025, 4, 1, 9), "", "active"),
            (_at(2026, 3, 2, 1), "active", "renewal_due"),
            (_at(2026, 5, 1, 1), "renewal_due", "expired"),
        ],
        adult,
        team,
    )
    ended = _contract_with(
        [(_at(2026, 1, 5, 9), "", "active"), (_at(2026, 3, 31, 18), "active", "terminated")],
        minor,
        team,
    )
    assert contract_status_on(graced, dt.date(2026, 3, 31)) == "renewal_due"
    assert set(contracts_active_on(dt.date(2026, 3, 31))) == {graced}
    assert set(contracts_active_on(dt.date(2026, 3, 30))) == {graced, ended}
    assert set(contracts_active_on(dt.date(2026, 4, 30))) == {graced}
    assert set(contracts_active_on(dt.date(2026, 5, 1))) == set()
    statuses = dict(contract_statuses_on(dt.date(2026, 4, 1)).values_list("pk", "status_on"))
    assert statuses == {graced.pk: "renewal_due", ended.pk: "terminated"}
    assert set(contract_statuses_on(dt.date(2025, 3, 31))) == set()  # neither existed yet


def test_contracts_active_on_is_one_query(adult, minor, team, django_assert_num_queries):
    for resident in (adult, minor):
        _contract_with([(_at(2026, 1, 5, 9), "", "active")], resident, team)
    with django_assert_num_queries(1):
        assert len(list(contracts_active_on(dt.date(2026, 2, 1)))) == 2


def test_events_between_select_a_period_and_actions(adult, team):
    contract = _contract_with(
        [
            (_at(2026, 1, 5, 9), "", "active"),
            (_at(2026, 3, 31, 23, 59), "active", "renewal_due"),
            (_at(2026, 4, 1, 0, 0), "renewal_due", "expired"),
        ],
        adult,
        team,
    )
    march = contract_events_between(_at(2026, 3, 1), _at(2026, 4, 1))
    assert list(march.values_list("to_status", flat=True)) == ["renewal_due"]
    april = contract_events_between(_at(2026, 4, 1), _at(2026, 5, 1), actions=("test",))
    assert list(april.values_list("contract_id", flat=True)) == [contract.pk]
    assert not contract_events_between(_at(2026, 4, 1), _at(2026, 5, 1), actions=("renew",))


# --- the timeline a contract's dates imply -------------------------------------------------------


def _plan(**kwargs):
    return [(e.action, e.from_status, e.to_status, e.at) for e in events_from_dates(**kwargs)]


def test_the_dates_of_an_expired_offer_give_offer_sign_notice_and_expiry():
    created = _at(2025, 1, 2, 10)
    signed = _at(2025, 1, 3, 9)
    plan = _plan(
        status="expired",
        start=dt.date(2025, 1, 3),
        end=dt.date(2026, 1, 2),
        created_at=created,
        signed_at=signed,
        begins="offer",
        begins_active=False,
    )
    assert plan == [
        ("offer", "", "pending_signature", created),
        ("sign", "pending_signature", "active", signed),
        # 30 days before the end; expired the 31st day after it (the jobs' days)
        ("mark_renewal_due", "active", "renewal_due", _at(2025, 12, 3)),
        ("expire", "renewal_due", "expired", _at(2026, 2, 2)),
    ]


def test_an_early_termination_skips_the_notice_and_a_renewed_term_ends_at_its_successor():
    terminated = _plan(
        status="terminated",
        start=dt.date(2025, 6, 1),
        end=dt.date(2026, 5, 31),
        created_at=_at(2025, 6, 1, 9),
        signed_at=None,
        begins="import",
        begins_active=True,
        ended_at=_at(2025, 9, 9, 14),
        terminated_reason="died",
    )
    assert terminated == [
        ("import", "", "active", _at(2025, 6, 1)),
        ("terminate", "active", "terminated", _at(2025, 9, 9, 14)),
    ]
    renewed = _plan(
        status="renewed",
        start=dt.date(2025, 6, 1),
        end=dt.date(2026, 5, 31),
        created_at=_at(2025, 5, 30, 9),
        signed_at=_at(2025, 5, 30, 9),
        begins="demo",
        begins_active=True,
        ended_at=_at(2026, 5, 29, 10),
    )
    assert [row[:3] for row in renewed] == [
        ("demo", "", "active"),
        ("mark_renewal_due", "active", "renewal_due"),
        ("renew", "renewal_due", "renewed"),
    ]
    assert renewed[1][3] == _at(2026, 5, 1)
    assert renewed[2][3] == _at(2026, 5, 29, 10)


def test_an_offer_withdrawn_before_signing_ends_pending_to_terminated():
    plan = _plan(
        status="terminated",
        start=dt.date(2026, 2, 1),
        end=dt.date(2027, 1, 31),
        created_at=_at(2026, 1, 20, 9),
        signed_at=None,
        begins="offer",
        begins_active=False,
        ended_at=_at(2026, 1, 25, 9),
    )
    assert [row[:3] for row in plan] == [
        ("offer", "", "pending_signature"),
        ("terminate", "pending_signature", "terminated"),
    ]


def test_the_backfill_migration_rebuilds_a_timeline_from_the_dates(
    adult, minor, primary, catalogue
):
    team, gp = make_team(primary, code="t-bf")
    with time_machine.travel(_at(2025, 1, 10, 10), tick=False):
        old = services.contract_create(actor=gp, resident=adult, team=team, package_codes=[])
        sign(old, gp)
    with time_machine.travel(_at(2025, 12, 20, 1), tick=False):
        services.contracts_mark_renewal_due()
    with time_machine.travel(_at(2026, 1, 3, 11), tick=False):
        services.contract_renew(actor=gp, contract=old, signed_by="resident", method="in_person")
        pending = services.contract_create(actor=gp, resident=minor, team=team, package_codes=[])
    written = {c.pk: _timeline(c) for c in Contract.objects.all()}
    ContractEvent.objects.all().delete()  # as before the timeline existed

    backfill = importlib.import_module("signing.migrations.0005_backfill_contract_events").backfill
    backfill(apps, None)
    backfill(apps, None)  # a second run adds nothing

    assert {c.pk: _timeline(c) for c in Contract.objects.all()} == written
    assert all(e.details == {"backfilled": True} for e in ContractEvent.objects.all())
    assert contract_status_on(pending, dt.date(2026, 1, 3)) == "pending_signature"
    # the term ends 2026-01-09: renewal due from the job's day, 30 days before (not the day the
    # job happened to run), renewed when the successor was signed
    assert contract_status_on(old, dt.date(2025, 12, 9)) == "active"
    assert contract_status_on(old, dt.date(2025, 12, 10)) == "renewal_due"
    assert contract_status_on(old, _at(2026, 1, 3, 11)) == "renewed"
