"""Demo referrals: a realistic year of two-way referrals on whatever network and residents exist.

Called by `generate_demo` after residents, staff, visits and contracts (demo/generator.py):
`generate_referrals(*, seed, today, log)`. Deterministic for a seed and a day; a second call on a
database that has referrals adds nothing. Rows go in through healthnet/bulk.py, never through
the services (a city year is tens of thousands of referrals), but every referral follows the
transition table: its timeline is a walk through referrals/transitions.py (demo/referral_walk.py),
cut at "now", with the deadlines, overdue flags and escalations the services and the periodic
job would have written.

Shape (demo assumptions, not statistics): about 5 upward referrals per 100 residents a year;
downward referrals grow over the year from a few to about a third of the upward ones (the
tiered-care policy taking hold), and about a third of completed upward referrals return to
primary care; some are rejected (coded reasons), redirected, cancelled, missed (no-show, one
rebooking), decided late (overdue, escalated) or left for auto-close.

Care settings: about a third of upward referrals are inpatient (the usual reasons for admission
more often): their arrival opens an inpatient stay, discharged when the feedback is given; the
others an outpatient visit (Referral.encounter either way). Downward referrals opened on their
own are mostly patients discharged down (inpatient, with the stay they left); a follow-on
inherits its upward referral's setting. A signed resident's downward loop is closed by a done
follow-up of their current contract, linked to it (Referral.closing_followup); an unsigned
resident has no team to follow them up, and the demo still closes that loop (without a
follow-up) as it always did, to keep the worklists plausible.
"""

from __future__ import annotations

import datetime as dt
import random
from collections import Counter
from collections.abc import Callable

from django.utils import timezone

from demo.referral_walk import ReferralNetwork, ReferralWalker, Walk
from healthnet.bulk import objects_insert
from healthnet.models import Department, Encounter, Institution, Resident, Tier
from healthnet.selectors import alliance_memberships_current
from referrals.models import DepartmentDaySlots, Referral, ReferralDirection, ReferralEvent
from signing.models import (
    ACTIVE_STATUSES,
    Contract,
    ContractStatus,
    FollowUp,
    PackageKind,
    ServiceItem,
)

UP_PER_RESIDENT_YEAR = 0.05
BATCH = 2000


def generate_referrals(
    *,
    seed: int,
    today: dt.date,
    log: Callable[[str], None],
    up_per_resident_year: float = UP_PER_RESIDENT_YEAR,
) -> dict[str, int]:
    """Add a year of referrals ending `today`; returns the rows created (zeros when referrals
    exist already). `up_per_resident_year` scales the volume (the benchmark raises it)."""
    counts = {
        "referrals": 0,
        "referral_events": 0,
        "referral_day_slots": 0,
        "referral_encounters": 0,
        "referral_follow_ups": 0,
    }
    if Referral.objects.exists():
        log("referrals: demo referrals exist already, nothing added")
        return counts
    year = _ReferralYear(seed=seed, today=today, up_rate=up_per_resident_year)
    if not year.ready():
        log("referrals: no residents or no two tiers of institutions with departments, skipped")
        return counts
    return year.run(log)


def _referral_network(on: dt.date) -> ReferralNetwork:
    institutions = list(Institution.objects.filter(active=True).order_by("code"))
    departments = list(
        Department.objects.filter(accepts_referrals=True, institution__active=True).order_by(
            "institution__code", "code"
        )
    )
    departments_of: dict[int, list[Department]] = {}
    for department in departments:
        departments_of.setdefault(department.institution_id, []).append(department)
    alliances: dict[int, set[int]] = {}
    for alliance_id, institution_id in alliance_memberships_current(on=on).values_list(
        "alliance_id", "institution_id"
    ):
        alliances.setdefault(alliance_id, set()).add(institution_id)
    partners: dict[int, set[int]] = {}
    for members in alliances.values():
        for member in members:
            partners.setdefault(member, set()).update(members - {member})
    return ReferralNetwork(
        institutions={i.pk: i for i in institutions},
        departments_of=departments_of,
        primaries=[i for i in institutions if i.tier == Tier.PRIMARY],
        hospitals=[i for i in institutions if i.tier != Tier.PRIMARY],
        partners=partners,
        team_institution_of=_team_institutions(),
        slot_capacity={d.pk: d.referral_slots_per_day for d in departments},
        contract_of=_terms(),
        followup_item_id=ServiceItem.objects.filter(package__kind=PackageKind.BASIC)
        .order_by("package__code", "code")
        .values_list("pk", flat=True)
        .first(),
    )


def _team_institutions() -> dict[int, int]:
    """resident id → their family-doctor team's institution id (current contracts)."""
    return dict(
        Contract.objects.filter(status__in=ACTIVE_STATUSES).values_list(
            "resident_id", "team__institution_id"
        )
    )


def _terms() -> dict[int, list[tuple[int, dt.date, dt.date]]]:
    """resident id → their current and renewed terms (pk, start, end): the contract a downward
    loop's follow-up belongs to is the one of that day."""
    terms: dict[int, list[tuple[int, dt.date, dt.date]]] = {}
    for resident_id, pk, start, end in Contract.objects.filter(
        status__in=[*ACTIVE_STATUSES, ContractStatus.RENEWED]
    ).values_list("resident_id", "pk", "start_date", "end_date"):
        terms.setdefault(resident_id, []).append((pk, start, end))
    return terms


