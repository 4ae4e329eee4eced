"""The bulk writer the import uses (COPY with the model's columns on PostgreSQL, bulk_create
elsewhere): what it writes reads back as the service would have saved it."""

from __future__ import annotations

import datetime as dt

from healthnet.bulk import model_instances, objects_insert
from signing.models import Contract, FollowUp, ServiceItem
from tests.signing.helpers import signed_contract


def test_instances_take_their_fields_defaults_and_read_back_whole(adult, team):
    contract = signed_contract(adult, team)
    item = ServiceItem.objects.get(code="annual-assessment")
    due = dt.date(2026, 9, 1)

    rows = model_instances(
        FollowUp, [{"contract_id": contract.pk, "item_id": item.pk, "due_date": due}] * 2
    )
    objects_insert(FollowUp, rows)

    assert all(row.pk for row in rows)
    saved = list(FollowUp.objects.filter(pk__in=[row.pk for row in rows]).order_by("pk"))
    assert [(f.contract_id, f.item_id, f.due_date, f.status, f.outcome) for f in saved] == [
        (contract.pk, item.pk, due, "pending", "")
    ] * 2
    assert saved[0].public_id != saved[1].public_id  # each row its own default
    assert (saved[0].done_at, saved[0].done_on_time, saved[0].done_by_id) == (None, None, None)


def test_every_column_of_a_contract_is_written(adult, team):
    template = signed_contract(adult, team)
    # make room for the copy (one contract holding a place per resident)
    Contract.objects.filter(pk=template.pk).update(status="terminated", terminated_reason="died")
    values = {
        f.attname: getattr(template, f.attname)
        for f in Contract._meta.concrete_fields
        if f.attname not in ("id", "public_id", "created_at", "updated_at")
    }
    values["offer_basis"] = "desk_identification"

    [copy] = model_instances(Contract, [values])
    objects_insert(Contract, [copy])

    saved = Contract.objects.get(pk=copy.pk)
    for name, value in values.items():
        assert getattr(saved, name) == value, name
    assert saved.created_at is not None
    assert saved.updated_at is not None
