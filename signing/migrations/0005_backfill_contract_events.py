"""Backfill the contract timeline (signing.models.ContractEvent) for the contracts that existed
before it: each contract's events as its own dates imply them (signing.history.events_from_dates:
the offer or start, the signing, the renewal notice and the expiry on the periodic jobs' days,
the termination or the successor's signing), marked `details.backfilled`."""

from django.db import migrations

BATCH = 2000


def backfill(apps, schema_editor):
    from signing.history import (
        BACKFILL,
        IMPORT,
        OFFER,
        RENEWAL_OF,
        SWITCH_OF,
        events_from_dates,
    )

    Contract = apps.get_model("signing", "Contract")
    ContractEvent = apps.get_model("signing", "ContractEvent")
    has_events = ContractEvent.objects.values("contract_id")
    successors = {
        previous: signed_at or created_at
        for previous, signed_at, created_at in Contract.objects.filter(
            previous_contract__isnull=False
        ).values_list("previous_contract_id", "signed_at", "created_at")
    }
    statuses = dict(Contract.objects.values_list("pk", "status").iterator(chunk_size=BATCH))
    rows = []
    contracts = (
        Contract.objects.exclude(pk__in=has_events)
        .order_by("pk")
        .values(
            "pk",
            "status",
            "start_date",
            "end_date",
            "created_at",
            "signed_at",
            "source",
            "previous_contract_id",
            "terminated_at",
            "terminated_reason",
        )
    )
    for c in contracts.iterator(chunk_size=BATCH):
        previous = c["previous_contract_id"]
        if previous is not None:
            begins = SWITCH_OF if statuses.get(previous) == "switched" else RENEWAL_OF
            begins_active = True
        elif c["source"] == "service":
            begins, begins_active = OFFER, False
        else:
            begins = IMPORT if c["source"] == "import" else BACKFILL
            begins_active = c["status"] != "pending_signature"
        ended_at = c["terminated_at"] or successors.get(c["pk"])
        for event in events_from_dates(
            status=c["status"],
            start=c["start_date"],
            end=c["end_date"],
            created_at=c["created_at"],
            signed_at=c["signed_at"],
            begins=begins,
            begins_active=begins_active,
            ended_at=ended_at,
            terminated_reason=c["terminated_reason"],
        ):
            rows.append(
                ContractEvent(
                    contract_id=c["pk"],
                    at=event.at,
                    actor_label="backfill",
                    action=event.action,
                    from_status=event.from_status,
                    to_status=event.to_status,
                    reason=event.reason,
                    details={"backfilled": True},
                )
            )
        if len(rows) >= BATCH:
            ContractEvent.objects.bulk_create(rows)
            rows = []
    ContractEvent.objects.bulk_create(rows)


class Migration(migrations.Migration):
    dependencies = [("signing", "0004_contract_events")]

    operations = [migrations.RunPython(backfill, migrations.RunPython.noop, elidable=True)]