class _ReferralYear:
    def __init__(self, *, seed: int, today: dt.date, up_rate: float) -> None:
        self.up_rate = up_rate
        self.rng = random.Random(f"referrals-{seed}")  # noqa: S311 - deterministic demo data
        self.today = today
        self.now = dt.datetime.combine(
            today, dt.time(17, 0), tzinfo=timezone.get_current_timezone()
        )
        self.start = self.now - dt.timedelta(days=365)
        self.network = _referral_network(today)
        self.walker = ReferralWalker(
            self.network,
            self.rng,
            self.now,
            around_rng=random.Random(f"referrals-{seed}:around"),  # noqa: S311
        )
        self.counts: Counter[str] = Counter()
        # written referrals holding a booked (department, day) slot
        self.slotted: list[tuple[Referral, tuple[int, dt.date]]] = []

    def ready(self) -> bool:
        return bool(
            self.network.primaries
            and any(self.network.departments_of.get(h.pk) for h in self.network.hospitals)
            and Resident.objects.exists()
        )

    def run(self, log: Callable[[str], None]) -> dict[str, int]:
        resident_ids = list(Resident.objects.order_by("pk").values_list("pk", flat=True))
        n_up = max(1, round(len(resident_ids) * self.up_rate))
        # Downward referrals opened on their own (not as follow-ons): a share of the month's
        # upward ones growing from 5% to 25% over the year.
        plan: list[tuple[dt.datetime, str]] = []
        for _ in range(n_up):
            plan.append((self._moment(), ReferralDirection.UP))
        for at, _ in list(plan):
            share = 0.05 + 0.20 * (at - self.start) / dt.timedelta(days=365)
            if self.rng.random() < share:
                plan.append((self._moment(), ReferralDirection.DOWN))
        plan.sort()
        chosen = [self.rng.choice(resident_ids) for _ in plan]
        log(f"referrals: {len(plan):,} referrals over the year to {self.today}")
        for offset in range(0, len(plan), BATCH):
            batch = plan[offset : offset + BATCH]
            residents = Resident.objects.in_bulk(chosen[offset : offset + BATCH])
            walks = []
            for (at, direction), resident_id in zip(
                batch, chosen[offset : offset + BATCH], strict=True
            ):
                walk = self.walker.referral(residents[resident_id], direction, at)
                if walk is not None:
                    walks.append(walk)
            self._write(walks)
        self._write_slots()
        return {
            "referrals": self.counts["referrals"],
            "referral_events": self.counts["events"],
            "referral_day_slots": self.counts["slots"],
            "referral_encounters": self.counts["encounters"],
            "referral_follow_ups": self.counts["follow_ups"],
        }

    def _moment(self) -> dt.datetime:
        day = self.start + dt.timedelta(days=self.rng.randrange(365))
        hour = self.rng.choice([8, 9, 9, 10, 10, 10, 11, 14, 15, 15, 16, 17])
        return day.replace(hour=hour, minute=self.rng.randrange(60), second=0, microsecond=0)

    # --- writing -------------------------------------------------------------------------------

    def _write(self, walks: list[Walk]) -> None:
        walks = [w for w in walks if w.steps]
        # (parent walk, its child's walk) where the child got somewhere
        children = [(w, c) for w in walks if (c := w.child_walk) is not None and c.steps]
        self._write_around([*walks, *(c for _w, c in children)])
        parents = [w.referral for w in walks]
        objects_insert(Referral, parents)
        for w, c in children:
            if w.child_kind == "redirect":
                c.referral.redirected_from = w.referral
        objects_insert(Referral, [c.referral for _w, c in children])
        linked = []
        for w, c in children:
            if w.child_kind == "follow_on":
                w.referral.follow_on = c.referral
                linked.append(w.referral)
        Referral.objects.bulk_update(linked, ["follow_on"], batch_size=BATCH)
        written = [*walks, *(c for _w, c in children)]
        events = []
        for w in written:
            for action, from_status, to_status, at, reason, details in w.steps:
                events.append(
                    ReferralEvent(
                        referral=w.referral,
                        at=at,
                        actor_label="demo",
                        action=action,
                        from_status=from_status,
                        to_status=to_status,
                        reason=reason,
                        details=details,
                    )
                )
        objects_insert(ReferralEvent, events)
        self.counts["referrals"] += len(parents) + len(children)
        self.counts["events"] += len(events)
        self.slotted.extend((w.referral, w.slot) for w in written if w.slot is not None)

    def _write_around(self, walks: list[Walk]) -> None:
        """The visits and follow-ups the referrals link to, written first to take their ids."""
        encounters = [e for w in walks for e in (w.encounter, w.source_stay) if e is not None]
        objects_insert(Encounter, encounters)
        follow_ups = [w.closing_followup for w in walks if w.closing_followup is not None]
        objects_insert(FollowUp, follow_ups)
        for w in walks:
            if w.encounter is not None:
                w.referral.encounter_id = w.encounter.pk
            if w.closing_followup is not None:
                w.referral.closing_followup_id = w.closing_followup.pk
        self.counts["encounters"] += len(encounters)
        self.counts["follow_ups"] += len(follow_ups)

    def _write_slots(self) -> None:
        keys = sorted({slot for _r, slot in self.slotted})
        rows = [
            DepartmentDaySlots(
                department_id=department_id,
                date=day,
                capacity=self.network.slot_capacity[department_id],
                booked=self.walker.booked[(department_id, day)],
            )
            for department_id, day in keys
        ]
        objects_insert(DepartmentDaySlots, rows)
        by_key = {(row.department_id, row.date): row.pk for row in rows}
        for r, slot in self.slotted:
            r.appointment_id = by_key[slot]
        Referral.objects.bulk_update(
            [r for r, _slot in self.slotted], ["appointment"], batch_size=BATCH
        )
        self.counts["slots"] = len(rows)
