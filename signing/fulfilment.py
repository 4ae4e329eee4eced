"""履约率 (fulfilment rate) of family-doctor follow-ups = follow-ups done on time ÷ follow-ups due,
where
- due: not cancelled and due_date ≤ the as-of day;
- done on time: among those, done within FOLLOWUP_ON_TIME_DAYS after the due date (the stored
  `done_on_time`; the bureau's 履约率 also reports "by the due date": docs/reports.md).

Read through signing.selectors.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

from django.db.models import Count, Q, QuerySet
from django.utils import timezone

from signing.models import Contract, FamilyDoctorTeam, FollowUp, FollowUpStatus


@dataclass(frozen=True)
class FulfilmentRate:
    done_on_time: int
    due: int

    @property
    def rate(self) -> float | None:
        return None if self.due == 0 else round(self.done_on_time / self.due, 4)


def _fulfilment_due(qs: QuerySet[FollowUp], as_of: dt.date) -> QuerySet[FollowUp]:
    return qs.filter(due_date__lte=as_of).exclude(status=FollowUpStatus.CANCELLED)


def _fulfilment_figures() -> dict[str, Count]:
    return {"due": Count("pk"), "done_on_time": Count("pk", filter=Q(done_on_time=True))}


def _fulfilment(qs: QuerySet[FollowUp], as_of: dt.date) -> FulfilmentRate:
    figures = _fulfilment_due(qs, as_of).aggregate(**_fulfilment_figures())
    return FulfilmentRate(done_on_time=figures["done_on_time"], due=figures["due"])


def fulfilment_by_team(
    team_ids: Iterable[int], *, as_of: dt.date | None = None
) -> dict[int, FulfilmentRate]:
    """team_fulfilment for several teams in one query."""
    team_ids = list(team_ids)
    rows = (
        _fulfilment_due(
            FollowUp.objects.filter(contract__team_id__in=team_ids), as_of or timezone.localdate()
        )
        .values("contract__team_id")
        .annotate(**_fulfilment_figures())
    )
    figures = {
        row["contract__team_id"]: FulfilmentRate(done_on_time=row["done_on_time"], due=row["due"])
        for row in rows
    }
    return {
        team_id: figures.get(team_id, FulfilmentRate(done_on_time=0, due=0)) for team_id in team_ids
    }


def contract_fulfilment(contract: Contract, *, as_of: dt.date | None = None) -> FulfilmentRate:
    return _fulfilment(FollowUp.objects.filter(contract=contract), as_of or timezone.localdate())


def team_fulfilment(team: FamilyDoctorTeam, *, as_of: dt.date | None = None) -> FulfilmentRate:
    return _fulfilment(FollowUp.objects.filter(contract__team=team), as_of or timezone.localdate())
