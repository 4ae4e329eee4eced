"""履约 (a follow-up done on time) at its edges through the service, and the terms hash against a
terms document written out in full here: what a resident agrees to, not what the code says."""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json

import time_machine
from django.utils import timezone

from healthnet.national_id import decrypt_national_id
from signing import selectors, services
from signing.importer import contracts_import
from signing.models import Contract, FollowUp
from tests.signing.helpers import sign


def _local(day: dt.date, hour: int, minute: int = 0, second: int = 0) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time(hour, minute, second)))


def test_a_followup_is_on_time_until_the_end_of_the_14th_day_after_it_is_due(
    hypertensive, team, gp
):
    contract = services.contract_create(
        actor=gp, resident=hypertensive, team=team, package_codes=["hypertension"]
    )
    sign(contract, gp)
    today = timezone.localdate()
    due = today - dt.timedelta(days=60)
    Contract.objects.filter(pk=contract.pk).update(start_date=today - dt.timedelta(days=200))
    FollowUp.objects.filter(contract=contract).update(due_date=due)
    followups = list(FollowUp.objects.filter(contract=contract).order_by("pk"))
    assert len(followups) == 6
    done_at = {
        followups[0]: _local(due - dt.timedelta(days=10), 10),  # early
        followups[1]: _local(due, 8),  # on the due date
        followups[2]: _local(due + dt.timedelta(days=14), 23, 59, 59),  # the last on-time second
        followups[3]: _local(due + dt.timedelta(days=15), 0, 0, 1),  # the first late one
    }
    for followup, when in done_at.items():
        services.followup_record(actor=gp, followup=followup, outcome="随访完成", done_at=when)

    on_time = dict(FollowUp.objects.filter(contract=contract).values_list("pk", "done_on_time"))
    assert [on_time[f.pk] for f in followups] == [True, True, True, False, None, None]
    rate = selectors.contract_fulfilment(contract)
    assert (rate.done_on_time, rate.due) == (3, 6)


# What a resident with hypertension agrees to with team t-01 for the term starting 2026-03-01
# (data/service_packages.yaml), written out by hand.
def _expected_terms(contract_id: str, resident_id: str) -> dict:
    return {
        "contract": contract_id,
        "resident": resident_id,
        "team": "t-01",
        "start_date": "2026-03-01",
        "end_date": "2027-02-28",
        "packages": [
            {
                "code": "basic",
                "name": "基础服务包",
                "items": [
                    {
                        "code": "annual-assessment",
                        "name": "年度健康评估",
                        "times_per_year": 1,
                        "price_fen": 0,
                    }
                ],
            },
            {
                "code": "hypertension",
                "name": "高血压患者健康管理包",
                "items": [
                    {
                        "code": "bp-follow-up",
                        "name": "高血压随访(测血压、用药指导)",
                        "times_per_year": 4,
                        "price_fen": 0,
                    },
                    {
                        "code": "lipid-panel",
                        "name": "血脂检测",
                        "times_per_year": 1,
                        "price_fen": 4000,
                    },
                ],
            },
        ],
        "price_fen": 4000,
    }


def _sha256_of_canonical_json(document: dict) -> str:
    """docs/signing.md: SHA-256 of the JSON with sorted keys, no spaces, UTF-8."""
    text = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@time_machine.travel(dt.datetime(2026, 3, 1, 10, 0, tzinfo=dt.UTC), tick=False)
def test_signing_seals_the_terms_written_out_here(hypertensive, team, gp):
    contract = services.contract_create(
        actor=gp, resident=hypertensive, team=team, package_codes=["hypertension"]
    )
    sign(contract, gp)
    contract.refresh_from_db()

    expected = _expected_terms(str(contract.public_id), str(hypertensive.public_id))
    assert contract.terms_hash == _sha256_of_canonical_json(expected)


@time_machine.travel(dt.datetime(2026, 3, 1, 10, 0, tzinfo=dt.UTC), tick=False)
def test_an_imported_contract_seals_the_same_terms(hypertensive, team):
    number = decrypt_national_id(hypertensive.national_id_encrypted)
    text = f"national_id,team_code,start_date,packages\n{number},t-01,2026-03-01,hypertension\n"

    report = contracts_import(actor=None, file=io.BytesIO(text.encode()), filename="c.csv")

    assert (report.created, report.errors) == (1, [])
    contract = Contract.objects.get(resident=hypertensive)
    expected = _expected_terms(str(contract.public_id), str(hypertensive.public_id))
    assert contract.terms_hash == _sha256_of_canonical_json(expected)
