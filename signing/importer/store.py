"""The import's database side: what a chunk needs read (a handful of queries per chunk, none per
row) and the chunk's contracts, package links and follow-ups written through
healthnet.bulk.objects_insert (COPY on PostgreSQL with the columns taken from the models)."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Callable, Mapping
from typing import Any

from django.db import connection
from django.db.models import Count, QuerySet
from django.utils import timezone

from healthnet.bulk import model_instances, objects_insert
from healthnet.models import Resident, ResidentPopulationTag, User
from signing.history import IMPORT, events_from_dates
from signing.importer.evaluation import ChunkFacts, Known, NewContract, ParsedRow, ResidentFacts
from signing.models import (
    ACTIVE_STATUSES,
    Contract,
    ContractEvent,
    ContractSource,
    FamilyDoctorTeam,
    FollowUp,
    ServicePackage,
    Signatory,
)


def where_in(queryset: QuerySet, column: str, values: list[Any]) -> QuerySet:
    """`column IN values` for thousands of values: one array parameter on PostgreSQL (a list
    of placeholders that long costs more to build and parse than the query itself)."""
    if connection.vendor == "postgresql":
        return queryset.extra(where=[f'"{column}" = ANY(%s)'], params=[list(values)])  # noqa: S610
    return queryset.filter(**{f"{column}__in": values})


def chunk_facts_locked(rows: list[ParsedRow]) -> ChunkFacts:
    """Lock the chunk's teams (in pk order) and read what the rules need (call in the chunk's
    transaction): the teams' loads, the residents by ID hash, their tags and contracts."""
    team_ids = sorted({r.team.pk for r in rows})
    list(FamilyDoctorTeam.objects.select_for_update().filter(pk__in=team_ids).order_by("pk"))
    loads = dict(
        Contract.objects.filter(team_id__in=team_ids, status__in=ACTIVE_STATUSES)
        .values_list("team_id")
        .annotate(n=Count("pk"))
        .values_list("team_id", "n")
    )
    residents = {
        lookup: ResidentFacts(pk, public_id, birth_date)
        for pk, public_id, lookup, birth_date in where_in(
            Resident.objects.all(), "national_id_hash", [r.lookup for r in rows]
        ).values_list("pk", "public_id", "national_id_hash", "birth_date")
    }
    resident_ids = [r.pk for r in residents.values()]
    tags: dict[int, set[str]] = defaultdict(set)
    for resident_id, population in where_in(
        ResidentPopulationTag.objects.filter(valid_to__isnull=True), "resident_id", resident_ids
    ).values_list("resident_id", "population"):
        tags[resident_id].add(population)
    contracts: dict[int, list[Known]] = defaultdict(list)
    for resident_id, team_id, start, end, status in where_in(
        Contract.objects.all(), "resident_id", resident_ids
    ).values_list("resident_id", "team_id", "start_date", "end_date", "status"):
        contracts[resident_id].append(Known(team_id, start, end, status))
    return ChunkFacts(loads=loads, residents=residents, tags=tags, contracts=contracts)


def contracts_insert(
    new: list[NewContract],
    *,
    packages: Mapping[str, ServicePackage],
    actor: User | None,
    plan: Callable[[dt.date, dt.date, tuple[str, ...]], list[tuple[int, dt.date]]] | None,
) -> int:
    """Write the chunk's contracts, their package links and (with `plan`: the follow-up plan of
    a term and package set) the follow-ups of those holding a place. Returns follow-ups made."""
    if not new:
        return 0
    guardian = Signatory.GUARDIAN
    actor_id = actor.pk if actor is not None else None
    contracts = model_instances(
        Contract,
        (
            {
                "public_id": c.public_id,
                "resident_id": c.resident_id,
                "team_id": c.row.team.pk,
                "start_date": c.row.start,
                "end_date": c.row.end,
                "status": c.status,
                "signed_by": c.row.signed_by,
                "signature_method": c.row.method,
                "guardian_name": c.row.guardian_name if c.row.signed_by == guardian else "",
                "guardian_relationship": (
                    c.row.guardian_relationship if c.row.signed_by == guardian else ""
                ),
                "signed_at": c.row.signed_at,
                "terms_hash": c.terms_hash,
                "source": ContractSource.IMPORT,
                "created_by_id": actor_id,
            }
            for c in new
        ),
    )
    objects_insert(Contract, contracts)
    through = Contract.packages.through
    objects_insert(
        through,
        model_instances(
            through,
            (
                {"contract_id": contract.pk, "servicepackage_id": packages[code].pk}
                for contract, c in zip(contracts, new, strict=True)
                for code in c.packages
            ),
        ),
    )
    now = timezone.now()
    objects_insert(
        ContractEvent,
        model_instances(
            ContractEvent,
            (
                {
                    "contract_id": contract.pk,
                    "at": event.at,
                    "actor_id": actor_id,
                    "actor_label": actor.username if actor is not None else "system",
                    "action": event.action,
                    "from_status": event.from_status,
                    "to_status": event.to_status,
                }
                for contract, c in zip(contracts, new, strict=True)
                for event in events_from_dates(
                    status=c.status,
                    start=c.row.start,
                    end=c.row.end,
                    created_at=now,
                    signed_at=c.row.signed_at,
                    begins=IMPORT,
                    begins_active=True,
                )
            ),
        ),
    )
    if plan is None:
        return 0
    follow_ups = model_instances(
        FollowUp,
        (
            {"contract_id": contract.pk, "item_id": item_id, "due_date": due}
            for contract, c in zip(contracts, new, strict=True)
            if c.status in ACTIVE_STATUSES
            for item_id, due in plan(c.row.start, c.row.end, tuple(c.packages))
        ),
    )
    objects_insert(FollowUp, follow_ups)
    return len(follow_ups)
